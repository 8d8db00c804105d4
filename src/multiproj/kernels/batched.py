"""Batched flat balls: many independent l1, l2 or l_inf balls, each with its own radius.

The balls are the groups of a canonical view (see :mod:`multiproj._cpu.layout`):

* rows ``x[g, :]`` (G, N): ball ``g`` is a row, contiguous (or one stride apart);
* cols ``x[a, :, b]`` (A, N, B): ball ``(a, b)`` runs along the middle axis; a chunk of
  neighbouring balls is processed together, streaming whole row segments
  ``x[a, i, b0:b1]`` (contiguous), so no transposed copy of the array is made.

l1 threshold of one ball (``a = |x|``, ``sum(a) > r > 0``): ``tau`` solves
``sum(max(a - tau, 0)) = r``.  Any set ``S`` of entries bounds it below,
``tau >= (sum_S a - r) / |S|``, and entries at or below a lower bound of ``tau`` are
inactive.  One pass over the ball keeps the sum and appends to a buffer only the entries
above a running lower bound, raised as the entries arrive as in Condat's first pass [CON]
(:func:`_push`); for data like N(0,1) only a few entries in a hundred pass the test.  The
buffer then gives ``tau`` by Michelot's iteration ``tau <- (sum_{a > tau} a - r) /
#{a > tau}``, which increases from a lower bound to ``tau`` and never passes it [MIC]
(branch-free compactions of the buffer), finished by the sort-based rule [DUC] after
``_MAX_PASSES`` passes.  The final ``tau`` is ``(sum of the active entries - r) / their
count`` in float64, the exact formula, so the result is exact to rounding.  Every entry is
read as float64 (``np.float64``: Numba's ``float()`` keeps float32), so float32 data are
summed and squared in float64.

The kernels only read ``x`` (read-only arrays work) and write ``out``, which may be ``x``
itself: every ball is read completely before it is written.  Every kernel is compiled
twice from one Python function: serial (``*_serial``) and parallel over balls
(``*_parallel``, prange).

References
----------
[MIC] C. Michelot, J. Optim. Theory Appl. 50 (1986).  [DUC] J. Duchi et al., Efficient
projections onto the l1-ball, ICML 2008.  [CON] L. Condat, Math. Prog. 158 (2016).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._core.config import JIT_OPTIONS
from .compile import serial_and_parallel
from .grouped import chunk_of
from .vector import _filter

_BLOCK = 32  # balls of the cols layout processed together by the l2 / linf kernels
_CAP = 128  # candidates kept per ball of the cols layout (then compacted)
_MAX_PASSES = 12  # Michelot passes before the candidates are sorted
_EPS = 2.220446049250313e-16
_SHRINK = 1.0 - 8 * _EPS  # lowers a positive bound below the rounding of its difference
# below this sum of squares (float64) a norm may have underflowed: recompute it scaled
_TINY_SQ = 1e-280



# --------------------------------------------------------------------------- l1 threshold
@njit(**JIT_OPTIONS)
def _tau_of(buf, cnt, r, lo):
    """The threshold of a ball whose active entries are all in ``buf[:cnt]``, given a lower
    bound ``lo`` of it (``r > 0``, and ``buf`` holds an entry above ``lo`` that is
    active); ``buf`` is reordered."""
    cnt, s = _filter(buf, cnt, lo)
    for _ in range(_MAX_PASSES):
        tau = (s - r) / cnt
        k, s2 = _filter(buf, cnt, tau)
        if k == cnt or k == 0:  # the active set: tau is (its sum - r) / its count
            return tau
        cnt = k
        s = s2
    # many slow passes: sort the remaining candidates [DUC]
    v = np.sort(buf[:cnt])
    c = 0.0
    crho = v[cnt - 1]
    rho = 1
    for j in range(cnt):
        a = v[cnt - 1 - j]
        c += a
        if a * (j + 1) > c - r:
            rho = j + 1
            crho = c
    return (crho - r) / rho


# --------------------------------------------------------------------------- online bound
@njit(**JIT_OPTIONS)
def _push(v, r, ss, sn, lo):
    """A candidate ``v > lo`` of a ball of radius ``r`` enters the running lower bound of
    its threshold: returns the new ``(ss, sn, lo)``.

    ``ss``, ``sn`` are the sum and count of the current run of candidates ``S``.  Any set
    ``S`` of entries bounds the threshold below, ``tau >= (sum_S a - r) / |S|`` (since
    ``sum_S (a - tau) <= sum_S max(a - tau, 0) = r``), and so does ``v - r`` (``S = {v}``):
    the run keeps the larger of the two bounds, as in Condat's first pass [CON].  The bound
    is lowered by the rounding of its sum so that it stays below ``tau`` in floating point.
    """
    n1 = sn + 1
    s1 = ss + v
    d = s1 - r
    if not d > n1 * (v - r):  # the single entry bounds better (also when the sums overflow)
        s1, n1, d = v, 1, v - r
    b = (d - (n1 + 2) * _EPS * (s1 + r)) / n1
    return s1, n1, (b if b > lo else lo)


@njit(**JIT_OPTIONS)
def _row_l1_tau(x, g, r, buf):
    """``(tau, finite)`` of the l1 ball of row ``x[g]`` with radius ``r``.

    ``tau = -1`` marks a row inside its ball (kept as it is), ``tau = max|x[g]|`` a zero
    radius (the row becomes 0).  One pass: the sum (four accumulators), and every entry
    above the running lower bound of :func:`_push` appended to ``buf`` (entries at or below
    a lower bound of ``tau`` are inactive); then the threshold of the candidates."""
    N = x.shape[1]
    xg = x[g]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    m = 0.0
    lo = -1.0
    ss = 0.0
    sn = 0
    c = 0
    i = 0
    while i + 4 <= N:
        a0 = abs(np.float64(xg[i]))
        a1 = abs(np.float64(xg[i + 1]))
        a2 = abs(np.float64(xg[i + 2]))
        a3 = abs(np.float64(xg[i + 3]))
        s0 += a0
        s1 += a1
        s2 += a2
        s3 += a3
        if max(max(a0, a1), max(a2, a3)) > lo:  # rare once the bound has settled
            for a in (a0, a1, a2, a3):
                if a > lo:
                    m = a if a > m else m
                    buf[c] = a
                    c += 1
                    ss, sn, lo = _push(a, r, ss, sn, lo)
        i += 4
    while i < N:
        a = abs(np.float64(xg[i]))
        s0 += a
        if a > lo:
            m = a if a > m else m
            buf[c] = a
            c += 1
            ss, sn, lo = _push(a, r, ss, sn, lo)
        i += 1
    s = (s0 + s1) + (s2 + s3)
    if not np.isfinite(s):  # NaN or inf (both reach the sum)
        return 0.0, False
    if s <= r:
        return -1.0, True
    if r <= 0.0:
        return m, True
    return _tau_of(buf, c, r, lo), True


@njit(**JIT_OPTIONS)
def _row_soft(x, g, tau, out):
    """Row ``g`` of ``out`` = the soft threshold of ``x[g]`` at ``tau`` (``tau < 0``: copy;
    ``copysign`` keeps the sign of every entry, zeros included)."""
    N = x.shape[1]
    xg = x[g]
    og = out[g]
    t = tau if tau > 0.0 else 0.0
    for i in range(N):
        v = xg[i]
        a = abs(np.float64(v)) - t
        og[i] = np.copysign(a if a > 0.0 else 0.0, v)


def _l1_rows(x, r, tau, out, write):
    """l1 balls of the rows: ``tau[g]`` for every row (radius ``r[g]``) and, when
    ``write``, ``out[g]`` right after (while the row is in cache).  Returns the number of
    rows with NaN or inf."""
    G, N = x.shape
    nchunks = min(G, 256)
    step = (G + nchunks - 1) // max(nchunks, 1)
    bad = 0
    for c in prange(nchunks):
        buf = np.empty(N)
        for g in range(c * step, min(G, (c + 1) * step)):
            t, finite = _row_l1_tau(x, g, r[g], buf)
            tau[g] = t
            if not finite:
                bad += 1
            elif write:
                _row_soft(x, g, t, out)
    return bad


def _soft_rows(x, tau, out):
    """``out[g]`` = the soft threshold of ``x[g]`` at ``tau[g]`` (``tau[g] < 0``: copy)."""
    G = x.shape[0]
    nchunks = min(G, 256)
    step = (G + nchunks - 1) // max(nchunks, 1)
    for c in prange(nchunks):
        for g in range(c * step, min(G, (c + 1) * step)):
            _row_soft(x, g, tau[g], out)


l1_rows_serial, l1_rows_parallel = serial_and_parallel(_l1_rows)
soft_rows_serial, soft_rows_parallel = serial_and_parallel(_soft_rows)


# --------------------------------------------------------------------------- l1, cols layout
@njit(**JIT_OPTIONS)
def chunk_width(N):
    """Balls of the cols layout streamed together: 128 (row segments of 1 KiB in float64,
    whose per-ball state and candidates stay in the L1 and L2 caches), up to 4096 for short
    balls (``N`` rows), so that a chunk still holds about 128 K entries."""
    return max(128, min(4096, ((1 << 17) // max(N, 1)) // 8 * 8))


@njit(**JIT_OPTIONS)
def _cols_l1_tau(x, b0, b1, r, tau, s, m, lo, ss, sn, cnt, buf):
    """Thresholds of the l1 balls ``x[:, b]`` (``x`` one slab of the cols layout),
    ``b0 <= b < b1``, radii ``r[:b1 - b0]``, into ``tau[:b1 - b0]`` (codes of
    :func:`_row_l1_tau`).

    One streaming pass over the row segments ``x[i, b0:b1]`` (contiguous): every ball's
    sum, and its entries above its running lower bound (:func:`_push`) appended to its row
    of ``buf``.  A full row of ``buf`` is compacted to the entries above the threshold of
    its own candidates (a lower bound of ``tau``: fewer entries, a smaller threshold);
    when that leaves it three quarters full (many ties, or a radius that keeps many
    entries) the ball's threshold is computed from a contiguous copy of the ball instead.
    Returns the number of balls with NaN or inf."""
    N = x.shape[0]
    w = b1 - b0
    cap = buf.shape[1]
    for k in range(w):
        s[k] = 0.0
        m[k] = 0.0
        lo[k] = -1.0
        ss[k] = 0.0
        sn[k] = 0
        cnt[k] = 0
    for i in range(N):
        xi = x[i, b0:b1]
        for k in range(w):  # (vectorised)
            s[k] += abs(np.float64(xi[k]))
        for k in range(w):
            a = abs(np.float64(xi[k]))
            if a > lo[k]:  # rare once the bound has settled
                rk = r[k]
                m[k] = a if a > m[k] else m[k]
                c = cnt[k]
                if c == cap:
                    c, lo[k] = _compact(buf[k], c, rk, lo[k])
                    if c > cap - cap // 4:  # too many candidates: finished from a copy
                        cnt[k] = -1
                        lo[k] = np.inf
                        continue
                    ss[k] = 0.0
                    sn[k] = 0
                buf[k, c] = a
                cnt[k] = c + 1
                ss[k], sn[k], lo[k] = _push(a, rk, ss[k], sn[k], lo[k])
    bad = 0
    for k in range(w):
        rk = r[k]
        if not np.isfinite(s[k]):  # NaN or inf (both reach the sum)
            bad += 1
            tau[k] = 0.0
        elif s[k] <= rk:
            tau[k] = -1.0
        elif cnt[k] < 0:
            col = np.empty((1, N))
            for i in range(N):
                col[0, i] = x[i, b0 + k]
            tau[k] = _row_l1_tau(col, 0, rk, np.empty(N))[0]
        elif rk <= 0.0:
            tau[k] = m[k]
        else:
            tau[k] = _tau_of(buf[k], cnt[k], rk, lo[k])
    return bad


@njit(**JIT_OPTIONS)
def _compact(bk, c, r, lo):
    """Keep the entries of ``bk[:c]`` above a lower bound of the threshold: ``lo``, raised
    to the threshold of ``bk[:c]`` alone when their sum exceeds ``r`` (lowered by its
    rounding).  Returns the new count and the bound used."""
    tot = 0.0
    for t in range(c):
        tot += bk[t]
    if r > 0.0 and tot > r:
        tmp = bk[:c].copy()
        t_s = _tau_of(tmp, c, r, lo) - (c + 2) * _EPS * (tot + r) / c
        lo = t_s if t_s > lo else lo
    j = 0
    for t in range(c):
        a = bk[t]
        bk[j] = a
        j += a > lo
    return j, lo


@njit(**JIT_OPTIONS)
def _soft_segment(xi, t, out):
    """``out[k]`` = the soft threshold of ``xi[k]`` at ``t[k] >= 0`` (0: a copy, signs of
    zeros included); ``out`` may be ``xi``."""
    for k in range(xi.shape[0]):
        v = xi[k]
        a = abs(np.float64(v)) - t[k]
        out[k] = np.copysign(a if a > 0.0 else 0.0, v)


def _l1_cols(x, r, tau, out, write):
    """l1 balls ``x[a, :, b]`` (radius ``r[a, b]``): thresholds into ``tau[a, b]``, chunk
    by chunk of :func:`chunk_width` balls streamed as row segments (no transposed copy),
    and, when ``write`` and every ball is finite, the projection into ``out`` in a second
    pass over whole rows (contiguous writes).  Returns the number of balls with NaN or
    inf."""
    A, N, B = x.shape
    W = min(B, chunk_width(N))
    nb = (B + W - 1) // W
    cap = min(N + 1, _CAP)
    bad = 0
    for t in prange(A * nb):
        a, b0, b1 = chunk_of(t, nb, W, B)
        w = b1 - b0
        tk = np.empty(w)
        rk = np.empty(w)
        for k in range(w):
            rk[k] = r[a, b0 + k]
        s = np.empty(w)
        m = np.empty(w)
        lo = np.empty(w)
        ss = np.empty(w)
        sn = np.empty(w, dtype=np.int64)
        cnt = np.empty(w, dtype=np.int64)
        buf = np.empty((w, cap))
        bad += _cols_l1_tau(x[a], b0, b1, rk, tk, s, m, lo, ss, sn, cnt, buf)
        for k in range(w):
            tau[a, b0 + k] = tk[k]
    if write and bad == 0:
        t2 = np.empty((A, B))
        for a in range(A):
            for k in range(B):
                t2[a, k] = tau[a, k] if tau[a, k] > 0.0 else 0.0
        for t in prange(A * N):
            _soft_segment(x[t // N, t % N], t2[t // N], out[t // N, t % N])
    return bad


def _soft_cols(x, tau, out):
    """``out[a, :, b]`` = the soft threshold of ``x[a, :, b]`` at ``tau[a, b]`` (``< 0``:
    copy), streaming whole rows ``x[a, i, :]``."""
    A, N, B = x.shape
    tk = np.empty((A, B))
    for a in range(A):
        for k in range(B):
            tk[a, k] = tau[a, k] if tau[a, k] > 0.0 else 0.0
    for t in prange(A * N):
        a = t // N
        i = t % N
        _soft_segment(x[a, i], tk[a], out[a, i])


l1_cols_serial, l1_cols_parallel = serial_and_parallel(_l1_cols)
soft_cols_serial, soft_cols_parallel = serial_and_parallel(_soft_cols)


# --------------------------------------------------------------------------- l2 and linf
@njit(**JIT_OPTIONS)
def _row_norm2(x, g):
    """``(||x[g]||_2, max|x[g]|)`` in float64, scaled where the squares under- or overflow;
    non-finite when the row holds NaN or inf."""
    N = x.shape[1]
    s = 0.0
    m = 0.0
    for i in range(N):
        t = abs(np.float64(x[g, i]))
        s += t * t
        m = t if t > m else m
    if s != s or not np.isfinite(m):  # NaN spreads into the sum, inf sets the maximum
        return np.nan, m
    if m == 0.0:
        return 0.0, m
    if not np.isfinite(s) or s < _TINY_SQ:
        s = 0.0
        for i in range(N):
            t = np.float64(x[g, i]) / m
            s += t * t
        return m * np.sqrt(s), m
    return np.sqrt(s), m


def _l2linf_rows(x, q, r, f):
    """Per-row factor of the l2 (``q = 2``) or linf (``q = 3``) balls of radius ``r[g]``:
    l2: ``f[g] = r / ||x[g]||_2``, or ``-1`` for a row inside its ball (kept); linf: the
    clipping level ``r[g]``.  Returns the number of rows with NaN or inf."""
    G = x.shape[0]
    bad = 0
    for g in prange(G):
        nrm, m = _row_norm2(x, g)
        if not np.isfinite(nrm):
            bad += 1
            f[g] = 0.0
        elif q == 3:
            f[g] = r[g]
        else:
            f[g] = -1.0 if nrm <= r[g] else r[g] / nrm
    return bad


def _apply_rows(x, q, f, out):
    """``out[g]``: ``x[g] * f[g]`` (l2, ``f < 0``: copy) or ``x[g]`` clipped to ``+-f[g]``."""
    G, N = x.shape
    for g in prange(G):
        fg = f[g]
        if q == 3:
            for i in range(N):
                out[g, i] = min(max(x[g, i], -fg), fg)
        elif fg < 0.0:
            for i in range(N):
                out[g, i] = x[g, i]
        else:
            for i in range(N):
                out[g, i] = x[g, i] * fg


def _l2linf_cols(x, q, r, f):
    """:func:`_l2linf_rows` for the balls ``x[a, :, b]`` (radius ``r[a, b]``) into
    ``f[a, b]``, streaming row segments of blocks of balls."""
    A, N, B = x.shape
    nb = (B + _BLOCK - 1) // _BLOCK
    bad = 0
    for t in prange(A * nb):
        a, b0, b1 = chunk_of(t, nb, _BLOCK, B)
        w = b1 - b0
        s = np.zeros(w)
        m = np.zeros(w)
        for i in range(N):
            for k in range(w):
                v = abs(np.float64(x[a, i, b0 + k]))
                s[k] += v * v
                m[k] = v if v > m[k] else m[k]
        for k in range(w):
            mk = m[k]
            rk = r[a, b0 + k]
            if s[k] != s[k] or not np.isfinite(mk):  # NaN (in the sum) or inf (the maximum)
                bad += 1
                f[a, b0 + k] = 0.0
                continue
            if q == 3:
                f[a, b0 + k] = rk
                continue
            nrm = np.sqrt(s[k])
            if mk > 0.0 and (not np.isfinite(s[k]) or s[k] < _TINY_SQ):
                ss = 0.0
                for i in range(N):
                    v = np.float64(x[a, i, b0 + k]) / mk
                    ss += v * v
                nrm = mk * np.sqrt(ss)
            f[a, b0 + k] = -1.0 if nrm <= rk else rk / nrm
    return bad


def _apply_cols(x, q, f, out):
    """:func:`_apply_rows` for the balls ``x[a, :, b]`` with factors ``f[a, b]``."""
    A, N, B = x.shape
    nb = (B + _BLOCK - 1) // _BLOCK
    for t in prange(A * nb):
        a, b0, b1 = chunk_of(t, nb, _BLOCK, B)
        w = b1 - b0
        fk = f[a, b0:b1]
        for i in range(N):
            for k in range(w):
                v = x[a, i, b0 + k]
                fv = fk[k]
                if q == 3:
                    out[a, i, b0 + k] = min(max(v, -fv), fv)
                else:
                    out[a, i, b0 + k] = v if fv < 0.0 else v * fv


l2linf_rows_serial, l2linf_rows_parallel = serial_and_parallel(_l2linf_rows)
apply_rows_serial, apply_rows_parallel = serial_and_parallel(_apply_rows)
l2linf_cols_serial, l2linf_cols_parallel = serial_and_parallel(_l2linf_cols)
apply_cols_serial, apply_cols_parallel = serial_and_parallel(_apply_cols)
