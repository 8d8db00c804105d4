"""Exact l1,inf projection in torch operations (the device solver), run on CPU tensors and,
when one is present, on a CUDA device: agreement with the Numba solver, the optimality
certificate of the projection, the solution structure, layouts, radii at the rounding limits, and
the input policy (no aliasing, ``out=``, NaN/inf)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA_KINDS, make_data
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import naive

torch = pytest.importorskip("torch")

import multiproj  # noqa: E402
from multiproj._torch import exact as _torch_exact  # noqa: E402
from multiproj._torch import solvers as _torch_ops  # noqa: E402
from multiproj._core.ball import parse_ball  # noqa: E402
from multiproj.kernels import l1inf  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One thread for torch and for the Numba reference: these small cases only pay the
    parallel start-up (and the wait for busy cores) with more."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with multiproj.num_threads(1):
        yield
    torch.set_num_threads(n)
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not HAS_CUDA, reason="needs a CUDA device")])]

# (shape, axis): matrices both ways, one-group and one-entry-group matrices, tensors
CASES = [
    ((23, 31), 0),
    ((23, 31), 1),
    ((1, 40), 0),
    ((1, 40), 1),
    ((40, 1), 0),
    ((40, 1), 1),
    ((5, 6, 7), 1),
    ((5, 6, 7), (0, 2)),
    ((5, 6, 7), (1, 2)),
    ((3, 4, 2, 5), (0, 3)),
]
FRACS = [1e-9, 1e-4, 0.05, 0.3, 0.7, 0.99, 1.0 - 1e-9]


def _axes(axis):
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _rel_err(x, ref, y):
    return float(np.abs(np.asarray(x, np.float64) - ref).max() / max(np.abs(y).max(), 1e-300))


def _agree_tol(dtype):
    """Relative (to max |y|) agreement with the Numba solver: both compute mu in float64
    and clip in the data's dtype."""
    return 1e-12 if np.dtype(dtype) == np.float64 else 1e-6


def _gap_tol(dtype):
    return 1e-9 if np.dtype(dtype) == np.float64 else 2e-5


def check_against_numpy(y, r, axis, device="cpu"):
    """Project on ``device``; compare with the NumPy solver; certificate and structure."""
    t = torch.from_numpy(y.copy()).to(device)
    before = t.clone()
    x_t = _torch_exact.project_exact_l1inf(t, r, _axes(axis))
    assert x_t.dtype == t.dtype and x_t.device == t.device and x_t.shape == t.shape
    assert x_t.data_ptr() != t.data_ptr()
    assert torch.equal(t, before)
    x = x_t.cpu().numpy()
    ref = multiproj.project(y, r, "l1,inf", method="exact", axis=axis)
    assert _rel_err(x, ref, y) <= _agree_tol(y.dtype)
    nrm = naive.mixed_norm(y, "inf", axis)
    assert np.all(np.abs(x) <= np.abs(y)) and np.all(x * y >= 0)
    if r == 0.0:
        assert not x.any()
    elif nrm < r * (1 - 1e-12):
        np.testing.assert_array_equal(x, y)
    elif nrm <= r * (1 + 1e-12):  # on the boundary up to the rounding of the norm
        np.testing.assert_allclose(x, y, rtol=1e-11 if y.dtype == np.float64 else 1e-5, atol=0)
    elif r < nrm * (1 - 1e-6):  # away from the rounding of the norm
        f64 = y.dtype == np.float64
        if f64 or r > 1e-30 * nrm:  # (float32 clip levels below 1e-38 are subnormal)
            assert naive.mixed_norm(x, "inf", axis) == pytest.approx(r, rel=1e-12 if f64 else 1e-6, abs=0)
        if r > 1e-6 * nrm or f64:
            assert naive.gap_mixed(y, x, r, "inf", axis) <= _gap_tol(y.dtype)
    return x


