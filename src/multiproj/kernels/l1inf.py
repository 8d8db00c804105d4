"""Exact Euclidean projection onto the l1,inf ball: bracket, compact, solve.

Problem and structure ([QUA], [CHU], [NL]).  For groups ``y_j`` the projection is
``x_ij = sign(y_ij) min(|y_ij|, mu_j)``.  With ``g_j(c) = sum_i (|y_ij| - c)_+`` (convex,
decreasing on ``[0, m_j]``, ``m_j = max_i |y_ij|``, ``s_j = g_j(0) = ||y_j||_1``) and its
inverse ``mu_j(theta)`` (the l1-ball threshold of group ``j`` at radius ``theta``, 0 when
``theta >= s_j``), there is one ``theta* >= 0`` with

    F(theta*) = sum_j mu_j(theta*) = r,

and ``mu_j = mu_j(theta*)``.  Every ``mu_j`` is convex, decreasing and piecewise linear in
``theta``, hence so is ``F``.

Algorithm (this module; our own design built on that structure):

1. *Statistics pass* (read-only, parallel over groups): ``s_j``, ``m_j``, finiteness.
2. *Bracket*.  Every known point ``(g_j(c), c)`` of a group's curve gives a chord (upper
   bound on ``mu_j`` between consecutive points, by convexity) and a tangent of slope
   ``-1/#{|y| > c}`` (lower bound).  Summing the bounds gives ``F_L <= F <= F_U``, both
   convex and decreasing; Newton from the left on each yields ``theta_lo <= theta* <=
   theta_hi`` (both guaranteed, up to a small rounding margin).  Newton starts from the
   root of ``sum_j (s_j - theta)_+ = N r`` (the tangents at 0 alone; an l1-ball threshold
   of the norms), which is already the root when every kept entry exceeds ``mu_j``.
   Groups with ``s_j <= theta_lo`` have ``mu_j = 0``.  In the cols layout, when the others
   (the candidates) are few, they are gathered into a compact rows-layout buffer and steps
   3 to 5 run on it, in cache: the restricted problem has the same root, which is checked
   (every dropped group's norm at most that root; else the full solve of step 5 runs).
   On the compacted (cached) data the band pass is tried at once when a density bound
   says the band is short (see :func:`_try_band`).
3. *Level passes* (read-only): for every group still uncertain, ``K`` levels ``c`` spread
   over its possible range ``[L_j(theta_hi), U_j(theta_lo)]``; one pass computes
   ``g_j(c)`` and ``#{|y| > c}`` at all of them (branch-free, vectorised across groups),
   adding points to the curves and tightening the bracket.  Repeated while the band
   (below) would still be large.
4. *Band pass* (read-only): ``mu_j* in [lo_j, hi_j] = [L_j(theta_hi), U_j(theta_lo)]``
   (widened by a relative 1e-9 against rounding), so entries above ``hi_j`` are surely
   active (only their count and sum are kept, branch-free), entries at or below ``lo_j``
   surely inactive (dropped), groups with ``s_j <= theta_lo`` surely zero.  The few
   entries inside the band are copied into a compact buffer whose size is bounded by the
   counts of step 3 at the nearest known points outside the band.
5. *Exact solve on the compact data*: bands sorted, Newton from the left on the exact
   ``F`` starting at ``theta_lo``: each step lands on the next linear piece, the last one
   on the root, so ``theta*`` is exact to rounding (no tolerance, no bisection).  The
   root of that last piece is computed with the sums shifted by the largest one, which
   keeps ``mu`` accurate when ``r`` is far below the rounding of ``theta ~ s_j``.  The
   result is verified (every threshold inside its band, the root inside the bracket, up
   to rounding); if degenerate data ever broke the bracket, the same solver runs again on
   uncompressed bands (every non-zero entry), which needs no bracket.
6. *Clip pass*: ``x = clip(y, -mu_j, mu_j)`` (shared with the bi-level l1,inf projection).

Cost: three or four reads of the data (1, 3, 4, 6) and one write, each O(nm) and
parallel over groups, plus O(G) work per Newton step on the bounds and on the compact
data.  On 1000 x 10000 normal data one level pass usually suffices and the band holds
0.01 % to 3 % of the entries.

References: [QUA] A. Quattoni et al., ICML 2009; [CHU] D. Chu et al., ICML 2020; [BEJ]
B. Bejar, I. Dokmanic, R. Vidal, IEEE TPAMI 2021; [NL] G. Perez, L. Condat, M. Barlaud,
arXiv:2307.09836 (2023); [CON] L. Condat, Math. Prog. 158 (2016).

Kernels work on the canonical views of :mod:`multiproj._layout`: rows ``(G, N)`` and cols
``(A, N, B)`` (group ``a * B + b`` is ``x[a, :, b]``); they trust their inputs.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._core.config import JIT_OPTIONS, PARALLEL_OPTIONS
from .compile import for_threads as pick
from .compile import serial_and_parallel, with_globals
from .grouped import chunk_of
from .vector import l1_threshold

# Groups processed side by side in the cols layout (one prange task): 4 KiB row segments,
# with the level pass's accumulators still in L1/L2.
COLUMN_CHUNK = 512
_COLUMN_CHUNK = np.int64(COLUMN_CHUNK)  # typed int64, not as a literal: one chunk_of for all
# Groups from which the bound sums of the bracket run in parallel.
PAR_GROUPS = 50_000
# Band entries from which the bands are sorted in parallel.
PAR_ENTRIES = 200_000
# Bands up to this length are sorted by insertion.
SMALL_BAND = 24
# Lanes of the blocked loops over a row (rows layout).
ROW_BLOCK = 128
# Levels evaluated per group and per level pass, and the most level passes.
N_LEVELS = 4
MAX_LEVEL_PASSES = 3
# Stop the level passes once the bound on the band size is at most this fraction of the
# entries.
BAND_FRACTION = 0.05
# The cols layout is compacted into a rows-layout buffer of the candidate groups when they
# hold at most this fraction of the entries (and at most ``COMPACT_BYTES``): the level and
# band passes then read the candidates' entries from cache instead of the strided data.
COMPACT_FRACTION = 0.25
COMPACT_BYTES = 1 << 24
# Groups up to which the start of the bracket comes from the sorted group norms (NumPy)
# rather than from the compiled l1 threshold.
SORTED_START = 1 << 16
_EPS = float(np.finfo(np.float64).eps)
# Relative safety margin put around the bracket (rounding in the bounds).
_MARGIN = 1e-10


# --------------------------------------------------------------------------- pass 1
@njit(**PARALLEL_OPTIONS)
def stats_rows(x, s, m):
    """``s[g] = ||x[g]||_1``, ``m[g] = ||x[g]||_inf``; a NaN or inf entry makes ``s[g]``
    non-finite.  Rows are read in blocks of ``ROW_BLOCK`` lanes with one accumulator per
    lane, so the loops vectorise without reassociating a reduction."""
    G, N = x.shape
    for g in prange(G):
        acc = np.zeros(ROW_BLOCK)
        mx = np.zeros(ROW_BLOCK)
        for i0 in range(0, N, ROW_BLOCK):
            xi = x[g, i0 : min(N, i0 + ROW_BLOCK)]
            for k in range(xi.shape[0]):
                v = abs(xi[k])
                acc[k] += v
                mx[k] = v if v > mx[k] else mx[k]
        tot = 0.0
        top = 0.0
        for k in range(ROW_BLOCK):
            tot += acc[k]
            top = mx[k] if mx[k] > top else top
        s[g] = tot
        m[g] = top + (tot - tot)


@njit(**PARALLEL_OPTIONS)
def stats_cols(x, s, m):
    """Cols layout of :func:`stats_rows`: group ``a * B + b`` is ``x[a, :, b]``.  A NaN or
    inf entry makes ``s`` of its group non-finite (the caller checks ``s``).  Four rows are
    combined per step (pairwise sums and maxima), which halves the accumulator traffic and
    lets the lane loop vectorise."""
    A, N, B = x.shape
    nb = (B + COLUMN_CHUNK - 1) // COLUMN_CHUNK
    for t in prange(A * nb):
        a, b0, b1 = chunk_of(t, nb, _COLUMN_CHUNK, B)
        w = b1 - b0
        acc = np.zeros(w)
        mx = np.zeros(w)
        i = 0
        while i + 4 <= N:
            x0 = x[a, i, b0:b1]
            x1 = x[a, i + 1, b0:b1]
            x2 = x[a, i + 2, b0:b1]
            x3 = x[a, i + 3, b0:b1]
            for k in range(w):
                v0 = abs(x0[k])
                v1 = abs(x1[k])
                v2 = abs(x2[k])
                v3 = abs(x3[k])
                acc[k] += (v0 + v1) + (v2 + v3)
                u01 = v0 if v0 > v1 else v1
                u23 = v2 if v2 > v3 else v3
                u = u01 if u01 > u23 else u23
                mx[k] = u if u > mx[k] else mx[k]
            i += 4
        while i < N:
            xi = x[a, i, b0:b1]
            for k in range(w):
                v = abs(xi[k])
                acc[k] += v
                mx[k] = v if v > mx[k] else mx[k]
            i += 1
        for k in range(w):
            # NaN/inf anywhere in the group shows in s (inf - inf = NaN, NaN propagates)
            s[a * B + b0 + k] = acc[k]
            m[a * B + b0 + k] = mx[k] + (acc[k] - acc[k])


@njit(**PARALLEL_OPTIONS)
def gather_groups_cols(x, cand, rows):
    """``rows[q] = x[a, :, b]`` for the groups ``g = cand[q] = a * B + b`` of the cols
    layout: the candidates copied into a compact rows-layout buffer, one group at a time
    (strided reads that the prefetcher follows, sequential writes)."""
    A, N, B = x.shape
    for q in prange(cand.shape[0]):
        a = cand[q] // B
        b = cand[q] % B
        for i in range(N):
            rows[q, i] = x[a, i, b]


# --------------------------------------------------------------------------- level passes
@njit(**PARALLEL_OPTIONS)
def levels_rows(x, lev, gv, cnt):
    """``gv[g, l] = sum_i (|x[g, i]| - lev[g, l])_+`` and ``cnt[g, l] = #{|x[g, i]| >
    lev[g, l]}`` (counts as float64).  Rows whose first level is ``inf`` are skipped.
    Blocked like :func:`stats_rows`."""
    G, N = x.shape
    K = lev.shape[1]
    for g in prange(G):
        if lev[g, 0] == np.inf:
            continue
        acc = np.zeros((K, ROW_BLOCK))
        cc = np.zeros((K, ROW_BLOCK))
        row = np.empty(ROW_BLOCK)
        for i0 in range(0, N, ROW_BLOCK):
            xi = x[g, i0 : min(N, i0 + ROW_BLOCK)]
            w = xi.shape[0]
            for k in range(w):
                row[k] = abs(xi[k])
            for l in range(K):
                c = lev[g, l]
                al = acc[l]
                ql = cc[l]
                for k in range(w):
                    d = row[k] - c
                    pos = d > 0.0
                    al[k] += d if pos else 0.0
                    ql[k] += pos
        for l in range(K):
            tg = 0.0
            tc = 0.0
            for k in range(ROW_BLOCK):  # in order, as ndarray.sum() in Numba
                tg += acc[l, k]
                tc += cc[l, k]
            gv[g, l] = tg
            cnt[g, l] = tc


@njit(**JIT_OPTIONS)
def _chunk_candidates(first, g0, width, idx):
    """Number ``w`` of the candidates among the ``width`` groups from ``g0`` (those whose
    ``first`` entry is finite), their offsets in the chunk written to ``idx[:w]``."""
    w = 0
    for k in range(width):
        if first[g0 + k] != np.inf:
            idx[w] = k
            w += 1
    return w


@njit(**JIT_OPTIONS)
def _dense_or_gather(idx, w, width):
    """``(w, dense)`` for a chunk of ``width`` groups of which the ``w`` listed in ``idx``
    are candidates: gathering them costs about as much as a level pass over the chunk, so
    above half the chunk every group is read (``idx`` becomes the identity)."""
    if 2 * w > width:
        for k in range(width):
            idx[k] = k
        return width, True
    return w, False


@njit(**JIT_OPTIONS)
def _abs_segment(xi, idx, w, dense, row):
    """``row[:w] = |xi|`` (dense) or ``|xi[idx[:w]]|`` (the candidates only)."""
    if dense:
        for k in range(w):
            row[k] = abs(xi[k])
    else:
        for k in range(w):
            row[k] = abs(xi[idx[k]])


@njit(**PARALLEL_OPTIONS)
def levels_cols(x, lev, gv, cnt):
    """Cols layout of :func:`levels_rows`; ``lev``, ``gv``, ``cnt`` are ``(K, A * B)``.
    Only the groups with finite levels (the candidates) are read: their entries are
    gathered row by row into a dense buffer, so the K level loops run at full width."""
    A, N, B = x.shape
    K = lev.shape[0]
    nb = (B + COLUMN_CHUNK - 1) // COLUMN_CHUNK
    for t in prange(A * nb):
        a, b0, b1 = chunk_of(t, nb, _COLUMN_CHUNK, B)
        g0 = a * B + b0
        idx = np.empty(b1 - b0, dtype=np.uint64)
        w = _chunk_candidates(lev[0], g0, b1 - b0, idx)
        if w == 0:
            continue
        w, dense = _dense_or_gather(idx, w, b1 - b0)
        c = np.empty((K, w))
        for l in range(K):
            for k in range(w):
                c[l, k] = lev[l, g0 + idx[k]]
        acc = np.zeros((K, w))
        cc = np.zeros((K, w))
        row = np.empty(w)
        for i in range(N):
            _abs_segment(x[a, i, b0:b1], idx, w, dense, row)
            for l in range(K):
                cl = c[l]
                al = acc[l]
                ql = cc[l]
                for k in range(w):
                    d = row[k] - cl[k]
                    pos = d > 0.0
                    al[k] += d if pos else 0.0
                    ql[k] += pos
        for l in range(K):
            for k in range(w):
                if c[l, k] != np.inf:
                    gv[l, g0 + idx[k]] = acc[l, k]
                    cnt[l, g0 + idx[k]] = cc[l, k]


# --------------------------------------------------------------------------- band pass
@njit(**PARALLEL_OPTIONS)
def band_rows(x, lo, hi, off, cap, band, blen, cnt_a, sum_a):
    """Entries of row ``g`` in ``(lo[g], hi[g]]`` go to ``band[off[g]:cap[g]]``; ``blen[g]``
    is their number, or -1 if they did not fit.  Entries above ``hi[g]`` are counted and
    summed into ``cnt_a[g]``, ``sum_a[g]``.  ``lo[g] = inf`` skips the row.  Blocked like
    :func:`stats_rows`: each block is screened branch-free, and a block that holds band
    entries is filtered without branches (every entry is written to a scratch slot, the
    slot pointer advances only past band entries), so scattered band entries cost no
    mispredicted branches."""
    G, N = x.shape
    for g in prange(G):
        if lo[g] == np.inf:
            continue
        l0 = lo[g]
        h0 = hi[g]
        p = off[g]
        e = cap[g]
        ca = np.zeros(ROW_BLOCK)
        sa = np.zeros(ROW_BLOCK)
        row = np.empty(ROW_BLOCK)
        tmp = np.empty(ROW_BLOCK)
        for i0 in range(0, N, ROW_BLOCK):
            xi = x[g, i0 : min(N, i0 + ROW_BLOCK)]
            w = xi.shape[0]
            nin = 0
            for k in range(w):
                v = abs(xi[k])
                row[k] = v
                up = v > h0
                ca[k] += up
                sa[k] += v if up else 0.0
                nin += (v > l0) & (v <= h0)
            if nin > 0:
                c = 0
                for k in range(w):
                    v = row[k]
                    tmp[c] = v
                    c += (v > l0) & (v <= h0)
                for q in range(c):
                    if p + q < e:
                        band[p + q] = tmp[q]
                p += c
        blen[g] = p - off[g] if p <= e else -1
        tc = 0.0
        ts = 0.0
        for k in range(ROW_BLOCK):  # in order, as ndarray.sum() in Numba (one kernel less)
            tc += ca[k]
            ts += sa[k]
        cnt_a[g] = tc
        sum_a[g] = ts


@njit(**JIT_OPTIONS)
def _screen_row(row, l0, h0, p, e, ca, sa, band, lane):
    """One row segment of the band pass: count and sum above ``h0`` (branch-free), then
    store the entries in ``(l0, h0]`` if the branch-free count found any.  Entry ``k``
    goes to the slot counter ``p[k * lane]`` (bounded by ``e[k * lane]``): one counter per
    lane (a group per lane, cols layout; ``lane = 1``) or one shared by all lanes
    (``lane = 0``)."""
    w = row.shape[0]
    nin = 0
    for k in range(w):
        v = row[k]
        up = v > h0[k]
        ca[k] += up
        sa[k] += v if up else 0.0
        nin += (v > l0[k]) & (v <= h0[k])
    if nin > 0:
        for k in range(w):
            v = row[k]
            if v > l0[k] and v <= h0[k]:
                j = k * lane
                if p[j] < e[j]:
                    band[p[j]] = v
                p[j] += 1


@njit(**JIT_OPTIONS)
def _screen_below(row, l0, h0, p, e, cb, sb, band):
    """Band pass for chunks where few entries lie at or below ``h0``: only those
    are counted and summed, in the rare branch after a branch-free screen; the count and
    sum above then follow from ``N`` and the group's l1 norm."""
    w = row.shape[0]
    nlow = 0
    for k in range(w):
        nlow += row[k] <= h0[k]
    if nlow > 0:
        for k in range(w):
            v = row[k]
            if v <= h0[k]:
                cb[k] += 1.0
                sb[k] += v
                if v > l0[k]:
                    if p[k] < e[k]:
                        band[p[k]] = v
                    p[k] += 1


