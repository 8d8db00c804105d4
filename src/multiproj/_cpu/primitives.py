"""The primitives interface on NumPy arrays (and the NumPy views of CPU tensors).

The steps of the bi-level and multi-level projections [MLP] on arrays whose groups are
given by the axes the inner norm reduces, with per-group values in ``keepdims`` shape (the
reduced axes of length 1), so they broadcast against the data and their order does not
depend on memory layout.  :mod:`multiproj._torch.primitives` has the same names and
signatures on tensors; :mod:`multiproj.dask` and :mod:`multiproj.distributed` combine
them on pieces of an array (chunks, shards).

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.
"""

from __future__ import annotations

import numpy as np

from .._core.checks import raise_not_finite
from .._core.registry import PRIMITIVES
from . import groups
from .layout import group_layout, keepdims_shape, to_canonical, to_keepdims

__all__ = list(PRIMITIVES)


def group_norms(y: np.ndarray, q: str, axes: tuple[int, ...]) -> np.ndarray:
    """Inner l_q norms ``v_g = ||y_g||_q`` of the groups of ``y`` (the slices along the axes
    not in ``axes``), as a float64 array of ``y``'s shape with ``axes`` of length 1.

    NaN/inf in a group makes its norm non-finite."""
    kshape = keepdims_shape(y.shape, axes)
    if y.size == 0:
        return np.zeros(kshape)
    lay = group_layout(y, axes)
    return to_keepdims(lay, groups.group_norms(lay.gather(y), q), axes).reshape(kshape)


def finite_group_norms(y: np.ndarray, q: str, axes: tuple[int, ...]) -> np.ndarray:
    """:func:`group_norms`, raising ValueError when ``y`` holds NaN or inf."""
    v = group_norms(y, q, axes)
    if not np.isfinite(v).all():
        raise_not_finite()
    return v


def outer_l1(v: np.ndarray, radius: float) -> tuple[np.ndarray, bool]:
    """``(P_l1(v, radius), inside)`` for non-negative group norms ``v`` (any shape).

    ``u`` has ``v``'s shape (float64); ``inside`` is True when ``sum(v) <= radius`` (then
    ``u = v``).  Step 2 of the bi-level projection [MLP s.3]: ``u_g = max(v_g - tau, 0)``."""
    u, inside = groups.outer_l1(v, radius)
    return u.reshape(np.shape(v)), inside


