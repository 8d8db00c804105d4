"""The input policy at its edges: dtypes kept or refused, radii that do not fit a float,
``axis`` with flat balls, torch meta tensors, the flat l1 ball at a radius far below the
rounding of the norm, the CLI's files, and a read-only install without a writable Numba
cache."""

from __future__ import annotations

import fractions
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import multiproj
import naive

Y = np.arange(12, dtype=np.float64).reshape(3, 4) - 5.0


# ------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize(
    "y,dtype",
    [
        (np.float32(3.0), np.float32),
        (np.float64(3.0), np.float64),
        ([np.float32(1.0), np.float32(-4.0)], np.float32),
        ([[np.float32(1.0)], [np.float32(-4.0)]], np.float32),
        (np.float16(3.0), np.float32),
        (np.array([1.0, -4.0], np.float16), np.float32),
        ([1.0, -4.0], np.float64),
        (3.0, np.float64),
        (3, np.float64),
        ([1, -4], np.float64),
        (np.array([1, -4], np.int8), np.float64),
        (np.array([True, False]), np.float64),
    ],
)
def test_result_dtype_follows_asarray(y, dtype):
    """The result has the float dtype of ``np.asarray(y)`` (float32 and float64 kept, float16
    widened to float32, integers and booleans to float64)."""
    for fn in (
        lambda: multiproj.project(y, 1.0, "l1"),
        lambda: multiproj.project(y, 1.0, "l2"),
        lambda: multiproj.prox(y, 0.5, "l1"),
    ):
        x = fn()
        assert x.dtype == dtype
        assert x.shape == np.shape(y)
    want = naive.proj_l1(np.asarray(y, dtype=np.float64), 1.0).reshape(np.shape(y))
    np.testing.assert_allclose(multiproj.project(y, 1.0, "l1"), want, rtol=1e-6)


@pytest.mark.parametrize("y", [np.array([1.0, -4.0], np.longdouble), np.longdouble(2.0), [np.longdouble(2.0)]])
def test_longdouble_is_refused(y):
    """np.longdouble cannot be computed in its own precision: a TypeError naming 'y' and the
    way out (convert to float64), never a silent narrowing."""
    if np.finfo(np.longdouble).eps == np.finfo(np.float64).eps:
        pytest.skip("longdouble is float64 on this platform")
    for fn in (
        lambda: multiproj.project(y, 1.0, "l1"),
        lambda: multiproj.norm(y, "l1"),
        lambda: multiproj.prox(y, 1.0, "l1"),
    ):
        with pytest.raises(TypeError, match="'y'") as info:
            fn()
        assert "longdouble" in str(info.value) or "float128" in str(info.value)
        assert "float64" in str(info.value)
    z = np.array([[1.0, -4.0], [2.0, 0.5]], np.longdouble)
    with pytest.raises(TypeError, match="'y'"):
        multiproj.project(z, 1.0, "l1,2", method="bilevel")
    with pytest.raises(TypeError, match="'y'"):
        multiproj.project_(z, 1.0, "l1,2", method="bilevel")


# ------------------------------------------------------------------------------- radius
@pytest.mark.parametrize("huge", [10**400, fractions.Fraction(10**400, 3), -(10**400)])
def test_radius_too_large_for_a_float(huge):
    with pytest.raises(ValueError, match="'radius'"):
        multiproj.project(Y, huge, "l1")
    with pytest.raises(ValueError, match="'radius'"):
        multiproj.project(Y, huge, "l1,inf", method="bilevel")
    with pytest.raises(ValueError, match="'radius'"):
        multiproj.project_(Y.copy(), huge, "l2")
    with pytest.raises(ValueError, match="'strength'"):
        multiproj.prox(Y, huge, "l1")


def test_radius_huge_but_finite_is_inside():
    np.testing.assert_array_equal(multiproj.project(Y, 10**300, "l1"), Y)
    np.testing.assert_array_equal(multiproj.project(Y, np.finfo(np.float64).max, "l1,2"), Y)


# ------------------------------------------------------------------------ axis, flat balls
@pytest.mark.parametrize("ball", ["l1", "l2", "linf"])
@pytest.mark.parametrize("axis", [5, -3, 2, (0, 7)])
def test_axis_out_of_range_for_flat_balls(ball, axis):
    """``axis`` is never ignored: an axis that the array does not have is an error."""
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.project(Y, 1.0, ball, axis=axis)
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.project_(Y.copy(), 1.0, ball, axis=axis)
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.norm(Y, ball, axis=axis)


@pytest.mark.parametrize("axis", [5, (0, 7)])
def test_axis_out_of_range_for_flat_prox_and_l11(axis):
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.prox(Y, 1.0, "l1", axis=axis)
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.project(Y, 1.0, "l1,1", method="exact", axis=axis)