@njit(**PARALLEL_OPTIONS)
def band_cols(x, lo, hi, off, cap, band, blen, cnt_a, sum_a, below, s):
    """Cols layout of :func:`band_rows`.  Each row segment is screened branch-free, so the
    band entries cost a scalar loop only where present.  The count and sum above ``hi``
    are accumulated branch-free, or, in chunks where ``below`` (a bound on the entries at
    or below ``hi``) says those are rare, the entries below are accumulated in the rare
    branch instead and the above part is ``N - count``, ``s - sum``.  Groups that are not
    candidates have ``lo = inf``; where they are the majority of a chunk, only the
    candidates are gathered."""
    A, N, B = x.shape
    nb = (B + COLUMN_CHUNK - 1) // COLUMN_CHUNK
    for t in prange(A * nb):
        a, b0, b1 = chunk_of(t, nb, _COLUMN_CHUNK, B)
        g0 = a * B + b0
        idx = np.empty(b1 - b0, dtype=np.uint64)
        w = _chunk_candidates(lo, g0, b1 - b0, idx)
        nbelow = 0.0
        for k in range(w):
            nbelow += below[g0 + idx[k]]
        if w == 0:
            continue
        rare = nbelow * 8.0 <= float(N) * w
        w, dense = _dense_or_gather(idx, w, b1 - b0)
        l0 = np.empty(w)
        h0 = np.empty(w)
        p = np.empty(w, dtype=np.int64)
        e = np.empty(w, dtype=np.int64)
        for k in range(w):
            g = g0 + idx[k]
            l0[k] = lo[g]
            # groups that are not candidates: nothing in the band, nothing "below"
            h0[k] = hi[g] if l0[k] != np.inf else -1.0
            p[k] = off[g]
            e[k] = cap[g]
        ca = np.zeros(w)
        sa = np.zeros(w)
        row = np.empty(w)
        for i in range(N):
            _abs_segment(x[a, i, b0:b1], idx, w, dense, row)
            if rare:
                _screen_below(row, l0, h0, p, e, ca, sa, band)
            else:
                _screen_row(row, l0, h0, p, e, ca, sa, band, 1)
        for k in range(w):
            if l0[k] != np.inf:
                g = g0 + idx[k]
                blen[g] = p[k] - off[g] if p[k] <= e[k] else -1
                if rare:
                    cnt_a[g] = N - ca[k]
                    sum_a[g] = s[g] - sa[k]
                else:
                    cnt_a[g] = ca[k]
                    sum_a[g] = sa[k]


