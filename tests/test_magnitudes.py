"""Exact to rounding at every magnitude: tiny (subnormal, 1e-300, 1e-170), huge (1e150,
1e300; 3e19 and 1e30 in float32) and mixed data, for every ball x method, on the NumPy path,
CPU tensors and the torch-operations path, against the longdouble references of
tests/naive.py (``ld_*``).

What is checked for a result ``x`` of ``y`` at radius ``r``:

* dtype and shape kept, every entry finite;
* feasibility: ``||x|| <= r (1 + c eps)``, plus ``c eps ||y||`` where an outer l1
  projection subtracts a threshold (its rounding is relative to the data, not to ``r``),
  plus the spacing of the subnormal numbers per entry (a subnormal result cannot be
  rounded closer);
* agreement with the longdouble reference entry-wise, to ``c eps max|y|``;
* the optimality certificate of the exact projections (section 6 of the specification:
  ``r ||y - x||_* = <y - x, x>``) when ``y`` lies well outside the ball;
* ``norm`` against the longdouble norm, relatively.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multiproj
import naive

# (ball, method): every ball with every method that supports it
FLAT_AND_MIXED = [
    ("l1", "exact"),
    ("l2", "exact"),
    ("linf", "exact"),
    ("l1,1", "exact"),
    ("l1,1", "bilevel"),
    ("l1,2", "exact"),
    ("l1,2", "bilevel"),
    ("l1,inf", "exact"),
    ("l1,inf", "bilevel"),
]
MULTILEVEL = ["l1,2,2", "l1,2,inf", "l1,inf,2", "l1,inf,inf", "l1,1,2"]
EXACT = {"l1", "l2", "linf", "l1,1", "l1,2", "l1,inf"}  # (with method "exact")

# magnitudes of the data: tiny, at the thresholds where squares underflow/overflow, huge
SCALES64 = [2.0**-1065, 1e-300, 1e-170, 1e-160, 1e-155, 1.0, 1e150, 1e154, 1e160, 1e300]
SCALES32 = [2.0**-140, 1e-30, 1e-20, 1e-19, 1.0, 3e19, 1e20, 1e30, 1e36]
FRACS = [0.0, 0.01, 0.3, 0.7, 0.99, 1.5]  # radius = frac * ||y||


def eps(dtype):
    return float(np.finfo(dtype).eps)


def sub(dtype):
    """Spacing of the subnormal numbers of ``dtype``."""
    return float(np.finfo(dtype).smallest_subnormal)


def data(shape, scale, dtype, seed, mixed=False):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(shape)
    if mixed:  # every entry its own magnitude, from scale * 1e-20 to scale * 1e20 (finite)
        hi = min(20.0, np.log10(float(np.finfo(dtype).max) / scale) - 1.0)
        y = y * 10.0 ** rng.uniform(-20, hi, shape)
    y = y * scale if scale >= 1 else (y * (scale * 2.0**60)) * 2.0**-60
    y = y.astype(dtype)
    if not np.any(y):
        y.flat[0] = np.finfo(dtype).smallest_subnormal
    return y


def ref_project(y, r, ball, method, levels=None):
    if method == "multilevel":
        return naive.ld_multilevel(y, r, ball[1:].split(","), levels)
    return naive.ld_project(y, r, ball, method)


def ref_norm(y, ball, method="exact"):
    if method == "multilevel":
        return naive.ld_multilevel_norm(y, ball[1:].split(","))
    return naive.ld_norm(y, ball)


def check_result(y, x, r, ball, method, c=16):
    """Every property of the module docstring for one result."""
    dt = y.dtype
    e, n = eps(dt), y.size
    assert x.dtype == dt and x.shape == y.shape
    assert np.isfinite(x).all()
    ny = ref_norm(y, ball, method)
    nx = ref_norm(x, ball, method)
    outer_l1 = ball not in ("l2", "linf")
    allowed = naive.LD(r) * (1 + c * e) + (c * e * ny if outer_l1 else 0) + 4 * n * sub(dt)
    assert nx <= allowed, f"||x|| = {float(nx):.17g} > r = {r:.17g} (||y|| = {float(ny):.6g})"
    ref = ref_project(y, r, ball, method)
    big = float(np.max(np.abs(y.astype(np.float64))))
    err = float(np.max(np.abs(x.astype(naive.LD) - ref)))
    assert err <= c * e * big + 4 * sub(dt), f"max error {err:.3g} vs max|y| {big:.3g}"
    if r == 0.0:
        assert not np.any(x)


def normal_range(y):
    """True when the data are large enough that no entry of interest of a result is
    subnormal (rounded to an absolute spacing rather than relatively): the certificate's
    relative rounding bound then holds."""
    fi = np.finfo(y.dtype)
    return float(np.max(np.abs(y))) >= float(fi.smallest_normal) / float(fi.eps)


def check_certificate(y, x, r, ball, c=32):
    """Optimality certificate of the exact projections, for a ``y`` well outside the ball."""
    if r == 0.0:
        return
    gap = float(naive.ld_gap(y, x, r, ball))
    assert abs(gap) <= c * y.size * eps(y.dtype), f"gap {gap:.3g}"


# --------------------------------------------------------------------------- NumPy path
@pytest.mark.parametrize("ball,method", FLAT_AND_MIXED)
@pytest.mark.parametrize("dtype,scale", [(np.float64, s) for s in SCALES64] + [(np.float32, s) for s in SCALES32])
def test_every_ball_at_every_magnitude(ball, method, dtype, scale):
    y = data((7, 5), scale, dtype, seed=1)
    y0 = y.copy()
    ny = float(ref_norm(y, ball))
    for frac in FRACS:
        r = frac * ny
        x = multiproj.project(y, r, ball, method=method)
        check_result(y, x, r, ball, method)
        if method == "exact" and 0 < frac < 0.9 and normal_range(y):
            check_certificate(y, x, r, ball)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("ball", MULTILEVEL)
@pytest.mark.parametrize("dtype,scale", [(np.float64, s) for s in SCALES64[::2]] + [(np.float32, s) for s in SCALES32[::2]])
def test_multilevel_at_every_magnitude(ball, dtype, scale):
    y = data((4, 3, 5), scale, dtype, seed=2)
    ny = float(ref_norm(y, ball, "multilevel"))
    for frac in FRACS:
        r = frac * ny
        x = multiproj.project(y, r, ball, method="multilevel")
        check_result(y, x, r, ball, "multilevel")


@pytest.mark.parametrize(
    "ball", ["l1", "l2", "linf", "l1,1", "l1,2", "l1,inf", "l1,2,2", "l1,inf,2", "l1,2,inf"]
)
@pytest.mark.parametrize("dtype,scale", [(np.float64, s) for s in SCALES64] + [(np.float32, s) for s in SCALES32])
def test_norm_at_every_magnitude(ball, dtype, scale):
    shape = (4, 3, 5) if ball.count(",") == 2 else (7, 5)
    y = data(shape, scale, dtype, seed=3, mixed=True)
    got = multiproj.norm(y, ball)
    want = ref_norm(y, ball, "multilevel" if ball.count(",") == 2 else "exact")
    assert np.isfinite(got)
    assert abs(naive.LD(got) - want) <= 8 * 8 * y.size * eps(np.float64) * want + 8 * y.size * sub(np.float64)


@pytest.mark.parametrize("ball,method", FLAT_AND_MIXED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixed_magnitudes(ball, method, dtype):
    """Entries spread over 40 orders of magnitude inside one array."""
    for k, scale in enumerate([1e-150, 1.0, 1e150] if dtype == np.float64 else [1e-12, 1.0, 1e12]):
        y = data((6, 5), scale, dtype, seed=10 + k, mixed=True)
        ny = float(ref_norm(y, ball))
        for frac in FRACS:
            x = multiproj.project(y, frac * ny, ball, method=method)
            check_result(y, x, frac * ny, ball, method)


# the exact examples of the reliability report
def test_tiny_l2_examples():
    y = np.full(4, 1e-170)
    np.testing.assert_array_equal(multiproj.project(y, 0.0, "l2"), np.zeros(4))
    assert multiproj.norm(y, "l2") == pytest.approx(2e-170, rel=1e-15)
    x = multiproj.project(y, 1e-170, "l2")
    np.testing.assert_allclose(x, np.full(4, 0.5e-170), rtol=1e-15)
    z = np.full((3, 4), 1e-170)
    assert multiproj.norm(z, "l1,2") == pytest.approx(4 * np.sqrt(3) * 1e-170, rel=1e-15)
    for method in ("exact", "bilevel"):
        np.testing.assert_array_equal(multiproj.project(z, 0.0, "l1,2", method=method), 0 * z)


def test_huge_float32_examples():
    y = np.full((2, 2), 3e19, np.float32)
    for method in ("exact", "bilevel", "multilevel"):
        # radius 3e19: each column (norm 3e19 sqrt(2)) gets radius 1.5e19
        x = multiproj.project(y, 3e19, "l1,2", method=method, **({"levels": (1, 0)} if method == "multilevel" else {}))
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, np.full((2, 2), 1.5e19 / np.sqrt(2), np.float32), rtol=1e-6)
        # a radius far below the rounding of the norm (1 against 8.5e19) can only give 0
        # to within that rounding
        x = multiproj.project(y, 1.0, "l1,2", method=method, **({"levels": (1, 0)} if method == "multilevel" else {}))
        assert x.dtype == np.float32 and np.isfinite(x).all() and np.abs(x).max() <= 1.0
    assert multiproj.norm(y, "l1,2") == pytest.approx(2 * np.sqrt(2) * 3e19, rel=1e-6)
    y64 = np.full((2, 3), 1e160)
    # three columns of norm 1e160 sqrt(2), radius 1e160: each column gets radius 1e160 / 3
    np.testing.assert_allclose(multiproj.project(y64, 1e160, "l1,2"), np.full((2, 3), 1e160 / (3 * np.sqrt(2))), rtol=1e-14)


# ----------------------------------------------------------------- property tests (hypothesis)
def _mixed_arrays(dtype, shape):
    """Arrays whose entries are ``m * 2**k`` with any exponent ``k`` of ``dtype`` (subnormal to
    near the largest finite value), independently per entry or shared by the whole array."""
    lo, hi = (-1070, 1015) if dtype == np.float64 else (-145, 120)
    n = int(np.prod(shape))
    entry = st.tuples(st.floats(-2, 2, allow_nan=False), st.integers(lo, hi))
    per_entry = st.lists(entry, min_size=n, max_size=n)
    shared = st.tuples(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n, max_size=n), st.integers(lo, hi)).map(
        lambda t: [(m, t[1]) for m in t[0]]
    )

    def build(pairs):
        y = np.array([np.ldexp(m, k) for m, k in pairs]).reshape(shape).astype(dtype)
        if not np.any(y):
            y.flat[0] = 1.0
        return y

    return st.one_of(per_entry, shared).map(build)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("ball,method", FLAT_AND_MIXED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_property_any_magnitude(ball, method, dtype, data):
    y = data.draw(_mixed_arrays(dtype, (5, 4)), label="y")
    frac = data.draw(st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0, 2.0]), label="frac")
    r = frac * float(ref_norm(y, ball))
    x = multiproj.project(y, r, ball, method=method)
    check_result(y, x, r, ball, method)
    if method == "exact" and 0 < frac < 0.9 and normal_range(y):
        check_certificate(y, x, r, ball)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("ball", ["l1,2,2", "l1,inf,2", "l1,2,inf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_property_multilevel_any_magnitude(ball, dtype, data):
    y = data.draw(_mixed_arrays(dtype, (3, 2, 4)), label="y")
    frac = data.draw(st.sampled_from([0.0, 0.05, 0.5, 1.0, 2.0]), label="frac")
    r = frac * float(ref_norm(y, ball, "multilevel"))
    check_result(y, multiproj.project(y, r, ball, method="multilevel"), r, ball, "multilevel")


# ---------------------------------------------------------------------------- prox
@pytest.mark.parametrize("norm", ["l1", "l1,2", "l1,inf"])
@pytest.mark.parametrize("dtype,scale", [(np.float64, s) for s in SCALES64] + [(np.float32, s) for s in SCALES32])
def test_prox_at_every_magnitude(norm, dtype, scale):
    y = data((6, 5), scale, dtype, seed=4)
    big = float(np.max(np.abs(y.astype(np.float64))))
    for frac in [0.0, 0.1, 0.5, 2.0]:
        lam = frac * big
        p = multiproj.prox(y, lam, norm)
        assert p.dtype == y.dtype and np.isfinite(p).all()
        err = float(np.max(np.abs(p.astype(naive.LD) - naive.ld_prox(y, lam, norm))))
        assert err <= 16 * eps(dtype) * big + 4 * sub(dtype), f"prox error {err:.3g}, max|y| {big:.3g}"


# ------------------------------------------------------------------------- torch paths
torch = pytest.importorskip("torch")


def _torch_solvers():
    """The module of the torch-operations solvers (the path of CUDA tensors), which also runs
    on CPU tensors."""
    for name in ("multiproj._torch.solvers", "multiproj._torch_ops"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("no torch-operations solver module")


def _parse_ball(ball):
    for name in ("multiproj._core.ball", "multiproj._validation"):
        try:
            return importlib.import_module(name).parse_ball(ball)
        except (ImportError, AttributeError):
            continue
    raise ImportError("no parse_ball")


def _torch_ops_project(t, r, ball, method):
    ops = _torch_solvers()
    b = _parse_ball(ball)
    if method == "multilevel":
        return ops.project_multilevel(t, r, b, levels=tuple((k,) for k in range(t.ndim)))
    if method == "bilevel":
        return ops.project_bilevel(t, r, b, axes=(0,))
    return ops.project_exact(t, r, b, axes=None if b.is_flat else (0,))


@pytest.mark.parametrize("ball,method", FLAT_AND_MIXED)
@pytest.mark.parametrize("dtype,scale", [(np.float64, s) for s in SCALES64[::2]] + [(np.float32, s) for s in SCALES32])
def test_torch_paths_at_every_magnitude(ball, method, dtype, scale):
    """CPU tensors through the public API (Numba kernels on a view) and the torch-operations
    solvers that CUDA tensors use, both run on the CPU."""
    y = data((7, 5), scale, dtype, seed=5)
    ny = float(ref_norm(y, ball))
    for frac in [0.0, 0.3, 0.99, 1.5]:
        r = frac * ny
        t = torch.from_numpy(y.copy())
        x = multiproj.project(t, r, ball, method=method)
        assert isinstance(x, torch.Tensor)
        check_result(y, x.numpy(), r, ball, method)
        x2 = _torch_ops_project(torch.from_numpy(y.copy()), r, ball, method)
        check_result(y, x2.numpy(), r, ball, method)
    got = multiproj.norm(torch.from_numpy(y), ball)
    assert abs(naive.LD(got) - ny) <= 64 * y.size * eps(np.float64) * ny + 8 * y.size * sub(np.float64)


@pytest.mark.parametrize("ball", MULTILEVEL)
@pytest.mark.parametrize("dtype,scale", [(np.float64, s) for s in SCALES64[::3]] + [(np.float32, s) for s in SCALES32[::2]])
def test_torch_ops_multilevel_at_every_magnitude(ball, dtype, scale):
    y = data((4, 3, 5), scale, dtype, seed=6)
    ny = float(ref_norm(y, ball, "multilevel"))
    for frac in [0.0, 0.3, 1.5]:
        r = frac * ny
        x = _torch_ops_project(torch.from_numpy(y.copy()), r, ball, "multilevel")
        check_result(y, x.numpy(), r, ball, "multilevel")
