"""NumPy backend: drives the Numba kernels on canonical views of validated arrays.

Every solver has the signature ``solve(y, radius, ball, *, axes, levels, out)`` where ``y``
is a float32/float64 ndarray checked by the API, ``axes`` the sorted axes the inner norm
reduces, and ``out`` None (allocate) or a checked array (possibly ``y`` itself).  It returns
the result.  Non-finite input is detected in the first, read-only pass and raises before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._layout import group_layout
from ._validation import Ball, raise_not_finite

from .kernels.codes import Q_CODES


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
    from .kernels import grouped as k

    A, N, B = xc.shape
    # float64 maxima on the integer bits: vectorised, NaN propagates (see rows_linf64)
    bits = q == "inf" and xc.dtype == np.float64 and N > 1
    if B == 1:
        v = np.empty(A)
        if bits:
            k.rows_linf64(xc[:, :, 0].view(np.int64), v)
        else:
            k.group_norms_rows(xc[:, :, 0], Q_CODES[q], v)
    else:
        v = np.empty((A, B))
        if bits:
            k.cols_linf64(xc.view(np.int64), v, _threads())
        else:
            k.group_norms_cols(xc, Q_CODES[q], v, _threads())
    return v


def finite_group_norms(xc: np.ndarray, q: str) -> np.ndarray:
    v = group_norms(xc, q)
    if not np.isfinite(v).all():
        raise_not_finite()
    return v


def apply_group_radii(xc: np.ndarray, oc: np.ndarray, q: str, v: np.ndarray, u: np.ndarray) -> None:
    """Project each group onto its own l_q ball: group ``g`` to radius ``u[g]``."""
    from .kernels.grouped import apply_l1_cols, apply_radii_cols, apply_radii_rows

    # the same memory seen through two views: let the kernel work on one array
    inplace = xc.ctypes.data == oc.ctypes.data and xc.strides == oc.strides
    if xc.shape[2] == 1:
        apply_radii_rows(xc[:, :, 0], Q_CODES[q], v, u, oc[:, :, 0], inplace)
    elif q == "1":
        apply_l1_cols(xc, v, u, oc)
    else:
        apply_radii_cols(xc, Q_CODES[q], v, u, oc, _threads(), inplace)


def outer_l1(v: np.ndarray, radius: float) -> tuple[np.ndarray, bool]:
    """``(P_l1(v, radius), inside)`` for a non-negative vector (any shape) of group norms."""
    from .kernels.grouped import outer_l1 as _outer

    return _outer(np.ascontiguousarray(v, dtype=np.float64), float(radius))


# ------------------------------------------------- group values in keepdims (logical) order
def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` set to length 1 (the shape of the group norms)."""
    return tuple(1 if k in axes else s for k, s in enumerate(shape))


