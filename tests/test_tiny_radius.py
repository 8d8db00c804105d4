"""l1 thresholds exact to rounding when the radius lies far below the rounding of the norm.

The flat l1 ball, the outer l1 projection of the bi-level and multi-level projections and
the per-group l1 thresholds (l1,1 groups, prox l1,inf) on every path: NumPy (Numba
kernels), CPU tensors through the API, and the torch-operations solvers that CUDA tensors
use (run here on CPU tensors).  Data are all equal in magnitude (the hardest case: every
entry is active and the threshold differs from the entries by ``r / n``) or equal to 12
digits, the radius ``r = rel * ||y||`` with ``rel`` down to 1e-13.

Checked against the longdouble references of tests/naive.py: the result lies in the ball
to ``r (1 + c eps_dtype)`` plus ``4 eps ||y||`` (float64 eps: the threshold is within a few
ulps of the entries, which is what "exact to rounding" means relative to the data), and
agrees with the reference entry-wise to the same order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import multiproj
import naive

torch = pytest.importorskip("torch")

from multiproj._core.ball import parse_ball  # noqa: E402
from multiproj._torch import primitives as tprim  # noqa: E402
from multiproj._torch import solvers as tops  # noqa: E402

E64 = float(np.finfo(np.float64).eps)
BACKENDS = ["numpy", "tensor", "torch-ops"]
RELS = [1e-6, 1e-9, 1e-13]


def equal_data(shape, value, dtype):
    y = np.full(shape, value, dtype=dtype)
    y.flat[::2] *= -1
    return y


def run(backend, y, r, ball, method, levels=None):
    kw = {"levels": levels} if method == "multilevel" else {}
    if backend == "numpy":
        return multiproj.project(y, r, ball, method=method, **kw)
    t = torch.from_numpy(y.copy())
    if backend == "tensor":
        return multiproj.project(t, r, ball, method=method, **kw).numpy()
    b = parse_ball(ball)
    if method == "multilevel":
        return tops.project_multilevel(t, r, b, levels=levels).numpy()
    if method == "bilevel":
        return tops.project_bilevel(t, r, b, axes=(0,)).numpy()
    return tops.project_exact(t, r, b, axes=None if b.is_flat else (0,)).numpy()


def ref_norm(x, ball, method, levels):
    if method == "multilevel":
        return naive.ld_multilevel_norm(x, ball[1:].split(","), levels)
    return naive.ld_norm(x, ball)


def check(y, x, r, ny, ball, method, levels=None, c=4):
    dt = y.dtype
    assert x.dtype == dt and x.shape == y.shape and np.isfinite(x).all()
    nx = ref_norm(x, ball, method, levels)
    allowed = naive.LD(r) * (1 + c * float(np.finfo(dt).eps)) + c * E64 * naive.LD(ny)
    assert nx <= allowed, f"||x|| exceeds r = {r:.6g} by {float((nx - naive.LD(r)) / naive.LD(r)):.3g} (relative)"
    if method == "multilevel":
        ref = naive.ld_multilevel(y, r, ball[1:].split(","), levels)
    else:
        ref = naive.ld_project(y, r, ball, method)
    big = float(np.max(np.abs(y.astype(np.float64))))
    err = float(np.max(np.abs(x.astype(naive.LD) - ref)))
    assert err <= c * E64 * big + 2 * float(np.finfo(dt).eps) * float(np.max(np.abs(ref))), (
        f"error {err:.3g} (max|y| {big:.3g})"
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1000, 100_000])
@pytest.mark.parametrize("value", [0.7, 1 / 3, 3.3e5 + 0.1])
def test_flat_l1_all_equal(backend, dtype, n, value):
    y = equal_data(n, value, dtype)
    ny = float(naive.ld_norm(y, "l1"))
    for rel in RELS:
        r = rel * ny
        x = run(backend, y, r, "l1", "exact")
        check(y, x, r, ny, "l1", "exact")
        assert np.all(np.sign(x) == np.sign(y)) or rel * ny / n < float(np.finfo(dtype).tiny)


def test_torch_flat_l1_long_vector_recovers_dropped_entries():
    """Above 2**20 entries the torch path discards entries below Michelot's bound before
    sorting; with equal entries and a tiny radius, the rounding of that bound lies above
    the threshold, and the compensated recovery pass must bring every entry back."""
    n = (1 << 20) + 3
    for value in [0.7, 1 / 3]:
        y = equal_data(n, value, np.float64)
        ny = float(naive.ld_norm(y, "l1"))
        for rel in [1e-9, 1e-13]:
            r = rel * ny
            x = run("torch-ops", y, r, "l1", "exact")
            # every entry is active: x = sign(y) r / n (the longdouble cumulative sums of
            # the reference are not accurate enough at this length)
            want = np.sign(y) * (naive.LD(r) / n)
            assert np.max(np.abs(x.astype(naive.LD) - want)) <= 4 * E64 * value
            assert naive.ld_norm(x, "l1") <= naive.LD(r) + 4 * E64 * naive.LD(ny)
            assert np.count_nonzero(x) == n


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ball", ["l1,1", "l1,2", "l1,inf"])
def test_bilevel_outer_l1_all_equal(backend, dtype, ball):
    """2000 equal groups: the outer l1 threshold sits ``r / 2000`` below the group norms."""
    y = equal_data((3, 2000), 1 / 3, dtype)
    ny = float(naive.ld_norm(y, ball))
    for rel in RELS:
        r = rel * ny
        check(y, run(backend, y, r, ball, "bilevel"), r, ny, ball, "bilevel")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_l11_groups_all_equal(backend, dtype):
    """l1,1 with the exact method is the flat l1 ball of the whole array."""
    y = equal_data((40, 500), 0.7, dtype)
    ny = float(naive.ld_norm(y, "l1,1"))
    for rel in RELS:
        r = rel * ny
        check(y, run(backend, y, r, "l1,1", "exact"), r, ny, "l1,1", "exact")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ball", ["l1,inf,2", "l1,2,inf", "l1,1,1"])
def test_multilevel_outer_l1_all_equal(backend, dtype, ball):
    levels = ((0,), (1,), (2,))
    y = equal_data((3, 40, 50), 0.7, dtype)
    ny = float(naive.ld_multilevel_norm(y, ball[1:].split(","), levels))
    for rel in RELS:
        r = rel * ny
        check(y, run(backend, y, r, ball, "multilevel", levels), r, ny, ball, "multilevel", levels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearly_equal_entries(backend):
    """Entries equal to 12 digits: most of the vector is active at a tiny radius."""
    rng = np.random.default_rng(3)
    for _ in range(6):
        c = rng.uniform(0.1, 10.0)
        y = c * (1 + 1e-12 * rng.standard_normal(20_000)) * rng.choice([-1, 1], 20_000)
        ny = float(naive.ld_norm(y, "l1"))
        r = 10.0 ** rng.uniform(-13, -6) * ny
        check(y, run(backend, y, r, "l1", "exact"), r, ny, "l1", "exact")


# ------------------------------------------------------------- torch building blocks
def test_torch_row_thresholds_against_longdouble():
    """Per-row thresholds (l1,1 groups, prox l1,inf) on equal rows and tiny radii."""
    a = np.abs(equal_data((5, 3000), 1 / 3, np.float64))
    tot = a.astype(naive.LD).sum(axis=1)
    r = np.array([1e-13, 1e-9, 1e-6, 0.5, 2.0]) * tot.astype(np.float64)
    tau = tprim.l1_thresholds(torch.from_numpy(a), torch.from_numpy(r)).numpy()
    for g in range(5):
        want = (tot[g] - naive.LD(r[g])) / a.shape[1]  # every entry active
        assert abs(naive.LD(tau[g]) - want) <= 4 * E64 * naive.LD(a[g, 0])


def test_torch_pairwise_sum_is_compensated():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 10_001)) * 10.0 ** rng.uniform(-8, 8, (3, 10_001))
    x[1] = 0.1
    s, e = tprim._pairwise_sum(torch.from_numpy(x))
    for g in range(3):
        want = math.fsum(x[g])
        got = naive.LD(float(s[g])) + naive.LD(float(e[g]))
        assert abs(got - naive.LD(want)) <= 4 * E64 * E64 * float(np.abs(x[g]).sum()) + 2 * E64 * abs(want)


@pytest.mark.parametrize("tau", [0.7 - 3e-9, 1 / 3 - 1e-7, 1e-30, 0.0, math.inf])
def test_torch_soft_threshold_float32_rounds_once(tau):
    """In float32 the soft threshold at a float64 ``tau`` is the float32 rounding of the
    exact value (within two roundings), however close ``tau`` is to the entries."""
    y = np.array([0.7, -0.7, 1 / 3, -1 / 3, 5.0, 0.0, 1e-30], dtype=np.float32)
    want = np.sign(y.astype(naive.LD)) * np.maximum(np.abs(y.astype(naive.LD)) - naive.LD(tau), 0)
    for t in (tau, torch.tensor(tau, dtype=torch.float64)):
        got = tprim.soft_threshold(torch.from_numpy(y), t).numpy()
        assert got.dtype == np.float32
        err = np.abs(got.astype(naive.LD) - want)
        assert np.all(err <= 2 * float(np.finfo(np.float32).eps) * np.abs(want))
