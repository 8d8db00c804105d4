"""Proximal operators: closed forms (tests/naive.py), Moreau's decomposition
``y = prox_{lam f}(y) + P_{lam B*}(y)``, optimality, and the input policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multiproj
from conftest import DATA_KINDS, make_data, tol

import naive

NORMS = ["l1", "l1,2", "l1,inf"]


def dual_projection(y, lam, norm, axis=0):
    """Projection onto lam times the dual unit ball (slow, per group)."""
    y = np.asarray(y, dtype=np.float64)
    if norm == "l1":
        return np.clip(y, -lam, lam)
    m, back = naive.to_groups(y, axis)
    proj = naive.proj_l2 if norm == "l1,2" else naive.proj_l1
    return back(np.stack([proj(row, lam) for row in m]))


def f(x, norm, axis=0):
    if norm == "l1":
        return float(np.abs(x).sum())
    return naive.mixed_norm(x, {"l1,2": "2", "l1,inf": "inf"}[norm], axis)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("kind", DATA_KINDS)
@pytest.mark.parametrize("lam", [0.0, 0.1, 1.0, 5.0, 1e3])
def test_prox_matches_closed_form_and_moreau(norm, kind, lam, dtype):
    y = make_data(kind, (11, 9), dtype, seed=2)
    y0 = y.copy()
    p = multiproj.prox(y, lam, norm)
    assert p.dtype == y.dtype and p.shape == y.shape
    np.testing.assert_array_equal(y, y0)
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(p, naive.prox_ref(y, lam, norm), rtol=rtol, atol=atol * max(1, lam))
    # Moreau decomposition: y = prox(y) + projection onto the dual ball of radius lam
    np.testing.assert_allclose(p + dual_projection(y, lam, norm), y, rtol=rtol, atol=atol * max(1, lam))
    if lam == 0.0:
        np.testing.assert_array_equal(p, y)


@pytest.mark.parametrize("norm", ["l1,2", "l1,inf"])
@pytest.mark.parametrize("axis", [1, (0, 2), (1, 2)])
def test_prox_axes(norm, axis):
    y = make_data("normal", (5, 6, 7), np.float64, seed=4)
    lam = 0.7
    p = multiproj.prox(y, lam, norm, axis=axis)
    np.testing.assert_allclose(p, naive.prox_ref(y, lam, norm, axis), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p + dual_projection(y, lam, norm, axis), y, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("norm", ["l1,2", "l1,inf"])
def test_prox_layouts(norm):
    base = make_data("normal", (30, 40), np.float64, seed=6)
    ref = naive.prox_ref(base, 0.8, norm, 0)
    for y in (base, np.asfortranarray(base), base[::2, ::3]):
        ref = naive.prox_ref(y, 0.8, norm, 0)
        np.testing.assert_allclose(multiproj.prox(y, 0.8, norm, axis=0), ref, rtol=1e-12, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 8), m=st.integers(1, 8), seed=st.integers(0, 10**6),
    lam=st.one_of(st.just(0.0), st.floats(1e-6, 3.0)), norm=st.sampled_from(NORMS),
)
def test_prox_is_optimal(n, m, seed, lam, norm):
    """The prox minimises 0.5 ||x - y||^2 + lam f(x): no perturbation does better, and the
    first-order condition (y - p) / lam is a subgradient of f at p (Moreau's identity)."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((n, m))
    p = multiproj.prox(y, lam, norm)

    def obj(x):
        return 0.5 * float(((x - y) ** 2).sum()) + lam * f(x, norm)

    base = obj(p)
    for _ in range(10):
        assert obj(p + 1e-3 * rng.standard_normal(y.shape)) >= base - 1e-12
    assert obj(np.zeros_like(y)) >= base - 1e-12
    if lam > 0:
        z = (y - p) / lam  # in the dual unit ball, with <z, p> = f(p)
        dual = {"l1": lambda v: np.abs(v).max(),
                "l1,2": lambda v: naive.dual_mixed(v, "2"),
                "l1,inf": lambda v: naive.dual_mixed(v, "inf")}[norm]
        assert dual(z) <= 1 + 1e-9
        assert float((z * p).sum()) == pytest.approx(f(p, norm), rel=1e-9, abs=1e-12)


def test_prox_large_strength_is_zero_and_l1inf_clips():
    y = make_data("normal", (10, 6), np.float64, seed=1)
    for norm in NORMS:
        assert not multiproj.prox(y, 1e6, norm).any()
    # l1,inf: each surviving group is clipped (signs kept, |p| <= |y|, common level)
    p = multiproj.prox(y, 0.5, "l1,inf")
    assert np.all(p * y >= 0) and np.all(np.abs(p) <= np.abs(y))
    lev = np.abs(p).max(axis=0)
    np.testing.assert_allclose(np.abs(p), np.minimum(np.abs(y), lev), atol=1e-15)


def test_prox_input_policy():
    y = np.arange(12.0).reshape(3, 4)
    assert multiproj.prox(y.astype(np.int64), 1.0, "l1").dtype == np.float64
    assert multiproj.prox(y.astype(np.float32), 1.0, "l1,inf").dtype == np.float32
    assert multiproj.prox(np.zeros((0, 3)), 1.0, "l1,2").shape == (0, 3)
    with pytest.raises(ValueError, match="'ball' parameter of prox must be one of"):
        multiproj.prox(y, 1.0, "l2")
    with pytest.raises(ValueError, match="'ball' parameter of prox must be one of"):
        multiproj.prox(y, 1.0, "l1,1")
    with pytest.raises(ValueError, match="'ball'"):
        multiproj.prox(y, 1.0, "nonsense")
    with pytest.raises(ValueError, match="'strength'"):
        multiproj.prox(y, -1.0, "l1")
    with pytest.raises(ValueError, match="'strength'"):
        multiproj.prox(y, np.nan, "l1")
    with pytest.raises(TypeError, match="'strength'"):
        multiproj.prox(y, "1", "l1")
    with pytest.raises(ValueError, match="2 dimensions"):
        multiproj.prox(np.ones(4), 1.0, "l1,inf")
    with pytest.raises(ValueError, match="'axis'"):
        multiproj.prox(y, 1.0, "l1,2", axis=3)
    bad = y.copy()
    bad[1, 1] = np.nan
    for norm in NORMS:
        with pytest.raises(ValueError, match="finite"):
            multiproj.prox(bad, 1.0, norm)