# --------------------------------------------------------------------------- bounds
@njit(**JIT_OPTIONS)
def _upper(theta, pc, pg, j, npt):
    """Chord upper bound on ``mu_j(theta)`` and its right slope (points sorted by c)."""
    if theta >= pg[j, 0]:
        return 0.0, 0.0
    p = 1
    while p < npt - 1 and pg[j, p] > theta:
        p += 1
    dg = pg[j, p - 1] - pg[j, p]
    dc = pc[j, p] - pc[j, p - 1]
    if dg <= 0.0:
        return pc[j, p], 0.0
    return pc[j, p - 1] + (pg[j, p - 1] - theta) * (dc / dg), -dc / dg


@njit(**JIT_OPTIONS)
def _lower(theta, pc, pg, pk, j, npt):
    """Tangent lower bound on ``mu_j(theta)`` and its right slope."""
    best = 0.0
    slope = 0.0
    # tangent at theta = 0 (mu = m) with slope -1 (at least one entry equals m)
    v = pc[j, npt - 1] - theta
    if v > best:
        best = v
        slope = -1.0
    for p in range(npt - 1):
        k = pk[j, p]
        if k > 0.0:
            v = pc[j, p] - (theta - pg[j, p]) / k
            if v > best or (v == best and -1.0 / k > slope):
                best = v
                slope = -1.0 / k
    return best, slope


