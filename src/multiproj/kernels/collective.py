"""Kernel for the collective l1 thresholds of groups split across ranks
(:mod:`multiproj.distributed`): per group, the sum and the number of entries ``|x| > tau``.

One read of the canonical ``(A, N, B)`` view (group ``(a, b)`` = ``x[a, :, b]``), parallel
over independent blocks of groups; sums in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._core.config import PARALLEL_OPTIONS

_BLOCK = 256  # groups per parallel task along b (contiguous in memory)


@njit(**PARALLEL_OPTIONS)
def sums_above(x, tau, s, c):
    """``s[a, b] = sum(|x[a, i, b]| for |x[a, i, b]| > tau[a, b])`` and ``c[a, b]`` their
    number (float64 outputs of shape ``(A, B)``)."""
    A, N, B = x.shape
    nb = (B + _BLOCK - 1) // _BLOCK
    for t in prange(A * nb):
        a = t // nb
        b0 = (t % nb) * _BLOCK
        w = min(B, b0 + _BLOCK) - b0
        lim = np.empty(w)
        acc = np.zeros(w)
        cnt = np.zeros(w)
        for k in range(w):
            lim[k] = tau[a, b0 + k]
        for i in range(N):
            xi = x[a, i, b0 : b0 + w]  # a contiguous row segment: the loop vectorises
            for k in range(w):
                v = abs(float(xi[k]))
                m = v > lim[k]
                acc[k] += v if m else 0.0
                cnt[k] += 1.0 if m else 0.0
        for k in range(w):
            s[a, b0 + k] = acc[k]
            c[a, b0 + k] = cnt[k]
