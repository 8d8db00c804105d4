"""Vector kernels: the l1 threshold (Condat's algorithm), soft-thresholding, the l_q norm of
a vector, and the projections onto the l1, l2 and l_inf balls of a flat vector.

All functions trust their inputs (1-D float arrays, finite radius >= 0) and accumulate in
float64 whatever the input dtype.  The group kernels call them on one group at a time.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._core.config import JIT_OPTIONS
from .codes import ABS_BITS32, ABS_BITS64, Q1, Q2, QINF

_EPS = np.finfo(np.float64).eps


@njit(**JIT_OPTIONS)
def _condat(w, cnt, radius):
    """Threshold for the non-negative values ``w[:cnt]`` (sum > radius > 0), in place.

    Condat's algorithm [CON]: one online pass keeps a list ``v`` of candidates and the
    running threshold ``rho = (S - radius) / c`` of their sum S and count c, a second pass
    recovers candidates set aside too early, a clean-up loop drops the candidates below rho.
    rho never decreases, so every value dropped lies below the final threshold.  Candidates
    are stored back into ``w`` (at an index never above the one being read), as two blocks:
    ``w[:vt_end]`` (set aside) and ``w[vt_end:v_end]`` (current).  Comparisons are
    multiplied out so that the loop carries no division.  Returns ``(tau, cnt)`` with the
    active values in ``w[:cnt]``.
    """
    a = w[0]
    vt_end = 0
    v_end = 1
    S = a
    c = 1.0
    for i in range(1, cnt):
        a = w[i]
        if a * c > S - radius:  # a > rho
            S += a
            c += 1.0
            w[v_end] = a
            v_end += 1
            if not S - radius > c * (a - radius):  # new rho <= a - radius: restart from a
                vt_end = v_end - 1
                S = a
                c = 1.0
    cnt = v_end
    if vt_end > 0:
        k = 0
        for i in range(vt_end):
            a = w[i]
            if a * c > S - radius:
                w[k] = a
                k += 1
                S += a
                c += 1.0
        for i in range(vt_end, v_end):
            w[k] = w[i]
            k += 1
        cnt = k
    while True:
        k = 0
        for i in range(cnt):
            a = w[i]
            if a * c > S - radius:
                w[k] = a
                k += 1
            elif c > 1.0:
                S -= a
                c -= 1.0
        if k == cnt or k == 0:
            break
        cnt = k
    return (S - radius) / c, cnt


@njit(**JIT_OPTIONS)
def _filter(w, cnt, tau):
    """Keep the values of ``w[:cnt]`` above ``tau`` (branch-free compaction); return the new
    count and their float64 sum."""
    k = 0
    s = 0.0
    for i in range(cnt):
        a = w[i]
        keep = a > tau
        w[k] = a
        k += keep
        s += a if keep else 0.0
    return k, s


# the first pass of the flat l1 threshold takes the maximum of every block of _SUB entries
_SUB = 64


def abs_bits(y):
    """``(bits, mask)``: the 1-D float array ``y`` seen as signed integers of its width and
    the mask that clears their sign bit (compiled form only, see the overload below)."""
    raise NotImplementedError("abs_bits runs inside compiled kernels only")


@overload(abs_bits)
def _abs_bits(y):
    if y.dtype == types.float64:
        return lambda y: (y.view(np.int64), ABS_BITS64)
    return lambda y: (y.view(np.int32), ABS_BITS32)


@njit(**JIT_OPTIONS)
def _lower(x, scale):
    """``x`` lowered by 4 ulps of ``scale >= |x|``: a lower bound computed with one rounding
    stays a lower bound."""
    return x - 4.0 * _EPS * scale


@njit(**JIT_OPTIONS)
def _screen_bits(y, radius, buf, lim, bmax):
    """First pass of :func:`l1_threshold_flat`: ``(max |y|, cnt)`` with the candidates, the
    entries above ``max |y| - radius`` (a lower bound of the threshold), in ``buf[:cnt]``.
    ``cnt = -1`` when there are more than ``lim`` of them, or when ``max |y| <= radius``
    (every entry may then be active, and the point may be inside the ball).  NaN or inf
    in ``y`` gives a non-finite maximum.

    The comparisons run on the bit patterns with the sign bit cleared: for non-negative
    floats they order like the values and NaN lies above inf, so the maxima are integer
    maxima, which vectorise (the float maximum does not without fast-math).  One pass
    stores the maximum of every block of ``_SUB`` entries in ``bmax`` (a loop of fixed
    length, fully vectorised; ``bmax`` has ``len(y) // _SUB`` entries of the bits' dtype);
    only the blocks whose maximum lies above the bound are read again.
    """
    yb, mask = abs_bits(y)
    n = y.shape[0]
    nb = n // _SUB
    zero = yb.dtype.type(0)
    for b in range(nb):
        base = b * _SUB
        bm = zero
        for j in range(_SUB):
            c = yb[base + j] & mask
            bm = c if c > bm else bm
        bmax[b] = bm
    m = zero
    for b in range(nb):
        m = bmax[b] if bmax[b] > m else m
    for i in range(nb * _SUB, n):
        c = yb[i] & mask
        m = c if c > m else m
    f1 = np.empty(1, dtype=y.dtype)
    b1 = f1.view(yb.dtype)
    b1[0] = m
    top = np.float64(f1[0])
    low = _lower(top - radius, top)
    if not (np.isfinite(top) and low > 0.0):
        return top, -1
    f1[0] = low
    if np.float64(f1[0]) > low:  # rounded up into y's dtype: one step down
        b1[0] -= 1
    lowb = b1[0]
    cnt = 0
    for b in range(nb):
        if bmax[b] > lowb:
            base = b * _SUB
            for j in range(_SUB):
                if (yb[base + j] & mask) > lowb:
                    buf[cnt] = abs(y[base + j])
                    cnt += 1
            if cnt > lim:
                return top, -1
    for i in range(nb * _SUB, n):
        if (yb[i] & mask) > lowb:
            buf[cnt] = abs(y[i])
            cnt += 1
    return top, cnt


@njit(**JIT_OPTIONS)
def _all_finite(y):
    """True when every entry of the 1-D ``y`` is finite."""
    for i in range(y.shape[0]):
        if not np.isfinite(y[i]):
            return False
    return True


@njit(**JIT_OPTIONS)
def l1_threshold(y, radius, buf):
    """Threshold of the Euclidean projection of ``y`` onto the l1 ball of ``radius``.

    Returns ``(tau, finite)``.  ``tau`` solves ``sum(max(|y| - tau, 0)) = radius`` when
    ``||y||_1 > radius``; otherwise it is ``<= 0`` (the point is inside the ball).
    ``finite`` is False when ``y`` holds NaN or inf (``tau`` is then meaningless).
    ``buf`` is float64 workspace of length ``>= len(y)``.  The first pass gives ``||y||_1``
    (as :func:`vec_norm` sums it, so that a radius equal to the norm is recognised as
    inside the ball), the second filters ``y`` at ``(||y||_1 - radius) / n``; see
    :func:`_l1_finish`.
    """
    total = vec_norm(y, Q1)
    if not np.isfinite(total) and not _all_finite(y):  # (a finite sum can overflow)
        return np.nan, False
    return _l1_finish(y, radius, buf, -1.0, total, np.int64(-1))


@njit(**JIT_OPTIONS)
def l1_threshold_flat(y, radius, buf, bmax):
    """:func:`l1_threshold` with the vectorised first pass of :func:`_screen_bits`, for one
    long vector.  ``buf`` may be shorter than ``y`` (at least ``2 * _SUB`` entries): the
    candidates of the first pass rarely exceed an eighth of ``y``, and a full-length
    workspace is allocated only when they do.  ``bmax`` receives the block maxima of
    :func:`_screen_bits`, which :func:`soft_threshold_blocks` reuses."""
    n = y.shape[0]
    rmax, cnt = _screen_bits(y, radius, buf, min(n // 8, buf.shape[0] - 2 * _SUB), bmax)
    if not np.isfinite(rmax):
        return np.nan, False
    tau, done = _l1_finish(y, radius, buf, rmax, -1.0, cnt)
    if not done:  # a pass that needs every entry: the generic threshold, full workspace
        return l1_threshold(y, radius, np.empty(n))
    return tau, True


@njit(**JIT_OPTIONS)
def _l1_finish(y, radius, buf, rmax, total, cnt):
    """The l1 threshold from the first pass: ``rmax = max |y|`` and ``total = ||y||_1``
    (either ``< 0``: not computed) and the ``cnt`` candidates in ``buf`` (``cnt < 0``:
    none stored, they are taken from ``y``).

    Exact, expected linear time.  The largest entry alone moves by at most the radius, so
    ``tau >= max|y| - radius``, and the first pass kept every entry above that bound.  When ``max|y| <= radius`` the point may be inside the ball
    (``||y||_1`` decides, summed as :func:`vec_norm` sums it); otherwise it is outside.
    Michelot's iteration ``tau <- (sum_{|y| > tau} |y| - radius) / #{|y| > tau}`` then
    starts from the larger of the lower bounds ``max|y| - radius`` and ``(||y||_1 -
    radius) / n`` and increases monotonically to the solution, so every value it discards
    is inactive; its passes are branch-free and shrink quickly.  Should a pass discard
    less than a tenth of the candidates, Condat's algorithm [CON] (worst-case robust)
    finishes on them.  The threshold is finally recomputed from the active set with a
    compensated sum, so it is exact to rounding.

    Returns ``(tau, done)``; ``done`` is False when a pass over every entry is needed and
    ``buf`` is shorter than ``y`` (the caller then runs :func:`l1_threshold` with a
    full-length workspace).
    """
    n = y.shape[0]
    if radius <= 0.0:
        if rmax < 0.0:
            rmax = vec_norm(y, QINF)
        return rmax, True
    if total < 0.0 and rmax <= radius:  # inside the ball only if ||y||_1 <= radius
        total = vec_norm(y, Q1)
    if total >= 0.0 and total <= radius:
        return (total - radius) / max(n, 1), True
    tau = -np.inf
    if rmax >= 0.0:
        tau = _lower(rmax - radius, rmax)
    if total >= 0.0:
        tau = max(tau, (total - radius) / n)
    # pass 2: the candidates above the first threshold, compacted into the workspace
    if cnt >= 0:
        k, s = _filter(buf, cnt, tau)
    else:  # the first pass met too many candidates (a large radius): filter y itself
        if buf.shape[0] < n:
            return np.nan, False
        k = np.int64(0)
        s = 0.0
        for i in range(n):
            a = abs(y[i])
            keep = a > tau
            buf[k] = a
            k += keep
            s += a if keep else 0.0
    cnt = k
    # Michelot passes on the shrinking candidate set.  A pass that keeps nothing (tau
    # rounded above every candidate: the radius is below the rounding of their sum, e.g.
    # equal entries) has overwritten the set; Condat's algorithm then runs on every entry.
    restart = cnt == 0
    while not restart:
        tau = (s - radius) / cnt
        k, s = _filter(buf, cnt, tau)
        if k == 0:
            restart = True
            break
        if k == cnt:
            break
        if k > 0.9 * cnt and k > 64:
            tau, cnt = _condat(buf, k, radius)
            break
        cnt = k
    if restart:
        if buf.shape[0] < n:
            return np.nan, False
        for i in range(n):
            buf[i] = abs(y[i])
        tau, cnt = _condat(buf, n, radius)
    # exact threshold from the active set (repeat while rounding moves an element across),
    # with a compensated sum: the error of tau is then a few ulps of tau whatever the size
    # of the set, even when the radius is far below the rounding of the sum
    s = 0.0
    for _ in range(4):
        s, tau = _active_threshold(buf, cnt, radius)
        k, _s = _filter(buf, cnt, tau)
        if k == cnt or k == 0:
            break
        cnt = k
    if radius < 16.0 * n * _EPS * s:
        # The radius is below the rounding of the naive sums that Michelot's and Condat's
        # comparisons use, which may then have dropped active entries.  A threshold
        # computed from a subset of the active set lies below the true one, so Michelot's
        # iteration over every entry, with compensated sums, climbs back to it.
        if buf.shape[0] < n:
            return np.nan, False
        for _ in range(16):
            k = np.int64(0)
            for i in range(n):
                a = abs(y[i])
                if a > tau:
                    buf[k] = a
                    k += 1
            if k == 0:  # nothing above tau: keep the threshold found so far
                break
            s, tau_k = _active_threshold(buf, k, radius)
            tau = tau_k
            if k == cnt:
                break
            cnt = k
    return tau, True


@njit(**JIT_OPTIONS)
def _active_threshold(buf, cnt, radius):
    """``(sum, (sum - radius) / cnt)`` for the values ``buf[:cnt]``, with a compensated sum
    (Neumaier) and an exact ``sum - radius`` (Fast2Sum), so that the threshold is exact to
    a few ulps whatever ``cnt``, even when ``radius`` is below the rounding of the sum."""
    s = 0.0
    c = 0.0
    for i in range(cnt):
        a = buf[i]
        t = s + a
        c += ((s - t) + a) if s >= a else ((a - t) + s)
        s = t
    d = s - radius  # Fast2Sum (s >= radius > 0): d + e == s - radius exactly
    e = (s - d) - radius
    return s, (d + (e + c)) / max(cnt, 1)


@njit(**JIT_OPTIONS)
def soft_threshold(v, tau):
    """``sign(v) * max(|v| - tau, 0)`` for finite ``v`` (identity for tau = 0, zero for
    tau = inf), as ``v - clip(v, -tau, tau)``: the same single rounding of ``|v| - tau``,
    and a loop of it vectorises (two selects and a subtraction)."""
    c = v if v < tau else tau
    c = c if c > -tau else -tau
    return v - c


@njit(**JIT_OPTIONS)
def soft_threshold_into(y, tau, out):
    """``out = sign(y) * max(|y| - tau, 0)`` for 1-D ``y``."""
    for i in range(y.shape[0]):
        out[i] = soft_threshold(y[i], tau)


@njit(**JIT_OPTIONS)
def abs_bits_max(a, t):
    """``max(a, |t|)`` on int64 bit patterns of float64 numbers (``a`` already has its sign
    bit cleared).  With the sign bit cleared, the bit patterns of non-negative float64
    numbers order like their values and NaN lies above inf, so an integer max is the bit
    pattern of ``max |x|`` and propagates NaN by itself: no side check, and the loops that
    call it vectorise without fast-math (the float max with a NaN check does not)."""
    c = t & ABS_BITS64
    return c if c > a else a


@njit(**JIT_OPTIONS)
def vec_norm(x, q):
    """``||x||_q`` of a 1-D array in float64, ``q`` a code of :mod:`.codes`.  A NaN in ``x``
    gives NaN, an inf gives inf or NaN: the result is finite exactly when ``x`` is.  The l2
    norm is exact to rounding at any magnitude (rescaled when its squares underflow or
    overflow)."""
    N = x.shape[0]
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    i = 0
    if q == QINF:
        # max is exact in any order; NaN (which max drops) is flagged on the side with an
        # OR, which carries no floating-point latency chain
        bad = False
        while i + 4 <= N:
            t0 = abs(x[i])
            t1 = abs(x[i + 1])
            t2 = abs(x[i + 2])
            t3 = abs(x[i + 3])
            bad |= (t0 != t0) | (t1 != t1) | (t2 != t2) | (t3 != t3)
            a0 = t0 if t0 > a0 else a0
            a1 = t1 if t1 > a1 else a1
            a2 = t2 if t2 > a2 else a2
            a3 = t3 if t3 > a3 else a3
            i += 4
        while i < N:
            t0 = abs(x[i])
            bad |= t0 != t0
            a0 = t0 if t0 > a0 else a0
            i += 1
        if bad:
            return np.nan
        a0 = a0 if a0 > a1 else a1
        a2 = a2 if a2 > a3 else a3
        return a0 if a0 > a2 else a2
    # sums with four accumulators: the additions do not wait on each other (fastmath is
    # off, so the compiler keeps this order and the result does not depend on the thread
    # count)
    if q == Q1:
        while i + 4 <= N:
            a0 += abs(x[i])
            a1 += abs(x[i + 1])
            a2 += abs(x[i + 2])
            a3 += abs(x[i + 3])
            i += 4
        while i < N:
            a0 += abs(x[i])
            i += 1
        return (a0 + a1) + (a2 + a3)
    # squares in float64 (np.float64: float() keeps float32 in Numba)
    while i + 4 <= N:
        t0 = np.float64(x[i])
        t1 = np.float64(x[i + 1])
        t2 = np.float64(x[i + 2])
        t3 = np.float64(x[i + 3])
        a0 += t0 * t0
        a1 += t1 * t1
        a2 += t2 * t2
        a3 += t3 * t3
        i += 4
    while i < N:
        t0 = np.float64(x[i])
        a0 += t0 * t0
        i += 1
    s = (a0 + a1) + (a2 + a3)
    if l2_needs_scaling(s):  # squares that underflowed or overflowed: scale
        return l2_scaled_vec(x)
    return np.sqrt(s)


# A float64 sum of squares s >= 2**-968 lost nothing to underflow: squares below the
# normal range (2**-1022) are off by at most 2**-1075 each, n 2**-107 of s in all.  A
# smaller s (every entry below about 1e-146), or an s that overflowed (an entry above about
# 1e154), is recomputed on entries scaled by the largest magnitude (``l2_scaled_*``).
# float32 data square in float64 without reaching either end.
L2_SAFE_LOW = 2.0**-968


@njit(**JIT_OPTIONS)
def l2_needs_scaling(s):
    """True when the float64 sum of squares ``s`` may have underflowed or overflowed (or is
    NaN): the norm is then recomputed by :func:`l2_scaled_vec` (on any 1-D view)."""
    return not (s >= L2_SAFE_LOW and s < np.inf)


@njit(**JIT_OPTIONS)
def l2_scaled_vec(x):
    """``||x||_2`` of a 1-D array as ``m * sqrt(sum((x / m)^2))`` with ``m = max |x|``: no
    square underflows or overflows.  NaN/inf in ``x`` gives NaN."""
    n = x.shape[0]
    m = 0.0
    chk = 0.0
    for i in range(n):
        a = abs(np.float64(x[i]))
        chk += a - a
        m = a if a > m else m
    if chk != 0.0:
        return np.nan
    if m == 0.0:
        return 0.0
    s = 0.0
    for i in range(n):
        t = np.float64(x[i]) / m
        s += t * t
    return m * np.sqrt(s)


@njit(**JIT_OPTIONS)
def project_l1_flat(y, radius, out):
    """Project the 1-D ``y`` onto the l1 ball into ``out``; return False on NaN/inf input."""
    n = y.shape[0]
    if n == 0:
        return True
    # workspace for the candidates of the first pass (see l1_threshold_flat)
    buf = np.empty(min(n, n // 8 + 2 * _SUB), dtype=np.float64)
    yb, _ = abs_bits(y)
    bmax = np.empty(n // _SUB, dtype=yb.dtype)
    tau, finite = l1_threshold_flat(y, radius, buf, bmax)
    if not finite:
        return False
    if radius == 0.0:
        out[:] = 0.0
    elif tau <= 0.0:
        for i in range(n):  # (a slice assignment from an array would compile Numba's
            out[i] = y[i]  # shape-mismatch message formatting)
    else:
        soft_threshold_blocks(y, tau, out, bmax)
    return True


@njit(**JIT_OPTIONS)
def soft_threshold_blocks(y, tau, out, bmax):
    """:func:`soft_threshold_into` for ``tau > 0`` given the block maxima ``bmax`` of
    :func:`_screen_bits`: a block whose largest magnitude is at most ``tau`` becomes zeros
    without reading ``y`` again (at a small radius, nearly every block)."""
    yb, _ = abs_bits(y)
    f1 = np.empty(1, dtype=y.dtype)
    b1 = f1.view(yb.dtype)
    f1[0] = tau
    if np.float64(f1[0]) > tau:  # rounded up into y's dtype: one step down
        b1[0] -= 1
    taub = b1[0]  # |y_i| <= tau exactly when its bits are <= taub
    n = y.shape[0]
    nb = n // _SUB
    for b in range(nb):
        base = b * _SUB
        if bmax[b] <= taub:
            for j in range(_SUB):
                out[base + j] = 0.0
        else:
            for j in range(_SUB):
                out[base + j] = soft_threshold(y[base + j], tau)
    for i in range(nb * _SUB, n):
        out[i] = soft_threshold(y[i], tau)


@njit(**JIT_OPTIONS)
def project_l2_flat(y, radius, out):
    """Scale ``y`` onto the l2 ball: ``y * min(1, radius / ||y||_2)``."""
    nrm = vec_norm(y, Q2)  # scaled where the squares underflow or overflow
    if not np.isfinite(nrm):  # NaN/inf in y
        return False
    if nrm <= radius:
        for i in range(y.shape[0]):
            out[i] = y[i]
    else:
        s = radius / nrm
        for i in range(y.shape[0]):
            out[i] = y[i] * s
    return True


@njit(**JIT_OPTIONS)
def project_linf_flat(y, radius, out):
    """Clip ``y`` to ``[-radius, radius]`` keeping signs."""
    if not np.isfinite(vec_norm(y, QINF)):
        return False
    for i in range(y.shape[0]):
        v = y[i]
        out[i] = min(max(v, -radius), radius)
    return True
