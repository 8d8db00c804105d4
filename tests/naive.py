"""Slow, obviously correct reference implementations (STUMPY's tests/naive.py idea).

Everything here is plain NumPy in float64 with Python loops where that makes the math
plain; nothing is shared with the library's kernels.
"""

from __future__ import annotations

import numpy as np


def proj_l1(v, r):
    """Sort-based projection onto the l1 ball (Duchi et al. 2008), signs kept."""
    v = np.asarray(v, dtype=np.float64).ravel()
    a = np.abs(v)
    if a.sum() <= r:
        return v.copy()
    if r == 0:
        return np.zeros_like(v)
    s = np.sort(a)[::-1]
    cs = np.cumsum(s)
    k = np.arange(1, len(s) + 1)
    idx = np.nonzero(s - (cs - r) / k > 0)[0]
    rho = idx[-1] if idx.size else 0  # the top entry is always active (rounding aside)
    tau = (cs[rho] - r) / (rho + 1)
    return np.sign(v) * np.maximum(a - tau, 0)


def proj_l2(v, r):
    v = np.asarray(v, dtype=np.float64)
    n = np.sqrt((v * v).sum())
    return v.copy() if n <= r else v * (r / n)


def proj_linf(v, r):
    v = np.asarray(v, dtype=np.float64)
    return np.clip(v, -r, r)


PROJ = {"1": proj_l1, "2": proj_l2, "inf": proj_linf}


def vec_norm(v, q):
    v = np.abs(np.asarray(v, dtype=np.float64).ravel())
    if v.size == 0:
        return 0.0
    return {"1": v.sum(), "2": np.sqrt((v * v).sum()), "inf": v.max()}[q]


def to_groups(y, axis):
    """(G, N) float64 matrix whose rows are the groups, and a function mapping back."""
    y = np.asarray(y, dtype=np.float64)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % y.ndim for a in axes)
    rest = [k for k in range(y.ndim) if k not in axes]
    perm = rest + list(axes)
    t = np.transpose(y, perm)
    gshape = t.shape[: len(rest)]
    m = t.reshape(int(np.prod(gshape)), -1)

    def back(mat):
        return np.transpose(mat.reshape(t.shape), np.argsort(perm))

    return m, back


def mixed_norm(y, q, axis=0):
    m, _ = to_groups(y, axis)
    return float(sum(vec_norm(row, q) for row in m))


def bilevel(y, r, q, axis=0):
    """Bi-level l1,q projection [MLP s.3], one group at a time."""
    m, back = to_groups(y, axis)
    v = np.array([vec_norm(row, q) for row in m])
    u = proj_l1(v, r)
    out = np.empty_like(m)
    for g, row in enumerate(m):
        out[g] = PROJ[q](row, u[g])
    return back(out)


def dual_mixed(z, q, axis=0):
    """Dual norm of l1,q: the max over groups of the group's l_{q*} norm."""
    qs = {"1": "inf", "2": "2", "inf": "1"}[q]
    m, _ = to_groups(z, axis)
    return max(vec_norm(row, qs) for row in m)


def gap_mixed(y, x, r, q, axis=0):
    """Optimality certificate of the projection x of y onto the ball of radius r (0 for the
    exact projection, by the dual-norm characterisation), relative:
    (r ||y-x||_* - <y-x, x>) / (r ||y-x||_*)."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    d = y - x
    lhs = r * dual_mixed(d, q, axis)
    return (lhs - float((d * x).sum())) / max(lhs, 1e-300)


def gap_l1(y, x, r):
    y = np.asarray(y, dtype=np.float64).ravel()
    x = np.asarray(x, dtype=np.float64).ravel()
    d = y - x
    lhs = r * np.abs(d).max()
    return (lhs - float(d @ x)) / max(lhs, 1e-300)


def _to_levels(y, levels):
    """Transpose ``y`` so that the levels come in order and flatten each level's axes:
    a tensor of order ``len(levels)``, and a function mapping such a tensor back."""
    y = np.asarray(y, dtype=np.float64)
    levels = [(lv,) if isinstance(lv, int) else tuple(lv) for lv in levels]
    perm = [a % y.ndim for lv in levels for a in lv]
    t = np.transpose(y, perm)
    sizes = [int(np.prod([y.shape[a] for a in lv])) for lv in levels]

    def back(z):
        return np.transpose(np.reshape(z, t.shape), np.argsort(perm))

    return t.reshape(sizes), back


def _ml_norm(t, norms):
    """Multi-level norm of ``t`` (order ``len(norms)``): norm ``norms[0]`` of the vector of
    the sub-tensors' norms, recursively."""
    if t.ndim == 1:
        return vec_norm(t, norms[0])
    return vec_norm([_ml_norm(t[j], norms[1:]) for j in range(t.shape[0])], norms[0])


