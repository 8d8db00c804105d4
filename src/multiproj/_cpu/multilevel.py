"""Multi-level projection of a tensor onto the l1,q2,...,qk ball [MLP s.4] on the CPU:
norms from the inside out, projections from the outside in, each level one parallel pass.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.
"""

from __future__ import annotations

import numpy as np

from .._core.ball import Ball
from .._core.checks import raise_not_finite
from .._core.threads import serial_if_small
from .groups import Q_CODES, apply_group_radii, finite_group_norms, outer_l1
from .layout import group_layout, reshape_view, to_keepdims

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


# Fewer blocks than this leave the fused kernels (parallel over blocks) short of work; the
# level-by-level chain is then used (parallel over the rows of every level).
_FUSED_MIN_BLOCKS = 64


def _fused_view(y: np.ndarray, levels) -> tuple | None:
    """``(lay, x3)`` when the two innermost levels are the innermost block of ``y``'s memory
    order, level k innermost (then ``x3`` (G, M, N) views ``y`` without a copy)."""
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
    from ..kernels.compile import for_threads as pick
    from ..kernels.multilevel import norms_two_levels, norms_two_levels_linf64

    with serial_if_small(x3.size):
        if qn == "inf" and x3.dtype == np.float64:
            pick(norms_two_levels_linf64)(x3.view(np.int64), Q_CODES[qm], v, w)
        else:
            pick(norms_two_levels)(x3, Q_CODES[qn], Q_CODES[qm], v, w)


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
        cur = to_keepdims(lay, w, red)
        top = len(levels) - 3
    for lvl in range(top, 0, -1):
        red = levels[lvl]
        lay = group_layout(cur, red)
        xc = lay.view(cur)
        copied = xc is None
        if copied:  # the level's axes are not adjacent in memory order: one gathered copy
            xc = lay.gather(cur)
        with serial_if_small(xc.size):
            vc = finite_group_norms(xc, ball.norms[lvl])
        stages.append(_Stage(lay, xc, copied, red, ball.norms[lvl], vc))
        cur = to_keepdims(lay, vc, red)
    return stages


def _project_stage_into(st, dst: np.ndarray, u: np.ndarray) -> None:
    """Project the groups of stage ``st`` onto their l_q balls of radii ``u`` (the stage's
    group shape) and write the result into ``dst`` (an array of the stage's input shape)."""
    if st.fused:
        from ..kernels.compile import for_threads as pick
        from ..kernels.multilevel import apply_two_levels

        oc = st.lay.view(dst)
        o3 = None if oc is None else reshape_view(oc, st.x3.shape)
        tmp = None
        if o3 is None:  # dst is laid out differently from y: go through a copy
            tmp = np.empty_like(st.x3)
            o3 = tmp
        with serial_if_small(st.x3.size):
            pick(apply_two_levels)(st.x3, Q_CODES[st.qn], Q_CODES[st.qm], st.v, st.vc, u, o3)
        if tmp is not None:
            np.copyto(dst, st.lay.unview(tmp.reshape(st.lay.canonical)))
        return
    oc = st.lay.view(dst)
    if oc is None:
        # dst is not laid out like the source: project into the stage's private copy (or
        # a scratch array) and scatter it back
        oc = st.xc if st.copied else np.empty(st.lay.canonical, dtype=dst.dtype)
        with serial_if_small(st.xc.size):
            apply_group_radii(st.xc, oc, st.q, st.vc, u)
        np.copyto(dst, st.lay.unview(oc))
    else:
        with serial_if_small(st.xc.size):
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
        _project_stage_into(stages[j], to_keepdims(prev.lay, u_next, prev.red), u)
        u = u_next
    _project_stage_into(stages[0], out, u)
    return out


def multilevel_norm(y: np.ndarray, ball: Ball, levels) -> float:
    """``||y||`` for the multi-level ball: the sum of ``V_1``."""
    if y.size == 0:
        return 0.0
    ball, levels = merge_levels(y, ball, levels)
    return float(multilevel_stages(y, ball, levels)[-1].vc.sum())
