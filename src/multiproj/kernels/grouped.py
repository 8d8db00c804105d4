"""Group kernels for the mixed l1,q balls (q in {1, 2, inf}): the two passes of the bi-level
projection [MLP s.3], [BLP], parallel over groups.

Two canonical layouts cover every input without a hidden transpose in the common cases
(see ``multiproj._layout``):

* rows   ``x[g, i]``     (G, N): group ``g`` is a contiguous-ish row;
* cols   ``x[a, i, b]``  (A, N, B): group ``(a, b)`` runs along the middle axis, so the
  inner loop walks ``b`` (contiguous in memory) and groups are processed side by side.

The inner norm code ``q`` is one of ``Q1``, ``Q2``, ``QINF`` (:mod:`.codes`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._core.config import JIT_OPTIONS, PARALLEL_OPTIONS
from .codes import Q1, Q2, QINF
from .vector import (
    abs_bits_max,
    l1_threshold,
    l2_needs_scaling,
    l2_scaled_vec,
    soft_threshold,
    soft_threshold_into,
    vec_norm,
)

_L1_CHUNK = 32  # columns gathered at once by the cols l1 kernels (fits in L2)


@njit(**JIT_OPTIONS)
def chunk_of(t, per_a, width, B):
    """``(a, b0, b1)``: task ``t`` of a cols-layout kernel covers the groups ``(a, b)``,
    ``b0 <= b < b1``, of slab ``a`` split into ``per_a`` chunks of ``width`` groups."""
    a = t // per_a
    b0 = (t % per_a) * width
    return a, b0, min(B, b0 + width)


@njit(**JIT_OPTIONS)
def cols_tasks(A, B, width):
    """Number of tasks of a cols-layout kernel that takes ``width`` groups of a slab at a
    time (task ``t`` covers the groups of :func:`cols_chunk`)."""
    return A * ((B + width - 1) // width)


@njit(**JIT_OPTIONS)
def cols_chunk(t, B, width):
    """``(a, b0, b1)``: the groups ``(a, b)``, ``b0 <= b < b1``, of task ``t`` of
    :func:`cols_tasks`."""
    return chunk_of(t, (B + width - 1) // width, width, B)


@njit(**PARALLEL_OPTIONS)
def group_norms_rows(x, q, v):
    """``v[g] = ||x[g, :]||_q`` (float64); NaN/inf marks a non-finite group."""
    for g in prange(x.shape[0]):
        v[g] = vec_norm(x[g], q)


@njit(**JIT_OPTIONS)
def _col_blocks(A, B, nthreads):
    """Split the columns of each of the A slabs into about one block per thread, at least
    64 columns wide: every block then streams whole row segments.  (The thread count is an
    argument: calling numba.get_num_threads() here would defeat caching.)"""
    per_a = max(1, min((B + 63) // 64, (nthreads + A - 1) // A))
    width = (B + per_a - 1) // per_a
    return per_a, width


@njit(**PARALLEL_OPTIONS)
def group_norms_cols(x, q, v, nthreads):
    """``v[a, b] = ||x[a, :, b]||_q`` (float64); NaN/inf marks a non-finite group."""
    A, N, B = x.shape
    per_a, width = _col_blocks(A, B, nthreads)
    for t in prange(A * per_a):
        a, b0, b1 = chunk_of(t, per_a, width, B)
        acc = np.zeros(max(b1 - b0, 0))
        if q == QINF:
            # the max is exact in the data's dtype: accumulate there (twice the lanes for
            # float32); np.maximum propagates NaN, inf stays inf: non-finite data shows
            m = np.zeros(max(b1 - b0, 0), dtype=x.dtype)
            for i in range(N):
                xi = x[a, i, b0:b1]
                for k in range(b1 - b0):
                    m[k] = np.maximum(m[k], abs(xi[k]))
            for k in range(b1 - b0):
                acc[k] = m[k]
        elif q == Q1:
            for i in range(N):
                xi = x[a, i, b0:b1]
                for k in range(b1 - b0):
                    acc[k] += abs(xi[k])
        else:
            for i in range(N):
                xi = x[a, i, b0:b1]
                for k in range(b1 - b0):
                    t = np.float64(xi[k])  # (float() keeps float32 in Numba)
                    acc[k] += t * t
            for k in range(b1 - b0):
                if acc[k] == 0.0 and x.itemsize == 4:
                    pass  # float32 squares cannot underflow in float64: a zero group
                elif l2_needs_scaling(acc[k]):  # squares that underflowed or overflowed
                    acc[k] = l2_scaled_vec(x[a, :, b0 + k])
                else:
                    acc[k] = np.sqrt(acc[k])
        for k in range(b1 - b0):  # (element loops: a slice assignment from an array
            v[a, b0 + k] = acc[k]  # compiles Numba's shape-mismatch message formatting)


@njit(**PARALLEL_OPTIONS)
def rows_linf64(xb, v):
    """``v[g] = max_i |x[g, i]|`` for float64 rows given as their int64 bits ``xb`` (G, N)
    (see :func:`.vector.abs_bits_max`)."""
    G, N = xb.shape
    vb = v.view(np.int64)
    nchunks = min(G, 1024)
    step = (G + nchunks - 1) // max(nchunks, 1)
    for c in prange(nchunks):
        for g in range(c * step, min(G, (c + 1) * step)):
            a = np.int64(0)
            for i in range(N):
                a = abs_bits_max(a, xb[g, i])
            vb[g] = a


@njit(**PARALLEL_OPTIONS)
def cols_linf64(xb, v, nthreads):
    """Cols layout of :func:`rows_linf64`: ``v[a, b] = max_i |x[a, i, b]|`` for float64 data
    given as its int64 bits ``xb`` (A, N, B)."""
    A, N, B = xb.shape
    vb = v.view(np.int64)
    per_a, width = _col_blocks(A, B, nthreads)
    for t in prange(A * per_a):
        a, b0, b1 = chunk_of(t, per_a, width, B)
        m = np.zeros(max(b1 - b0, 0), dtype=np.int64)
        # four rows per sweep: the running maxima are read and written once per four
        # entries of each column
        i = 0
        while i + 4 <= N:
            x0 = xb[a, i, b0:b1]
            x1 = xb[a, i + 1, b0:b1]
            x2 = xb[a, i + 2, b0:b1]
            x3 = xb[a, i + 3, b0:b1]
            for k in range(b1 - b0):
                c = abs_bits_max(abs_bits_max(m[k], x0[k]), x1[k])
                m[k] = abs_bits_max(abs_bits_max(c, x2[k]), x3[k])
            i += 4
        while i < N:
            xi = xb[a, i, b0:b1]
            for k in range(b1 - b0):
                m[k] = abs_bits_max(m[k], xi[k])
            i += 1
        for k in range(b1 - b0):
            vb[a, b0 + k] = m[k]


@njit(**JIT_OPTIONS)
def _radii_row(og, q, vg, ug, buf, xg=None):
    """Row ``xg`` (only read: it may be a read-only array) onto the l_q ball of radius
    ``ug`` (``vg`` its l_q norm), written into ``og``; without ``xg``, row ``og`` in place.

    The in-place compilation (``xg`` omitted, so ``src`` is ``og`` itself) reads and writes
    through one array, which the compiler vectorises; with two arrays that may overlap, its
    run-time alias check falls back to scalar code.
    """
    if xg is None:
        src = og
    else:
        src = xg
    N = src.shape[0]
    if ug <= 0.0:
        og[:] = 0.0
    elif ug >= vg:
        if xg is not None:  # element loop: a slice copy compiles Numba's shape-error path
            for i in range(N):
                og[i] = xg[i]
    elif q == QINF:
        # clip at u keeping signs: sign(x) min(|x|, u) = min(max(x, -u), u)
        cu = src.dtype.type(ug)
        for i in range(N):
            z = src[i] if src[i] < cu else cu
            og[i] = z if z > -cu else -cu
    elif q == Q2:
        s = src.dtype.type(ug / vg)
        for i in range(N):
            og[i] = src[i] * s
    else:
        tau, _ = l1_threshold(src, ug, buf)
        soft_threshold_into(src, tau, og)


@njit(**JIT_OPTIONS)
def _radii_segment(oi, q, f, xi=None):
    """One row segment of the cols layout: ``oi[k] = clip(xi[k], -f[k], f[k])`` (q = inf) or
    ``xi[k] * f[k]`` (q = 2); without ``xi``, ``oi`` in place (see :func:`_radii_row`)."""
    if xi is None:
        src = oi
    else:
        src = xi
    if q == QINF:
        # clip at u keeping signs: sign(x) min(|x|, u) = min(max(x, -u), u)
        for k in range(src.shape[0]):
            z = src[k] if src[k] < f[k] else f[k]
            oi[k] = z if z > -f[k] else -f[k]
    else:
        for k in range(src.shape[0]):
            oi[k] = src[k] * f[k]


@njit(**PARALLEL_OPTIONS)
def apply_radii_rows(x, q, v, u, out, inplace):
    """Second pass: project every row ``g`` onto the l_q ball of radius ``u[g]``.

    ``v[g]`` is the row's current l_q norm.  ``u[g] >= v[g]`` leaves the row unchanged,
    ``u[g] == 0`` zeroes it.  ``inplace`` says that ``out`` is ``x`` itself: the rows are
    then read and written through ``out`` alone, which the compiler vectorises (with two
    arrays that overlap, its run-time alias check falls back to scalar code).  ``x`` is
    never written, so it may be read-only.
    """
    G, N = x.shape
    nchunks = min(G, 256)
    step = (G + nchunks - 1) // max(nchunks, 1)
    for c in prange(nchunks):
        buf = np.empty(N if q == Q1 else 1, dtype=np.float64)
        for g in range(c * step, min(G, (c + 1) * step)):
            if inplace:
                _radii_row(out[g], q, v[g], u[g], buf)
            else:
                _radii_row(out[g], q, v[g], u[g], buf, x[g])


@njit(**PARALLEL_OPTIONS)
def apply_radii_cols(x, q, v, u, out, nthreads, inplace):
    """Second pass for the cols layout, q in {2, inf}: group ``(a, b)`` onto the l_q ball of
    radius ``u[a, b]`` (``apply_l1_cols`` handles q = 1).  ``inplace``: ``out`` is ``x``,
    read and written through ``out`` alone (see ``apply_radii_rows``); ``x`` is never
    written."""
    A, N, B = x.shape
    per_a, width = _col_blocks(A, B, nthreads)
    for t in prange(A * per_a):
        a, b0, b1 = chunk_of(t, per_a, width, B)
        w = max(b1 - b0, 0)
        # per-group factor in the data's dtype: clip level (inf) or scale (2)
        f = np.empty(w, dtype=x.dtype)
        if q == QINF:
            for k in range(w):
                f[k] = u[a, b0 + k]
        else:
            for k in range(w):
                ub = u[a, b0 + k]
                vb = v[a, b0 + k]
                f[k] = 0.0 if ub <= 0.0 else (1.0 if ub >= vb else ub / vb)
        for i in range(N):
            if inplace:
                _radii_segment(out[a, i, b0:b1], q, f)
            else:
                _radii_segment(out[a, i, b0:b1], q, f, x[a, i, b0:b1])


@njit(**JIT_OPTIONS)
def _gather_cols(x, a, b0, b1, col):
    """``col[k] = x[a, :, b0 + k]``: a few groups of the cols layout copied into a
    contiguous, cache-sized buffer (row segments read whole)."""
    for i in range(x.shape[1]):
        xi = x[a, i, b0:b1]
        for k in range(b1 - b0):
            col[k, i] = xi[k]


@njit(**JIT_OPTIONS)
def _chunk_l1_thresholds(x, a, b0, b1, radius, f, v=None, u=None):
    """``f[k]``: the l1 threshold of group ``(a, b0 + k)`` of the cols layout, the columns
    gathered first into a contiguous buffer.  Without ``u``: at ``radius``, 0 when the group
    is inside the ball.  With the group radii ``u`` and norms ``v``: the soft threshold that
    projects the group onto its own l1 ball, ``inf`` for ``u <= 0`` (zeroed), 0 for
    ``u >= v`` (kept)."""
    N = x.shape[1]
    col = np.empty((b1 - b0, N))
    buf = np.empty(N)
    _gather_cols(x, a, b0, b1, col)
    for k in range(b1 - b0):
        if u is None:
            tg, _ = l1_threshold(col[k], radius, buf)
            f[k] = max(tg, 0.0)
        else:
            ub = u[a, b0 + k]
            if ub <= 0.0:
                f[k] = np.inf
            elif ub >= v[a, b0 + k]:
                f[k] = 0.0
            else:
                f[k], _ = l1_threshold(col[k], ub, buf)


@njit(**PARALLEL_OPTIONS)
def apply_l1_cols(x, v, u, out):
    """l1 groups in the cols layout, group ``(a, b)`` onto the l1 ball of radius ``u[a, b]``
    (``v[a, b]`` its l1 norm): per chunk of columns, only the columns with ``0 < u < v``
    are gathered and get their soft threshold from the flat l1 kernel; ``u <= 0`` zeroes a
    column, ``u >= v`` copies it (nothing is written in place when a whole chunk is kept)."""
    A, N, B = x.shape
    inplace = x.ctypes.data == out.ctypes.data
    for t in prange(cols_tasks(A, B, _L1_CHUNK)):
        a, b0, b1 = cols_chunk(t, B, _L1_CHUNK)
        w = b1 - b0
        f = np.empty(w)
        act = np.empty(w, dtype=np.int64)
        na = 0
        nz = 0
        for k in range(w):
            ub = u[a, b0 + k]
            if ub <= 0.0:
                f[k] = np.inf  # soft threshold at inf: 0
                nz += 1
            elif ub >= v[a, b0 + k]:
                f[k] = 0.0  # inside its ball: kept as it is
            else:
                act[na] = k
                na += 1
        if inplace and na == 0 and nz == 0:
            continue
        if na > 0:
            col = np.empty((na, N))
            buf = np.empty(N)
            for i in range(N):
                xi = x[a, i, b0:b1]
                for j in range(na):
                    col[j, i] = xi[act[j]]
            for j in range(na):
                f[act[j]], _ = l1_threshold(col[j], u[a, b0 + act[j]], buf)
        for i in range(N):
            xi = x[a, i, b0:b1]
            oi = out[a, i, b0:b1]
            for k in range(w):
                oi[k] = soft_threshold(xi[k], f[k])


@njit(**PARALLEL_OPTIONS)
def l1_thresholds_rows(x, radius, tau):
    """``tau[g]``: threshold of the projection of row ``g`` onto the l1 ball of ``radius``
    (0 when the row is inside the ball)."""
    G, N = x.shape
    for g in prange(G):
        buf = np.empty(N)
        tg, _ = l1_threshold(x[g], radius, buf)
        tau[g] = max(tg, 0.0)


@njit(**PARALLEL_OPTIONS)
def l1_thresholds_cols(x, radius, tau):
    """Cols layout of :func:`l1_thresholds_rows` (``tau`` flat, group ``a * B + b``): a few
    columns are gathered at a time before the l1 threshold runs on each."""
    A, N, B = x.shape
    for t in prange(cols_tasks(A, B, _L1_CHUNK)):
        a, b0, b1 = cols_chunk(t, B, _L1_CHUNK)
        _chunk_l1_thresholds(x, a, b0, b1, radius, tau[a * B + b0 : a * B + b1])
