"""Batched flat balls: ``axis`` names the axes every l1, l2 or linf ball spans, the other
axes index independent balls, each with its own radius.

Every projection is checked ball by ball against the sort-based references of
``tests/naive.py`` (float64), and the l1 projections also by their optimality certificate
(the duality gap of each ball and the common threshold of its active entries)."""

from __future__ import annotations

import numpy as np
import pytest

import multiproj as mp
from multiproj.kernels import batched as kb

from conftest import DATA_KINDS, make_data, tol
from naive import PROJ, gap_l1, vec_norm

QS = ["1", "2", "inf"]


def balls_of(y, axes):
    """(G, N) float64 matrix whose rows are the balls spanning ``axes``, the batch shape, and
    a function mapping such a matrix back to ``y``'s shape."""
    y = np.asarray(y, dtype=np.float64)
    axes = tuple(a % y.ndim for a in axes)
    rest = [k for k in range(y.ndim) if k not in axes]
    perm = rest + list(axes)
    t = np.transpose(y, perm)
    batch = t.shape[: len(rest)]

    def back(m):
        return np.transpose(m.reshape(t.shape), np.argsort(perm))

    return t.reshape(int(np.prod(batch)), -1), batch, back


def reference(y, r, q, axes):
    m, batch, back = balls_of(y, axes)
    rr = np.broadcast_to(np.asarray(r, dtype=np.float64), batch).reshape(-1)
    return back(np.stack([PROJ[q](m[g], rr[g]) for g in range(m.shape[0])]))


def check_l1_certificate(y, x, r, axes, dtype):
    """Each ball: inside (x = y), radius 0 (x = 0), or on the sphere with one threshold."""
    ym, batch, _ = balls_of(y, axes)
    xm, _, _ = balls_of(x, axes)
    rr = np.broadcast_to(np.asarray(r, dtype=np.float64), batch).reshape(-1)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for g in range(ym.shape[0]):
        yg, xg, rg = ym[g], xm[g], rr[g]
        s = np.abs(yg).sum()
        if s < rg * (1 - 1e-12):
            assert np.array_equal(xg, yg)
        elif s <= rg:  # on the sphere to rounding (the sums round differently)
            np.testing.assert_allclose(xg, yg, rtol=0, atol=rtol * rg)
        elif rg == 0:
            assert not xg.any()
        else:
            assert abs(np.abs(xg).sum() - rg) <= rtol * max(rg, s) * 4
            assert np.all(xg * yg >= 0)
            act = xg != 0
            tau = np.abs(yg[act]) - np.abs(xg[act])
            scale = np.abs(yg).max()
            assert np.ptp(tau) <= rtol * scale * 4
            assert np.all(np.abs(yg[~act]) <= tau.mean() + rtol * scale * 4)
            assert gap_l1(yg, xg, rg) <= 50 * rtol


CASES = [  # shape, axes of every ball
    ((30, 40), (0,)),
    ((30, 40), (1,)),
    ((30, 40), (-1,)),
    ((5, 6, 7), (1,)),
    ((5, 6, 7), (0, 2)),
    ((5, 6, 7), (1, 2)),
    ((5, 6, 7), (0,)),
    ((3, 1, 9), (2,)),
    ((4, 70), (0,)),  # more balls than one column block, and a partial block
]


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("shape,axes", CASES)
def test_matches_reference_per_ball(q, shape, axes, dtype):
    y = make_data("normal", shape, dtype, seed=len(shape) + len(axes))
    _, batch, _ = balls_of(y, axes)
    r = np.random.default_rng(1).uniform(0.0, 2.0 * np.sqrt(shape[axes[0]]), batch)
    r.flat[0] = 0.0  # one zero radius
    x = mp.project(y, r, f"l{q}", axis=axes)
    assert x.dtype == dtype and x.shape == y.shape
    rt, at = tol(dtype)
    np.testing.assert_allclose(x, reference(y, r, q, axes), rtol=rt, atol=at)
    if q == "1":
        check_l1_certificate(y, x, r, axes, dtype)


