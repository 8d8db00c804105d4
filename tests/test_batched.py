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


@pytest.mark.parametrize("kind", DATA_KINDS)
def test_l1_long_columns_compaction_and_fallback(kind, dtype):
    """Balls longer than the candidate buffer of the cols kernel: few active entries
    (the buffer is compacted), many (a ball finished from a copy of itself), ties."""
    y = make_data(kind, (700, 37), dtype, seed=21)
    norms = np.abs(y.astype(np.float64)).sum(axis=0)
    fracs = np.array([1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.9, 1.2] * 5)[:37]
    r = fracs * norms
    x = mp.project(y, r, "l1", axis=0)
    rt, at = tol(dtype)
    np.testing.assert_allclose(x, reference(y, r, "1", (0,)), rtol=rt, atol=at * 10)
    check_l1_certificate(y, x, r, (0,), dtype)
    z = y.copy()  # in place: the thresholds of every ball first, then one pass of writes
    assert mp.project_(z, r, "l1", axis=0) is z
    np.testing.assert_array_equal(z, x)


def test_inside_balls_are_copied_bit_for_bit():
    y = np.array([[-0.0, 0.5], [0.25, -0.0], [-1.0, 0.0]])
    for axis in (0, 1):
        x = mp.project(y, 10.0, "l1", axis=axis)
        assert np.array_equal(np.signbit(x), np.signbit(y)) and np.array_equal(x, y)


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


# ------------------------------------------------------------------ magnitudes, longdouble
SCALES = {
    np.float64: [2.0**-1065, 1e-300, 1e-170, 1e-155, 1.0, 1e150, 1e160, 1e300],
    np.float32: [2.0**-140, 1e-30, 1e-20, 1.0, 3e19, 1e30, 1e36],
}
MAG_CASES = [((7, 5), (0,)), ((7, 5), (1,)), ((4, 3, 5), (0, 2))]