def _bound_sums(theta, pc, pg, pk, npt, cand, which):
    """``(F, F')`` of the lower (``which == 0``) or upper (1) bound over the groups
    ``cand``."""
    f = 0.0
    d = 0.0
    for q in prange(cand.shape[0]):
        j = cand[q]
        if which == 0:
            v, sl = _lower(theta, pc, pg, pk, j, npt)
        else:
            v, sl = _upper(theta, pc, pg, j, npt)
        f += v
        d += sl
    return f, d


_bound_sums_serial, _bound_sums_par = serial_and_parallel(_bound_sums)


def _newton_left(r, theta, pc, pg, pk, npt, cand, which):
    """Newton from the left on a convex decreasing piecewise linear bound: returns
    ``(theta, F(theta))`` with ``theta`` at or just below the root of ``F = r``.  Compiled
    twice, calling the serial or the parallel bound sums (``_sum_bounds``)."""
    f, d = _sum_bounds(theta, pc, pg, pk, npt, cand, which)
    for _ in range(200):
        if f <= r or d >= 0.0:
            break
        nxt = theta + (f - r) / (-d)
        if not nxt > theta:
            break
        theta = nxt
        f, d = _sum_bounds(theta, pc, pg, pk, npt, cand, which)
    return theta, f


# a parallel launch per Newton step costs more than it saves below ``PAR_GROUPS`` groups
_newton_serial = with_globals(_newton_left, "_serial", _sum_bounds=_bound_sums_serial)
_newton_par = with_globals(_newton_left, "_par", _sum_bounds=_bound_sums_par)