@pytest.mark.parametrize("kind", DATA_KINDS + ["positive", "negative"])
@pytest.mark.parametrize("axis", [0, 1])
def test_l1_data_kinds_and_regimes(kind, axis, dtype):
    y = make_data(kind, (64, 48), dtype, seed=3)
    norms = np.abs(y.astype(np.float64)).sum(axis=axis)
    for frac in (0.0, 1e-3, 0.3, 0.9, 1.0, 1.5):  # zero, outside, boundary, inside
        r = frac * norms
        x = mp.project(y, r, "l1", axis=axis)
        rt, at = tol(dtype)
        np.testing.assert_allclose(x, reference(y, r, "1", (axis,)), rtol=rt, atol=at * 10)
        check_l1_certificate(y, x, r, (axis,), dtype)


def test_l1_ties_zero_balls_and_tiny_radius():
    y = np.ones((50, 12))
    y[:, 3] = 0.0  # an all-zero ball
    y[:, 5] = np.repeat([2.0, -2.0], 25)  # ties of both signs
    r = np.full(12, 5.0)
    r[7] = 1e-9 * 50
    x = mp.project(y, r, "l1", axis=0)
    np.testing.assert_allclose(x, reference(y, r, "1", (0,)), rtol=1e-12, atol=1e-15)
    assert not x[:, 3].any()
    # on the sphere to the rounding of ||y||_1 (50 here)
    np.testing.assert_allclose(np.abs(x).sum(axis=0)[[0, 5, 7]], r[[0, 5, 7]], rtol=0, atol=1e-13)


def test_l1_slow_michelot_cases_use_the_sort():
    # geometric magnitudes: Michelot's passes drop few candidates each time
    n = 200
    col = 0.9 ** np.arange(n)
    y = np.stack([col, col[::-1] * 3.0, -col], axis=1)
    for axis, yy in ((0, y), (1, np.ascontiguousarray(y.T))):
        r = np.array([0.5, 7.0, 9.9])
        x = mp.project(yy, r, "l1", axis=axis)
        np.testing.assert_allclose(x, reference(yy, r, "1", (axis,)), rtol=1e-12, atol=1e-14)
        check_l1_certificate(yy, x, r, (axis,), np.float64)


def test_default_axis_is_one_ball_for_flat_and_0_for_mixed():
    y = make_data("normal", (20, 30), seed=5)
    one = mp.project(y, 2.0, "l1")
    np.testing.assert_array_equal(one, mp.project(y, 2.0, "l1", axis=None))
    np.testing.assert_array_equal(one, mp.project(y, 2.0, "l1", axis=(0, 1)))
    np.testing.assert_allclose(one.ravel(), PROJ["1"](y.ravel(), 2.0), rtol=1e-12, atol=1e-14)
    assert isinstance(mp.norm(y, "l1"), float)
    np.testing.assert_array_equal(
        mp.project(y, 2.0, "l1,inf", method="bilevel"),
        mp.project(y, 2.0, "l1,inf", method="bilevel", axis=0),
    )
    assert mp.norm(y, "l1,2") == mp.norm(y, "l1,2", axis=0)


@pytest.mark.parametrize("q", QS)
def test_norms_of_batched_balls(q):
    y = make_data("normal", (4, 5, 6), seed=6)
    v = mp.norm(y, f"l{q}", axis=(0, 2))
    assert isinstance(v, np.ndarray) and v.shape == (5,) and v.dtype == np.float64
    m, _, _ = balls_of(y, (0, 2))
    np.testing.assert_allclose(v, [vec_norm(row, q) for row in m], rtol=1e-12)
    assert mp.norm(np.zeros((0, 3)), f"l{q}", axis=0).shape == (3,)