def _scaled(shape, scale, dtype, seed, mixed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(shape)
    if mixed:  # every entry its own magnitude, up to 1e20 around ``scale`` (finite)
        hi = min(20.0, np.log10(float(np.finfo(dtype).max) / scale) - 1.0)
        y = y * 10.0 ** rng.uniform(-20, hi, shape)
    y = y * scale if scale >= 1 else (y * (scale * 2.0**60)) * 2.0**-60
    return y.astype(dtype)


@pytest.mark.parametrize("mixed", [False, True], ids=["one_scale", "mixed"])
@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("shape,axes", MAG_CASES)
@pytest.mark.parametrize(
    "dt,scale", [(np.float64, s) for s in SCALES[np.float64]] + [(np.float32, s) for s in SCALES[np.float32]]
)
def test_every_magnitude_against_flat_loop_and_longdouble(dt, scale, shape, axes, q, mixed):
    """Each ball of a batch equals the flat projection of that ball alone (to rounding) and
    the longdouble reference, is inside its ball, and ``norm`` of the batch is the
    longdouble norm of every ball, at every magnitude."""
    import naive

    y = _scaled(shape, scale, dt, seed=len(shape) + 3 * len(q), mixed=mixed)
    y0 = y.copy()
    ym, batch, _ = balls_of(y, axes)
    yb = ym.astype(dt)  # the balls as rows, in y's dtype (exact: a permutation)
    e, sub = float(np.finfo(dt).eps), float(np.finfo(dt).smallest_subnormal)
    ld_norms = np.array([naive.ld_norm(row, f"l{q}") for row in yb], dtype=naive.LD)
    got_norms = mp.norm(y, f"l{q}", axis=axes)
    assert got_norms.shape == batch
    assert np.all(np.abs(got_norms.reshape(-1).astype(naive.LD) - ld_norms)
                  <= 64 * e * ld_norms + 8 * yb.shape[1] * sub)
    fracs = np.random.default_rng(7).choice([0.0, 0.01, 0.3, 0.7, 0.99, 1.5], size=len(yb))
    r = (fracs * ld_norms.astype(np.float64)).reshape(batch)
    x = mp.project(y, r, f"l{q}", axis=axes)
    assert x.dtype == dt and x.shape == y.shape and np.isfinite(x).all()
    np.testing.assert_array_equal(y, y0)
    xm, _, _ = balls_of(x, axes)
    rr = r.reshape(-1)
    for g, row in enumerate(yb):
        big = float(np.max(np.abs(row.astype(np.float64))))
        loop = mp.project(row, rr[g], f"l{q}")  # the flat projection of this ball alone
        assert np.max(np.abs(xm[g] - loop.astype(np.float64))) <= 16 * e * big + 4 * sub, g
        ref = naive.ld_project(row, rr[g], f"l{q}")
        assert np.max(np.abs(xm[g].astype(naive.LD) - ref)) <= 16 * e * big + 4 * sub, g
        nx = naive.ld_norm(xm[g].astype(dt), f"l{q}")
        slack = 16 * e * float(ld_norms[g]) if q == "1" else 0.0  # the l1 threshold's rounding
        assert nx <= naive.LD(rr[g]) * (1 + 16 * e) + slack + 4 * row.size * sub, g
        if rr[g] == 0.0:
            assert not np.any(xm[g])


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


# --------------------------------------------------------------------------- gradients
GRAD_CASES = [((5, 6), 0), ((4, 7), 1), ((3, 4, 3), (0, 2))]


def _gapped(shape, seed):
    """Distinct magnitudes in [0.5, 3] separated by gaps, random signs and order (so that
    no active set changes within gradcheck's step)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = np.linspace(0.5, 3.0, n)[rng.permutation(n)]
    return torch.tensor((mags * rng.choice([-1.0, 1.0], size=n)).reshape(shape), dtype=torch.float64)


def _ball_margin(yb, xb, r, q):
    """Distance from ``(yb, r)`` to the nearest change of the ball's active set."""
    a, n = np.abs(yb), vec_norm(yb, q)
    if q == "inf":
        return float(np.min(np.abs(a - r)))
    if n <= r or q == "2":
        return abs(n - r)
    sup = xb != 0
    tau = float(np.mean(a[sup] - np.abs(xb[sup])))
    return min(float(np.min(np.abs(a - tau))), n - r)


def _radii_away_from_kinks(y, q, axes, margin=1e-3):
    """Per-ball radii (fractions of each ball's norm, one ball in three inside its ball)
    whose active sets are at least ``margin`` from changing."""
    ym, batch, _ = balls_of(y.numpy(), axes)
    fracs = (0.35, 0.55, 0.2, 0.7, 0.45, 0.8, 0.3, 0.6, 0.15, 0.9)
    r = np.empty(len(ym))
    for g, row in enumerate(ym):
        n = vec_norm(row, q)
        options = [1.25] if g % 3 == 2 else fracs
        for f in options:
            xb = PROJ[q](row, f * n)
            if _ball_margin(row, xb, f * n, q) > margin:
                r[g] = f * n
                break
        else:
            raise AssertionError(f"no radius away from kinks for ball {g}")
    return r.reshape(batch)


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("shape,axis", GRAD_CASES)
def test_gradcheck_batched(q, shape, axis):
    """Exact VJPs in y and in the per-ball radii (a tensor of the batch shape)."""
    axes = (axis,) if isinstance(axis, int) else axis
    y = _gapped(shape, len(shape) + len(q))
    r = _radii_away_from_kinks(y, q, axes)
    yy = y.clone().requires_grad_()
    rr = torch.tensor(r, requires_grad=True)
    fn = lambda t, rad: mp.project(t, rad, f"l{q}", axis=axis)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (yy, rr), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("shape,axis", GRAD_CASES)
def test_batched_gradients_equal_the_per_ball_flat_gradients(q, shape, axis, dtype):
    """Every ball's gradient (data and radius) is the gradient of the flat projection of that
    ball alone; a shared radius (0-d tensor) receives the sum over the balls."""
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    axes = tuple(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))
    y = torch.from_numpy(make_data("normal", shape, dtype, seed=12))
    r = np.random.default_rng(4).uniform(0.2, 1.5, balls_of(y.numpy(), axes)[1]) * np.sqrt(
        np.prod([shape[a] for a in axes]))
    g = torch.from_numpy(make_data("normal", shape, dtype, seed=13))
    yy = y.clone().requires_grad_()
    rr = torch.tensor(r, dtype=tdt, requires_grad=True)
    x = mp.project(yy, rr, f"l{q}", axis=axis)
    r = rr.detach().numpy().astype(np.float64)  # the radii as the tensor holds them
    np.testing.assert_array_equal(x.detach().numpy(), mp.project(y.numpy(), r, f"l{q}", axis=axis))
    gy, gr = torch.autograd.grad(x, (yy, rr), g)
    assert gy.dtype == tdt and gr.dtype == tdt and gr.shape == rr.shape
    ym, _, back = balls_of(y.numpy(), axes)
    gm, _, _ = balls_of(g.numpy(), axes)
    loop_gy, loop_gr = [], []
    for b, row in enumerate(ym):
        t = torch.tensor(row, dtype=tdt, requires_grad=True)
        rb = torch.tensor(r.reshape(-1)[b], dtype=tdt, requires_grad=True)
        a, c = torch.autograd.grad(mp.project(t, rb, f"l{q}"), (t, rb), torch.tensor(gm[b], dtype=tdt))
        loop_gy.append(a.numpy())
        loop_gr.append(float(c))
    rt, at = tol(dtype)
    np.testing.assert_allclose(gy.numpy(), back(np.stack(loop_gy)), rtol=rt, atol=at)
    np.testing.assert_allclose(gr.numpy().reshape(-1), loop_gr, rtol=rt, atol=at)
    # one radius tensor shared by every ball, and the keepdims form of the radii
    r0 = torch.tensor(float(np.median(r)), dtype=tdt, requires_grad=True)
    _, g0 = torch.autograd.grad(mp.project(yy, r0, f"l{q}", axis=axis), (yy, r0), g)
    per_ball = [torch.autograd.grad(mp.project(torch.tensor(row, dtype=tdt), r0, f"l{q}"), r0,
                                    torch.tensor(gm[b], dtype=tdt))[0] for b, row in enumerate(ym)]
    np.testing.assert_allclose(float(g0), float(sum(per_ball)), rtol=rt, atol=at * len(ym))
    rk = torch.tensor(np.expand_dims(r, axes), dtype=tdt, requires_grad=True)
    _, gk = torch.autograd.grad(mp.project(yy, rk, f"l{q}", axis=axis), (yy, rk), g)
    assert gk.shape == rk.shape
    np.testing.assert_allclose(gk.numpy().reshape(-1), gr.numpy().reshape(-1), rtol=0, atol=0)


