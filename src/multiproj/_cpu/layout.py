"""Map an array and the axes that a mixed norm reduces onto the canonical 3-D view that the
group kernels use: ``(A, N, B)``, group ``(a, b)`` = ``view[a, :, b]``.

The axes are first put in memory order (largest stride first) and size-1 axes dropped, so
C-ordered, F-ordered and many strided inputs map onto a view without copying.  Only when the
reduced axes are not adjacent in memory order (e.g. ``axis=(0, 2)`` of a C-ordered 3-D
array) is one transposed copy made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def reshape_view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``a.reshape(shape)`` if that needs no copy, else None."""
    try:
        return np.reshape(a, shape, copy=False)
    except ValueError:
        return None
    except TypeError:  # NumPy < 2.1 has no ``copy`` argument
        v = a.view()
        try:
            v.shape = shape
        except AttributeError:
            return None
        return v


@dataclass(frozen=True)
class GroupLayout:
    """How to see an array of ``shape`` as ``(A, N, B)`` with groups ``(a, b)``."""

    shape: tuple[int, ...]
    squeeze: tuple  # index that drops the size-1 axes
    perm: tuple[int, ...]  # transpose of the squeezed array into the order used
    canonical: tuple[int, int, int]  # (A, N, B)
    contiguous_run: bool  # False: a copy is needed to bring the reduced axes together

    def view(self, arr: np.ndarray) -> np.ndarray | None:
        """Canonical view of ``arr`` (same shape as the layout), or None if a copy is needed."""
        if not self.contiguous_run:
            return None
        # the Ellipsis keeps a view (not a scalar copy) when every axis has length 1
        return reshape_view(arr[self.squeeze + (Ellipsis,)].transpose(self.perm), self.canonical)

    def gather(self, arr: np.ndarray) -> np.ndarray:
        """Canonical view, or a C-ordered copy when no view exists."""
        v = self.view(arr)
        if v is not None:
            return v
        return np.ascontiguousarray(arr[self.squeeze].transpose(self.perm)).reshape(
            self.canonical
        )

    def unview(self, canon: np.ndarray) -> np.ndarray:
        """Array of ``shape`` that views the canonical array ``canon`` (the inverse map)."""
        squeezed_shape = tuple(self.shape[k] for k in range(len(self.shape)) if self.shape[k] != 1)
        permuted_shape = tuple(squeezed_shape[p] for p in self.perm)
        t = canon.reshape(permuted_shape).transpose(np.argsort(self.perm))
        return t.reshape(self.shape)


def group_layout(arr: np.ndarray, reduce_axes: tuple[int, ...]) -> GroupLayout:
    """Plan the canonical view of ``arr`` whose inner norm reduces ``reduce_axes``."""
    shape = arr.shape
    keep = [k for k in range(arr.ndim) if shape[k] != 1]
    squeeze = tuple(slice(None) if shape[k] != 1 else 0 for k in range(arr.ndim))
    # positions in the squeezed array
    red = {keep.index(k) for k in reduce_axes if shape[k] != 1}
    strides = [arr.strides[k] for k in keep]
    mem = sorted(range(len(keep)), key=lambda j: -abs(strides[j]))
    pos = [j for j, ax in enumerate(mem) if ax in red]
    sizes = [shape[keep[ax]] for ax in mem]
    if not pos:  # every reduced axis has length 1: one entry per group
        return GroupLayout(shape, squeeze, tuple(mem), (math.prod(sizes), 1, 1), True)
    lo, hi = pos[0], pos[-1] + 1
    if hi - lo == len(pos):
        canon = (math.prod(sizes[:lo]), math.prod(sizes[lo:hi]), math.prod(sizes[hi:]))
        return GroupLayout(shape, squeeze, tuple(mem), canon, True)
    grp = [ax for ax in mem if ax not in red]
    rd = [ax for ax in mem if ax in red]
    g = math.prod(shape[keep[ax]] for ax in grp)
    n = math.prod(shape[keep[ax]] for ax in rd)
    return GroupLayout(shape, squeeze, tuple(grp + rd), (g, n, 1), False)


# ------------------------------------------------- group values in keepdims (logical) order
def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` set to length 1 (the shape of the group norms)."""
    return tuple(1 if k in axes else s for k, s in enumerate(shape))


def to_keepdims(lay: GroupLayout, vc: np.ndarray, red: tuple[int, ...]) -> np.ndarray:
    """View the group values ``vc`` of layout ``lay`` (reducing ``red``; shape ``(A,)`` or
    ``(A, B)``) as an array of the layout's full shape with the reduced axes set to length 1
    (``keepdims`` style).

    The view keeps the memory order of the layout, so a later ``group_layout`` of it finds
    the remaining axes in the same order as in the original array (no transposed copy)."""
    shape = lay.shape
    keep = [k for k in range(len(shape)) if shape[k] != 1]
    permuted = tuple(1 if keep[p] in red else shape[keep[p]] for p in lay.perm)
    t = vc.reshape(permuted).transpose(np.argsort(lay.perm))
    return t.reshape(tuple(1 if k in red else shape[k] for k in range(len(shape))))


def to_canonical(lay: GroupLayout, k: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_keepdims`: a keepdims-shaped array of per-group values in the
    canonical group order of ``lay`` (shape ``(A,)`` or ``(A, B)``), as a C-contiguous
    float64 array (a copy only when the orders differ)."""
    keep = [j for j in range(len(lay.shape)) if lay.shape[j] != 1]
    A, _, B = lay.canonical
    t = k.reshape(tuple(k.shape[j] for j in keep)).transpose(lay.perm)
    return np.ascontiguousarray(t, dtype=np.float64).reshape((A,) if B == 1 else (A, B))