def test_radius_shapes_and_broadcasting():
    y = make_data("normal", (4, 5, 6), seed=7)
    r = np.random.default_rng(2).uniform(0.5, 3.0, (4, 6))
    x = mp.project(y, r, "l1", axis=1)
    np.testing.assert_array_equal(x, mp.project(y, r[:, None, :], "l1", axis=1))  # keepdims
    np.testing.assert_array_equal(x, mp.project(y, r.tolist(), "l1", axis=1))
    row = r[0]  # (6,) broadcasts over the first batch axis
    np.testing.assert_array_equal(
        mp.project(y, row, "l1", axis=1), mp.project(y, np.broadcast_to(row, (4, 6)), "l1", axis=1)
    )
    np.testing.assert_array_equal(
        mp.project(y, 1.5, "l1", axis=1), mp.project(y, np.full((4, 6), 1.5), "l1", axis=1)
    )
    # one ball: an array of one radius is that radius
    np.testing.assert_array_equal(mp.project(y, np.array([1.5]), "l2"), mp.project(y, 1.5, "l2"))


def test_bad_axis_and_radius():
    y = np.ones((4, 5, 6))
    with pytest.raises(ValueError, match="'axis'"):
        mp.project(y, 1.0, "l1", axis=5)
    with pytest.raises(ValueError, match="'axis'"):
        mp.project(y, 1.0, "l2", axis=(1, 1))
    with pytest.raises(ValueError, match="'axis'"):
        mp.norm(y, "linf", axis=-4)
    with pytest.raises(ValueError, match="'axis'"):
        mp.prox(y, 0.1, "l1", axis=3)
    with pytest.raises(TypeError, match="'axis'"):
        mp.project(y, 1.0, "l1", axis=1.5)
    with pytest.raises(ValueError, match="'radius'.*broadcasts"):
        mp.project(y, np.ones(5), "l1", axis=1)
    with pytest.raises(ValueError, match="'radius'.*finite"):
        mp.project(y, np.array([[1.0] * 6] * 3 + [[-1.0] * 6]), "l1", axis=1)
    with pytest.raises(ValueError, match="'radius'.*finite"):
        mp.project(y, np.full((4, 6), np.nan), "l1", axis=1)
    with pytest.raises(ValueError, match="'radius'.*mixed ball"):
        mp.project(y[0], np.ones(5), "l1,inf", method="bilevel")
    with pytest.raises(ValueError, match="NaN or inf"):
        z = y.copy()
        z[2, 3, 4] = np.nan
        mp.project(z, 1.0, "l1", axis=1)


def test_prox_l1_takes_axis():
    y = make_data("normal", (6, 7), seed=8)
    np.testing.assert_array_equal(mp.prox(y, 0.3, "l1", axis=0), mp.prox(y, 0.3, "l1"))


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("axis", [0, 1])
def test_memory_kinds_and_out(q, axis):
    base = make_data("normal", (40, 30), seed=9)
    r = np.linspace(0.0, 8.0, base.shape[1 - axis])
    want = mp.project(base, r, f"l{q}", axis=axis)
    ro = base.copy()
    ro.setflags(write=False)
    kinds = {
        "readonly": ro,
        "fortran": np.asfortranarray(base),
        "strided": np.ascontiguousarray(np.repeat(base, 2, axis=1))[:, ::2],
        "negative": base[::-1, ::-1][::-1, ::-1],
    }
    for name, y in kinds.items():
        before = y.copy()
        np.testing.assert_array_equal(mp.project(y, r, f"l{q}", axis=axis), want, err_msg=name)
        np.testing.assert_array_equal(y, before, err_msg=name)
    bc = np.broadcast_to(base[:1], (5, 30))  # zero stride along axis 0
    np.testing.assert_allclose(
        mp.project(bc, 1.0, f"l{q}", axis=axis), reference(bc, 1.0, q, (axis,)), rtol=1e-12, atol=1e-14
    )
    out = np.empty_like(base)
    assert mp.project(base, r, f"l{q}", axis=axis, out=out) is out
    np.testing.assert_array_equal(out, want)
    z = base.copy()
    assert mp.project_(z, r, f"l{q}", axis=axis) is z
    np.testing.assert_array_equal(z, want)
    # NaN: nothing written in place
    z = base.copy()
    z[-1, -1] = np.nan
    keep = z.copy()
    with pytest.raises(ValueError, match="NaN or inf"):
        mp.project_(z, r, f"l{q}", axis=axis)
    np.testing.assert_array_equal(z, keep)