def _ml_proj(t, radius, norms):
    """Multi-level projection [MLP s.4], recursively: the vector of the sub-tensors' norms
    is projected onto the ``norms[0]`` ball of ``radius``, then sub-tensor ``j`` is
    projected (recursively) with radius the ``j``-th entry of that projection."""
    if t.ndim == 1:
        return PROJ[norms[0]](t, radius)
    v = np.array([_ml_norm(t[j], norms[1:]) for j in range(t.shape[0])])
    u = PROJ[norms[0]](v, radius)
    return np.stack([_ml_proj(t[j], u[j], norms[1:]) for j in range(t.shape[0])])


def multilevel_norm(y, norms, levels=None):
    """Multi-level norm; ``norms`` from the outermost level in, e.g. ("1", "inf", "inf")."""
    y = np.asarray(y, dtype=np.float64)
    t, _ = _to_levels(y, levels if levels is not None else range(y.ndim))
    return float(_ml_norm(t, tuple(norms)))


def multilevel(y, r, norms, levels=None):
    """Multi-level projection of ``y`` onto the l1,q2,...,qk ball of radius ``r``."""
    y = np.asarray(y, dtype=np.float64)
    t, back = _to_levels(y, levels if levels is not None else range(y.ndim))
    return back(_ml_proj(t, r, tuple(norms)))


# ----------------------------------------------------------------- exact l1,inf and prox
def l1_tau(a, theta):
    """Threshold of the l1-ball projection of the non-negative vector ``a`` at radius
    ``theta`` by sorting: 0 when ``sum(a) <= theta``, ``max(a)`` when ``theta == 0``."""
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())[::-1]
    if a.sum() <= theta:
        return 0.0
    if theta <= 0:
        return float(a[0])
    cs = np.cumsum(a)
    k = np.arange(1, len(a) + 1)
    idx = np.nonzero(a > (cs - theta) / k)[0]
    rho = idx[-1] if idx.size else 0  # theta below the rounding of a[0]: tau = a[0]
    return float((cs[rho] - theta) / (rho + 1))


def proj_l1inf(y, r, axis=0):
    """Exact projection onto the l1,inf ball by enumerating breakpoints (no bisection).

    ``X_g = sign(y_g) min(|y_g|, mu_g)`` with ``mu_g = l1_tau(|y_g|, theta)`` and
    ``F(theta) = sum_g mu_g = r`` [QUA].  ``F`` is piecewise linear in ``theta`` with
    breakpoints where a group's active set changes, i.e. at ``theta = sum_i (|y_gi| - c)_+``
    for every entry value ``c`` of the group (and ``c = 0``).  A binary search over the
    sorted breakpoints finds the linear piece that holds ``F = r``; the root is then
    interpolated exactly.
    """
    m, back = to_groups(y, axis)
    a = np.abs(m)
    if a.max(axis=1).sum() <= r:
        return back(m.copy())
    if r == 0:
        return back(np.zeros_like(m))
    bps = {0.0}
    for row in a:
        for c in np.concatenate([row, [0.0]]):
            bps.add(float(np.maximum(row - c, 0).sum()))
    bps = np.array(sorted(bps))

    def F(theta):
        return sum(l1_tau(row, theta) for row in a)

    lo, hi = 0, len(bps) - 1  # F(bps[lo]) >= r > F(bps[hi]) (F(max s) = 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if F(bps[mid]) >= r:
            lo = mid
        else:
            hi = mid
    f0, f1 = F(bps[lo]), F(bps[hi])
    theta = bps[lo] + (f0 - r) / (f0 - f1) * (bps[hi] - bps[lo])
    mu = np.array([l1_tau(row, theta) for row in a])
    return back(np.sign(m) * np.minimum(a, mu[:, None]))


