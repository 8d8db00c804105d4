"""Group operations on canonical ``(A, N, B)`` views (group ``(a, b)`` = ``view[a, :, b]``,
see :mod:`multiproj._cpu.layout`): the Numba kernels' drivers that every CPU solver uses.

The arrays are trusted: float32/float64, checked by the API.  Non-finite input is found in
the first, read-only pass (the group norms) and raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._core.checks import raise_not_finite
from .layout import group_layout

from ..kernels.codes import Q_CODES


def run_on_groups(y: np.ndarray, out, axes: tuple[int, ...], fn: Callable) -> np.ndarray:
    """Call ``fn(xc, oc)`` on canonical ``(A, N, B)`` views of ``y`` and of the output.

    Views are used whenever the memory layout allows; otherwise ``y`` is gathered into a
    C-ordered copy, which then also serves as the output buffer.
    """
    lay = group_layout(y, axes)
    xc = lay.view(y)
    copied = xc is None
    if copied:
        xc = lay.gather(y)
    if out is None:
        oc = xc if copied else np.empty(lay.canonical, dtype=y.dtype)
        fn(xc, oc)
        return lay.unview(oc)
    oc = lay.view(out)
    if oc is None:
        oc = xc if copied else np.empty(lay.canonical, dtype=y.dtype)
        fn(xc, oc)
        np.copyto(out, lay.unview(oc))
    else:
        fn(xc, oc)
    return out


def _threads() -> int:
    import numba

    return numba.get_num_threads()


# --------------------------------------------------------------------------- group norms
def group_norms(xc: np.ndarray, q: str) -> np.ndarray:
    """Inner norms of the canonical view: shape ``(A,)`` (rows layout) or ``(A, B)``."""
    from ..kernels import grouped as k
    from ..kernels.compile import for_threads as pick

    A, N, B = xc.shape
    # float64 maxima on the integer bits: vectorised, NaN propagates (see rows_linf64)
    bits = q == "inf" and xc.dtype == np.float64 and N > 1
    if B == 1:
        v = np.empty(A)
        if bits:
            pick(k.rows_linf64)(xc[:, :, 0].view(np.int64), v)
        else:
            pick(k.group_norms_rows)(xc[:, :, 0], Q_CODES[q], v)
    else:
        v = np.empty((A, B))
        if bits:
            pick(k.cols_linf64)(xc.view(np.int64), v, _threads())
        else:
            pick(k.group_norms_cols)(xc, Q_CODES[q], v, _threads())
    return v


def finite_group_norms(xc: np.ndarray, q: str) -> np.ndarray:
    """:func:`group_norms`, raising ValueError when the view holds NaN or inf."""
    v = group_norms(xc, q)
    if not np.isfinite(v).all():
        raise_not_finite()
    return v


def apply_group_radii(xc: np.ndarray, oc: np.ndarray, q: str, v: np.ndarray, u: np.ndarray) -> None:
    """Project each group onto its own l_q ball: group ``g`` to radius ``u[g]``."""
    from ..kernels.compile import for_threads as pick
    from ..kernels.grouped import apply_l1_cols, apply_radii_cols, apply_radii_rows

    # the same memory seen through two views: let the kernel work on one array
    inplace = xc.ctypes.data == oc.ctypes.data and xc.strides == oc.strides
    if xc.shape[2] == 1:
        pick(apply_radii_rows)(xc[:, :, 0], Q_CODES[q], v, u, oc[:, :, 0], inplace)
    elif q == "1":
        pick(apply_l1_cols)(xc, v, u, oc)
    else:
        pick(apply_radii_cols)(xc, Q_CODES[q], v, u, oc, _threads(), inplace)


def outer_l1(v: np.ndarray, radius: float) -> tuple[np.ndarray, bool]:
    """``(P_l1(v, radius), inside)`` for a non-negative vector (any shape) of group norms:
    ``u = max(v - tau, 0)`` with the exact l1 threshold ``tau`` of the flat vector;
    ``inside`` is True when ``sum(v) <= radius`` (then ``u = v``).  The threshold kernel is
    called directly (the few element-wise steps on the group norms are NumPy's)."""
    from ..kernels.vector import l1_threshold

    flat = np.array(v, dtype=np.float64).reshape(-1)  # a new array: it becomes u
    radius = float(radius)
    if flat.shape[0] == 0:
        return flat.reshape(np.shape(v)), True
    tau, _ = l1_threshold(flat, radius, np.empty(flat.shape[0]))
    if radius == 0.0:
        flat[:] = 0.0
        return flat.reshape(np.shape(v)), False
    if tau <= 0.0:
        return flat.reshape(np.shape(v)), True
    np.subtract(flat, tau, out=flat)
    np.maximum(flat, 0.0, out=flat)
    return flat.reshape(np.shape(v)), False