@pytest.mark.parametrize("name", ["l1_rows", "l1_cols", "l2linf_rows", "l2linf_cols"])
def test_serial_and_parallel_twins_agree(name):
    rng = np.random.default_rng(10)
    rows = name.endswith("rows")
    x = rng.standard_normal((300, 700) if rows else (2, 300, 350))
    r = rng.uniform(0.0, 20.0, (300,) if rows else (2, 350))
    res = []
    for twin in ("serial", "parallel"):
        out = np.empty_like(x)
        f = np.empty(r.shape)
        if name.startswith("l1"):
            assert getattr(kb, f"{name}_{twin}")(x, r, f, out, True) == 0
        else:
            assert getattr(kb, f"{name}_{twin}")(x, 2, r, f) == 0
            getattr(kb, f"apply_{'rows' if rows else 'cols'}_{twin}")(x, 2, f, out)
        res.append(out)
    np.testing.assert_array_equal(res[0], res[1])


def test_l2_tiny_and_huge_magnitudes():
    for v in (1e-170, 1e150):
        y = np.full((4, 3), v)
        x = mp.project(y, 0.0, "l2", axis=0)
        assert not x.any()
        x = mp.project(y, np.array([v, 4 * v, v]), "l2", axis=0)
        np.testing.assert_allclose(x[:, 0], np.full(4, v / 2), rtol=1e-12)
        np.testing.assert_array_equal(x[:, 1], y[:, 1])


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("axis", [0, 1, (0, 2)])
def test_torch_cpu_bit_for_bit_and_device_ops(q, axis, dtype):
    from multiproj._core.ball import parse_ball
    from multiproj._torch import solvers as ts

    y = make_data("normal", (9, 8, 7), dtype, seed=11)
    axes = (axis,) if isinstance(axis, int) else axis
    _, batch, _ = balls_of(y, axes)
    r = np.random.default_rng(3).uniform(0.0, 4.0, batch)
    want = mp.project(y, r, f"l{q}", axis=axis)
    t = torch.from_numpy(y)
    got = mp.project(t, torch.from_numpy(r), f"l{q}", axis=axis)
    assert isinstance(got, torch.Tensor) and got.dtype == t.dtype
    np.testing.assert_array_equal(got.numpy(), want)
    # the torch-ops path (what CUDA tensors run), on a CPU tensor
    dev = ts.project_flat(t, r, parse_ball(f"l{q}"), axes=tuple(sorted(a % 3 for a in axes)))
    rt, at = tol(dtype)
    np.testing.assert_allclose(dev.numpy(), want, rtol=rt, atol=at)
    v = mp.norm(t, f"l{q}", axis=axis)
    assert isinstance(v, torch.Tensor) and tuple(v.shape) == batch
    np.testing.assert_allclose(v.numpy(), mp.norm(y, f"l{q}", axis=axis), rtol=1e-6)
    dv = ts.norm(t, parse_ball(f"l{q}"), axes=tuple(sorted(a % 3 for a in axes)))
    np.testing.assert_allclose(dv.numpy(), v.numpy(), rtol=1e-6)


def test_torch_inplace_and_errors():
    y = torch.randn(6, 5, dtype=torch.float64)
    want = mp.project(y.numpy(), np.arange(5.0), "l1", axis=0)
    z = y.clone()
    assert mp.project_(z, np.arange(5.0), "l1", axis=0) is z
    np.testing.assert_array_equal(z.numpy(), want)
    with pytest.raises(ValueError, match="'axis'"):
        mp.project(y, 1.0, "l1", axis=2)
    with pytest.raises(ValueError, match="'radius'"):
        mp.project(y, torch.ones(4), "l1", axis=0)


def test_dask_rejects_batched_flat_balls():
    da = pytest.importorskip("dask.array")
    import multiproj.dask as mpd

    x = da.ones((8, 6), chunks=(4, 3))
    with pytest.raises(ValueError, match="Batched flat balls"):
        mpd.project(x, 1.0, "l2", method="exact", axis=0)
    assert mpd.project(x, 1.0, "l2", method="exact").shape == (8, 6)