def bracket(r, pc, pg, pk, cand, theta_lo0, smax):
    """``(theta_lo, theta_hi)`` with ``theta_lo <= theta* <= theta_hi`` from the bounds."""
    npt = pc.shape[1]
    par = cand.shape[0] >= PAR_GROUPS
    newton = _newton_par if par else _newton_serial
    sums = _bound_sums_par if par else _bound_sums_serial
    tlo, _ = newton(r, theta_lo0, pc, pg, pk, npt, cand, 0)
    tlo = max(theta_lo0, tlo * (1.0 - _MARGIN))
    thi, fu = newton(r, tlo, pc, pg, pk, npt, cand, 1)
    # Newton stops at (or, by rounding, just below) the root of F_U = r: step right until
    # F_U <= r holds, else fall back on the trivial bound max(s)
    step = thi * _MARGIN + 1e-300
    x = thi
    for _ in range(40):
        if fu <= r:
            return tlo, min(x, smax)
        x = thi + step
        step *= 4.0
        fu, _ = sums(x, pc, pg, pk, npt, cand, 1)
    return tlo, smax


@njit(**JIT_OPTIONS)
def _edges_one(j, tlo, thi, pc, pg, pk, lo, hi, est, bnd, below):
    npt = pc.shape[1]
    l0, _ = _lower(thi, pc, pg, pk, j, npt)
    h0, _ = _upper(tlo, pc, pg, j, npt)
    mj = pc[j, npt - 1]
    # widened by a relative 1e-9: rounding in the bounds must not cut off an entry that
    # sits exactly at an edge (e.g. the maxima when theta* ~ 0)
    l0 = min(max(l0 * (1.0 - 1e-9), 0.0), mj)
    h0 = min(max(h0 * (1.0 + 1e-9), l0), mj)
    if l0 >= mj:
        l0 = mj * (1.0 - 1e-9)
    bnd[0, j] = l0
    bnd[1, j] = h0
    # nearest known points outside [l0, h0]: their counts bound the band size
    pa = 0
    pb = npt - 1
    for p in range(npt):
        if pc[j, p] <= l0:
            pa = p
        if p > 0 and pc[j, p] >= h0:
            pb = p
            break
    lo[j] = pc[j, pa]
    hi[j] = pc[j, pb]
    est[j] = pk[j, pa] - pk[j, pb]
    below[j] = pk[j, 0] - pk[j, pb]  # at least the entries above hi[j] are above bnd[1, j]


def _edges(tlo, thi, pc, pg, pk, cand, lo, hi, est, bnd, below):
    for q in prange(cand.shape[0]):
        _edges_one(cand[q], tlo, thi, pc, pg, pk, lo, hi, est, bnd, below)


_edges_serial, _edges_par = serial_and_parallel(_edges)


def band_edges(tlo, thi, pc, pg, pk, cand, lo, hi, est, bnd, below):
    """Per candidate group ``j``: ``bnd[:, j] = (L_j(theta_hi), U_j(theta_lo))``, which hold
    ``mu_j(theta)`` for every theta in the bracket (slightly widened), the nearest known
    points outside them ``lo[j] <= bnd[0, j]``, ``hi[j] >= bnd[1, j]`` (where the next
    levels go), and ``est[j]``, the number of entries in ``(lo[j], hi[j]]``, which bounds
    the band; ``below[j]`` bounds the number of entries at or below ``bnd[1, j]``."""
    fn = _edges_par if cand.shape[0] >= PAR_GROUPS else _edges_serial
    fn(tlo, thi, pc, pg, pk, cand, lo, hi, est, bnd, below)


@njit(**JIT_OPTIONS)
def insert_points(pc, pg, pk, npt, cand, lev, gv, cnt, K, cols):
    """Add the level results to the sorted point lists (``npt`` used columns)."""
    for q in range(cand.shape[0]):
        j = cand[q]
        n = npt
        for l in range(K):
            if cols:
                c = lev[l, j]
                gval = gv[l, j]
                kval = cnt[l, j]
            else:
                c = lev[j, l]
                gval = gv[j, l]
                kval = cnt[j, l]
            # insertion keeping c ascending; the first (c = 0) and last (c = m) points
            # stay where they are, repeated levels are skipped
            if not (c > 0.0 and c < pc[j, n - 1]):
                continue
            p = n - 1
            while pc[j, p - 1] > c:
                p -= 1
            if pc[j, p - 1] == c:
                continue
            for t in range(n, p, -1):
                pc[j, t] = pc[j, t - 1]
                pg[j, t] = pg[j, t - 1]
                pk[j, t] = pk[j, t - 1]
            pc[j, p] = c
            pg[j, p] = gval
            pk[j, p] = kval
            n += 1
        # pad the unused columns with copies of the last point (c = m, g = 0)
        for t in range(n, pc.shape[1]):
            pc[j, t] = pc[j, n - 1]
            pg[j, t] = pg[j, n - 1]
            pk[j, t] = pk[j, n - 1]


# --------------------------------------------------------------------------- exact solve
def _sort(band, off, blen, cand):
    for q in prange(cand.shape[0]):
        j = cand[q]
        # in place: no allocation for the many short bands (sorted by insertion)
        _quicksort(band, off[j], off[j] + blen[j] - 1)


@njit(**JIT_OPTIONS)
def _quicksort(a, lo, hi):
    """Sort ``a[lo : hi + 1]`` in place: quicksort with the median of three, the smaller
    part first (an explicit stack of at most 64 ranges), insertion sort below
    ``SMALL_BAND`` entries.  (A short kernel of its own: NumPy's sort compiles Numba's
    generic sort, several times larger.)"""
    stack = np.empty(128, dtype=np.int64)  # (lo, hi) pairs
    top = 0
    while True:
        while hi - lo >= SMALL_BAND:
            mid = lo + (hi - lo) // 2
            # median of three at a[mid], with a[lo] <= a[mid] <= a[hi]
            if a[mid] < a[lo]:
                a[mid], a[lo] = a[lo], a[mid]
            if a[hi] < a[mid]:
                a[hi], a[mid] = a[mid], a[hi]
                if a[mid] < a[lo]:
                    a[mid], a[lo] = a[lo], a[mid]
            p = a[mid]
            i = lo
            j = hi
            while i <= j:  # Hoare partition around the value p
                while a[i] < p:
                    i += 1
                while p < a[j]:
                    j -= 1
                if i <= j:
                    a[i], a[j] = a[j], a[i]
                    i += 1
                    j -= 1
            # a[lo : j + 1] <= p <= a[i : hi + 1]: push the larger part, go on with the other
            if j - lo < hi - i:
                stack[2 * top] = i
                stack[2 * top + 1] = hi
                hi = j
            else:
                stack[2 * top] = lo
                stack[2 * top + 1] = j
                lo = i
            top += 1
        for i in range(lo + 1, hi + 1):
            v = a[i]
            k = i - 1
            while k >= lo and a[k] > v:
                a[k + 1] = a[k]
                k -= 1
            a[k + 1] = v
        if top == 0:
            return
        top -= 1
        lo = stack[2 * top]
        hi = stack[2 * top + 1]