def prox_ref(y, lam, norm, axis=0):
    """Proximal operators from their closed forms (no Moreau identity involved)."""
    y = np.asarray(y, dtype=np.float64)
    if norm == "l1":
        return np.sign(y) * np.maximum(np.abs(y) - lam, 0.0)
    m, back = to_groups(y, axis)
    out = np.zeros_like(m)
    for g, row in enumerate(m):
        if norm == "l1,2":
            n = np.sqrt((row * row).sum())
            out[g] = row * max(0.0, 1.0 - lam / n) if n > 0 else 0.0
        else:  # l1,inf: row minus its l1-ball projection of radius lam
            out[g] = row - proj_l1(row, lam)
    return back(out)


# ------------------------------------------------ extended precision, any magnitude
# The functions below compute in np.longdouble (80-bit on x86: 64-bit mantissa, exponents to
# +-4932) after scaling the data by a power of two, so that neither squares nor sums
# underflow or overflow whatever the magnitude of float32/float64 data (subnormals to the
# largest finite values), also where longdouble is only float64.  Every projection and prox
# here is positively homogeneous, P_{rB}(y) = s P_{(r/s)B}(y / s) for s > 0, and scaling by
# a power of two is exact, so the scaled problem has the same solution.
LD = np.longdouble


def ld_scale(*arrays):
    """A power of two ``s`` (a longdouble) close to the largest magnitude in ``arrays``
    (1 when they are all zero)."""
    m = max((float(np.max(np.abs(np.asarray(a, dtype=np.float64)))) if np.size(a) else 0.0) for a in arrays)
    if m == 0.0:
        return LD(1)
    return np.ldexp(LD(1), int(np.frexp(m)[1]))


def _ld(y, s):
    return np.asarray(y).astype(LD) / s


def ld_vec_norm(v, q):
    """l_q norm of a longdouble vector (already scaled: entries at most about 1)."""
    a = np.abs(np.asarray(v, dtype=LD).ravel())
    if a.size == 0:
        return LD(0)
    if q == "1":
        return np.sum(np.sort(a))  # increasing order: the small terms are not lost
    if q == "2":
        return np.sqrt(np.sum(np.sort(a * a)))
    return np.max(a)


def ld_proj_l1(v, r):
    """Sort-based l1-ball projection (Duchi et al. 2008) in longdouble, signs kept."""
    v = np.asarray(v, dtype=LD).ravel()
    a = np.abs(v)
    if ld_vec_norm(a, "1") <= r:
        return v.copy()
    if r == 0:
        return np.zeros_like(v)
    s = np.sort(a)[::-1]
    cs = np.cumsum(s)
    k = np.arange(1, len(s) + 1, dtype=LD)
    idx = np.nonzero(s - (cs - r) / k > 0)[0]
    rho = idx[-1] if idx.size else 0
    tau = (cs[rho] - r) / (rho + 1)
    return np.sign(v) * np.maximum(a - tau, LD(0))


def ld_proj_l2(v, r):
    v = np.asarray(v, dtype=LD)
    n = ld_vec_norm(v, "2")
    return v.copy() if n <= r else v * (r / n)


def ld_proj_linf(v, r):
    v = np.asarray(v, dtype=LD)
    return np.clip(v, -r, r)


LD_PROJ = {"1": ld_proj_l1, "2": ld_proj_l2, "inf": ld_proj_linf}


def _ld_groups(y, axis):
    """(G, N) longdouble matrix of the groups of ``y`` (rows) and the map back."""
    y = np.asarray(y)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % y.ndim for a in axes)
    rest = [k for k in range(y.ndim) if k not in axes]
    perm = rest + list(axes)
    t = np.transpose(y, perm)
    gshape = t.shape[: len(rest)]
    m = t.reshape(int(np.prod(gshape)), -1).astype(LD)

    def back(mat):
        return np.transpose(mat.reshape(t.shape), np.argsort(perm))

    return m, back


def ld_norm(y, ball, axis=0):
    """``||y||_ball`` (flat ``"l1"``, ``"l2"``, ``"linf"`` or mixed ``"l1,q"``) in longdouble,
    any magnitude."""
    s = ld_scale(y)
    z = _ld(y, s)
    norms = ball[1:].split(",")
    if len(norms) == 1:
        return s * ld_vec_norm(z, norms[0])
    m, _ = _ld_groups(z, axis)
    return s * ld_vec_norm([ld_vec_norm(row, norms[1]) for row in m], "1")


