"""Multi-level projections for tensors ([MLP s.4]): ``method="multilevel"`` and
``norm(..., levels=...)`` against the slow recursive reference in ``naive.py``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multiproj
from multiproj._core.ball import parse_ball
from multiproj._cpu import multilevel

import naive
from conftest import make_data, tol

INNER = ("1", "2", "inf")
SHAPES = {2: (5, 7), 3: (4, 3, 5), 4: (3, 4, 2, 3), 5: (2, 3, 2, 3, 2)}


def ball_name(norms) -> str:
    return "l" + ",".join(norms)


def project_ml(y, r, norms, levels=None, **kw):
    return multiproj.project(y, r, ball_name(norms), method="multilevel", levels=levels, **kw)


@pytest.fixture(params=["fused", "chain", "unmerged"])
def path(request, monkeypatch):
    """Run with the fused kernels for the two innermost levels whenever they apply
    ("fused": even for tiny tensors), with the level-by-level chain only ("chain"), or
    fused without merging neighbouring inf,inf / 2,2 levels first ("unmerged")."""
    monkeypatch.setattr(multilevel, "_FUSED_MIN_BLOCKS", 1 << 62 if request.param == "chain" else 1)
    if request.param == "unmerged":
        monkeypatch.setattr(multilevel, "merge_levels", lambda y, ball, levels: (ball, levels))
    return request.param


def close(x, ref, dtype, msg=""):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(x, ref, rtol=rtol, atol=atol, err_msg=msg)


# --------------------------------------------------------------------------- vs reference
@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_matches_reference_every_norm_combination(order, dtype, path):
    y = make_data("normal", SHAPES[order], dtype, seed=order)
    for inner in itertools.product(INNER, repeat=order - 1):
        norms = ("1", *inner)
        r = 0.4 * naive.multilevel_norm(y, norms)
        x = project_ml(y, r, norms)
        assert x.dtype == dtype and x.shape == y.shape
        close(x, naive.multilevel(y, r, norms), dtype, ball_name(norms))
        # a 2-norm ball without levels means the bi-level norm with axis=0: pass levels
        nrm = multiproj.norm(y, ball_name(norms), levels=tuple(range(order)))
        assert nrm == pytest.approx(naive.multilevel_norm(y, norms), rel=1e-6)


PERMUTED = [
    # (shape, levels, norms)
    ((4, 3, 5), (2, 0, 1), ("1", "2", "1")),
    ((4, 3, 5), (0, 2, 1), ("1", "inf", "2")),
    ((4, 3, 5), (1, (0, 2)), ("1", "inf")),  # grouped, not adjacent in memory: one copy
    ((4, 3, 5), ((2, 0), 1), ("1", "1")),
    ((4, 3, 5), (-1, (1, 0)), ("1", "2")),
    ((3, 4, 2, 3), (3, (0, 2), 1), ("1", "1", "inf")),
    ((3, 4, 2, 3), (2, 0, 3, 1), ("1", "2", "inf", "1")),
    ((3, 4, 2, 3), ((3, 1), (0, 2)), ("1", "inf")),
    ((3, 4, 2, 3), (0, 1, (2, 3)), ("1", "inf", "inf")),  # a conv weight's (out, in, kh*kw)
    ((3, 4, 1, 3), (2, 0, (1, 3)), ("1", "2", "1")),  # a level made of a size-1 axis
    ((2, 3, 2, 2, 3), (4, (0, 3), 2, 1), ("1", "1", "2", "inf")),
]


@pytest.mark.parametrize("shape, levels, norms", PERMUTED)
def test_permuted_and_grouped_levels(shape, levels, norms, dtype, path):
    y = make_data("uniform", shape, dtype, seed=len(shape))
    r = 0.3 * naive.multilevel_norm(y, norms, levels)
    x = project_ml(y, r, norms, levels)
    close(x, naive.multilevel(y, r, norms, levels), dtype)
    nrm = multiproj.norm(y, ball_name(norms), levels=levels)
    assert nrm == pytest.approx(naive.multilevel_norm(y, norms, levels), rel=1e-6)


@pytest.mark.parametrize("layout", ["F", "strided", "transposed"])
def test_memory_layouts(layout, path):
    base = make_data("normal", (6, 5, 8), np.float64, seed=3)
    y = {
        "F": np.asfortranarray(base),
        "strided": base[::2, :, 1::2],
        "transposed": base.transpose(2, 0, 1),
    }[layout]
    norms = ("1", "2", "inf")
    for levels in [(0, 1, 2), (2, 1, 0), (1, 2, 0)]:
        r = 0.5 * naive.multilevel_norm(y, norms, levels)
        x = project_ml(y, r, norms, levels)
        close(x, naive.multilevel(y, r, norms, levels), np.float64, str(levels))


@pytest.mark.parametrize("order_f", [False, True])
def test_levels_in_memory_order_read_y_without_copy(order_f):
    y = make_data("normal", (4, 3, 5, 2), np.float64)
    levels = (0, 1, 2, 3)
    if order_f:  # the same levels walk an F-ordered array from the inside out
        y, levels = np.asfortranarray(y), (3, 2, 1, 0)
    stages = multilevel.multilevel_stages(y, parse_ball("l1,inf,1,2"), tuple((a,) for a in levels))
    assert not stages[0].copied and np.shares_memory(stages[0].xc, y)
    assert not any(s.copied for s in stages)


def test_merge_levels():
    y = np.zeros((4, 3, 5, 2))
    b = parse_ball("l1,inf,inf,inf")
    lv = ((0,), (1,), (2,), (3,))
    mb, ml = multilevel.merge_levels(y, b, lv)
    assert mb.norms == ("1", "inf") and ml == ((0,), (1, 2, 3))
    mb, ml = multilevel.merge_levels(y, parse_ball("l1,2,2,1"), lv)
    assert mb.norms == ("1", "2", "1") and ml == ((0,), (1, 2), (3,))
    # 1,1 levels are not one level, and neither is the outer l1 with the next one
    assert multilevel.merge_levels(y, parse_ball("l1,1,1,inf"), lv)[0].norms == ("1", "1", "1", "inf")
    # axes not adjacent in memory: merging would need a transposed copy, so it is not done
    mb, ml = multilevel.merge_levels(y, parse_ball("l1,inf,inf,inf"), ((1,), (0,), (2,), (3,)))
    assert mb.norms == ("1", "inf", "inf") and ml == ((1,), (0,), (2, 3))
    r = 0.3 * multiproj.norm(make_data("normal", y.shape), "l1,2,2,1")
    a = multilevel.project_multilevel(make_data("normal", y.shape), r, parse_ball("l1,2,2,1"), levels=lv)
    c = multilevel.project_multilevel(make_data("normal", y.shape), r, parse_ball("l1,2,2,1"), levels=lv, merge=False)
    close(a, c, np.float64)


def test_fused_path_is_taken_and_agrees_with_the_chain():
    y = make_data("normal", (70, 6, 5), np.float64, seed=9)
    levels = ((0,), (1,), (2,))
    for norms in [("1", "inf", "inf"), ("1", "1", "2"), ("1", "2", "1"), ("1", "1", "1")]:
        ball = parse_ball(ball_name(norms))
        stages = multilevel.multilevel_stages(y, ball, levels)
        assert stages[0].fused and np.shares_memory(stages[0].x3, y)
        r = 0.3 * multiproj.norm(y, ball.name)
        a = multilevel.project_multilevel(y, r, ball, levels=levels, merge=False)
        b = multilevel.project_multilevel(y, r, ball, levels=levels, fuse=False, merge=False)
        close(a, b, np.float64, ball.name)
        close(a, naive.multilevel(y, r, norms), np.float64, ball.name)


# --------------------------------------------------------------------------- equivalences
@pytest.mark.parametrize("frac", [0.05, 0.3, 0.9])
def test_trilevel_linf_linf_is_bilevel_on_reshaped_matrix(frac, dtype):
    y = make_data("normal", (6, 4, 5), dtype, seed=1)
    r = frac * multiproj.norm(y, "l1,inf,inf")
    x3 = multiproj.project(y, r, "l1,inf,inf", method="multilevel")
    m = y.reshape(6, 20)
    x2 = multiproj.project(m, r, "l1,inf", method="bilevel", axis=1).reshape(y.shape)
    np.testing.assert_array_equal(x3, x2)


@pytest.mark.parametrize("q", INNER)
def test_matrix_levels_match_bilevel_axis(q, dtype):
    y = make_data("normal", (7, 9), dtype, seed=2)
    for levels, axis in [((1, 0), 0), ((0, 1), 1)]:
        r = 0.4 * multiproj.norm(y, f"l1,{q}", axis=axis)
        a = multiproj.project(y, r, f"l1,{q}", method="multilevel", levels=levels)
        b = multiproj.project(y, r, f"l1,{q}", method="bilevel", axis=axis)
        np.testing.assert_array_equal(a, b)
        assert multiproj.norm(y, f"l1,{q}", levels=levels) == pytest.approx(
            multiproj.norm(y, f"l1,{q}", axis=axis), rel=1e-12
        )


def test_thread_count_does_not_change_the_result():
    y = make_data("heavy", (16, 9, 33), np.float64, seed=5)
    r = 0.2 * multiproj.norm(y, "l1,1,inf")
    with multiproj.num_threads(1):
        a = multiproj.project(y, r, "l1,1,inf", method="multilevel", levels=(2, 0, 1))
    with multiproj.num_threads(multiproj.max_threads()):
        b = multiproj.project(y, r, "l1,1,inf", method="multilevel", levels=(2, 0, 1))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- properties
PROPERTY_CASES = [
    ((5, 4, 6), None, ("1", "inf", "inf")),
    ((5, 4, 6), (1, 2, 0), ("1", "1", "1")),
    ((5, 4, 6), (2, (0, 1)), ("1", "2")),
    ((3, 4, 2, 5), (3, 0, (1, 2)), ("1", "2", "inf")),
    ((3, 4, 2, 5), None, ("1", "inf", "2", "1")),
]


@pytest.mark.parametrize("shape, levels, norms", PROPERTY_CASES)
@pytest.mark.parametrize("frac", [0.01, 0.3, 0.8])
def test_properties_outside(shape, levels, norms, frac, dtype, path):
    y = make_data("normal", shape, dtype, seed=7)
    ball = ball_name(norms)
    ny = multiproj.norm(y, ball, levels=levels)
    r = frac * ny
    x = project_ml(y, r, norms, levels)
    nx = multiproj.norm(x, ball, levels=levels)
    rel = 1e-5 if dtype == np.float32 else 1e-10
    # feasible, on the sphere
    assert nx == pytest.approx(r, rel=rel)
    # signs kept, magnitudes shrink
    assert np.all(x * y >= 0) and np.all(np.abs(x) <= np.abs(y))
    # idempotent
    close(project_ml(x, r, norms, levels), x, dtype)
    # additive identity ||y - x|| + ||x|| = ||y|| (holds for every q: for a fibre of norm
    # v projected to radius u <= v, clip, scaling and soft threshold all leave a residual
    # of norm v - u, level by level)
    nd = multiproj.norm(y.astype(np.float64) - x, ball, levels=levels)
    assert nd + nx == pytest.approx(ny, rel=rel)


@pytest.mark.parametrize("shape, levels, norms", PROPERTY_CASES[:2])
def test_inside_and_zero_radius(shape, levels, norms, dtype):
    y = make_data("sparse", shape, dtype, seed=8)
    ny = multiproj.norm(y, ball_name(norms), levels=levels)
    x = project_ml(y, 1.5 * ny, norms, levels)
    assert x is not y and x.dtype == dtype
    np.testing.assert_array_equal(x, y)
    z = project_ml(y, 0.0, norms, levels)
    assert z.dtype == dtype and not z.any()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_tensors_match_reference(data):
    order = data.draw(st.integers(2, 4), label="order")
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=order, max_size=order)))
    perm = data.draw(st.permutations(range(order)), label="perm")
    n_levels = data.draw(st.integers(2, order), label="n_levels")
    cuts = sorted(data.draw(st.sets(st.integers(1, order - 1), min_size=n_levels - 1, max_size=n_levels - 1)))
    bounds = [0, *cuts, order]
    levels = tuple(tuple(perm[bounds[i] : bounds[i + 1]]) for i in range(n_levels))
    levels = tuple(lv[0] if len(lv) == 1 else lv for lv in levels)
    norms = ("1", *data.draw(st.lists(st.sampled_from(INNER), min_size=n_levels - 1, max_size=n_levels - 1)))
    frac = data.draw(st.sampled_from([0.0, 0.1, 0.5, 0.95, 2.0]))
    y = make_data(data.draw(st.sampled_from(["normal", "ties", "sparse"])), shape, np.float64, seed=1)
    r = frac * naive.multilevel_norm(y, norms, levels)
    fused = data.draw(st.booleans(), label="fused")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(multilevel, "_FUSED_MIN_BLOCKS", 1 if fused else 1 << 62)
        x = project_ml(y, r, norms, levels)
    close(x, naive.multilevel(y, r, norms, levels), np.float64, f"{norms} {levels}")


# --------------------------------------------------------------------------- API
def test_out_and_in_place(dtype, path):
    y = make_data("normal", (4, 6, 5), dtype, seed=4)
    r = 0.3 * multiproj.norm(y, "l1,2,1")
    ref = project_ml(y, r, ("1", "2", "1"), (2, 0, 1))
    out = np.empty_like(y)
    res = project_ml(y, r, ("1", "2", "1"), (2, 0, 1), out=out)
    assert res is out
    np.testing.assert_array_equal(out, ref)
    y2 = y.copy()
    res = multiproj.project_(y2, r, "l1,2,1", method="multilevel", levels=(2, 0, 1))
    assert res is y2
    np.testing.assert_array_equal(y2, ref)
    # out laid out differently from y, and a gathered (grouped, non-adjacent) level
    out_f = np.empty(y.shape, dtype=dtype, order="F")
    project_ml(y, r, ("1", "2"), (1, (0, 2)), out=out_f)
    close(out_f, naive.multilevel(y, r, ("1", "2"), (1, (0, 2))), dtype)
    y3 = y.copy()
    multiproj.project_(y3, r, "l1,2", method="multilevel", levels=(1, (0, 2)))
    np.testing.assert_array_equal(y3, out_f)


def test_input_policy():
    y = np.arange(24).reshape(2, 3, 4) - 10
    x = multiproj.project(y, 5.0, "l1,inf,inf", method="multilevel")
    assert x.dtype == np.float64
    np.testing.assert_allclose(x, naive.multilevel(y, 5.0, ("1", "inf", "inf")), atol=1e-12)
    e = np.empty((3, 0, 2), dtype=np.float32)
    res = multiproj.project(e, 1.0, "l1,1,1", method="multilevel")
    assert res.shape == e.shape and res.dtype == np.float32
    assert multiproj.norm(e, "l1,1,1") == 0.0
    assert "multilevel" in multiproj.METHODS


@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf, -np.inf])
def test_non_finite_raises_before_writing(bad, path):
    y = make_data("normal", (3, 4, 5), np.float64)
    y[1, 2, 3] = bad
    keep = y.copy()
    with pytest.raises(ValueError, match="finite"):
        multiproj.project_(y, 1.0, "l1,inf,inf", method="multilevel")
    np.testing.assert_array_equal(y, keep)
    out = np.full_like(y, 7.0)
    with pytest.raises(ValueError, match="finite"):
        project_ml(y, 1.0, ("1", "1", "2"), (2, 0, 1), out=out)
    assert np.all(out == 7.0)
    with pytest.raises(ValueError, match="finite"):
        multiproj.norm(y, "l1,inf,inf")


@pytest.mark.parametrize(
    "ball, levels, shape, exc, match",
    [
        ("l1,inf,inf", (0, 1), (3, 4, 5), ValueError, "one entry per norm"),
        ("l1,inf", (0, 1, 2), (3, 4, 5), ValueError, "one entry per norm"),
        ("l1,inf,inf", (0, 0, 1), (3, 4, 5), ValueError, "axis 0 twice"),
        ("l1,inf", (0, (1, -3)), (3, 4, 5), ValueError, "axis 0 twice"),
        ("l1,inf", (0, 1), (3, 4, 5), ValueError, r"missing"),
        ("l1,inf", (0, 3), (3, 4), ValueError, "axes of a 2-D array"),
        ("l1,inf,inf", (0, (), 1), (3, 4), ValueError, "empty level"),
        ("l1,inf", (0, "a"), (3, 4), TypeError, "ints"),
        ("l1,inf", (0, True), (3, 4), TypeError, "ints"),
        ("l1,inf", 1, (3, 4), TypeError, "one axis"),
        ("l1,inf,inf", None, (3, 4), ValueError, "has 3 levels but the array is 2-D"),
        ("l1,inf", None, (12,), ValueError, "levels"),
        ("l1", (0,), (12,), ValueError, "does not support"),
    ],
)
def test_levels_errors(ball, levels, shape, exc, match):
    y = np.ones(shape)
    with pytest.raises(exc, match=match):
        multiproj.project(y, 1.0, ball, method="multilevel", levels=levels)


@pytest.mark.parametrize("method", ["bilevel", "exact"])
def test_levels_with_another_method_raises(method):
    with pytest.raises(ValueError, match="'levels' parameter is used only by method='multilevel'"):
        multiproj.project(np.ones((3, 4)), 1.0, "l1,2", method=method, levels=(1, 0))


def test_norm_errors():
    y = np.ones((3, 4, 5))
    with pytest.raises(ValueError, match="flat ball"):
        multiproj.norm(y, "l1", levels=(0, 1, 2))
    with pytest.raises(ValueError, match="one entry per norm"):
        multiproj.norm(y, "l1,inf,inf", levels=(0, (1, 2)))
    with pytest.raises(ValueError, match="has 3 levels but the array is 2-D"):
        multiproj.norm(np.ones((3, 4)), "l1,inf,inf")
    with pytest.raises(ValueError, match="'ball'"):
        multiproj.project(y, 1.0, "l2,inf,inf", method="multilevel")


def test_benchmark_script_runs(capsys):
    """Smoke test of benchmarks/bench_multilevel.py on a tiny tensor (no timing asserted)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_multilevel.py"
    spec = importlib.util.spec_from_file_location("bench_multilevel", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.tensor_shape(24, 6) == (16,) * 6 and mod.tensor_shape(10, 3) == (16, 8, 8)
    assert mod.main(["--log2-size", "12", "--repeats", "1", "--rounds", "1", "--threads", "1",
                     "--levels-order", "4"]) == 0
    text = capsys.readouterr().out
    assert "| l1,inf,inf,inf,inf,inf | 4x4x4x4x4x4 | norm/2 |" in text
    assert "| l1,2,inf,2,inf,2 | 4x4x4x4x4x4 | 1 |" in text and "levels 3+4 (fused, reads y)" in text