_sort_serial, _sort_par = serial_and_parallel(_sort)


def sort_bands(band, off, blen, cand):
    """Sort every candidate group's band in place (ascending); in parallel only when the
    bands are large enough to pay for a parallel launch."""
    fn = _sort_par if int(blen[cand].sum()) >= PAR_ENTRIES else _sort_serial
    fn(band, off, blen, cand)


@njit(**JIT_OPTIONS)
def _group_mu(theta, j, s, band, off, blen, cnt_a, sum_a, ptr, ssum):
    """``(mu_j(theta), #active)`` from the compact data; advances the pointer of group
    ``j`` (number of band entries, from the top, known to be active).  ``#active = -1``
    flags a band that cannot represent ``mu_j(theta)``."""
    if theta >= s[j]:
        return 0.0, 0.0
    t = ptr[j]
    S = sum_a[j] + ssum[j]
    k = cnt_a[j] + t
    top = off[j] + blen[j] - 1  # largest band entry
    while True:
        if k == 0.0:
            if t >= blen[j]:
                return 0.0, -1.0
            S += band[top - t]
            k += 1.0
            t += 1
            continue
        mu = (S - theta) / k
        if t < blen[j] and band[top - t] > mu:
            S += band[top - t]
            k += 1.0
            t += 1
            continue
        break
    ptr[j] = t
    ssum[j] = S - sum_a[j]
    return mu, k


@njit(**JIT_OPTIONS)
def solve_compact(r, theta, s, cand, band, off, blen, cnt_a, sum_a, lo, hi, thi, mu, max_iter):
    """Exact ``theta*`` from the compact data by Newton from the left, starting at the
    lower bound ``theta``.  Writes ``mu`` for the groups ``cand``; returns
    ``(theta*, ok)`` where ``ok`` is False if the compact data could not represent the
    solution (the caller then retries with full bands).

    Each Newton step solves ``F = r`` on the linear piece of ``F`` at the current theta,
    so the last step is exact.  That last solve is done with the sums shifted by the
    largest active sum, ``mu_j = (S_j - S_ref - t') / k_j`` with ``t' = theta - S_ref``:
    this keeps ``mu`` accurate when ``r`` is far below the rounding of ``theta ~ s_j``.
    """
    G = s.shape[0]
    ptr = np.zeros(G, dtype=np.int64)
    ssum = np.zeros(G)
    kk = np.zeros(G)
    rec_k = np.zeros(G)
    rec_s = np.zeros(G)
    nc = cand.shape[0]
    for it in range(max_iter):
        f = 0.0
        d = 0.0
        for q in range(nc):
            j = cand[q]
            v, k = _group_mu(theta, j, s, band, off, blen, cnt_a, sum_a, ptr, ssum)
            if k < 0.0:
                return theta, False
            kk[j] = k
            if k > 0.0:
                d += 1.0 / k
            f += v
        if it == 0 and f < r * (1.0 - 1e-12):
            return theta, False  # theta is not a lower bound
        if f >= r or it == 0:
            # the linear piece at the last theta with F >= r holds the root (the start
            # is a lower bound: F < r there only by rounding)
            for q in range(nc):
                j = cand[q]
                rec_k[j] = kk[j]
                rec_s[j] = sum_a[j] + ssum[j]
        if f <= r or d == 0.0:
            break
        nxt = theta + (f - r) / d
        if not nxt > theta:
            break
        theta = nxt
    else:
        return theta, False
    # exact solve on the recorded linear piece, sums shifted by the largest one
    D = 0.0
    sref = -np.inf
    for q in range(nc):
        j = cand[q]
        if rec_k[j] > 0.0:
            D += 1.0 / rec_k[j]
            sref = max(sref, rec_s[j])
    if D == 0.0:
        return theta, False
    acc = 0.0
    for q in range(nc):
        j = cand[q]
        if rec_k[j] > 0.0:
            acc += (rec_s[j] - sref) / rec_k[j]
    tp = (acc - r) / D
    theta = sref + tp
    tot = 0.0
    for q in range(nc):
        j = cand[q]
        mu[j] = max((rec_s[j] - sref - tp) / rec_k[j], 0.0) if rec_k[j] > 0.0 else 0.0
        tot += mu[j]
    # sums that are equal in exact arithmetic may differ by rounding (eps * s); when r is
    # below that, restore sum(mu) = r (the kept groups' g_j are then equal to rounding,
    # so any split of r among them satisfies the certificate to rounding)
    if tot > 0.0 and abs(tot - r) > 1e-12 * r:
        f = r / tot
        for q in range(nc):
            mu[cand[q]] *= f
    # the root must lie in the bracket and every threshold in its band, up to rounding
    # (theta and the sums are known to about eps * sref, mu_j to about eps * S_j / k_j)
    if theta > thi * (1.0 + 1e-9) + 1e-12 * sref + 1e-300:
        return theta, False
    for q in range(nc):
        j = cand[q]
        if rec_k[j] > 0.0:
            tol = 1e-9 * hi[j] + 1e-12 * rec_s[j] / rec_k[j] + 1e-300
            if mu[j] < lo[j] - tol or mu[j] > hi[j] + tol:
                return theta, False
    return theta, True


