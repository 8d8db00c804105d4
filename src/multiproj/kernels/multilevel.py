"""Fused kernels for the two innermost levels of a multi-level projection [MLP s.4].

When the last two levels of a tensor follow its memory order, the tensor is seen as
``x[g, m, i]`` (G, M, N): level k spans ``i`` (N entries), level k-1 spans ``m`` (M
entries), and ``g`` runs over the indices of every outer level.  The two passes over the
full tensor then do the work of two levels each:

* ``norms_two_levels``: ``v[g, m] = ||x[g, m, :]||_{q_k}`` and
  ``w[g] = ||v[g, :]||_{q_{k-1}}`` (V_{k-1} and V_{k-2}) in one read of ``x``;
* ``apply_two_levels``: from the radius ``u[g]`` of block ``g`` (an entry of U_{k-2}),
  the radii of its rows ``U_{k-1}[g, :] = P_{q_{k-1}}(v[g, :], u[g])`` are computed on
  the fly and every row ``x[g, m, :]`` is projected onto the l_{q_k} ball of its radius.

Without this fusion the arrays V_{k-1} and U_{k-1} (1/N of the tensor each) would make
three more round trips through memory.  Both kernels are parallel over the blocks ``g``
(independent); they trust their inputs and accumulate in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._config import JIT_OPTIONS, PARALLEL_OPTIONS
from .l1 import l1_threshold

Q1, Q2, QINF = 1, 2, 3


@njit(**JIT_OPTIONS)
def _vec_norm(x, q):
    """``||x||_q`` of a 1-D array in float64; NaN when ``x`` holds NaN or inf and q = inf
    (the sums of q = 1, 2 are NaN or inf by themselves)."""
    n = x.shape[0]
    a0 = 0.0
    a1 = 0.0
    i = 0
    if q == QINF:
        c = 0.0
        while i + 2 <= n:
            t0 = abs(x[i])
            t1 = abs(x[i + 1])
            c += (t0 - t0) + (t1 - t1)
            a0 = t0 if t0 > a0 else a0
            a1 = t1 if t1 > a1 else a1
            i += 2
        if i < n:
            t0 = abs(x[i])
            c += t0 - t0
            a0 = t0 if t0 > a0 else a0
        return (a0 if a0 > a1 else a1) + c
    if q == Q1:
        while i + 2 <= n:
            a0 += abs(x[i])
            a1 += abs(x[i + 1])
            i += 2
        if i < n:
            a0 += abs(x[i])
        return a0 + a1
    while i + 2 <= n:
        t0 = float(x[i])
        t1 = float(x[i + 1])
        a0 += t0 * t0
        a1 += t1 * t1
        i += 2
    if i < n:
        t0 = float(x[i])
        a0 += t0 * t0
    return np.sqrt(a0 + a1)


@njit(**PARALLEL_OPTIONS)
def norms_two_levels(x, qn, qm, v, w):
    """``v[g, m] = ||x[g, m, :]||_qn`` and ``w[g] = ||v[g, :]||_qm`` (float64).

    A non-finite entry of ``x`` makes ``w[g]`` NaN or inf (checked by the caller)."""
    G, M, N = x.shape
    for g in prange(G):
        xg = x[g]
        vg = v[g]
        for m in range(M):
            vg[m] = _vec_norm(xg[m], qn)
        w[g] = _vec_norm(vg, qm)


@njit(**JIT_OPTIONS)
def _project_row(x, vn, r, qn, out, buf):
    """Project the 1-D row ``x`` (l_qn norm ``vn``) onto the l_qn ball of radius ``r``."""
    N = x.shape[0]
    if r <= 0.0:
        out[:] = 0.0
    elif r >= vn:
        out[:] = x
    elif qn == QINF:  # clip keeping signs
        for i in range(N):
            z = x[i]
            z = z if z < r else r
            out[i] = z if z > -r else -r
    elif qn == Q2:  # scale
        s = r / vn
        for i in range(N):
            out[i] = x[i] * s
    else:  # soft threshold at the l1 threshold [CON]
        tau, _ = l1_threshold(x, r, buf)
        for i in range(N):
            z = x[i]
            t = abs(z) - tau
            if t > 0.0:
                out[i] = t if z >= 0.0 else -t
            else:
                out[i] = 0.0


@njit(**PARALLEL_OPTIONS)
def apply_two_levels(x, qn, qm, v, w, u, out):
    """Second pass of the two innermost levels; ``out`` may be ``x`` itself.

    Block ``g`` has norm ``w[g]`` and radius ``u[g]``: zero when ``u[g] <= 0``, unchanged
    when ``u[g] >= w[g]``; otherwise its rows get the radii ``r = P_qm(v[g, :], u[g])``
    (qm = inf: ``min(v, u)``; 2: ``v u / w``; 1: ``max(v - tau, 0)``) and row ``m`` is
    projected onto the l_qn ball of radius ``r[m]``.
    """
    G, M, N = x.shape
    for g in prange(G):
        ug = u[g]
        xg = x[g]
        og = out[g]
        if ug <= 0.0:
            og[:, :] = 0.0
            continue
        if ug >= w[g]:
            og[:, :] = xg
            continue
        vg = v[g]
        r = np.empty(M)
        if qm == QINF:
            for m in range(M):
                r[m] = vg[m] if vg[m] < ug else ug
        elif qm == Q2:
            s = ug / w[g]
            for m in range(M):
                r[m] = vg[m] * s
        else:
            tau, _ = l1_threshold(vg, ug, np.empty(M))
            for m in range(M):
                t = vg[m] - tau
                r[m] = t if t > 0.0 else 0.0
        buf = np.empty(N if qn == Q1 else 1)
        for m in range(M):
            _project_row(xg[m], vg[m], r[m], qn, og[m], buf)
