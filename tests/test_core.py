"""Flat balls and bi-level l1,q projections against the slow references (tests/naive.py),
plus their properties: sign preservation and the identity inside the l1 ball, the
bi-level l1,inf projection [MLP s.3] feasible but not Euclidean, and the optimality
certificate ``gap = r ||y - x||_* - <y - x, x> = 0`` of an exact projection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import multiproj
from conftest import DATA_KINDS, make_data, tol

import naive

MIXED = ["l1,inf", "l1,1", "l1,2"]
Q = {"l1,inf": "inf", "l1,1": "1", "l1,2": "2"}


def radii_for(norm_value):
    """0, inside, boundary and outside radii for a point of norm ``norm_value``."""
    return {
        "zero": 0.0,
        "inside": 1.5 * norm_value + 1.0,
        "boundary": norm_value,
        "outside": 0.3 * norm_value,
        "far": 1e-3 * norm_value,
    }


# --------------------------------------------------------------------------- flat balls
@pytest.mark.parametrize("kind", DATA_KINDS)
@pytest.mark.parametrize("regime", ["zero", "inside", "boundary", "outside", "far"])
@pytest.mark.parametrize("ball", ["l1", "l2", "linf"])
def test_flat_ball_matches_reference(ball, kind, regime, dtype):
    y = make_data(kind, (7, 45), dtype, seed=3)
    q = ball[1:]
    r = radii_for(naive.vec_norm(y, q))[regime]
    x = multiproj.project(y, r, ball)
    assert x.dtype == y.dtype and x.shape == y.shape
    ref = naive.PROJ[q](y.astype(np.float64).ravel(), r).reshape(y.shape)
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(x, ref, rtol=rtol, atol=atol * max(1.0, np.abs(y).max()))


@pytest.mark.parametrize("kind", DATA_KINDS + ["positive", "negative"])
def test_l1_properties(kind):
    y = make_data(kind, 1001, np.float64, seed=11)
    r = 0.2 * np.abs(y).sum()
    x = multiproj.project(y, r, "l1")
    # on the sphere, signs kept, shrinkage only, certificate of optimality
    assert abs(np.abs(x).sum() - r) <= 1e-12 * r
    assert np.all(x * y >= 0)
    assert np.all(np.abs(x) <= np.abs(y))
    assert naive.gap_l1(y, x, r) <= 1e-12
    # idempotent
    np.testing.assert_allclose(multiproj.project(x, r, "l1"), x, rtol=0, atol=1e-12 * np.abs(y).max())


def test_l1_inside_is_identity_bitwise():
    y = make_data("normal", (30, 20), np.float64)
    x = multiproj.project(y, np.abs(y).sum() * 1.01, "l1")
    assert np.array_equal(x, y) and x is not y


def test_l1_radius_zero_gives_zeros(dtype):
    y = make_data("normal", (5, 6), dtype)
    x = multiproj.project(y, 0.0, "l1")
    assert not np.any(x)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e6, 1e6, allow_subnormal=False)),
    st.floats(0.0, 1.0),
)
def test_l1_hypothesis_matches_sort_reference(y, frac):
    r = frac * np.abs(y).sum()
    x = multiproj.project(y, r, "l1")
    ref = naive.proj_l1(y, r)
    scale = max(1.0, np.abs(y).max())
    np.testing.assert_allclose(x, ref, rtol=1e-9, atol=1e-9 * scale)
    assert np.abs(x).sum() <= r * (1 + 1e-12) + 1e-9 * scale


def test_l2_overflowing_squares_are_handled():
    y = np.array([1e200, -1e200, 3e199])
    x = multiproj.project(y, 1.0, "l2")
    assert np.isfinite(x).all()
    np.testing.assert_allclose(np.linalg.norm(x), 1.0, rtol=1e-12)


# --------------------------------------------------------------------------- bi-level
SHAPES_AXES = [
    ((12, 30), 0),
    ((12, 30), 1),
    ((1, 40), 0),
    ((1, 40), 1),
    ((40, 1), 0),
    ((40, 1), 1),
    ((5, 6, 7), 0),
    ((5, 6, 7), 1),
    ((5, 6, 7), 2),
    ((5, 6, 7), (0, 2)),
    ((5, 6, 7), (1, 2)),
    ((5, 6, 7), (0, 1)),
    ((3, 4, 5, 6), (1, 3)),
    ((12, 30), (0, 1)),
]


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
@pytest.mark.parametrize("ball", MIXED)
def test_bilevel_matches_reference_over_shapes(ball, shape, axis, dtype):
    y = make_data("normal", shape, dtype, seed=len(shape))
    q = Q[ball]
    r = 0.4 * naive.mixed_norm(y, q, axis)
    x = multiproj.project(y, r, ball, method="bilevel", axis=axis)
    ref = naive.bilevel(y, r, q, axis)
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(x, ref, rtol=rtol, atol=atol)
    assert x.dtype == y.dtype


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("shape,axis", [((40, 70), 0), ((70, 40), 1), ((3, 40, 37), 1)])
def test_l1_group_radii_mixed_columns_match_reference(shape, axis, inplace, dtype):
    """Second pass of the bi-level l1,1 projection with every kind of group radius side by
    side: zero (group zeroed), at and above the group's norm (kept as it is) and inside
    (its own l1 projection), against the longdouble per-group l1 projection."""
    from multiproj._cpu.primitives import apply_group_radii, group_norms

    y = make_data("normal", shape, dtype, seed=3)
    v = group_norms(y, "1", (axis,))
    share = np.resize(np.array([0.0, 1.0, 2.0, 0.5, 0.05, 0.999]), v.size).reshape(v.shape)
    u = v * share
    y0 = y.copy()
    x = apply_group_radii(y, "1", v, u, (axis,), out=y if inplace else None)
    assert (x is y) == inplace
    if not inplace:
        np.testing.assert_array_equal(y, y0)
    yt, ut = np.moveaxis(y0, axis, -1), np.moveaxis(u, axis, -1)
    xt = np.moveaxis(x, axis, -1)
    rows, radii = yt.reshape(-1, shape[axis]), ut.reshape(-1)
    ref = np.stack([naive.LD_PROJ["1"](naive._ld(row, 1.0), naive.LD(r)) for row, r in zip(rows, radii)])
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(xt.reshape(rows.shape), ref.astype(np.float64), rtol=rtol, atol=atol)
    kept = ut.reshape(-1) >= np.moveaxis(v, axis, -1).reshape(-1)
    np.testing.assert_array_equal(xt.reshape(rows.shape)[kept], rows[kept])  # bitwise
    assert not xt.reshape(rows.shape)[radii == 0].any()


@pytest.mark.parametrize("kind", DATA_KINDS)
@pytest.mark.parametrize("regime", ["zero", "inside", "boundary", "outside", "far"])
@pytest.mark.parametrize("ball", MIXED)
def test_bilevel_regimes_and_data_kinds(ball, kind, regime):
    y = make_data(kind, (20, 33), np.float64, seed=5)
    q = Q[ball]
    nrm = multiproj.norm(y, ball, axis=0)
    r = radii_for(nrm)[regime]
    x = multiproj.project(y, r, ball, method="bilevel", axis=0)
    np.testing.assert_allclose(x, naive.bilevel(y, r, q, 0), rtol=1e-10, atol=1e-12 * max(1, np.abs(y).max()))
    got = multiproj.norm(x, ball, axis=0)
    if regime in ("inside", "boundary"):
        assert np.array_equal(x, y)
    else:
        assert abs(got - r) <= 1e-10 * max(nrm, 1.0)


@pytest.mark.parametrize("ball", MIXED)
def test_bilevel_properties(ball, dtype):
    q = Q[ball]
    y = make_data("normal", (50, 80), dtype, seed=7)
    nrm = multiproj.norm(y, ball, axis=0)
    r = 0.25 * nrm
    x = multiproj.project(y, r, ball, method="bilevel", axis=0)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    # feasibility, on the sphere
    assert abs(multiproj.norm(x, ball, axis=0) - r) <= rtol * nrm
    # signs kept, magnitudes shrink
    assert np.all(x.astype(np.float64) * y >= 0)
    assert np.all(np.abs(x) <= np.abs(y))
    # idempotent
    x2 = multiproj.project(x, r, ball, method="bilevel", axis=0)
    np.testing.assert_allclose(x2, x, rtol=rtol, atol=rtol)
    # additive identity ||Y - BP(Y)|| + ||BP(Y)|| = ||Y|| in the same mixed norm
    d = multiproj.norm(y.astype(np.float64) - x, ball, axis=0)
    assert abs(d + multiproj.norm(x, ball, axis=0) - nrm) <= 10 * rtol * nrm
    # a group is removed exactly when its norm is at most the outer threshold
    zero = np.abs(x).max(axis=0) == 0
    assert 0 < zero.sum() < y.shape[1]


def test_bilevel_l12_is_exact_certificate():
    y = make_data("normal", (40, 60), np.float64, seed=2)
    r = 0.3 * naive.mixed_norm(y, "2", 0)
    for method in ("bilevel", "exact"):
        x = multiproj.project(y, r, "l1,2", method=method, axis=0)
        assert naive.gap_mixed(y, x, r, "2", 0) <= 1e-12


def test_bilevel_l1inf_is_sparser_than_needed_and_not_exact():
    # bi-level l1,inf [MLP s.3] is feasible but not the Euclidean projection: positive gap
    y = make_data("normal", (40, 60), np.float64, seed=2)
    r = 0.3 * naive.mixed_norm(y, "inf", 0)
    x = multiproj.project(y, r, "l1,inf", method="bilevel", axis=0)
    assert naive.gap_mixed(y, x, r, "inf", 0) > 1e-6


def test_exact_l11_is_flat_l1():
    y = make_data("normal", (10, 20), np.float64)
    r = 5.0
    x = multiproj.project(y, r, "l1,1", method="exact", axis=1)
    np.testing.assert_allclose(x, naive.proj_l1(y, r).reshape(y.shape), rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 9),
    st.integers(1, 9),
    st.sampled_from(MIXED),
    st.floats(0.0, 1.2),
    st.integers(0, 1),
    st.integers(0, 10_000),
)
def test_bilevel_hypothesis(n, m, ball, frac, axis, seed):
    y = make_data("ties" if seed % 3 == 0 else "normal", (n, m), np.float64, seed=seed)
    q = Q[ball]
    r = frac * naive.mixed_norm(y, q, axis)
    x = multiproj.project(y, r, ball, method="bilevel", axis=axis)
    np.testing.assert_allclose(x, naive.bilevel(y, r, q, axis), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- layouts
def _layouts(y):
    yield "C", np.ascontiguousarray(y)
    yield "F", np.asfortranarray(y)
    big = np.zeros((y.shape[0] * 2, y.shape[1] * 3), dtype=y.dtype)
    big[::2, ::3] = y
    yield "strided", big[::2, ::3]
    yield "reversed", np.ascontiguousarray(y[::-1, ::-1])[::-1, ::-1]


@pytest.mark.parametrize("ball", MIXED)
@pytest.mark.parametrize("axis", [0, 1])
def test_layouts_give_same_result(ball, axis, dtype):
    y = make_data("normal", (17, 23), dtype, seed=9)
    r = 0.3 * multiproj.norm(y, ball, axis=axis)
    ref = multiproj.project(np.ascontiguousarray(y), r, ball, method="bilevel", axis=axis)
    for name, yl in _layouts(y):
        before = yl.copy()
        x = multiproj.project(yl, r, ball, method="bilevel", axis=axis)
        if ball == "l1,inf":  # max is exact in any order: bitwise equal
            np.testing.assert_array_equal(x, ref, err_msg=name)
        else:  # sums accumulate in layout-dependent order
            np.testing.assert_allclose(x, ref, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-6, err_msg=name)
        assert np.array_equal(yl, before), f"input modified for {name}"


def test_result_keeps_memory_order():
    y = np.asfortranarray(make_data("normal", (30, 40), np.float64))
    x = multiproj.project(y, 3.0, "l1,inf", method="bilevel", axis=0)
    assert x.flags.f_contiguous
    x = multiproj.project(np.ascontiguousarray(y), 3.0, "l1,inf", method="bilevel", axis=0)
    assert x.flags.c_contiguous


# --------------------------------------------------------------------------- out / in place
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("ball,method", [("l1", "exact"), ("l1,inf", "bilevel"), ("l1,1", "bilevel"), ("l1,2", "exact")])
def test_out_and_inplace(ball, method, axis, dtype):
    y = make_data("normal", (15, 25), dtype, seed=4)
    r = 0.3 * multiproj.norm(y, ball, axis=axis)
    ref = multiproj.project(y, r, ball, method=method, axis=axis)
    out = np.empty_like(y)
    res = multiproj.project(y, r, ball, method=method, axis=axis, out=out)
    assert res is out
    np.testing.assert_array_equal(out, ref)
    # out with another memory order
    outf = np.empty(y.shape, dtype=y.dtype, order="F")
    multiproj.project(y, r, ball, method=method, axis=axis, out=outf)
    np.testing.assert_array_equal(outf, ref)
    z = y.copy()
    ptr = z.ctypes.data
    res = multiproj.project_(z, r, ball, method=method, axis=axis)
    assert res is z and z.ctypes.data == ptr
    np.testing.assert_array_equal(z, ref)


def test_inplace_on_gathered_layout():
    y = make_data("normal", (4, 5, 6), np.float64)
    ref = naive.bilevel(y, 2.0, "inf", (0, 2))
    z = y.copy()
    multiproj.project_(z, 2.0, "l1,inf", method="bilevel", axis=(0, 2))
    np.testing.assert_allclose(z, ref, rtol=1e-12)


def test_input_never_modified(dtype):
    y = make_data("normal", (20, 30), dtype)
    before = y.copy()
    for ball, method in [("l1", "exact"), ("l2", "exact"), ("linf", "exact"), ("l1,inf", "bilevel"), ("l1,1", "bilevel"), ("l1,2", "bilevel")]:
        multiproj.project(y, 1.0, ball, method=method)
    assert np.array_equal(y, before)


# --------------------------------------------------------------------------- conversions
def test_integer_and_list_input_become_float64():
    x = multiproj.project([[3, -4], [1, 0]], 2.0, "l1,inf", method="bilevel")
    assert x.dtype == np.float64
    x = multiproj.project(np.arange(6, dtype=np.int32).reshape(2, 3), 1.0, "l1")
    assert x.dtype == np.float64 and abs(np.abs(x).sum() - 1.0) < 1e-12
    x = multiproj.project(np.ones(4, dtype=np.float16), 1.0, "l2")
    assert x.dtype == np.float32


def test_empty_and_scalar_inputs():
    assert multiproj.project(np.zeros((0, 3)), 1.0, "l1,inf", method="bilevel").shape == (0, 3)
    assert multiproj.project(np.float64(3.0), 1.0, "l1") == 1.0
    assert multiproj.norm(np.zeros((0, 3)), "l1,2") == 0.0


def test_norm_values():
    y = make_data("normal", (6, 9), np.float64)
    assert multiproj.norm(y, "l1") == pytest.approx(np.abs(y).sum(), rel=1e-12)
    assert multiproj.norm(y, "l2") == pytest.approx(np.linalg.norm(y), rel=1e-12)
    assert multiproj.norm(y, "linf") == np.abs(y).max()
    for ball, q in Q.items():
        for axis in (0, 1):
            assert multiproj.norm(y, ball, axis=axis) == pytest.approx(naive.mixed_norm(y, q, axis), rel=1e-12)


# --------------------------------------------------------------------------- threads
def test_thread_count_does_not_change_results():
    y = make_data("normal", (64, 700), np.float64)
    r = 0.3 * multiproj.norm(y, "l1,1", axis=0)
    results = []
    for n in sorted({1, multiproj.max_threads()}):
        with multiproj.num_threads(n):
            assert multiproj.get_num_threads() == n
            results.append(multiproj.project(y, r, "l1,1", method="bilevel", axis=0))
    for res in results[1:]:
        np.testing.assert_array_equal(res, results[0])


def test_num_threads_restores_on_error():
    before = multiproj.get_num_threads()
    with pytest.raises(RuntimeError):
        with multiproj.num_threads(1):
            raise RuntimeError("boom")
    assert multiproj.get_num_threads() == before


@pytest.mark.parametrize(
    "y",
    [
        np.geomspace(1e3, 1e-3, 500),  # slow Michelot shrinkage: Condat finishes
        np.arange(1, 2001, dtype=np.float64),
        np.r_[np.full(300, 2.0), np.full(300, -2.0), np.ones(10)],  # ties
        np.r_[1e12, np.ones(1000) * 1e-12],
        np.full(257, 3.0),
    ],
    ids=["geometric", "linear", "ties", "magnitudes", "constant"],
)
@pytest.mark.parametrize("frac", [1e-9, 0.01, 0.5, 0.99])
def test_l1_adversarial_vectors(y, frac):
    r = frac * np.abs(y).sum()
    x = multiproj.project(y, r, "l1")
    ref = naive.proj_l1(y, r)
    np.testing.assert_allclose(x, ref, rtol=1e-9, atol=1e-9 * np.abs(y).max())
    # x = |y| - tau cancels: rounding in the certificate grows like eps * ||y||_1 / r
    assert naive.gap_l1(y, x, r) <= 1e-12 + 1e-13 / frac


def test_l1_radius_far_below_rounding_with_a_zero_entry():
    # the compensated recovery pass once found no entry above its threshold and returned y
    y = np.array([0.0, 1.0])
    x = multiproj.project(y, 1e-45, "l1")
    assert np.abs(x).sum() <= 1e-45 * (1 + 1e-12)
    assert x[0] == 0.0 and 0.0 <= x[1] <= 1e-45