# --------------------------------------------------------------------------- entry
def _run_band(x2, cols, lo, hi, est, cand, below, s):
    """Band pass with buffers sized by ``est``; returns ``(band, off, blen, cnt_a,
    sum_a)``."""
    G = lo.shape[0]
    size = np.zeros(G, dtype=np.int64)
    size[cand] = est[cand]
    off = np.zeros(G, dtype=np.int64)
    np.cumsum(size[:-1], out=off[1:])
    cap = off + size
    band = np.empty(int(cap[-1]) if G else 0)
    blen = np.zeros(G, dtype=np.int64)
    cnt_a = np.zeros(G)
    sum_a = np.zeros(G)
    if cols:
        pick(band_cols)(x2, lo, hi, off, cap, band, blen, cnt_a, sum_a, below, s)
    else:
        pick(band_rows)(x2, lo, hi, off, cap, band, blen, cnt_a, sum_a)
    return band, off, blen, cnt_a, sum_a


def _try_band(x2, cols, bnd, m, est, cand, below, s):
    """The band pass without level passes, when a density argument says the band is short.

    If the entries of group ``j`` were spread evenly over ``[0, m_j]``, about ``N (hi_j -
    lo_j) / m_j`` of them would lie in its band ``(lo_j, hi_j] = bnd[:, j]``.  When that
    totals at most ``BAND_FRACTION`` of the candidates' entries, the band pass runs with
    room for four times each prediction (at least 16, at most the bound ``est``); it returns
    the band pass's arrays if every band fitted, else None (a level pass follows).  Which
    path runs never changes the result: the band pass is exact whatever the edges, as long
    as each band fits its buffer."""
    N = x2.shape[1]
    lo_c = bnd[0, cand]
    hi_c = bnd[1, cand]
    pred = N * (hi_c - lo_c) / np.maximum(m[cand], 1e-300)
    if not pred.sum() <= BAND_FRACTION * N * cand.shape[0]:
        return None
    G = s.shape[0]
    room = np.zeros(G)
    room[cand] = np.minimum(est[cand], np.maximum(16.0, np.ceil(4.0 * pred)))
    lo = np.full(G, np.inf)
    hi = np.full(G, np.inf)
    lo[cand] = lo_c
    hi[cand] = hi_c
    out = _run_band(x2, cols, lo, hi, room, cand, below, s)
    return out if bool((out[2][cand] >= 0).all()) else None