def apply_group_radii(y: np.ndarray, q: str, v: np.ndarray, u: np.ndarray,
                      axes: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """Project every group ``y_g`` onto the l_q ball of radius ``u_g``; ``v`` (the groups'
    l_q norms) and ``u`` are keepdims-shaped like :func:`group_norms`.

    For q = inf and q = 2 the result of a group only needs ``u`` and ``v`` (clip, scale), so
    ``y`` may also be a piece of every group (a chunk along the reduced axes) as long as
    ``v`` holds the norms of the whole groups.  q = 1 needs whole groups.  ``out`` may be
    None (a new array), another array or ``y`` itself."""
    if y.size == 0:
        return np.empty_like(y) if out is None else out
    lay = group_layout(y, axes)

    def fn(xc, oc):
        groups.apply_group_radii(xc, oc, q, to_canonical(lay, v), to_canonical(lay, u))

    return groups.run_on_groups(y, out, axes, fn)


def soft_threshold(y: np.ndarray, tau: np.ndarray, axes: tuple[int, ...] | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """``sign(y) * max(|y| - tau_g, 0)`` per group, as ``y - clip(y, -tau_g, tau_g)`` with
    the clipping kernel (``tau`` keepdims-shaped for the groups reducing ``axes``, every
    axis when None; groups with ``tau_g = inf`` become 0)."""
    if axes is None:
        axes = tuple(range(y.ndim))
        tau = np.reshape(tau, (1,) * y.ndim)
    clipped = apply_group_radii(y, "inf", np.full(tau.shape, np.inf), tau, axes)
    return np.subtract(y, clipped, out=out)


class L1Sums:
    """Sums and counts of the entries ``|a| > tau_g`` of every group of ``a`` (the local
    piece of groups split across ranks), for l1 thresholds found collectively.

    One kernel pass over the canonical view (no copy) per call while many entries are
    above ``tau``; then the few remaining entries are kept in a list (``tau`` only grows
    between calls, so the list only shrinks) and a call costs O(list length).

    Parameters
    ----------
    a : ndarray
        The data (signed; the kernel takes ``|a|``).
    axes : tuple of int
        The axes the norm reduces.
    kshape : tuple of int
        The keepdims shape of the groups.
    """

    COMPACT = 0.1  # switch to the list when fewer than this fraction of entries remain

    def __init__(self, a: np.ndarray, axes: tuple[int, ...], kshape: tuple[int, ...]):
        self.G = int(np.prod(kshape))
        self.cand = None
        if a.size == 0:
            self.b = None
            return
        lay = group_layout(a, axes)
        self.b = lay.gather(a)
        A, _, B = self.b.shape
        self.cshape = (A, 1, B)
        # knum[canonical group] = its index in keepdims (C) order, the order shared by ranks
        knum = np.arange(self.G, dtype=np.float64).reshape(kshape)
        self.knum = to_canonical(lay, knum).reshape(-1).astype(np.int64)

    def sums(self, tf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(S, C)``: float64 sums and counts of the entries above ``tf`` (the thresholds,
        flat in keepdims order), flat in keepdims order."""
        S, C = np.zeros(self.G), np.zeros(self.G)
        if self.b is None and self.cand is None:  # an empty piece
            return S, C
        if self.cand is None:
            from ..kernels.collective import sums_above

            A, _, B = self.cshape
            tc = np.ascontiguousarray(tf[self.knum].reshape(A, B))
            sc, cc = np.empty((A, B)), np.empty((A, B))
            sums_above(self.b, tc, sc, cc)
            S[self.knum], C[self.knum] = sc.reshape(-1), cc.reshape(-1)
            if C.sum() < self.COMPACT * self.b.size:  # few entries left: keep them in a list
                absb = np.abs(self.b)
                mask = absb > tc.reshape(self.cshape)
                ia, _, ib = np.nonzero(mask)
                self.cand = (absb[mask], self.knum[ia * B + ib])
                self.b = None
            return S, C
        vals, gid = self.cand
        keep = vals > tf[gid]
        self.cand = vals, gid = vals[keep], gid[keep]
        return (np.bincount(gid, weights=vals, minlength=self.G),
                np.bincount(gid, minlength=self.G).astype(np.float64))


class GroupView:
    """The groups of one array's storage, laid out once for repeated in-place bi-level
    steps on it (a constrained weight projected after every optimiser step).

    The canonical ``(A, N, B)`` view of :mod:`multiproj._cpu.layout` is planned at
    construction; :meth:`norms` and :meth:`apply` then run the group kernels on it with no
    per-call layout work.  Per-group values are flat float64 arrays in the canonical group
    order (the same order for every call on this view).

    Parameters
    ----------
    y : ndarray
        float32 or float64, written in place by :meth:`apply`.
    axes : tuple of int
        The axes the inner norm reduces.

    Raises
    ------
    ValueError
        When the groups of ``y`` admit no canonical view (the reduced axes are not
        adjacent in memory order): :func:`apply_group_radii` then works on a copy.
    """

    def __init__(self, y: np.ndarray, axes: tuple[int, ...]):
        lay = group_layout(y, axes)
        xc = lay.view(y) if y.size else None
        if xc is None or not y.flags.writeable:
            raise ValueError("The groups of this array admit no writable canonical view.")
        self.xc = xc
        A, _, B = xc.shape
        self.gshape = (A,) if B == 1 else (A, B)
        self.n_groups = A * B

    def norms(self, q: str) -> np.ndarray:
        """Flat float64 inner l_q norms of the groups (ValueError on NaN or inf)."""
        return groups.finite_group_norms(self.xc, q).reshape(-1)

    def apply(self, q: str, v: np.ndarray, u: np.ndarray) -> None:
        """Project group ``g`` onto the l_q ball of radius ``u[g]`` in place (``v[g]`` its
        current l_q norm, as from :meth:`norms`)."""
        groups.apply_group_radii(self.xc, self.xc, q, v.reshape(self.gshape), u.reshape(self.gshape))
