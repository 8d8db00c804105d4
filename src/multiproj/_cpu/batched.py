"""Batched flat balls on NumPy arrays: one l1, l2 or l_inf ball per index of the axes that
the balls do not span, each with its own radius (:mod:`multiproj.kernels.batched`).

The balls are the groups of the canonical ``(A, N, B)`` view of the balls' axes
(:mod:`multiproj._cpu.layout`), so C-ordered, F-ordered and many strided inputs are used
without a copy whichever axes the balls span.
"""

from __future__ import annotations

import numpy as np

from .._core.checks import raise_not_finite
from .._core.threads import SERIAL_BELOW
from .groups import finite_group_norms, run_on_groups
from .layout import group_layout, keepdims_shape, to_canonical, to_keepdims

_QCODE = {"2": 2, "inf": 3}


def _kernel(name: str, size: int):
    """The serial or the parallel twin of kernel ``name``: parallel for large arrays when
    more than one thread is set."""
    import numba

    from ..kernels import batched as k

    par = size >= SERIAL_BELOW and numba.get_num_threads() > 1
    return getattr(k, f"{name}_{'parallel' if par else 'serial'}")


def project_batched(y: np.ndarray, radius, q: str, axes: tuple[int, ...], out=None) -> np.ndarray:
    """Project every ball of ``y`` (spanning ``axes``; the other axes index the balls) onto
    its l_q ball, ``q`` in {"1", "2", "inf"}.

    ``radius`` is a float or a float64 array of the batch shape (``y.shape`` without
    ``axes``); ``out`` None (a new array), a checked array, or ``y`` itself.  Raises
    ValueError before anything is written when ``y`` holds NaN or inf (with ``out=None``
    only the new array may have been written)."""
    kshape = keepdims_shape(y.shape, axes)
    lay = group_layout(y, axes)
    r = np.asarray(radius, dtype=np.float64)
    r = r.reshape(kshape) if r.ndim else np.broadcast_to(r, kshape)  # (batch-shaped radii)
    rc = to_canonical(lay, r)
    fresh = out is None  # a private output may be written before every ball is checked

    def fn(xc, oc):
        rows = xc.shape[2] == 1
        x = xc[:, :, 0] if rows else xc
        o = oc[:, :, 0] if rows else oc
        lay_name = "rows" if rows else "cols"
        size = xc.size
        if q == "1":
            tau = np.empty(rc.shape)
            bad = _kernel(f"l1_{lay_name}", size)(x, rc, tau, o, fresh)
            if bad:
                raise_not_finite()
            if not fresh:
                _kernel(f"soft_{lay_name}", size)(x, tau, o)
            return
        f = np.empty(rc.shape)
        if _kernel(f"l2linf_{lay_name}", size)(x, _QCODE[q], rc, f):
            raise_not_finite()
        _kernel(f"apply_{lay_name}", size)(x, _QCODE[q], f, o)

    return run_on_groups(y, out, axes, fn)


def batched_norms(y: np.ndarray, q: str, axes: tuple[int, ...]) -> np.ndarray:
    """The l_q norm of every ball of ``y`` (spanning ``axes``), as a float64 array of the
    batch shape (``y.shape`` without ``axes``)."""
    batch = tuple(n for k, n in enumerate(y.shape) if k not in axes)
    if y.size == 0:
        return np.zeros(batch)
    lay = group_layout(y, axes)
    v = finite_group_norms(lay.gather(y), q)
    return np.ascontiguousarray(to_keepdims(lay, v, axes)).reshape(batch)