def exact_thresholds(x2, cols, s, m, radius, stats=None, optimistic=False):
    """Clip levels ``mu`` (one per group, float64) of the exact l1,inf projection.

    ``x2`` is the rows ``(G, N)`` or cols ``(A, N, B)`` view, ``s`` and ``m`` the group l1
    and l_inf norms, ``0 < radius < sum(m)``.  ``stats`` (a dict), when given, receives the
    bracket, the number of level passes and the band size (for tests and benchmarks).
    ``optimistic`` (for data in cache): before a level pass, try the band pass at once
    when the band looks small (see :func:`_try_band`).
    """
    G = s.shape[0]
    N = x2.shape[1]
    r = float(radius)
    K = N_LEVELS
    # the curve points cost 3 floats each per group: keep them below the data's size
    # (short groups need few or no level passes: their band is short anyway)
    max_passes = min(MAX_LEVEL_PASSES, max(0, int((N / 3 - 2) // K)))
    P = 2 + K * max_passes
    pc = np.empty((G, P))
    pg = np.zeros((G, P))
    pk = np.zeros((G, P))
    pc[:, 0] = 0.0
    pc[:, 1:] = m[:, None]
    pg[:, 0] = s
    pk[:, 0] = N
    npt = 2
    smax = float(s.max())
    lo = np.full(G, np.inf)
    hi = np.full(G, np.inf)
    est = np.zeros(G)
    below = np.zeros(G)
    bnd = np.zeros((2, G))
    cand = np.flatnonzero(s > 0.0)
    tlo, thi = _start_theta(s[cand], N, r), smax
    frac = np.linspace(0.0, 1.0, K)  # levels evenly spread over each group's range
    passes = 0
    compacted = False
    banded = None
    while True:
        tlo, thi = bracket(r, pc, pg, pk, cand, tlo, smax)
        cand = cand[s[cand] > tlo]
        if cols and passes == 0 and _compact_pays(cand.shape[0], G, N):
            compacted = True
            break
        lo[:] = np.inf
        band_edges(tlo, thi, pc, pg, pk, cand, lo, hi, est, bnd, below)
        if passes == max_passes or est[cand].sum() <= BAND_FRACTION * N * G:
            break
        if optimistic and passes == 0:
            banded = _try_band(x2, cols, bnd, m, est, cand, below, s)
            if banded is not None:
                break
        l0 = bnd[0, cand]
        w = bnd[1, cand] - l0
        if cols:
            lev = np.full((K, G), np.inf)
            lev[:, cand] = l0 + w * frac[:, None]
        else:
            lev = np.full((G, K), np.inf)
            lev[cand] = l0[:, None] + w[:, None] * frac
        gv = np.empty_like(lev)
        cnt = np.empty_like(lev)
        pick(levels_cols if cols else levels_rows)(x2, lev, gv, cnt)
        insert_points(pc, pg, pk, npt, cand, lev, gv, cnt, K, cols)
        npt += K
        passes += 1
    mu = np.zeros(G)
    theta = tlo
    sub = {}
    if compacted:
        theta, ok = _solve_compacted(x2, cand, s, m, r, mu, sub)
        passes = sub["level_passes"]
    else:
        # band: the tight edges (the counts at the snapped ones bound its size)
        lo[:] = np.inf
        lo[cand] = bnd[0, cand]
        hi[cand] = bnd[1, cand]
        if banded is None:
            banded = _run_band(x2, cols, lo, hi, est, cand, below, s)
        band, off, blen, cnt_a, sum_a = banded
        ok = bool((blen[cand] >= 0).all())
        if ok:
            sort_bands(band, off, blen, cand)
            theta, ok = solve_compact(r, tlo, s, cand, band, off, blen, cnt_a, sum_a, lo, hi, thi, mu, 1000)
    fallback = not ok
    if fallback:
        # no bracket: every non-zero entry of every non-zero group in the band
        cand = np.flatnonzero(s > 0.0)
        lo[:] = np.inf
        lo[cand] = 0.0
        hi[:] = np.inf
        est[:] = N
        below[:] = N
        band, off, blen, cnt_a, sum_a = _run_band(x2, cols, lo, hi, est, cand, below, s)
        sort_bands(band, off, blen, cand)
        mu[:] = 0.0
        theta, ok = solve_compact(r, 0.0, s, cand, band, off, blen, cnt_a, sum_a, lo, hi, smax, mu, 10**9)
    if stats is not None:
        stats.update(theta=theta, theta_lo=tlo, theta_hi=thi, level_passes=passes,
                     band=int(blen[cand].sum()) if not compacted or fallback else sub["band"],
                     candidates=int(cand.size), fallback=fallback,
                     compacted=compacted and not fallback)
    return mu


def _start_theta(s, N, r):
    """A lower bound on ``theta*`` from the group l1 norms alone: ``mu_j(theta) >= (s_j -
    theta)_+ / N`` (the tangent of ``g_j`` at 0, slope ``-N`` at most), so the root of
    ``sum_j (s_j - theta)_+ = N r`` (an l1-ball threshold of ``s``) has ``F >= r``.  Newton
    on the bounds then starts next to the root, which for groups whose kept entries all
    exceed ``mu_j`` (uniform data at small radii) is the root itself.

    Up to ``SORTED_START`` groups the root comes from the sorted norms (:func:`_sorted_start`,
    NumPy: nothing to compile); above, from the linear-time l1 threshold, pulled down by a
    relative 1e-12 against its rounding."""
    if s.shape[0] == 0:
        return 0.0
    if s.shape[0] <= SORTED_START:
        return _sorted_start(s, float(N) * r)
    tau, _ = l1_threshold(s, float(N) * r, np.empty(s.shape[0]))
    return max(0.0, tau * (1.0 - 1e-12))


def _sorted_start(s, R):
    """``max(0, tau)`` pulled below its rounding, where ``tau`` solves ``sum_j (s_j - tau)_+
    = R`` (``s >= 0``, ``R > 0``).

    For any ``k`` largest values, of sum ``c_k``, ``t_k = (c_k - R) / k`` is a lower bound:
    those ``k`` terms alone reach ``R`` at ``t_k``, so ``sum_j (s_j - t_k)_+ >= R``.  The
    largest ``t_k`` is ``tau`` itself (attained at the number of active values).  The
    running sums ``c_k`` (sequential) err by at most ``k eps / 2 c_k``, so ``t_k`` errs by
    less than ``(k + 2) eps c_k / k``, which is subtracted."""
    a = np.sort(s)[::-1]
    c = np.cumsum(a)
    k = np.arange(1, a.shape[0] + 1, dtype=np.float64)
    t = (c - R) / k
    i = int(np.argmax(t))
    lb = t[i] - (k[i] + 2.0) * _EPS * c[i] / k[i]
    return max(0.0, lb * (1.0 - 1e-12))


def _compact_pays(C, G, N):
    """Whether the ``C`` candidates of ``G`` groups of ``N`` entries are few enough to be
    gathered into a compact buffer (see ``COMPACT_FRACTION``)."""
    return C < G and C <= COMPACT_FRACTION * G and C * N * 8 <= COMPACT_BYTES


def _solve_compacted(x2, cand, s, m, r, mu, sub):
    """``(theta*, ok)`` from the candidate groups alone, gathered into a rows-layout
    buffer; writes their thresholds into ``mu`` (the others stay 0) and the statistics of
    the restricted solve into the dict ``sub``.

    If every group outside ``cand`` has ``s_j <= theta``, where ``theta`` solves the
    problem restricted to ``cand`` (same radius), those groups have ``mu_j(theta) = 0``
    and ``F(theta)`` equals the restricted sum ``= r``: ``theta`` is the root of the full
    problem and the restricted thresholds are the full ones.  That holds whenever the
    bracket is right (``s_j <= theta_lo <= theta*`` outside ``cand``) and is checked
    (``ok``), so that a wrong bracket falls back on the full solve."""
    rows = np.empty((cand.shape[0], x2.shape[1]))
    pick(gather_groups_cols)(x2, cand, rows)
    mu_c = exact_thresholds(rows, False, s[cand], m[cand], r, sub, optimistic=True)
    theta = sub["theta"]
    rest = np.ones(s.shape[0], dtype=np.bool_)
    rest[cand] = False
    if rest.any() and float(s[rest].max()) > theta:
        return theta, False
    mu[cand] = mu_c
    return theta, True


def exact_l1inf_levels(xc, radius, stats=None):
    """Clip levels of the exact l1,inf projection of the canonical view ``xc`` (A, N, B).

    Returns ``(m, mu)``, float64 arrays of shape ``(A,)`` when ``B == 1`` (groups are rows)
    and ``(A, B)`` otherwise: ``m`` the group l_inf norms, ``mu`` the clip levels, so that
    the projection is ``x = sign(y) min(|y|, mu_g)`` group by group (``mu = m`` inside the
    ball, ``mu = 0`` for radius 0).  Returns None, having read ``xc`` once, when it holds
    NaN or inf.  ``stats`` as in :func:`exact_thresholds`.
    """
    A, N, B = xc.shape
    cols = B > 1
    G = A * B
    x2 = xc if cols else xc[:, :, 0]
    shape = (A, B) if cols else (A,)
    s = np.empty(G)
    m = np.empty(G)
    pick(stats_cols if cols else stats_rows)(x2, s, m)
    if not (np.isfinite(s).all() and np.isfinite(m).all()):
        return None
    if m.sum() <= radius:  # inside the ball
        mu = m
    elif radius == 0.0:
        mu = np.zeros(G)
    else:
        mu = exact_thresholds(x2, cols, s, m, radius, stats)
    return m.reshape(shape), mu.reshape(shape)
