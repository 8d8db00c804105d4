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

For q_k = inf on float64 data the first pass runs on the integer bits of the data
(``norms_two_levels_linf64``; ``grouped.rows_linf64`` for a level whose fibres are rows): a
vectorised integer max that propagates NaN by itself (:func:`.vector.abs_bits_max`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._core.config import PARALLEL_OPTIONS
from .codes import Q1, Q2, QINF
from .vector import abs_bits_max, l1_threshold, soft_threshold, vec_norm

# at most this many parallel work items (ranges of blocks): buffers are allocated once per
# item, and short rows (16 entries for 16^6) do not pay a per-block overhead
_MAX_CHUNKS = 1024


@njit(**PARALLEL_OPTIONS)
def norms_two_levels(x, qn, qm, v, w):
    """``v[g, m] = ||x[g, m, :]||_qn`` and ``w[g] = ||v[g, :]||_qm`` (float64).

    A non-finite entry of ``x`` makes ``w[g]`` NaN or inf (checked by the caller)."""
    G, M, N = x.shape
    nchunks = min(G, _MAX_CHUNKS)
    step = (G + nchunks - 1) // max(nchunks, 1)
    for c in prange(nchunks):
        for g in range(c * step, min(G, (c + 1) * step)):
            for m in range(M):
                v[g, m] = vec_norm(x[g, m], qn)
            w[g] = vec_norm(v[g], qm)


@njit(**PARALLEL_OPTIONS)
def norms_two_levels_linf64(xb, qm, v, w):
    """``norms_two_levels`` for q_k = inf and float64 data given as its int64 bits ``xb``
    (see :func:`.vector.abs_bits_max`)."""
    G, M, N = xb.shape
    vb = v.view(np.int64)
    nchunks = min(G, _MAX_CHUNKS)
    step = (G + nchunks - 1) // max(nchunks, 1)
    for c in prange(nchunks):
        for g in range(c * step, min(G, (c + 1) * step)):
            for m in range(M):
                a = np.int64(0)
                for i in range(N):
                    a = abs_bits_max(a, xb[g, m, i])
                vb[g, m] = a
            w[g] = vec_norm(v[g], qm)


@njit(**PARALLEL_OPTIONS)
def apply_two_levels(x, qn, qm, v, w, u, out):
    """Second pass of the two innermost levels; ``out`` may be ``x`` itself.

    Block ``g`` has norm ``w[g]`` and radius ``u[g]``: zero when ``u[g] <= 0``, unchanged
    when ``u[g] >= w[g]``; otherwise its rows get the radii ``r = P_qm(v[g, :], u[g])``
    (qm = inf: ``min(v, u)``; 2: ``v u / w``; 1: ``max(v - tau, 0)``) and row ``m`` is
    projected onto the l_qn ball of radius ``r[m]`` (inf: clip keeping signs; 2: scale;
    1: soft threshold at the row's l1 threshold [CON]).
    """
    G, M, N = x.shape
    nchunks = min(G, _MAX_CHUNKS)
    step = (G + nchunks - 1) // max(nchunks, 1)
    for c in prange(nchunks):
        r = np.empty(M)
        bufm = np.empty(M if qm == Q1 else 1)
        bufn = np.empty(N if qn == Q1 else 1)
        for g in range(c * step, min(G, (c + 1) * step)):
            ug = u[g]
            if ug <= 0.0:
                for m in range(M):
                    for i in range(N):
                        out[g, m, i] = 0.0
                continue
            if ug >= w[g]:
                for m in range(M):
                    for i in range(N):
                        out[g, m, i] = x[g, m, i]
                continue
            if qm == QINF and qn == QINF:
                # row radii min(v[g, m], u[g]), and clipping row m at min(v[g, m], u[g])
                # is clipping it at u[g] (its entries are <= v[g, m]): one clip per block
                for m in range(M):
                    xr = x[g, m]
                    orow = out[g, m]
                    for i in range(N):
                        orow[i] = min(max(xr[i], -ug), ug)
                continue
            # radii of the rows of block g: U_{k-1}[g, :] = P_qm(V_{k-1}[g, :], u[g])
            if qm == QINF:
                for m in range(M):
                    r[m] = v[g, m] if v[g, m] < ug else ug
            elif qm == Q2:
                s = ug / w[g]
                for m in range(M):
                    r[m] = v[g, m] * s
            else:
                tau, _ = l1_threshold(v[g], ug, bufm)
                for m in range(M):
                    t = v[g, m] - tau
                    r[m] = t if t > 0.0 else 0.0
            for m in range(M):
                rm = r[m]
                vm = v[g, m]
                xr = x[g, m]
                orow = out[g, m]
                if rm <= 0.0:
                    for i in range(N):
                        orow[i] = 0.0
                elif rm >= vm:
                    for i in range(N):
                        orow[i] = xr[i]
                elif qn == QINF:  # clip keeping signs: min(max(x, -r), r)
                    for i in range(N):
                        orow[i] = min(max(xr[i], -rm), rm)
                elif qn == Q2:
                    s = rm / vm
                    for i in range(N):
                        orow[i] = xr[i] * s
                else:
                    tau, _ = l1_threshold(xr, rm, bufn)
                    for i in range(N):
                        orow[i] = soft_threshold(xr[i], tau)