def test_flat_ball_default_is_one_ball():
    """Without ``axis`` a flat ball takes the whole array as one vector."""
    x = multiproj.project(Y, 3.0, "l1")
    np.testing.assert_allclose(x.ravel(), naive.proj_l1(Y.ravel(), 3.0), rtol=1e-14)
    assert multiproj.norm(Y, "l1") == pytest.approx(np.abs(Y).sum())


# ----------------------------------------------------- flat l1, radius far below rounding
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1000, 100_000])
@pytest.mark.parametrize("value", [0.7, 1 / 3, 1.0, 3.3e5 + 0.1])
@pytest.mark.parametrize("rel", [1e-9, 1e-6, 1e-13])
def test_flat_l1_radius_far_below_the_norm(dtype, n, value, rel):
    """All-equal data at ``r = rel * ||y||_1``: every entry must become ``r / n``; the result
    lies in the ball to rounding relative to the data (the threshold is within a few
    ulps of ``value``), whatever ``n``."""
    y = np.full(n, value, dtype=dtype)
    y[::2] *= -1
    norm1 = float(naive.ld_norm(y, "l1"))
    r = rel * norm1
    x = multiproj.project(y, r, "l1")
    assert x.dtype == dtype
    e = float(np.finfo(np.float64).eps)
    nx = naive.ld_norm(x, "l1")
    assert nx <= naive.LD(r) * (1 + 2 * float(np.finfo(dtype).eps)) + 4 * e * norm1, (
        f"||x||_1 = {float(nx):.17g} exceeds r = {r:.17g} by {float((nx - r) / r):.3g} (relative)"
    )
    ref = naive.ld_project(y, r, "l1")
    err = float(np.max(np.abs(x.astype(naive.LD) - ref)))
    assert err <= 4 * e * value + float(np.finfo(dtype).eps) * r / n
    assert np.all(np.sign(x) == np.sign(y))


def test_flat_l1_radius_below_rounding_nearly_equal():
    """Entries equal to 12 digits: the active set at a tiny radius is most of the vector."""
    rng = np.random.default_rng(0)
    for trial in range(20):
        c = rng.uniform(0.1, 10.0)
        y = c * (1 + 1e-12 * rng.standard_normal(50_000)) * rng.choice([-1, 1], 50_000)
        norm1 = float(naive.ld_norm(y, "l1"))
        r = 10.0 ** rng.uniform(-14, -6) * norm1
        x = multiproj.project(y, r, "l1")
        excess = float(naive.ld_norm(x, "l1") - naive.LD(r))
        assert excess <= 4 * np.finfo(np.float64).eps * norm1, (trial, excess / r)


# --------------------------------------------------------------------------- torch meta
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_meta_tensor_is_refused(dtype):
    y = torch.empty((3, 4), device="meta", dtype=dtype)
    calls = [
        lambda: multiproj.project(y, 1.0, "l1"),
        lambda: multiproj.project(y, 1.0, "l1,inf", method="bilevel"),
        lambda: multiproj.project(y, 1.0, "l1,inf", method="exact"),
        lambda: multiproj.project(y, 1.0, "l1,2", method="multilevel", levels=(1, 0)),
        lambda: multiproj.norm(y, "l1,2"),
        lambda: multiproj.prox(y, 1.0, "l1,inf"),
    ]
    if dtype != torch.int64:
        calls.append(lambda: multiproj.project_(y, 1.0, "l2"))
    for fn in calls:
        with pytest.raises((TypeError, ValueError), match="'y'") as info:
            fn()
        assert "meta" in str(info.value)


def test_meta_out_and_radius_are_refused():
    y = torch.zeros((3, 4), dtype=torch.float64)
    with pytest.raises((TypeError, ValueError), match="'out'"):
        multiproj.project(y, 1.0, "l1", out=torch.empty((3, 4), device="meta", dtype=torch.float64))
    with pytest.raises((TypeError, ValueError), match="'radius'"):
        multiproj.project(y, torch.tensor(1.0, device="meta"), "l1")


def test_tensor_radius_too_large():
    y = torch.zeros((3, 4), dtype=torch.float64)
    with pytest.raises(ValueError, match="'radius'"):
        multiproj.project(y, 10**400, "l1")
    with pytest.raises(ValueError, match="'strength'"):
        multiproj.prox(y, 10**400, "l1")
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.project(y, 1.0, "l1", axis=5)


# -------------------------------------------------------------------------------- CLI
def _cli(args):
    from multiproj.cli import main

    return main([str(a) for a in args])