# --------------------------------------------------------------------------- vs Numba
@pytest.mark.parametrize("kind", DATA_KINDS)
@pytest.mark.parametrize("case", CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_matches_numpy_solver(kind, case, dtype):
    shape, axis = case
    y = make_data(kind, shape, dtype, seed=len(shape) + 3 * sum(shape))
    nrm = naive.mixed_norm(y, "inf", axis)
    for frac in FRACS + [1.0, 1.7]:
        check_against_numpy(y, frac * nrm, axis)


@pytest.mark.parametrize("kind", DATA_KINDS)
def test_medium_matches_numpy_and_theta(kind, dtype):
    """Sizes where the Numba solver brackets and compacts; the same theta* to rounding."""
    y = make_data(kind, (120, 300), dtype, seed=21)
    for frac in (1e-3, 0.2, 0.8):
        r = frac * naive.mixed_norm(y, "inf")
        check_against_numpy(y, r, 0)
        st_t, st_n = {}, {}
        y64 = np.abs(y).astype(np.float64)
        a = torch.from_numpy(np.ascontiguousarray(np.abs(y).T))
        _torch_exact.exact_l1inf_thresholds(a, r, st_t)
        l1inf.exact_thresholds(y64[None], True, y64.sum(0), y64.max(0), r, st_n)
        assert st_t["theta"] == pytest.approx(st_n["theta"], rel=1e-12)
        assert 1 <= st_t["newton_steps"] <= 40
        assert st_t["host_reads"] == -(-(st_t["newton_steps"] + 1) // _torch_exact.NEWTON_CHUNK)


@settings(max_examples=40, deadline=None)
@given(
    y=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
             elements=st.floats(-50, 50, allow_subnormal=False)),
    frac=st.floats(0.0, 1.2),
    axis=st.sampled_from([0, 1]),
)
def test_hypothesis_vs_numpy_and_reference(y, frac, axis):
    r = frac * naive.mixed_norm(y, "inf", axis)
    x = check_against_numpy(y, r, axis)
    if frac == 0 or frac > 1e-6:  # the reference's theta ~ s - r loses r below rounding
        np.testing.assert_allclose(x, naive.proj_l1inf(y, r, axis), rtol=1e-9, atol=1e-9 * max(r, 1e-300))


# --------------------------------------------------------------------------- structure
def test_solution_structure():
    """Kept groups lose the same l1 mass theta, removed ones have l1 norm <= theta, sum(mu)
    = r, and the projection is closer to y than the (feasible) bi-level one."""
    y = make_data("normal", (30, 25), np.float64, seed=11)
    r = 0.05 * naive.mixed_norm(y, "inf")
    x = _torch_exact.project_exact_l1inf(torch.from_numpy(y), r, (0,)).numpy()
    mu = np.abs(x).max(axis=0)
    kept = mu > 0
    lost = np.abs(y - x).sum(axis=0)
    assert kept.any() and not kept.all()
    np.testing.assert_allclose(np.abs(x), np.minimum(np.abs(y), mu), rtol=0, atol=1e-14)
    theta = lost[kept].mean()
    np.testing.assert_allclose(lost[kept], theta, rtol=1e-10)
    assert np.all(lost[~kept] <= theta * (1 + 1e-10))
    assert mu.sum() == pytest.approx(r, rel=1e-12)
    xb = _torch_ops.project_bilevel(torch.from_numpy(y), r, parse_ball("l1,inf"), axes=(0,)).numpy()
    assert np.linalg.norm(x - y) <= np.linalg.norm(xb - y) * (1 + 1e-12)


ADVERSARIAL = naive.ADVERSARIAL_L1INF


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
@pytest.mark.parametrize("regime", ["zero", "far", "outside", "boundary", "inside"])
def test_adversarial(name, regime):
    y = ADVERSARIAL[name](np.random.default_rng(7))
    nrm = naive.mixed_norm(y, "inf")
    r = {"zero": 0.0, "far": 1e-6 * nrm, "outside": 0.4 * nrm, "boundary": nrm,
         "inside": 2.0 * nrm}[regime]
    x = check_against_numpy(y, r, 0)
    np.testing.assert_allclose(x, naive.proj_l1inf(y, r), rtol=1e-9, atol=1e-12 * np.abs(y).max())


def test_single_group_is_clipping_and_single_entry_groups_are_l1():
    rng = np.random.default_rng(0)
    col = torch.from_numpy(rng.standard_normal((20, 1)))
    x = _torch_exact.project_exact_l1inf(col, 0.5, (0,))
    np.testing.assert_allclose(x.numpy(), np.clip(col.numpy(), -0.5, 0.5), rtol=0, atol=1e-15)
    row = rng.standard_normal((1, 20))
    x = _torch_exact.project_exact_l1inf(torch.from_numpy(row), 2.0, (0,))
    np.testing.assert_allclose(x.numpy()[0], naive.proj_l1(row[0], 2.0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("where", ["one_ulp_below_norm", "tiny", "half"])
def test_rounding_regimes(where):
    """theta* at the rounding level of the norm, and radii far below the rounding of theta
    (the near-equal group sums must cancel exactly)."""
    y = make_data("normal", (120, 90), np.float64, seed=12) * 1e6
    m = np.abs(y).max(axis=0)
    r = {"one_ulp_below_norm": float(np.nextafter(m.sum(), 0)), "tiny": 1e-9 * m.sum(),
         "half": 0.5 * m.sum()}[where]
    x = _torch_exact.project_exact_l1inf(torch.from_numpy(y), r, (0,)).numpy()
    ref = multiproj.project(y, r, "l1,inf", method="exact")
    assert _rel_err(x, ref, y) <= 1e-12
    assert naive.mixed_norm(x, "inf") == pytest.approx(r, rel=1e-12)
    if where != "one_ulp_below_norm":
        assert naive.gap_mixed(y, x, r, "inf") <= 1e-9


# --------------------------------------------------------------------------- layouts, policy
@pytest.mark.parametrize(
    "make, axis",
    [
        (lambda t: t, 0),
        (lambda t: t.t().contiguous().t(), 0),
        (lambda t: t.t().contiguous().t(), 1),
        (lambda t: t[::2, ::3], 0),
        (lambda t: t.t(), 1),
    ],
    ids=["C-ax0", "F-ax0", "F-ax1", "strided", "transposed"],
)
def test_layouts(make, axis, dtype):
    base = torch.from_numpy(make_data("normal", (40, 50), dtype, seed=4))
    t = make(base)
    y = t.numpy().copy()
    r = 0.3 * naive.mixed_norm(y, "inf", axis)
    x = _torch_exact.project_exact_l1inf(t, r, (axis,))
    ref = multiproj.project(y, r, "l1,inf", method="exact", axis=axis)
    assert _rel_err(x.numpy(), ref, y) <= _agree_tol(dtype)
    np.testing.assert_array_equal(t.numpy(), y)


@pytest.mark.parametrize("frac", [0.3, 2.0, 0.0], ids=["outside", "inside", "zero"])
def test_out_in_place_and_no_alias(frac):
    y = make_data("normal", (20, 30), np.float64, seed=3)
    t = torch.from_numpy(y.copy())
    r = frac * naive.mixed_norm(y, "inf")
    x = _torch_exact.project_exact_l1inf(t, r, (0,))
    assert x.data_ptr() != t.data_ptr()
    np.testing.assert_array_equal(t.numpy(), y)
    out = torch.empty(30, 20, dtype=torch.float64).t()  # a strided out
    assert _torch_exact.project_exact_l1inf(t, r, (0,), out=out) is out
    assert torch.equal(out, x)
    assert _torch_exact.project_exact_l1inf(t, r, (0,), out=t) is t
    assert torch.equal(t, x)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_raises_without_writing(bad):
    y = make_data("normal", (10, 12), np.float64, seed=0)
    y[3, 4] = bad
    t = torch.from_numpy(y.copy())
    out = torch.full_like(t, 7.0)
    with pytest.raises(ValueError, match="finite"):
        _torch_exact.project_exact_l1inf(t, 1.0, (0,), out=out)
    assert torch.equal(out, torch.full_like(t, 7.0))
    np.testing.assert_array_equal(t.numpy(), y)
    with pytest.raises(ValueError, match="finite"):
        _torch_exact.project_exact_l1inf(t.t(), 1.0, (1,))


def test_empty():
    t = torch.zeros(0, 4)
    x = _torch_exact.project_exact_l1inf(t, 1.0, (0,))
    assert x.shape == (0, 4) and x is not t
    out = torch.zeros(0, 4)
    assert _torch_exact.project_exact_l1inf(t, 1.0, (0,), out=out) is out


def test_device_code_path_uses_it(monkeypatch):
    """The torch-ops exact solver sends l1,inf here, not to the host fallback."""

    def no_host(*args, **kwargs):
        raise AssertionError("host fallback used")

    monkeypatch.setattr(_torch_ops, "host_fallback", no_host)
    y = make_data("uniform", (15, 18), np.float32, seed=5)
    r = 0.2 * naive.mixed_norm(y, "inf", 1)
    res = _torch_ops.project_exact(torch.from_numpy(y), r, parse_ball("l1,inf"), axes=(1,))
    ref = multiproj.project(y, r, "l1,inf", method="exact", axis=1)
    assert _rel_err(res.numpy(), ref, y) <= 1e-6


# --------------------------------------------------------------------------- devices
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["normal", "ties", "sparse"])
def test_on_device(device, kind, dtype):
    """The same checks with the tensors on ``device`` (CUDA: nothing goes through the host),
    and the public API on it, in place included."""
    for shape, axis in [((64, 200), 0), ((64, 200), 1), ((6, 7, 8), (0, 2)), ((1, 30), 0)]:
        y = make_data(kind, shape, dtype, seed=9)
        for frac in (1e-6, 0.3, 0.95, 1.5):
            check_against_numpy(y, frac * naive.mixed_norm(y, "inf", axis), axis, device)
    y = make_data(kind, (64, 200), dtype, seed=10)
    r = 0.3 * naive.mixed_norm(y, "inf")
    ref = multiproj.project(y, r, "l1,inf", method="exact")
    t = torch.from_numpy(y.copy()).to(device)
    res = multiproj.project(t, r, "l1,inf", method="exact")
    assert res.device == t.device
    assert _rel_err(res.cpu().numpy(), ref, y) <= _agree_tol(dtype)
    ptr = t.data_ptr()
    assert multiproj.project_(t, r, "l1,inf", method="exact") is t and t.data_ptr() == ptr
    assert _rel_err(t.cpu().numpy(), ref, y) <= _agree_tol(dtype)


# --------------------------------------------------------------------------- compaction
@pytest.mark.parametrize("r", [1.0, 1e-6, 1e-12])
def test_compacted_groups_match_numpy(r):
    """Uniform data at small radii: only the groups whose l1 norm exceeds the starting bound
    are sorted; the thresholds agree with the Numba solver to rounding."""
    y = np.random.default_rng(7).random((60, 400))
    a = torch.from_numpy(np.ascontiguousarray(y.T))
    st_t = {}
    mu = _torch_exact.exact_l1inf_thresholds(a, r, st_t).numpy()
    assert st_t["candidates"] <= 0.25 * y.shape[1]
    ref = np.abs(multiproj.project(y, r, "l1,inf", method="exact")).max(axis=0)
    np.testing.assert_allclose(mu, ref, rtol=1e-12, atol=1e-15 * r)
    x = _torch_exact.project_exact_l1inf(torch.from_numpy(y), r, (0,)).numpy()
    assert naive.mixed_norm(x, "inf") == pytest.approx(r, rel=1e-12)


def test_compaction_with_a_wrong_start_falls_back(monkeypatch):
    """A starting bound above theta* (which would drop groups the solution keeps) is
    detected by the check on the restricted root, and the full problem is solved."""
    y = np.random.default_rng(8).random((30, 200))
    a = torch.from_numpy(np.ascontiguousarray(y.T))
    truth = _torch_exact.exact_l1inf_thresholds(a, 1.0).numpy()
    s = np.sort(y.sum(axis=0))
    monkeypatch.setattr(_torch_exact, "_start_theta",
                        lambda *args: torch.tensor(float(s[-3]), dtype=torch.float64))
    st_t = {}
    mu = _torch_exact.exact_l1inf_thresholds(a, 1.0, st_t).numpy()
    assert st_t["candidates"] == y.shape[1]
    np.testing.assert_allclose(mu, truth, rtol=1e-12, atol=1e-15)


def test_start_theta_matches_numba():
    rng = np.random.default_rng(9)
    for s in (rng.random(50) * 100, np.ones(40), np.array([3.0])):
        for r in (1e-9, 0.1, 10.0):
            t = float(_torch_exact._start_theta(torch.from_numpy(s), 7, r))
            assert t == pytest.approx(l1inf._start_theta(s, 7, r), rel=1e-13, abs=1e-300)
