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
    """Optimality certificate of SPEC s.6, relative: (r ||y-x||_* - <y-x, x>) / (r ||y-x||_*)."""
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