def test_batched_gradients_inside_zero_radius_and_layer():
    y = _gapped((6, 4), 3)
    g = torch.from_numpy(make_data("normal", (6, 4), seed=14))
    norms = np.abs(y.numpy()).sum(axis=0)
    r = torch.tensor(norms * np.array([1.5, 0.0, 0.4, 2.0]), requires_grad=True)
    yy = y.clone().requires_grad_()
    gy, gr = torch.autograd.grad(mp.project(yy, r, "l1", axis=0), (yy, r), g)
    for b in (0, 3):  # inside: the identity, no radius gradient
        assert torch.equal(gy[:, b], g[:, b]) and float(gr[b]) == 0.0
    # radius 0: the right derivative (the largest entry of the ball alone is kept)
    k = int(np.argmax(np.abs(y.numpy()[:, 1])))
    assert float(gr[1]) == pytest.approx(float(torch.sign(y[k, 1]) * g[k, 1]))
    assert not gy[:, 1].numpy()[np.arange(6) != k].any()
    h = 1e-7
    xp = mp.project(y, np.array([0.0, h, 0.0, 0.0]) + r.detach().numpy(), "l1", axis=0)
    x0 = mp.project(y, r.detach(), "l1", axis=0)
    assert float(((xp - x0)[:, 1] * g[:, 1]).sum()) / h == pytest.approx(float(gr[1]), rel=1e-6)
    # a sparsemax-like layer over the last axis: one l1 ball per row, differentiable
    from multiproj.nn import Projection

    layer = Projection(1.0, "l1", axis=-1)
    z = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    out = layer(z)
    np.testing.assert_allclose(np.abs(out.detach().numpy()).sum(axis=1), 1.0, rtol=1e-12)
    out.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("q", QS)
def test_cuda_batched_projection_and_gradients(q):
    y = _gapped((5, 6), 7)
    r = torch.tensor(_radii_away_from_kinks(y, q, (0,)))
    g = torch.from_numpy(make_data("normal", (5, 6), seed=15))
    grads = []
    for dev in ("cpu", "cuda"):
        yy = y.to(dev).requires_grad_()
        rr = r.to(dev).requires_grad_()
        x = mp.project(yy, rr, f"l{q}", axis=0)
        grads.append([t.cpu() for t in (x.detach(), *torch.autograd.grad(x, (yy, rr), g.to(dev)))])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