@pytest.fixture
def no_projection(monkeypatch):
    """Fail the test if the CLI gets as far as computing a projection."""
    import multiproj._api as api

    def boom(*args, **kwargs):
        raise AssertionError("the projection was computed before the error was found")

    monkeypatch.setattr(multiproj, "project", boom)
    monkeypatch.setattr(api, "project", boom)


def test_cli_empty_csv(tmp_path, capsys, no_projection):
    src = tmp_path / "empty.csv"
    src.write_text("")
    assert _cli(["project", src, tmp_path / "x.npy", "--radius", "1"]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "empty.csv" in err and "Warning" not in err
    assert not (tmp_path / "x.npy").exists()


def test_cli_text_file_named_npy(tmp_path, capsys, no_projection):
    src = tmp_path / "data.npy"
    src.write_text("1,2,3\n4,5,6\n")
    assert _cli(["project", src, tmp_path / "x.npy", "--radius", "1"]) == 2
    err = capsys.readouterr().err
    assert "data.npy" in err and ".npy" in err and "pickle" not in err.lower()
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("name", ["x.txt", "x", "x.npz", "x.CSV.bak"])
def test_cli_output_suffix(tmp_path, capsys, no_projection, name):
    src = tmp_path / "y.npy"
    np.save(src, np.ones((3, 4)))
    assert _cli(["project", src, tmp_path / name, "--radius", "1"]) == 2
    err = capsys.readouterr().err
    assert ".npy" in err and ".csv" in err and name in err
    assert not (tmp_path / name).exists()


def test_cli_3d_to_csv(tmp_path, capsys, no_projection):
    src = tmp_path / "y.npy"
    np.save(src, np.ones((2, 3, 4)))
    args = ["project", src, tmp_path / "x.csv", "--radius", "1", "--ball", "l1,inf,inf", "--method", "multilevel"]
    assert _cli(args) == 2
    err = capsys.readouterr().err
    assert "csv" in err.lower() and "3-D" in err
    assert not (tmp_path / "x.csv").exists()


def test_cli_csv_output_still_works(tmp_path):
    src = tmp_path / "y.npy"
    y = np.random.default_rng(0).standard_normal((4, 3))
    np.save(src, y)
    assert _cli(["project", src, tmp_path / "x.csv", "--radius", "1", "--ball", "l1", "--method", "exact"]) == 0
    x = np.loadtxt(tmp_path / "x.csv", delimiter=",")
    np.testing.assert_allclose(x, multiproj.project(y, 1.0, "l1"), rtol=1e-15)


# ---------------------------------------------------------- no writable Numba cache
def _read_only_copy(dst: Path) -> Path:
    """A copy of the installed package under ``dst`` where no cache directory can be made:
    every ``__pycache__`` is a plain file (which stops root too) and every file and folder
    is read-only."""
    src = Path(multiproj.__file__).parent
    pkg = dst / "multiproj"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    for folder in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
        (folder / "__pycache__").write_text("")
    for p in sorted(dst.rglob("*"), key=lambda p: -len(p.parts)):
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return dst


def test_no_writable_numba_cache(tmp_path):
    root = _read_only_copy(tmp_path / "site")
    code = textwrap.dedent(
        """
        import json, warnings
        import numpy as np
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import multiproj
            y = np.arange(12.0).reshape(3, 4) - 5.0
            a = multiproj.project(y, 2.0, "l1")
            b = multiproj.project(y, 2.0, "l1,2", method="bilevel")
            c = multiproj.norm(y, "l1,inf")
        print(json.dumps({
            "file": multiproj.__file__,
            "a": a.tolist(), "b": b.tolist(), "c": c,
            "warnings": [[w.category.__name__, str(w.message)] for w in caught],
        }))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "PYTHON"))}
    env.update(
        PYTHONPATH=str(root),
        PYTHONDONTWRITEBYTECODE="1",
        HOME="/dev/null",
        XDG_CACHE_HOME="/dev/null/cache",
        NUMBA_CACHE_DIR="/dev/null/numba",
        NUMBA_NUM_THREADS="1",
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    finally:
        for p in root.rglob("*"):
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
        root.chmod(root.stat().st_mode | stat.S_IWUSR)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["file"].startswith(str(root))
    y = np.arange(12.0).reshape(3, 4) - 5.0
    np.testing.assert_allclose(res["a"], multiproj.project(y, 2.0, "l1"), rtol=1e-15)
    np.testing.assert_allclose(res["b"], multiproj.project(y, 2.0, "l1,2", method="bilevel"), rtol=1e-15)
    assert res["c"] == pytest.approx(multiproj.norm(y, "l1,inf"))
    ours = [w for w in res["warnings"] if "cache" in w[1].lower()]
    assert len(ours) == 1, res["warnings"]
    assert "NUMBA_CACHE_DIR" in ours[0][1]
    assert len(res["warnings"]) == 1, res["warnings"]
