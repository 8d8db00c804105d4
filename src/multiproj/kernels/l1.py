"""Vector kernels: the l1 ball (Condat's algorithm), the l2 ball and the l_inf ball.

All functions trust their inputs (1-D float arrays, finite radius >= 0) and accumulate in
float64 whatever the input dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def l1_threshold(y, radius, buf):
    """Threshold of the Euclidean projection of ``y`` onto the l1 ball of ``radius``.

    Returns ``(tau, finite)``.  ``tau`` solves ``sum(max(|y| - tau, 0)) = radius`` when
    ``||y||_1 > radius``; otherwise it is ``<= 0`` (the point is inside the ball).
    ``finite`` is False when ``y`` holds NaN or inf (``tau`` is then meaningless).

    Condat's algorithm [CON] on ``|y|``, expected linear time: one online pass keeps a list
    ``v`` of candidates and a running estimate ``rho`` of the threshold, a second pass
    recovers candidates that were set aside too early, and a clean-up loop removes the
    candidates that fall below ``rho``.  ``rho`` never decreases, so every value dropped on
    the way lies below the final threshold.  The threshold is then recomputed from the final
    active set with one float64 sum, so the result is exact to rounding (no drift from the
    incremental updates).

    ``buf`` is float64 workspace of length ``>= len(y)``; candidates live in it as two
    adjacent blocks, ``buf[:vt_end]`` (set aside) and ``buf[vt_end:v_end]`` (current).
    """
    n = y.shape[0]
    chk = 0.0  # stays 0 for finite input, becomes NaN on NaN or inf
    a = abs(y[0])
    chk += a - a
    buf[0] = a
    vt_end = 0
    v_end = 1
    rho = a - radius
    for i in range(1, n):
        a = abs(y[i])
        chk += a - a
        if a > rho:
            rho += (a - rho) / (v_end - vt_end + 1)
            if rho > a - radius:
                buf[v_end] = a
                v_end += 1
            else:
                # the current candidates are set aside; a starts a new list
                vt_end = v_end
                buf[v_end] = a
                v_end += 1
                rho = a - radius
    if chk != 0.0:
        return np.nan, False
    # second pass: set-aside values that are above rho join the candidates
    cnt = v_end
    if vt_end > 0:
        nv = v_end - vt_end
        k = 0
        for i in range(vt_end):
            w = buf[i]
            if w > rho:
                buf[k] = w
                k += 1
                nv += 1
                rho += (w - rho) / nv
        for i in range(vt_end, v_end):
            buf[k] = buf[i]
            k += 1
        cnt = k
    # clean-up: drop candidates <= rho until none moves
    while True:
        k = 0
        c = cnt
        for i in range(cnt):
            w = buf[i]
            if w > rho:
                buf[k] = w
                k += 1
            else:
                c -= 1
                if c > 0:
                    rho += (rho - w) / c
        if k == cnt or k == 0:
            cnt = k
            break
        cnt = k
    if cnt == 0:
        return rho, True
    # exact threshold from the active set: tau = (sum(active) - radius) / |active|;
    # repeat while rounding moves an element across it (rarely more than once)
    for _ in range(4):
        s = 0.0
        for i in range(cnt):
            s += buf[i]
        tau = (s - radius) / cnt
        k = 0
        for i in range(cnt):
            if buf[i] > tau:
                buf[k] = buf[i]
                k += 1
        if k == cnt or k == 0:
            break
        cnt = k
    return tau, True


@njit(**JIT_OPTIONS)
def soft_threshold_into(y, tau, out):
    """``out = sign(y) * max(|y| - tau, 0)`` (identity for tau = 0, zeros for tau = inf)."""
    for i in range(y.shape[0]):
        v = y[i]
        t = abs(v) - tau
        if t > 0.0:
            out[i] = t if v >= 0.0 else -t
        else:
            out[i] = 0.0


@njit(**JIT_OPTIONS)
def project_l1_flat(y, radius, out):
    """Project the 1-D ``y`` onto the l1 ball into ``out``; return False on NaN/inf input."""
    n = y.shape[0]
    if n == 0:
        return True
    buf = np.empty(n, dtype=np.float64)
    tau, finite = l1_threshold(y, radius, buf)
    if not finite:
        return False
    if radius == 0.0:
        out[:] = 0.0
    elif tau <= 0.0:
        out[:] = y
    else:
        soft_threshold_into(y, tau, out)
    return True


@njit(**JIT_OPTIONS)
def l1_norm_flat(y):
    s = 0.0
    for i in range(y.shape[0]):
        s += abs(y[i])
    return s


@njit(**JIT_OPTIONS)
def l2_norm_flat(y):
    s = 0.0
    for i in range(y.shape[0]):
        s += float(y[i]) * float(y[i])
    return np.sqrt(s)


@njit(**JIT_OPTIONS)
def linf_norm_flat(y):
    m = 0.0
    chk = 0.0
    for i in range(y.shape[0]):
        a = abs(y[i])
        chk += a - a
        if a > m:
            m = a
    return m + chk


@njit(**JIT_OPTIONS)
def project_l2_flat(y, radius, out):
    """Scale ``y`` onto the l2 ball: ``y * min(1, radius / ||y||_2)``."""
    nrm = l2_norm_flat(y)
    if not np.isfinite(nrm):
        # NaN/inf in y, or squares that overflow: rescale by the largest magnitude
        m = linf_norm_flat(y)
        if not np.isfinite(m):
            return False
        s = 0.0
        for i in range(y.shape[0]):
            t = y[i] / m
            s += t * t
        nrm = m * np.sqrt(s)
    if nrm <= radius:
        out[:] = y
    else:
        s = radius / nrm
        for i in range(y.shape[0]):
            out[i] = y[i] * s
    return True


@njit(**JIT_OPTIONS)
def project_linf_flat(y, radius, out):
    """Clip ``y`` to ``[-radius, radius]`` keeping signs."""
    if not np.isfinite(linf_norm_flat(y)):
        return False
    for i in range(y.shape[0]):
        v = y[i]
        out[i] = min(max(v, -radius), radius)
    return True