def ld_project(y, r, ball, method="exact", axis=0):
    """Projection of float data ``y`` onto the ball of radius ``r`` in longdouble.

    ``ball`` is ``"l1"``, ``"l2"``, ``"linf"``, ``"l1,1"``, ``"l1,2"`` or ``"l1,inf"``;
    ``method`` ``"exact"`` or ``"bilevel"`` (the exact l1,1 ball is the flat l1 ball, the
    exact l1,2 projection is its bi-level one, the exact l1,inf one is
    :func:`ld_proj_l1inf`).  Returns a longdouble array of ``y``'s shape."""
    y = np.asarray(y)
    s = ld_scale(y)
    z = _ld(y, s)
    rs = LD(r) / s
    norms = ball[1:].split(",")
    if len(norms) == 1 or (method == "exact" and ball == "l1,1"):
        x = LD_PROJ[norms[0]](z.ravel(), rs).reshape(y.shape)
    elif method == "exact" and ball == "l1,inf":
        x = _ld_proj_l1inf(z, rs, axis)
    else:
        q = norms[1]
        m, back = _ld_groups(z, axis)
        v = np.array([ld_vec_norm(row, q) for row in m], dtype=LD)
        u = ld_proj_l1(v, rs)
        x = back(np.stack([LD_PROJ[q](row, u[g]) for g, row in enumerate(m)]))
    return x * s


def _ld_l1_tau(a, theta):
    a = np.sort(np.asarray(a, dtype=LD).ravel())[::-1]
    if ld_vec_norm(a, "1") <= theta:
        return LD(0)
    if theta <= 0:
        return a[0]
    cs = np.cumsum(a)
    k = np.arange(1, len(a) + 1, dtype=LD)
    idx = np.nonzero(a > (cs - theta) / k)[0]
    rho = idx[-1] if idx.size else 0
    return (cs[rho] - theta) / (rho + 1)


def _ld_proj_l1inf(z, r, axis):
    """Exact l1,inf projection of the scaled longdouble ``z`` (see :func:`proj_l1inf`)."""
    m, back = _ld_groups(z, axis)
    a = np.abs(m)
    if ld_vec_norm(a.max(axis=1), "1") <= r:
        return back(m.copy())
    if r == 0:
        return back(np.zeros_like(m))
    bps = {LD(0)}
    for row in a:
        for c in np.concatenate([row, [LD(0)]]):
            bps.add(ld_vec_norm(np.maximum(row - c, LD(0)), "1"))
    bps = np.array(sorted(bps), dtype=LD)

    def F(theta):
        return ld_vec_norm([_ld_l1_tau(row, theta) for row in a], "1")

    theta = root_between_breakpoints(F, bps, r)
    mu = np.array([_ld_l1_tau(row, theta) for row in a], dtype=LD)
    return back(np.sign(m) * np.minimum(a, mu[:, None]))


def ld_multilevel(y, r, norms, levels=None):
    """Multi-level projection [MLP s.4] in longdouble, any magnitude (see :func:`multilevel`)."""
    y = np.asarray(y)
    s = ld_scale(y)
    levels = levels if levels is not None else range(y.ndim)
    levels = [(lv,) if isinstance(lv, int) else tuple(lv) for lv in levels]
    perm = [a % y.ndim for lv in levels for a in lv]
    t = np.transpose(_ld(y, s), perm)
    sizes = [int(np.prod([y.shape[a] for a in lv])) for lv in levels]
    norms = tuple(norms)

    def nrm(t, ns):
        if t.ndim == 1:
            return ld_vec_norm(t, ns[0])
        return ld_vec_norm(np.array([nrm(t[j], ns[1:]) for j in range(t.shape[0])], dtype=LD), ns[0])

    def proj(t, radius, ns):
        if t.ndim == 1:
            return LD_PROJ[ns[0]](t, radius)
        v = np.array([nrm(t[j], ns[1:]) for j in range(t.shape[0])], dtype=LD)
        u = LD_PROJ[ns[0]](v, radius)
        return np.stack([proj(t[j], u[j], ns[1:]) for j in range(t.shape[0])])

    x = proj(t.reshape(sizes), LD(r) / s, norms)
    return np.transpose(x.reshape(t.shape), np.argsort(perm)) * s


def ld_multilevel_norm(y, norms, levels=None):
    """Multi-level norm in longdouble, any magnitude."""
    y = np.asarray(y)
    s = ld_scale(y)
    levels = levels if levels is not None else range(y.ndim)
    levels = [(lv,) if isinstance(lv, int) else tuple(lv) for lv in levels]
    perm = [a % y.ndim for lv in levels for a in lv]
    t = np.transpose(_ld(y, s), perm)
    t = t.reshape([int(np.prod([y.shape[a] for a in lv])) for lv in levels])

    def nrm(t, ns):
        if t.ndim == 1:
            return ld_vec_norm(t, ns[0])
        return ld_vec_norm(np.array([nrm(t[j], ns[1:]) for j in range(t.shape[0])], dtype=LD), ns[0])

    return s * nrm(t, tuple(norms))


