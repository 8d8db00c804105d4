r"""Projections of Dask arrays: lazy, chunk-parallel, for arrays larger than memory.

:func:`project` builds a Dask graph of the bi-level [MLP s.3] or multi-level [MLP s.4]
projection; nothing is computed until the result is.  The graph reuses the NumPy kernels
of the CPU primitives interface (:mod:`multiproj._cpu.primitives`) on every chunk (no
kernel is re-implemented here):

1. **Group norms, chunk by chunk**: every chunk gives the partial norms of the pieces of
   groups it holds (``group_norms``); a Dask tree reduction combines the pieces
   along the reduced axes (sum of ``|x|`` for q = 1, sum of ``x**2`` then a square root
   for q = 2, max for q = inf).  For a multi-level ball this repeats level by level.
2. **One l1 projection**: the vector of group norms ``V_1`` (one entry per group, small)
   is put in one chunk and projected once (``outer_l1``): ``U_1 = P_l1(V_1, radius)``.
3. **Per-group projection, chunk by chunk** (``map_blocks``): each chunk is projected with
   the radii of its groups (``apply_group_radii``): clip at ``u_g`` (q = inf) or
   scale by ``u_g / v_g`` (q = 2), which only needs the norms of the whole groups, so any
   chunking works.  An l1 inner norm (q = 1) needs each group's own l1 threshold: for it
   the chunks are merged along the reduced axes (whole groups per chunk) for this step,
   then split back to the input's chunks.

Memory: by default (``compute_radii=True``) the group norms and the radii are computed
when :func:`project` is called: one streaming pass over the chunks (each chunk is read,
reduced to its partial norms and dropped), then the returned array is a lazy second pass
whose chunks depend only on the input chunk and the small radii.  Peak memory is then a few
chunks per thread whatever the size of the array, at the price of reading (or
generating) every chunk twice.  ``compute_radii=False`` keeps everything in one lazy graph,
but then every input chunk is needed by both passes and Dask keeps all of them in memory
until the radii are known: use it only when the array fits in memory.  (Cloning the
input's graph with :func:`dask.graph_manipulation.bind` instead does recompute the chunks,
but Dask's local scheduler then orders all the cloned chunks before their consumers, so
it does not bound memory either.)

NaN or inf in the data raise ValueError when the radii are computed (at the call, or
when the result is computed with ``compute_radii=False``).

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._core.ball import parse_ball
from ._core.checks import check_radius, raise_not_finite
from ._core.plan import resolve
from ._core.registry import get_method
from ._core.types import Axis, BallLike, Levels, Scalar

if TYPE_CHECKING:
    import dask.array as da
from ._cpu import primitives as cpu

__all__ = ["project", "group_norms"]


# --------------------------------------------------------------------------- chunk functions
def _partial_norms(block, axis, keepdims, q):
    v = cpu.group_norms(np.asarray(block), q, tuple(axis))
    return v * v if q == "2" else v


def _combine(x, axis, keepdims, q):
    if q == "inf":
        return np.max(x, axis=axis, keepdims=True)
    return np.sum(x, axis=axis, keepdims=True)


def _aggregate(x, axis, keepdims, q):
    v = _combine(x, axis, keepdims, q)
    return np.sqrt(v) if q == "2" else v


def _outer_block(v, radius):
    if not np.isfinite(v).all():
        raise_not_finite()
    u, _ = cpu.outer_l1(v, radius)
    return u


def _apply_block(x, v, u, axes, q):
    return cpu.apply_group_radii(np.asarray(x), q, v, u, axes)


# --------------------------------------------------------------------------- graph pieces
def _norms(x, axes, q):
    """Lazy keepdims group norms of the dask array ``x`` (float64)."""
    import functools

    import dask.array as da

    return da.reduction(
        x,
        chunk=functools.partial(_partial_norms, q=q),
        combine=functools.partial(_combine, q=q),
        aggregate=functools.partial(_aggregate, q=q),
        axis=axes,
        keepdims=True,
        dtype=np.float64,
        concatenate=True,
        name=f"multiproj-norms-l{q}",
    )


def _as_float(darray):
    import dask.array as da

    if not isinstance(darray, da.Array):
        raise TypeError(
            f"The 'darray' parameter must be a dask.array.Array. Got {type(darray).__name__} "
            "instead (use multiproj.project for NumPy arrays)."
        )
    kind, size = darray.dtype.kind, darray.dtype.itemsize
    if kind == "f" and size in (4, 8):
        return darray
    if kind in "biu":
        return darray.astype(np.float64)
    if kind == "f":
        return darray.astype(np.float32 if size < 4 else np.float64)
    raise TypeError(
        "The 'darray' parameter must hold real (float, int or bool) data. "
        f"Got dtype {darray.dtype} instead."
    )


def _levels(x, ball, method, axis, levels):
    """The levels (axes per level, outermost first) and their norms."""
    m, b = get_method(method).name, parse_ball(ball)
    if b.is_flat and (m != "exact" or b.norms[0] == "1"):
        raise ValueError(
            f"multiproj.dask supports the flat balls 'l2' and 'linf' with method='exact'. "
            f"Got ball={b.name!r}, method={m!r}; the flat l1 ball needs every "
            "entry at once (use multiproj.project on a NumPy array)."
        )
    plan = resolve(m, b, x.ndim, axis, levels)
    if b.order == 2 and m == "exact" and b.inner != "2":
        raise ValueError(
            f"multiproj.dask does not support method={m!r} with the ball {b.name!r}; "
            "use method='bilevel' (l1,inf, l1,1, l1,2), method='multilevel' (l1,q2,...,qk), "
            "or method='exact' for l1,2, l2 and linf."
        )
    return plan.chain()


def group_norms(darray: da.Array, ball: BallLike, *, axis: Axis = None, levels: Levels = None) -> da.Array:
    """Lazy group norms ``V_1`` (float64 dask array, keepdims shape) of the l1,q or
    multi-level ball: ``||x||_ball = V_1.sum()``."""
    ball = parse_ball(ball)
    x = _as_float(darray)
    method = "multilevel" if levels is not None else ("exact" if ball.is_flat else "bilevel")
    lv, qs = _levels(x, ball, method, axis, levels)
    v = x
    for lvl in range(len(lv) - 1, 0, -1):
        v = _norms(v, lv[lvl], qs[lvl])
    return v


def project(
    darray: da.Array, radius: Scalar, ball: BallLike, *, method: str = "bilevel", axis: Axis = None,
    levels: Levels = None, compute_radii: bool = True,
) -> da.Array:
    r"""Lazy projection of a Dask array onto the l1,q (bi-level) or multi-level ball.

    The result equals :func:`multiproj.project` of the whole array (to rounding), computed
    chunk by chunk; see the module docstring for the graph and its memory use.

    Parameters
    ----------
    darray : dask.array.Array
        Any chunking.  float32 and float64 are kept; integer and boolean data are converted
        to float64 (float16 to float32) lazily.
    radius : float
        Radius ``r >= 0``.
    ball : {"l1,inf", "l1,1", "l1,2"} or "l1,q2,...,qk", or {"l2", "linf"}
        The norm, as in :func:`multiproj.project`.
    method : {"bilevel", "multilevel", "exact"}
        ``"bilevel"`` [MLP s.3]; ``"multilevel"`` [MLP s.4] with ``levels``; ``"exact"``
        for l1,2 (= bi-level) and the flat l2 and linf balls.
    axis : None, int or tuple of int, default None
        Axes reduced by the inner norm (bi-level; None means 0), as in
        :func:`multiproj.project`.  Flat balls take ``axis=None`` only (one ball over every
        axis; batched flat balls raise ValueError).
    levels : tuple, optional
        Axes of every level, outermost first (``method="multilevel"`` only).
    compute_radii : bool, default True
        True: the group norms and radii are computed now (one streaming pass over the
        chunks with the current Dask scheduler), and the result is a lazy pass that needs
        one input chunk at a time: peak memory stays at a few chunks whatever the array
        size.  False: fully lazy, one graph; Dask then keeps every input chunk in memory
        until the radii are known (fine for arrays that fit in memory).

    Returns
    -------
    dask.array.Array
        Lazy projection, same shape, chunks and float dtype as ``darray``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, at once.  NaN or inf in the data: ValueError when computed.

    Examples
    --------
    >>> import dask.array as da, multiproj.dask
    >>> Y = da.random.default_rng(0).standard_normal((1000, 20_000), chunks=(250, 5000))
    >>> X = multiproj.dask.project(Y, 100.0, "l1,inf", axis=0)    # lazy
    >>> nz = (abs(X).max(axis=0) > 0).sum().compute()               # selected columns
    """
    import dask
    import dask.array as da

    ball = parse_ball(ball)
    radius = check_radius(radius)
    x = _as_float(darray)
    if not isinstance(compute_radii, bool):
        raise TypeError(
            f"The 'compute_radii' parameter must be True or False. Got {compute_radii!r} instead."
        )
    lv, qs = _levels(x, ball, method, axis, levels)
    k = len(lv)
    if x.size == 0:
        return x.copy()
    # aggregation, inside out: vs[l] = V_l, vs[k-1] = x
    vs: list[Any] = [None] * k
    vs[k - 1] = x
    for lvl in range(k - 1, 0, -1):
        vs[lvl - 1] = _norms(vs[lvl], lv[lvl], qs[lvl])
    v1 = vs[0].rechunk(vs[0].shape)
    u = v1.map_blocks(_outer_block, radius, dtype=np.float64, name="multiproj-outer-l1")
    if compute_radii:
        # one streaming pass now; the small arrays enter the graph as constants
        small = dask.compute(*vs[: k - 1], u)
        vs[: k - 1] = [da.from_array(a, chunks=c.chunks) for a, c in zip(small[:-1], vs[: k - 1])]
        u = da.from_array(small[-1], chunks=small[-1].shape)
    # projection, outside in
    for lvl in range(1, k):
        src = vs[lvl]
        if qs[lvl] == "1":  # whole groups per chunk for the groups' own l1 thresholds
            src = src.rechunk({a: -1 for a in lv[lvl]})
        out_dtype = x.dtype if lvl == k - 1 else np.float64
        # the radii in the chunks of the norms (which follow src along the group axes)
        u = u.rechunk(vs[lvl - 1].chunks)
        u = da.map_blocks(
            _apply_block, src, vs[lvl - 1], u, axes=lv[lvl], q=qs[lvl], dtype=out_dtype,
            meta=np.empty((0,) * x.ndim, dtype=out_dtype), name=f"multiproj-apply-{lvl}",
        )
    if u.chunks != x.chunks:
        u = u.rechunk(x.chunks)
    return u
