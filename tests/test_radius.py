"""multiproj.radius_for: the projection at the returned radius keeps exactly ``keep`` groups."""

from __future__ import annotations

import numpy as np
import pytest

import multiproj

CASES = [  # (ball, method)
    ("l1", "exact"),
    ("l1,inf", "exact"),
    ("l1,1", "exact"),
    ("l1,2", "exact"),
    ("l1,inf", "bilevel"),
    ("l1,1", "bilevel"),
    ("l1,2", "bilevel"),
    ("l1,inf", "multilevel"),
    ("l1,2", "multilevel"),
    ("l1,inf,inf", "multilevel"),
    ("l1,1,2", "multilevel"),
    ("l1,2,inf", "multilevel"),
]


def _kept(x, ball, method, axis, levels) -> int:
    """Number of non-zero groups of ``x`` (entries for the flat ball, outermost-level
    indices for the multi-level ball)."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    if ball == "l1":
        return int(np.count_nonzero(x))
    if method == "multilevel":
        inner = tuple(a for lvl in levels[1:] for a in (lvl if isinstance(lvl, tuple) else (lvl,)))
        return int(np.count_nonzero(x.max(axis=inner)))
    return int(np.count_nonzero(x.max(axis=axis)))


def _setting(ball, method, ndim):
    """Keyword arguments naming the groups of an ``ndim``-D array (2 or 3)."""
    if method == "multilevel":
        order = len(ball.split(","))
        levels = {(2, 2): (1, 0), (3, 2): (2, (0, 1)), (3, 3): (1, 0, 2)}[(ndim, order)]
        return {"levels": levels}
    if ball == "l1":
        return {}
    return {"axis": 0 if ndim == 2 else (0, 2)}


GRID = [(b, m, shape) for b, m in CASES for shape in [(30, 40), (6, 25, 7)]
        if len(b.split(",")) <= len(shape)]


@pytest.mark.parametrize("ball,method,shape", GRID)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_exactly_keep_groups(ball, method, shape, dtype):
    kw = _setting(ball, method, len(shape))
    y = np.random.default_rng(len(shape) * 7 + len(ball)).standard_normal(shape).astype(dtype)
    n = _kept(y, ball, method, kw.get("axis"), kw.get("levels"))
    for k in sorted({1, 2, 3, n // 3, n // 2, n - 1, n}):
        r, count = multiproj.radius_for(y, ball, keep=k, method=method, return_count=True, **kw)
        assert count == k
        x = multiproj.project(y, r, ball, method=method, **kw)
        assert _kept(x, ball, method, kw.get("axis"), kw.get("levels")) == k, (k, r)
        assert multiproj.norm(x, ball, **kw) <= r * (1 + 1e-5) + 1e-12
    assert multiproj.radius_for(y, ball, keep=n, method=method, **kw) == pytest.approx(
        multiproj.norm(y, ball, **kw), rel=1e-12
    )
    assert multiproj.radius_for(y, ball, keep=0, method=method, **kw) == 0.0


@pytest.mark.parametrize("ball,method", CASES[:8])
def test_torch_matches_numpy(ball, method):
    torch = pytest.importorskip("torch")
    kw = _setting(ball, method, 2)
    y = np.random.default_rng(3).standard_normal((20, 35))
    for keep in (0.05, 0.3, 1.0):
        rn = multiproj.radius_for(y, ball, keep=keep, method=method, **kw)
        rt, count = multiproj.radius_for(torch.from_numpy(y), ball, keep=keep, method=method,
                                         return_count=True, **kw)
        assert rt == pytest.approx(rn, rel=1e-12)
        x = multiproj.project(torch.from_numpy(y), rt, ball, method=method, **kw)
        assert _kept(x.numpy(), ball, method, kw.get("axis"), kw.get("levels")) == count


@pytest.mark.parametrize("ball,method", CASES)
def test_torch_reductions_match_numpy(ball, method, monkeypatch):
    """The torch code path (device tensors), run on CPU tensors."""
    torch = pytest.importorskip("torch")
    import multiproj._radius as rmod

    monkeypatch.setattr(rmod, "_CPU_VIEW", False)
    shape = (6, 25, 7) if len(ball.split(",")) == 3 else (20, 35)
    kw = _setting(ball, method, len(shape))
    y = np.random.default_rng(5).standard_normal(shape)
    for keep in (1, 0.3, 1.0):
        rn, kn = multiproj.radius_for(y, ball, keep=keep, method=method, return_count=True, **kw)
        rt, kt = multiproj.radius_for(torch.from_numpy(y).float(), ball, keep=keep, method=method,
                                      return_count=True, **kw)
        assert kt == kn and rt == pytest.approx(rn, rel=1e-5)
    assert multiproj.radius_for(torch.arange(6.0).reshape(2, 3).int(), "l1,inf", keep=1) == pytest.approx(
        multiproj.radius_for(np.arange(6.0).reshape(2, 3), "l1,inf", keep=1))


def test_fraction_is_ceil_of_share():
    y = np.random.default_rng(0).standard_normal((5, 30))
    for keep, k in [(0.1, 3), (0.11, 4), (1.0, 30), (1e-6, 1)]:
        _, count = multiproj.radius_for(y, "l1,2", keep=keep, method="bilevel", return_count=True)
        assert count == k


def test_bilevel_radius_is_near_the_top_of_the_interval():
    v = np.array([5.0, 4.0, 2.5, 1.0])  # one-row groups: the group norms are v
    y = v[None, :] * np.array([[1.0], [-0.5]])
    r = multiproj.radius_for(y, "l1,inf", keep=2, method="bilevel")
    # r keeps 2 for theta in [2.5, 4): theta = 2.5 + 1.5 / 1024, r = (5 - theta) + (4 - theta)
    theta = 2.5 + 1.5 / 1024
    assert r == pytest.approx((5 - theta) + (4 - theta), rel=1e-14)
    # a narrow gap: the margin 1e-5 * s_(1) caps at the midpoint
    r = multiproj.radius_for(np.array([[5.0, 4.0, 4.0 - 1e-6]]), "l1,inf", keep=2, method="bilevel")
    theta = 4.0 - 0.5e-6
    assert r == pytest.approx((5 - theta) + (4 - theta), rel=1e-12)


def test_exact_l1inf_against_bisection():
    """The radius is sum_j mu_j(theta): check mu_j against a bisection on each group."""
    rng = np.random.default_rng(1)
    y = rng.standard_normal((12, 9))
    s = np.sort(np.abs(y).sum(axis=0))[::-1]
    k = 4
    gap = s[k - 1] - s[k]
    theta = s[k] + min(gap / 2, max(gap / 1024, 1e-5 * s[0]))
    total = 0.0
    for j in range(y.shape[1]):
        a = np.abs(y[:, j])
        if a.sum() <= theta:
            continue
        lo, hi = 0.0, a.max()
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if np.maximum(a - mid, 0).sum() > theta else (lo, mid)
        total += 0.5 * (lo + hi)
    assert multiproj.radius_for(y, "l1,inf", keep=k) == pytest.approx(total, rel=1e-12)


def test_ties_give_largest_feasible_count():
    y = np.array([3.0, 2.0, 2.0, 1.0, 0.0])
    assert multiproj.radius_for(y, "l1", keep=3, return_count=True)[1] == 3  # 2.0 > 1.0
    assert multiproj.radius_for(y, "l1", keep=2, return_count=True)[1] == 1  # 2.0 == 2.0
    r, k = multiproj.radius_for(y, "l1", keep=4, return_count=True)
    assert k == 4 and r == pytest.approx(8.0)  # all non-zero entries: the norm itself
    r, k = multiproj.radius_for(y, "l1", keep=5, return_count=True)  # a zero is never kept
    assert k == 4
    r, k = multiproj.radius_for(np.array([2.0, 2.0, 1.0]), "l1", keep=1, return_count=True)
    assert (r, k) == (0.0, 0)
    x = multiproj.project(y, multiproj.radius_for(y, "l1", keep=2), "l1")
    assert np.count_nonzero(x) == 1
    # tied groups of a matrix
    w = np.array([[2.0, 1.0, 1.0, 0.5], [0.0, 1.0, -1.0, 0.1]])
    r, k = multiproj.radius_for(w, "l1,inf", keep=2, method="bilevel", return_count=True)
    assert k == 1
    assert np.count_nonzero(np.abs(multiproj.project(w, r, "l1,inf", method="bilevel")).max(axis=0)) == 1


def test_input_not_modified_and_int_input():
    y = np.random.default_rng(2).standard_normal((4, 6))
    before = y.copy()
    multiproj.radius_for(y, "l1,inf", keep=2)
    assert np.array_equal(y, before)
    # column l1 norms 4 and 2: theta = 2 + 2 / 1024, r = 4 - theta
    assert multiproj.radius_for([[3, 1], [1, 1]], "l1,1", keep=1, method="bilevel") == pytest.approx(2 - 2 / 1024)


@pytest.mark.parametrize(
    "args,kwargs,exc,text",
    [
        ((np.ones((3, 3)), "l2"), {"keep": 1}, ValueError, "removes nothing"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": 1.5}, ValueError, "(0, 1]"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": 0.0}, ValueError, "(0, 1]"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": 4}, ValueError, "from 0 to the number of groups (3)"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": -1}, ValueError, "from 0"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": True}, TypeError, "'keep'"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": "10%"}, TypeError, "'keep'"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": 1, "method": "nope"}, ValueError, "'method'"),
        ((np.ones((3, 3)), "l1"), {"keep": 1, "method": "bilevel"}, ValueError, "does not support"),
        ((np.ones(3), "l1,inf"), {"keep": 1}, ValueError, "at least 2 dimensions"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": 1, "axis": 2}, ValueError, "'axis'"),
        ((np.ones((3, 3)), "l1,inf"), {"keep": 1, "levels": (0, 1)}, ValueError, "'levels'"),
        ((np.array([[1.0, np.nan]]), "l1,inf"), {"keep": 1}, ValueError, "finite"),
    ],
)
def test_errors(args, kwargs, exc, text):
    with pytest.raises(exc, match=None) as info:
        multiproj.radius_for(*args, **kwargs)
    assert text in str(info.value)


def test_docstring_examples():
    import doctest

    import multiproj._radius as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
