"""The flat l1 projection's screened first pass (block maxima on the bit patterns, candidates
above ``max|y| - radius``, zero blocks written without reading ``y``): every branch of it
against the longdouble reference of tests/naive.py and against the generic threshold.

Branches: few candidates (small radius), too many candidates (storing stops, the second
pass filters ``y``), ``max|y| <= radius`` (maybe inside the ball), lengths that are not a
multiple of the block, NaN/inf in a block or in the tail, float32 data where the bound
rounds up into float32, ties at the maximum, and the zero blocks of the output.
"""

from __future__ import annotations

import numpy as np
import pytest

import multiproj
import naive
from multiproj.kernels import vector as kv

E64 = float(np.finfo(np.float64).eps)


def check(y, r):
    x = multiproj.project(y, r, "l1")
    e = float(np.finfo(y.dtype).eps)
    assert x.dtype == y.dtype
    ny = naive.ld_norm(y, "l1")
    nx = naive.ld_norm(x, "l1")
    assert nx <= naive.LD(r) * (1 + 4 * e) + 4 * E64 * ny
    ref = naive.ld_project(y, r, "l1")
    big = float(np.max(np.abs(y.astype(np.float64))))
    assert float(np.max(np.abs(x.astype(naive.LD) - ref))) <= 8 * e * big
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 4097, 100_003])
@pytest.mark.parametrize("radius", [1e-12, 0.01, 1.0, 5.0, 100.0, 1e4, 1e9])
def test_normal_data_every_branch(dtype, n, radius):
    y = np.random.default_rng(n).standard_normal(n).astype(dtype)
    check(y, radius)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_candidates_threshold_matches_generic(dtype):
    """The flat and the generic thresholds agree to rounding on heavy tails, ties, sparse
    and equal data, small and large radii."""
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(1, 5000))
        kind = trial % 4
        y = [rng.standard_cauchy(n), rng.integers(-3, 4, n).astype(float),
             rng.standard_normal(n) * (rng.random(n) < 0.05), np.full(n, 0.3)][kind].astype(dtype)
        r = float(rng.choice([1e-9, 0.01, 0.5, 0.99, 1.2])) * float(np.abs(y.astype(np.float64)).sum())
        buf = np.empty(n)
        bmax = np.empty(n // 64, dtype=np.int64 if dtype == np.float64 else np.int32)
        t_flat, f1 = kv.l1_threshold_flat(y, r, np.empty(n // 8 + 128), bmax)
        t_gen, f2 = kv.l1_threshold(y, r, buf)
        assert f1 and f2
        big = float(np.abs(y).max()) if n else 0.0
        assert abs(t_flat - t_gen) <= 8 * E64 * big + 1e-300, (trial, t_flat, t_gen)


def test_float32_bound_rounds_up():
    """Entries just above ``max - radius`` must stay candidates although that bound,
    rounded to the nearest float32, is the entries themselves."""
    a = np.float32(0.9)
    r = 1.0 - (float(a) - 1e-9)  # max - r lies 1e-9 below a: its float32 rounding is a
    y = np.full(10_000, 0.01, np.float32)
    y[17] = 1.0
    y[5000:5100] = a
    x = check(y, r)
    assert np.count_nonzero(x) == 101


def test_too_many_candidates_falls_back():
    """Half the entries within the radius of the maximum: storing stops at an eighth."""
    rng = np.random.default_rng(1)
    y = 10.0 + rng.random(50_000)
    y[::2] *= -1
    for r in [0.5, 1.5, 20.0, 3e5]:
        check(y, r)


def test_inside_and_identity_at_the_norm():
    rng = np.random.default_rng(2)
    for n in [5, 640, 100_001]:
        y = rng.standard_normal(n)
        r = multiproj.norm(y, "l1")
        np.testing.assert_array_equal(multiproj.project(y, r, "l1"), y)
        x = check(y, float(np.nextafter(r, 0)))
        assert np.abs(x).sum() <= r


@pytest.mark.parametrize("pos", [0, 63, 64, 5000, 9999])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_anywhere(pos, bad, dtype):
    y = np.random.default_rng(3).standard_normal(10_000).astype(dtype)
    y[pos] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        multiproj.project(y, 1.0, "l1")


def test_ties_at_the_maximum_and_zero_blocks():
    """Every entry equal to the maximum in a few blocks, zeros elsewhere: the zero blocks
    are written as zeros, the others soft-thresholded."""
    y = np.zeros(64 * 100 + 7)
    y[64 * 3 : 64 * 4] = 2.0
    y[-3:] = -2.0
    for r in [1e-9, 1.0, 60.0, 200.0, 300.0]:
        out = np.full_like(y, np.nan)  # stale content must be overwritten
        x = multiproj.project(y, r, "l1", out=out)
        assert x is out and np.isfinite(x).all()
        check(y, r)
        assert not np.any(x[: 64 * 3]) and not np.any(x[64 * 4 : -3])


def test_non_contiguous_input():
    y = np.random.default_rng(4).standard_normal(20_001)
    for view in (y[::3], y[::-1]):
        x = check(view, 1.0)
        np.testing.assert_array_equal(x, multiproj.project(np.ascontiguousarray(view), 1.0, "l1"))