def _canonical_groups(lay, k: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_keepdims`: a keepdims-shaped array of per-group values, in the
    canonical group order of ``lay`` (shape ``(A,)`` or ``(A, B)`` like :func:`group_norms`).
    Returns a C-contiguous float64 array (a copy only when the orders differ)."""
    keep = [j for j in range(len(lay.shape)) if lay.shape[j] != 1]
    A, _, B = lay.canonical
    t = k.reshape(tuple(k.shape[j] for j in keep)).transpose(lay.perm)
    return np.ascontiguousarray(t, dtype=np.float64).reshape((A,) if B == 1 else (A, B))


def group_norms_keepdims(y: np.ndarray, axes: tuple[int, ...], q: str) -> np.ndarray:
    """Inner l_q norms of the groups of ``y`` as a float64 array of ``y``'s shape with the
    reduced ``axes`` of length 1 (``keepdims`` style, so it broadcasts against ``y`` and the
    group order does not depend on memory layout).  NaN/inf marks a non-finite group.

    Used where norms of pieces of an array are combined (chunks of a Dask array, shards of
    a distributed tensor)."""
    kshape = keepdims_shape(y.shape, axes)
    if y.size == 0:
        return np.zeros(kshape)
    lay = group_layout(y, axes)
    return _keepdims(lay, group_norms(lay.gather(y), q), axes).reshape(kshape)


def apply_group_radii_keepdims(y: np.ndarray, axes: tuple[int, ...], q: str, v: np.ndarray,
                               u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Project each group of ``y`` onto the l_q ball of radius ``u``; ``v`` (the groups'
    current l_q norms) and ``u`` are keepdims-shaped like :func:`group_norms_keepdims`.

    For q = inf and q = 2 the result of a group only needs ``u`` and ``v`` (clip, scale), so
    ``y`` may also be a piece of every group (a chunk along the reduced axes) as long as
    ``v`` holds the norms of the whole groups.  q = 1 needs whole groups."""
    if y.size == 0:
        return np.empty_like(y) if out is None else out
    lay = group_layout(y, axes)

    def fn(xc, oc):
        apply_group_radii(xc, oc, q, _canonical_groups(lay, v, axes),
                          _canonical_groups(lay, u, axes))

    return run_on_groups(y, out, axes, fn)


# --------------------------------------------------------------------------- solvers
def _bilevel_on(xc: np.ndarray, oc: np.ndarray, radius: float, q: str) -> None:
    if xc.size == 0:
        return
    v = finite_group_norms(xc, q)
    # inside test with the same sum as ``norm``, so that a radius equal to the norm is
    # always the identity
    inside = float(v.sum()) <= radius
    if not inside:
        u, inside = outer_l1(v, radius)
    if inside:
        if oc is not xc:
            oc[...] = xc
        return
    apply_group_radii(xc, oc, q, v, u)


def project_bilevel(y, radius, ball: Ball, *, axes, levels=None, out=None):
    """Bi-level projection onto the l1,q ball [MLP s.3]: norms, one l1 projection, per-group
    projection."""
    return run_on_groups(y, out, axes, lambda xc, oc: _bilevel_on(xc, oc, radius, ball.inner))


def _flat_on(xc: np.ndarray, oc: np.ndarray, radius: float, q: str) -> None:
    from .kernels import vector as k

    if xc.size == 0:
        return
    x1, o1 = xc.reshape(-1), oc.reshape(-1)
    fn = {"1": k.project_l1_flat, "2": k.project_l2_flat, "inf": k.project_linf_flat}[q]
    if not fn(x1, radius, o1):
        raise_not_finite()


def project_flat(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Projection onto the l1, l2 or linf ball of ``y`` taken as one flat vector."""
    return run_on_groups(y, out, tuple(range(y.ndim)), lambda xc, oc: _flat_on(xc, oc, radius, ball.norms[0]))


def project_exact(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Euclidean projection.  l1,1 is the flat l1 ball; l1,2 is exactly its bi-level
    projection; l1,inf has its own exact solver."""
    if ball.is_flat:
        return project_flat(y, radius, ball, out=out)
    if ball.norms == ("1", "1"):
        return project_flat(y, radius, Ball(("1",)), out=out)
    if ball.norms == ("1", "2"):
        return project_bilevel(y, radius, ball, axes=axes, out=out)
    if ball.norms == ("1", "inf"):
        return run_on_groups(y, out, axes, lambda xc, oc: _exact_l1inf_on(xc, oc, radius))
    raise ValueError(f"method='exact' does not support the ball {ball.name!r}.")


def _exact_l1inf_on(xc: np.ndarray, oc: np.ndarray, radius: float) -> None:
    """Exact l1,inf projection of a canonical view (see :mod:`multiproj.kernels.l1inf`)."""
    from .kernels.l1inf import exact_l1inf_levels

    if xc.size == 0:
        return
    levels = exact_l1inf_levels(xc, radius)
    if levels is None:
        raise_not_finite()
    apply_group_radii(xc, oc, "inf", *levels)


# --------------------------------------------------------------------------- norms
def norm(y: np.ndarray, ball: Ball, *, axes=None, levels=None) -> float:
    """The norm of ``y`` for a flat or mixed ball; with ``levels`` (checked by the API) the
    multi-level norm of [MLP s.4]."""
    if levels is not None:
        return multilevel_norm(y, ball, levels)
    if y.size == 0:
        return 0.0
    if ball.is_flat:
        lay = group_layout(y, tuple(range(y.ndim)))
        v = finite_group_norms(lay.gather(y), ball.norms[0])
        return float(v.sum())
    lay = group_layout(y, axes)
    return float(finite_group_norms(lay.gather(y), ball.inner).sum())


# --------------------------------------------------------------------------- multi-level
def _keepdims(lay, vc: np.ndarray, red: tuple[int, ...]) -> np.ndarray:
    """View the group norms ``vc`` of layout ``lay`` (reducing ``red``) as an array of the
    layout's full shape with the reduced axes set to length 1 (``keepdims`` style).

    The view keeps the memory order of the layout, so the next level's ``group_layout``
    finds the remaining axes in the same order as in ``y`` (no transposed copy)."""
    shape = lay.shape
    keep = [k for k in range(len(shape)) if shape[k] != 1]
    permuted = tuple(1 if keep[p] in red else shape[keep[p]] for p in lay.perm)
    t = vc.reshape(permuted).transpose(np.argsort(lay.perm))
    return t.reshape(tuple(1 if k in red else shape[k] for k in range(len(shape))))


class _Stage:
    """One aggregation step: the groups of ``src`` (V_l, full-rank ``keepdims`` array) that
    the level's axes ``red`` span, seen as the canonical ``xc``; ``vc`` holds their q-norms
    (V_{l-1}) in the layout's group shape."""

    __slots__ = ("lay", "xc", "copied", "red", "q", "vc")
    fused = False

    def __init__(self, lay, xc, copied, red, q, vc):
        self.lay, self.xc, self.copied, self.red, self.q, self.vc = lay, xc, copied, red, q, vc


class _FusedStage:
    """The two innermost levels in one step: ``x3[g, m, i]`` (level k spans ``i``, level
    k-1 spans ``m``), ``v`` = V_{k-1} as (G, M), ``vc`` = V_{k-2} as (G,) in the group
    shape of ``lay`` (the layout that reduces both levels, axes ``red``)."""

    __slots__ = ("lay", "x3", "red", "qn", "qm", "v", "vc")
    fused = True
    copied = False

    def __init__(self, lay, x3, red, qn, qm, v, vc):
        self.lay, self.x3, self.red, self.qn, self.qm, self.v, self.vc = lay, x3, red, qn, qm, v, vc


# Passes over fewer entries than this run on the calling thread: waking the other threads
# costs more than the work (and, on a busy machine, a scheduler time slice).
_SERIAL_BELOW = 1 << 18


class _serial_if_small:
    """Context manager: one thread for a pass over ``size`` entries below ``_SERIAL_BELOW``
    (the previous thread count is restored on exit)."""

    __slots__ = ("small", "prev")

    def __init__(self, size: int):
        self.small = size < _SERIAL_BELOW

    def __enter__(self):
        if self.small:
            import numba

            self.prev = numba.get_num_threads()
            if self.prev > 1:
                numba.set_num_threads(1)
            else:
                self.small = False

    def __exit__(self, *exc):
        if self.small:
            import numba

            numba.set_num_threads(self.prev)
        return False


# Fewer blocks than this leave the fused kernels (parallel over blocks) short of work; the
# level-by-level chain is then used (parallel over the rows of every level).
_FUSED_MIN_BLOCKS = 64


def _fused_view(y: np.ndarray, levels) -> tuple | None:
    """``(lay, x3)`` when the two innermost levels are the innermost block of ``y``'s memory
    order, level k innermost (then ``x3`` (G, M, N) views ``y`` without a copy)."""
    from ._layout import reshape_view

    red = tuple(sorted(levels[-2] + levels[-1]))
    lay_n = group_layout(y, levels[-1])
    lay = group_layout(y, red)
    if not (lay_n.contiguous_run and lay.contiguous_run):
        return None
    if lay_n.canonical[2] != 1 or lay.canonical[2] != 1:
        return None
    G, MN, _ = lay.canonical
    N = lay_n.canonical[1]
    if G < _FUSED_MIN_BLOCKS or MN % N:
        return None
    xc = lay.view(y)
    x3 = None if xc is None else reshape_view(xc, (G, MN // N, N))
    return None if x3 is None else (lay, x3)


def fused_norms(x3: np.ndarray, qn: str, qm: str, v: np.ndarray, w: np.ndarray) -> None:
    """First pass of the fused two innermost levels: ``v[g, m] = ||x3[g, m, :]||_qn`` and
    ``w[g] = ||v[g, :]||_qm`` (float64 outputs).  q = inf on float64 data runs on the
    integer bits (see ``norms_two_levels_linf64``)."""
    from .kernels.multilevel import norms_two_levels, norms_two_levels_linf64

    with _serial_if_small(x3.size):
        if qn == "inf" and x3.dtype == np.float64:
            norms_two_levels_linf64(x3.view(np.int64), Q_CODES[qm], v, w)
        else:
            norms_two_levels(x3, Q_CODES[qn], Q_CODES[qm], v, w)


def multilevel_stages(y: np.ndarray, ball: Ball, levels, *, fuse: bool = True) -> list:
    """Aggregate from the inside out [MLP s.4]: ``V_k = |y|``, ``V_{l-1} = ||V_l||_{q_l}``
    over level ``l``'s axes.  Returns the stages innermost first; ``stages[-1].vc`` is
    ``V_1`` (one entry per index of the outermost level).

    The first stage reads ``y`` once; every later one reads only the previous (smaller)
    array of norms.  When the two innermost levels follow memory order they are done
    together by the fused kernels of :mod:`multiproj.kernels.multilevel` (``fuse=False``
    turns this off).  Raises ValueError on NaN/inf before anything is written."""
    stages: list = []
    cur = y
    top = len(levels) - 1
    fv = _fused_view(y, levels) if fuse and len(levels) >= 3 else None
    if fv is not None:
        lay, x3 = fv
        red = tuple(sorted(levels[-2] + levels[-1]))
        qn, qm = ball.norms[-1], ball.norms[-2]
        v = np.empty(x3.shape[:2])
        w = np.empty(x3.shape[0])
        fused_norms(x3, qn, qm, v, w)
        if not np.isfinite(w).all():
            raise_not_finite()
        stages.append(_FusedStage(lay, x3, red, qn, qm, v, w))
        cur = _keepdims(lay, w, red)
        top = len(levels) - 3
    for lvl in range(top, 0, -1):
        red = levels[lvl]
        lay = group_layout(cur, red)
        xc = lay.view(cur)
        copied = xc is None
        if copied:  # the level's axes are not adjacent in memory order: one gathered copy
            xc = lay.gather(cur)
        with _serial_if_small(xc.size):
            vc = finite_group_norms(xc, ball.norms[lvl])
        stages.append(_Stage(lay, xc, copied, red, ball.norms[lvl], vc))
        cur = _keepdims(lay, vc, red)
    return stages


def _project_stage_into(st, dst: np.ndarray, u: np.ndarray) -> None:
    """Project the groups of stage ``st`` onto their l_q balls of radii ``u`` (the stage's
    group shape) and write the result into ``dst`` (an array of the stage's input shape)."""
    if st.fused:
        from ._layout import reshape_view
        from .kernels.multilevel import apply_two_levels

        oc = st.lay.view(dst)
        o3 = None if oc is None else reshape_view(oc, st.x3.shape)
        tmp = None
        if o3 is None:  # dst is laid out differently from y: go through a copy
            tmp = np.empty_like(st.x3)
            o3 = tmp
        with _serial_if_small(st.x3.size):
            apply_two_levels(st.x3, Q_CODES[st.qn], Q_CODES[st.qm], st.v, st.vc, u, o3)
        if tmp is not None:
            np.copyto(dst, st.lay.unview(tmp.reshape(st.lay.canonical)))
        return
    oc = st.lay.view(dst)
    if oc is None:
        # dst is not laid out like the source: project into the stage's private copy (or
        # a scratch array) and scatter it back
        oc = st.xc if st.copied else np.empty(st.lay.canonical, dtype=dst.dtype)
        with _serial_if_small(st.xc.size):
            apply_group_radii(st.xc, oc, st.q, st.vc, u)
        np.copyto(dst, st.lay.unview(oc))
    else:
        with _serial_if_small(st.xc.size):
            apply_group_radii(st.xc, oc, st.q, st.vc, u)


def merge_levels(y: np.ndarray, ball: Ball, levels) -> tuple[Ball, tuple]:
    """Merge adjacent inner levels that are exactly one level.

    Two neighbouring inner levels with the same norm q in {inf, 2} make one level over the
    union of their axes: the q-norm of q-norms is the q-norm of the union, and projecting
    the inner fibres at radii ``P_q(v, u)`` clips them at ``u`` (q = inf; they are below
    ``v``) or scales them all by ``min(1, u / ||v||)`` (q = 2), which is the projection of
    the union at ``u``.  Levels are merged only when the union's axes are adjacent in
    ``y``'s memory order (otherwise merging would cost a transposed copy)."""
    norms = list(ball.norms)
    lv = [tuple(x) for x in levels]
    j = len(lv) - 1
    while j >= 2:
        q = norms[j]
        if q in ("inf", "2") and norms[j - 1] == q:
            union = tuple(sorted(lv[j - 1] + lv[j]))
            if group_layout(y, union).view(y) is not None:
                lv[j - 1 : j + 1] = [union]
                del norms[j]
        j -= 1
    if len(norms) == len(ball.norms):
        return ball, tuple(lv)
    return Ball(tuple(norms)), tuple(lv)


def project_multilevel(y, radius, ball: Ball, *, axes=None, levels=None, out=None, fuse=True,
                       merge=True):
    """Multi-level projection onto the l1,q2,...,qk ball of a tensor [MLP s.4].

    ``levels`` (checked by the API) lists the axes of every level, outermost first.
    Aggregation (inside out) then projection (outside in): ``U_1 = P_l1(V_1, radius)``; for
    each inner level the fibres of ``V_l`` are projected onto l_{q_l} balls whose radii
    are the entries of ``U_{l-1}``, giving ``U_l``; the last level projects the fibres of
    ``y`` itself with radii ``U_{k-1}``, which equals ``sign(y) * U_k``.  Two passes over
    ``y`` whatever the order, each parallel over fibres; the other passes read arrays of
    norms that are smaller by the size of the innermost level at least.  Neighbouring inner
    levels that are one level (see :func:`merge_levels`) are merged first (``merge=False``
    keeps every level).
    """
    if merge:
        ball, levels = merge_levels(y, ball, levels)
    stages = multilevel_stages(y, ball, levels, fuse=fuse)
    u, inside = outer_l1(stages[-1].vc, radius)
    if out is None:
        out = np.empty_like(y)  # same memory order as y, so the canonical view applies
    if inside:
        if out is not y:
            np.copyto(out, y)
        return out
    for j in range(len(stages) - 1, 0, -1):
        prev = stages[j - 1]
        u_next = np.empty_like(prev.vc)
        _project_stage_into(stages[j], _keepdims(prev.lay, u_next, prev.red), u)
        u = u_next
    _project_stage_into(stages[0], out, u)
    return out


def multilevel_norm(y: np.ndarray, ball: Ball, levels) -> float:
    """``||y||`` for the multi-level ball: the sum of ``V_1``."""
    if y.size == 0:
        return 0.0
    ball, levels = merge_levels(y, ball, levels)
    return float(multilevel_stages(y, ball, levels)[-1].vc.sum())
