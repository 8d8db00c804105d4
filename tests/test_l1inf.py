"""Exact projection onto the l1,inf ball: optimality certificate (``gap = 0``), agreement with
the breakpoint reference of tests/naive.py, the solution structure, adversarial data, the
internal fallback, layouts and the input policy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import multiproj
from conftest import DATA_KINDS, make_data, tol
from multiproj.kernels import l1inf

import naive


def gap_tol(dtype):
    return 1e-9 if np.dtype(dtype) == np.float64 else 2e-5


def check_exact(y, r, x, axis=0):
    """Feasible, certificate gap <= tolerance, signs kept, |x| <= |y|."""
    dt = np.asarray(y).dtype
    eps = 1e-12 if dt == np.float64 else 1e-6
    nrm = naive.mixed_norm(y, "inf", axis)
    assert naive.mixed_norm(x, "inf", axis) <= r * (1 + eps) + 1e-300
    if nrm > r * (1 + eps):
        assert naive.gap_mixed(y, x, r, "inf", axis) <= gap_tol(dt)
        assert naive.mixed_norm(x, "inf", axis) == pytest.approx(r, rel=eps, abs=1e-300)
    elif nrm < r * (1 - eps):
        np.testing.assert_array_equal(x, y)
    else:  # on the boundary up to the rounding of the norm
        np.testing.assert_allclose(x, y, rtol=10 * eps, atol=0)
    assert np.all(np.abs(x) <= np.abs(y))
    assert np.all(x * y >= 0)


def structure(y, x, axis=0):
    """(theta, mu, kept) read off a solution: mu_g = max|x_g|, theta = l1 mass removed."""
    ym, _ = naive.to_groups(y, axis)
    xm, _ = naive.to_groups(x, axis)
    mu = np.abs(xm).max(axis=1)
    lost = np.abs(ym - xm).sum(axis=1)
    return lost, mu, mu > 0


# --------------------------------------------------------------------------- reference
@pytest.mark.parametrize("kind", DATA_KINDS)
@pytest.mark.parametrize("frac", [0.0, 1e-3, 0.05, 0.3, 0.7, 1.0, 1.3])
def test_matches_reference(kind, frac, dtype):
    y = make_data(kind, (9, 13), dtype, seed=5)
    r = frac * naive.mixed_norm(y, "inf")
    x = multiproj.project(y, r, "l1,inf", method="exact")
    assert x.dtype == y.dtype
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(x, naive.proj_l1inf(y, r), rtol=rtol, atol=atol * max(1.0, r))
    check_exact(y, r, x)


@settings(max_examples=60, deadline=None)
@given(
    y=arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(1, 7)),
             elements=st.floats(-100, 100, allow_subnormal=False)),
    frac=st.floats(0.0, 1.2),
    axis=st.sampled_from([0, 1]),
)
def test_hypothesis_certificate_and_reference(y, frac, axis):
    r = frac * naive.mixed_norm(y, "inf", axis)
    x = multiproj.project(y, r, "l1,inf", method="exact", axis=axis)
    check_exact(y, r, x, axis)
    if frac == 0 or frac > 1e-6:  # the reference's theta ~ s - r loses r below rounding
        np.testing.assert_allclose(x, naive.proj_l1inf(y, r, axis), rtol=1e-9, atol=1e-9 * max(r, 1e-300))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(20, 120), m=st.integers(20, 150), seed=st.integers(0, 10**6),
    frac=st.floats(1e-4, 0.99), kind=st.sampled_from(DATA_KINDS),
)
def test_hypothesis_certificate_medium(n, m, seed, frac, kind):
    """Sizes where the level passes and the compact band do the work."""
    y = make_data(kind, (n, m), np.float64, seed=seed)
    r = frac * naive.mixed_norm(y, "inf")
    check_exact(y, r, multiproj.project(y, r, "l1,inf"))


def test_fast_path_used_and_exact():
    """Medium normal data: a bracket, at least one level pass, a small band, no fallback."""
    y = make_data("normal", (150, 400), np.float64, seed=1)
    s = np.abs(y).sum(axis=0)
    m = np.abs(y).max(axis=0)
    theta = np.median(s)
    r = sum(naive.l1_tau(np.abs(y[:, j]), theta) for j in range(y.shape[1]))
    stats = {}
    mu = l1inf.exact_thresholds(y[None], True, s, m, r, stats)
    assert not stats["fallback"]
    assert stats["level_passes"] >= 1
    assert stats["theta_lo"] <= stats["theta"] <= stats["theta_hi"]
    assert stats["band"] < y.size // 10
    assert stats["theta"] == pytest.approx(theta, rel=1e-12)
    assert (mu == 0).mean() == pytest.approx(0.5, abs=0.01)
    x = multiproj.project(y, r, "l1,inf")
    check_exact(y, r, x)
    np.testing.assert_allclose(x, naive.proj_l1inf(y, r), rtol=1e-10, atol=1e-12)


def test_fallback_when_bracket_is_wrong(monkeypatch):
    """A wrong bracket is detected and the uncompressed solve still gives the projection."""
    y = make_data("normal", (40, 60), np.float64, seed=2)
    r = 0.2 * naive.mixed_norm(y, "inf")
    s = np.abs(y).sum(axis=0)
    m = np.abs(y).max(axis=0)
    truth = naive.proj_l1inf(y, r)
    for wrong in [(0.0, 1e-3), (float(s.max()) * 0.99, float(s.max()))]:
        monkeypatch.setattr(l1inf, "bracket", lambda *a, w=wrong: w)
        stats = {}
        mu = l1inf.exact_thresholds(y[None], True, s, m, r, stats)
        assert stats["fallback"]
        np.testing.assert_allclose(mu, np.abs(truth).max(axis=0), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("kind", ["normal", "heavy", "ties", "sparse"])
def test_solution_structure(kind):
    y = make_data(kind, (30, 25), np.float64, seed=11)
    r = 0.25 * naive.mixed_norm(y, "inf")
    x = multiproj.project(y, r, "l1,inf")
    lost, mu, kept = structure(y, x)
    assert kept.any() and r > 0
    # each kept group is clipped at its own threshold
    np.testing.assert_allclose(np.abs(x), np.minimum(np.abs(y), mu), rtol=0, atol=1e-14)
    # every kept group loses the same l1 mass theta; removed groups have l1 norm <= theta
    theta = lost[kept].mean()
    np.testing.assert_allclose(lost[kept], theta, rtol=1e-10)
    assert np.all(lost[~kept] <= theta * (1 + 1e-10))
    assert mu.sum() == pytest.approx(r, rel=1e-12)
    # the exact projection is closer to y than the bi-level one (which is feasible too)
    xb = multiproj.project(y, r, "l1,inf", method="bilevel")
    assert np.linalg.norm(x - y) <= np.linalg.norm(xb - y) * (1 + 1e-12)


# --------------------------------------------------------------------------- adversarial
ADVERSARIAL = naive.ADVERSARIAL_L1INF


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
@pytest.mark.parametrize("regime", ["zero", "far", "outside", "boundary", "inside"])
def test_adversarial(name, regime):
    y = ADVERSARIAL[name](np.random.default_rng(7))
    nrm = naive.mixed_norm(y, "inf")
    r = {"zero": 0.0, "far": 1e-6 * nrm, "outside": 0.4 * nrm, "boundary": nrm,
         "inside": 2.0 * nrm}[regime]
    x = multiproj.project(y, r, "l1,inf")
    check_exact(y, r, x)
    scale = np.abs(y).max()
    np.testing.assert_allclose(x, naive.proj_l1inf(y, r), rtol=1e-9, atol=1e-12 * scale)
    if regime == "zero":
        assert not x.any()


def test_single_group_is_clipping_and_single_row_is_l1():
    rng = np.random.default_rng(0)
    col = rng.standard_normal((20, 1))
    x = multiproj.project(col, 0.5, "l1,inf")  # ||.||_{1,inf} of one group is its max
    np.testing.assert_allclose(x, np.clip(col, -0.5, 0.5), rtol=0, atol=1e-15)
    row = rng.standard_normal((1, 20))
    x = multiproj.project(row, 2.0, "l1,inf")  # groups of one entry: the l1 ball
    np.testing.assert_allclose(x[0], naive.proj_l1(row[0], 2.0), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- layouts
@pytest.mark.parametrize(
    "make, axis",
    [
        (lambda a: a, 0),
        (lambda a: a, 1),
        (lambda a: np.asfortranarray(a), 0),
        (lambda a: np.asfortranarray(a), 1),
        (lambda a: a[::2, ::3], 0),
        (lambda a: a.T, 0),
    ],
    ids=["C-ax0", "C-ax1", "F-ax0", "F-ax1", "strided", "transposed"],
)
def test_layouts(make, axis, dtype):
    y = make(make_data("normal", (40, 50), dtype, seed=4))
    r = 0.3 * naive.mixed_norm(y, "inf", axis)
    x = multiproj.project(y, r, "l1,inf", axis=axis)
    assert x.dtype == y.dtype and x.shape == y.shape
    check_exact(y, r, x, axis)
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(x, naive.proj_l1inf(y, r, axis), rtol=rtol, atol=atol)


@pytest.mark.parametrize("axis", [0, 1, 2, (0, 1), (1, 2), (0, 2)])
def test_tensor_axes(axis):
    y = make_data("normal", (6, 7, 8), np.float64, seed=9)
    r = 0.3 * naive.mixed_norm(y, "inf", axis)
    x = multiproj.project(y, r, "l1,inf", axis=axis)
    check_exact(y, r, x, axis)
    np.testing.assert_allclose(x, naive.proj_l1inf(y, r, axis), rtol=1e-10, atol=1e-12)


def test_out_and_in_place_and_input_untouched():
    y = make_data("normal", (20, 30), np.float64, seed=3)
    y0 = y.copy()
    r = 4.0
    x = multiproj.project(y, r, "l1,inf")
    np.testing.assert_array_equal(y, y0)
    out = np.empty_like(y)
    assert multiproj.project(y, r, "l1,inf", out=out) is out
    np.testing.assert_array_equal(out, x)
    z = y.copy()
    assert multiproj.project_(z, r, "l1,inf") is z
    np.testing.assert_array_equal(z, x)


def test_threads_agree():
    y = make_data("normal", (64, 700), np.float64, seed=8)
    r = 0.1 * naive.mixed_norm(y, "inf")
    with multiproj.num_threads(1):
        x1 = multiproj.project(y, r, "l1,inf")
    x2 = multiproj.project(y, r, "l1,inf")
    np.testing.assert_allclose(x1, x2, rtol=1e-12, atol=1e-15)
    check_exact(y, r, x1)


@pytest.mark.parametrize("extra", [1, 7])
def test_several_column_chunks(extra):
    """Cols layout with more groups than one chunk of the kernels, the last one partial,
    and two slabs (a 3-D array with axis=1): every chunk and slab boundary."""
    from multiproj.kernels.l1inf import COLUMN_CHUNK

    b = 2 * COLUMN_CHUNK + extra
    y = make_data("normal", (2, 12, b), np.float64, seed=extra)
    r = 0.2 * multiproj.norm(y, "l1,inf", axis=1)
    with multiproj.num_threads(1):
        x1 = multiproj.project(y, r, "l1,inf", axis=1)
    x2 = multiproj.project(y, r, "l1,inf", axis=1)
    np.testing.assert_allclose(x1, x2, rtol=1e-12, atol=1e-15)
    y2 = np.moveaxis(y, 1, 0).reshape(12, 2 * b)  # the same groups as the columns of a matrix
    check_exact(y2, r, np.moveaxis(x1, 1, 0).reshape(12, 2 * b))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_raises_before_writing(bad):
    y = make_data("normal", (10, 12), np.float64, seed=0)
    y[3, 4] = bad
    y0 = y.copy()
    with pytest.raises(ValueError, match="finite"):
        multiproj.project_(y, 1.0, "l1,inf")
    np.testing.assert_array_equal(y, y0)
    with pytest.raises(ValueError, match="finite"):
        multiproj.project(y.T, 1.0, "l1,inf", axis=1)


def test_bad_radius_and_shape():
    y = np.ones((3, 4))
    with pytest.raises(ValueError, match="radius"):
        multiproj.project(y, -1.0, "l1,inf")
    with pytest.raises(ValueError, match="2 dimensions"):
        multiproj.project(np.ones(5), 1.0, "l1,inf")


def test_empty():
    x = multiproj.project(np.zeros((0, 4)), 1.0, "l1,inf")
    assert x.shape == (0, 4)


@pytest.mark.parametrize("where", ["just_below_norm", "tiny", "half"])
def test_rounding_regimes_need_no_fallback(where):
    """theta* at the rounding level of sum(m) (radius one ulp below the norm) and radii far
    below the rounding of theta: the fast path handles them, no fallback."""
    y = make_data("normal", (120, 90), np.float64, seed=12) * 1e6
    s = np.abs(y).sum(axis=0)
    m = np.abs(y).max(axis=0)
    r = {"just_below_norm": float(np.nextafter(m.sum(), 0)), "tiny": 1e-9 * m.sum(),
         "half": 0.5 * m.sum()}[where]
    stats = {}
    l1inf.exact_thresholds(y[None], True, s, m, r, stats)
    assert not stats["fallback"]
    check_exact(y, r, multiproj.project(y, r, "l1,inf"))


@pytest.mark.parametrize("n", [2, 13, 40])
def test_short_groups_many_groups(n):
    """Short groups get few or no level passes (bounded memory) and stay exact."""
    y = make_data("normal", (n, 1500), np.float64, seed=n)
    r = 0.2 * naive.mixed_norm(y, "inf")
    stats = {}
    l1inf.exact_thresholds(y[None], True, np.abs(y).sum(0), np.abs(y).max(0), r, stats)
    assert not stats["fallback"]
    assert stats["level_passes"] <= max(0, int((n / 3 - 2) // l1inf.N_LEVELS))
    check_exact(y, r, multiproj.project(y, r, "l1,inf"))


# --------------------------------------------------------------------------- exact arithmetic
def _frac_tau(a, theta):
    """Threshold of the l1-ball projection of the sorted (descending) Fractions ``a`` at
    radius ``theta``, in exact arithmetic (0 inside the ball)."""
    from fractions import Fraction

    if sum(a) <= theta:
        return Fraction(0)
    if theta <= 0:
        return a[0]
    cs = Fraction(0)
    best = a[0]
    for i, v in enumerate(a):
        cs += v
        t = (cs - theta) / (i + 1)
        if v >= t:
            best = t
    return best


def frac_levels(y, r):
    """Clip levels ``mu_j`` (groups = columns) of the exact l1,inf projection in rational
    arithmetic: every float64 entry and the radius are exact Fractions, ``theta`` is found
    among the breakpoints of ``F`` and on its last linear piece, without rounding."""
    from fractions import Fraction

    cols = [sorted((Fraction(abs(float(v))) for v in y[:, j]), reverse=True)
            for j in range(y.shape[1])]
    r = Fraction(float(r))
    if sum(c[0] for c in cols) <= r:
        return [c[0] for c in cols]
    bps = sorted({sum(max(v - c, Fraction(0)) for v in a) for a in cols for c in a + [Fraction(0)]}
                 | {Fraction(0)})

    def F(theta):
        return sum(_frac_tau(a, theta) for a in cols)

    theta = naive.root_between_breakpoints(F, bps, r)
    return [_frac_tau(a, theta) for a in cols]


def check_levels_rational(y, r, x):
    """The clip levels of ``x`` against :func:`frac_levels`: to a few units of rounding of
    the data, and of the radius itself once the radius is far below the norm (below
    ``1e-6`` of it every threshold is then far below its group's entries)."""
    from fractions import Fraction

    mu = np.abs(x).max(axis=0)
    ref = frac_levels(y, r)
    err = float(max(abs(Fraction(float(a)) - b) for a, b in zip(mu, ref)))
    eps = float(np.finfo(np.float64).eps)
    scale = r if r <= 1e-6 * naive.mixed_norm(y, "inf") else float(np.abs(y).max())
    assert err <= 8 * eps * scale, f"level error {err:.3g}, scale {scale:.3g}"


TINY_CASES = {
    "normal": lambda rng: rng.standard_normal((6, 5)),
    "equal": lambda rng: np.ones((6, 5)),
    "ties": lambda rng: np.round(rng.random((6, 5)) * 4) / 4 + 1,
    "many_maxima": lambda rng: np.vstack([np.full((4, 5), 2.0), rng.random((3, 5))]),
    "uniform": lambda rng: rng.random((6, 5)),
    "one_group": lambda rng: np.full((6, 1), 3.0),
    "near_equal_sums": lambda rng: np.array([[1.0, 1.0], [1.0, 1.0 + 2.0**-50]]),
}


@pytest.mark.parametrize("name", sorted(TINY_CASES))
@pytest.mark.parametrize("frac", [1e-3, 1e-9, 1e-13, 1e-17, 1e-25, 1e-100])
def test_tiny_radius_exact_in_relative_terms(name, frac):
    """A radius far below the rounding of the norm: every clip level agrees with the
    rational-arithmetic solution to a few units of rounding of the radius (not of the
    norm); the norm of the result is the radius to rounding."""
    y = TINY_CASES[name](np.random.default_rng(1))
    r = frac * float(np.abs(y).max(axis=0).sum())
    x = multiproj.project(y, r, "l1,inf", method="exact")
    check_levels_rational(y, r, x)
    assert naive.mixed_norm(x, "inf") == pytest.approx(r, rel=1e-14)
    xt = multiproj.project(np.ascontiguousarray(y.T), r, "l1,inf", method="exact", axis=1)
    np.testing.assert_array_equal(xt, x.T)


@pytest.mark.parametrize("frac", [1.0, 1.5])
def test_radius_at_or_above_the_norm_is_identity(frac):
    y = np.random.default_rng(3).random((7, 9))
    r = frac * float(np.abs(y).max(axis=0).sum())
    np.testing.assert_array_equal(multiproj.project(y, r, "l1,inf", method="exact"), y)


@pytest.mark.parametrize("kind", ["uniform", "ties", "many_maxima"])
@pytest.mark.parametrize("r", [1.0, 1e-6, 1e-14])
@pytest.mark.parametrize("direct", [True, False])
def test_compacted_candidates_match_rational_reference(kind, r, direct, monkeypatch):
    """Uniform-like data, many columns, small radius: only a few columns are candidates
    and they are compacted into a rows buffer, where the band pass runs at once
    (``direct``) or, with that path disabled, after level passes.  Either way the levels
    agree with rational arithmetic."""
    if not direct:
        monkeypatch.setattr(l1inf, "_try_band", lambda *a: None)
    rng = np.random.default_rng(4)
    n, m = 20, 200
    y = rng.random((n, m))
    if kind == "ties":
        y = np.round(y * 8) / 8
    elif kind == "many_maxima":
        y[: n // 2] = 1.0
    stats = {}
    mu = l1inf.exact_thresholds(y[None], True, np.abs(y).sum(axis=0), np.abs(y).max(axis=0), r, stats)
    assert stats["compacted"] and not stats["fallback"]
    assert (stats["level_passes"] == 0) == direct
    assert stats["candidates"] <= m // 4
    x = multiproj.project(y, r, "l1,inf", method="exact")
    np.testing.assert_array_equal(np.abs(x).max(axis=0), mu)
    check_exact(y, r, x)
    check_levels_rational(y, r, x)


def test_compaction_with_a_wrong_bracket_falls_back(monkeypatch):
    """The restriction to the candidates is verified: a bracket that discards a group that
    the solution keeps is detected and the full solve runs."""
    y = np.random.default_rng(5).random((20, 80))
    s = np.abs(y).sum(axis=0)
    m = np.abs(y).max(axis=0)
    truth = l1inf.exact_thresholds(y[None], True, s, m, 1.0)
    wrong = (float(np.sort(s)[-3]), float(s.max()))  # keeps only two candidates
    monkeypatch.setattr(l1inf, "bracket", lambda *a: wrong)
    stats = {}
    mu = l1inf.exact_thresholds(y[None], True, s, m, 1.0, stats)
    assert stats["fallback"]
    np.testing.assert_allclose(mu, truth, rtol=1e-12, atol=1e-15)


def test_start_theta_is_a_lower_bound():
    rng = np.random.default_rng(6)
    for y in (rng.random((30, 50)), rng.standard_normal((30, 50)), np.ones((30, 50))):
        s = np.abs(y).sum(axis=0)
        m = np.abs(y).max(axis=0)
        for r in (1e-12, 1e-3, 1.0, 0.5 * m.sum()):
            stats = {}
            l1inf.exact_thresholds(y[None], True, s, m, r, stats)
            assert l1inf._start_theta(s, y.shape[0], r) <= stats["theta"] * (1 + 1e-15)


@pytest.mark.parametrize("name", sorted(TINY_CASES))
@pytest.mark.parametrize("frac", [1e-3, 1e-9, 1e-13, 1e-15, 1e-17])
def test_prox_thresholds_tiny_strength_rational(name, frac):
    """prox of ``lam ||.||_{1,inf}`` clips each group at the threshold of its own l1-ball
    projection of radius ``lam``; for ``lam`` far below the rounding of the group norms
    that threshold is still within two units in the last place of the exact (rational)
    one, and groups inside the l1 ball come out as 0."""
    from fractions import Fraction

    y = TINY_CASES[name](np.random.default_rng(2))
    lam = frac * float(np.abs(y).max())
    p = multiproj.prox(y, lam, "l1,inf")
    for j in range(y.shape[1]):
        a = sorted((Fraction(abs(float(v))) for v in y[:, j]), reverse=True)
        if sum(a) <= lam:
            assert not np.any(p[:, j])
            continue
        t = _frac_tau(a, Fraction(lam))
        got = float(np.abs(p[:, j]).max())
        assert abs(Fraction(got) - t) <= 2 * Fraction(float(np.spacing(float(t))))
        np.testing.assert_array_equal(p[:, j], np.clip(y[:, j], -got, got))