def ld_prox(y, lam, norm, axis=0):
    """Proximal operators of ``lam * ||.||`` (l1, l1,2, l1,inf) in longdouble, from their
    closed forms (see :func:`prox_ref`), any magnitude."""
    y = np.asarray(y)
    s = ld_scale(y)
    z = _ld(y, s)
    lam = LD(lam) / s
    if norm == "l1":
        return s * (np.sign(z) * np.maximum(np.abs(z) - lam, LD(0)))
    m, back = _ld_groups(z, axis)
    out = np.zeros_like(m)
    for g, row in enumerate(m):
        if norm == "l1,2":
            n = ld_vec_norm(row, "2")
            out[g] = row * max(LD(0), LD(1) - lam / n) if n > 0 else LD(0)
        else:
            out[g] = row - ld_proj_l1(row, lam)
    return s * back(out)


def ld_gap(y, x, r, ball, axis=0):
    """Relative optimality certificate of section 6 in longdouble, scaled:
    ``(r ||y - x||_* - <y - x, x>) / (r ||y - x||_*)`` for the l1, l2, linf, l1,1, l1,2 and
    l1,inf balls (0 when ``y - x`` is 0).  It is >= 0 for a feasible ``x`` and 0 exactly at
    the projection of a ``y`` outside the ball."""
    s = ld_scale(y, x)
    z = _ld(y, s)
    w = _ld(x, s)
    d = z - w
    rs = LD(r) / s
    dual = {"l1": ("inf",), "l2": ("2",), "linf": ("1",), "l1,1": ("inf",), "l1,2": ("1", "2"),
            "l1,inf": ("1", "1")}[ball]
    if len(dual) == 1:
        dn = ld_vec_norm(d, dual[0])
    else:
        m, _ = _ld_groups(d, axis)
        dn = max(ld_vec_norm(row, dual[1]) for row in m)
    lhs = rs * dn
    if lhs == 0:
        return LD(0)
    return (lhs - np.sum(d * w)) / lhs


def root_between_breakpoints(F, bps, r):
    """``theta`` with ``F(theta) = r`` for a decreasing, piecewise-linear ``F`` whose kinks
    are among the sorted ``bps`` (``F(bps[0]) >= r``): bisection over the breakpoints, then
    linear interpolation on the bracketing piece, in the arithmetic of the values (longdouble
    or exact fractions)."""
    lo, hi = 0, len(bps) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if F(bps[mid]) >= r:
            lo = mid
        else:
            hi = mid
    f0, f1 = F(bps[lo]), F(bps[hi])
    return bps[lo] + (f0 - r) / (f0 - f1) * (bps[hi] - bps[lo])


#: adversarial matrices for the l1,inf solvers (each a function of a NumPy generator)
ADVERSARIAL_L1INF = {
    "ties": lambda rng: rng.integers(-2, 3, (12, 10)).astype(np.float64),
    "all_equal": lambda rng: np.ones((8, 9)),
    "duplicated_columns": lambda rng: np.repeat(rng.standard_normal((10, 3)), 5, axis=1),
    "duplicated_rows": lambda rng: np.repeat(rng.standard_normal((1, 7)), 6, axis=0),
    "zero_columns": lambda rng: rng.standard_normal((9, 12)) * (rng.random(12) < 0.5),
    "one_nonzero": lambda rng: np.pad([[3.0]], ((0, 5), (0, 6))),
    "single_group": lambda rng: rng.standard_normal((15, 1)),
    "single_row": lambda rng: rng.standard_normal((1, 15)),
    "single_entry": lambda rng: np.array([[-2.5]]),
    "huge": lambda rng: rng.standard_normal((8, 9)) * 1e150,
    "tiny": lambda rng: rng.standard_normal((8, 9)) * 1e-150,
    "mixed_scales": lambda rng: rng.standard_normal((8, 9)) * 10.0 ** rng.integers(-8, 8, 9),
    "spike": lambda rng: np.where(np.eye(10, 11) > 0, 1e6, rng.random((10, 11))),
}
