r"""Projections of tensors sharded across the ranks of a ``torch.distributed`` process group.

Each rank holds a slice of one full tensor ``Y`` along ``shard_axis`` (rank 0 the first
slice, rank 1 the next, ...; slices may differ in length).  :func:`project` returns on every
rank its slice of the single-process projection of ``Y``.  The caller brings the process
group (``torch.distributed.init_process_group``); this module only moves the small vectors
that the bi-level decomposition needs and calls the library's kernels on the local slice.

Why it distributes: the bi-level projection [MLP s.3] of ``Y`` onto the l1,q ball is

1. ``v_g = ||y_g||_q`` for every group (independent per group),
2. ``u = P_l1(v, radius)`` (one small l1 projection, one entry per group),
3. ``x_g = P_q(y_g, u_g)`` (independent per group).

Only step 2 is global, and it needs the group norms only.  Two cases:

* **the shards split the groups** (``shard_axis`` is a group axis, i.e. not in ``axis``):
  each rank owns whole groups; the local norms are gathered (``all_gather``; one float64
  per group of the full tensor), every rank solves the same l1 projection, and projects its
  own groups locally.
* **the shards split inside the groups** (``shard_axis`` is in ``axis``): each rank holds a
  piece of every group; partial norms are combined by one ``all_reduce`` (SUM of ``|x|``
  for q = 1, SUM of ``x**2`` for q = 2, MAX of ``|x|`` for q = inf).  Step 3 is then local
  for q = inf (clip at ``u_g``) and q = 2 (scale by ``u_g / v_g``).  For q = 1 the l1
  threshold ``tau_g`` of every group must be found collectively: Michelot's (Newton's)
  iteration ``tau <- (S(tau) - u_g) / C(tau)``, where ``S`` and ``C`` are the sum and the
  number of entries with ``|x| > tau`` (one ``all_reduce`` of 2 floats per unfinished group
  per iteration), started below the threshold at ``(v_g - u_g) / n_g``.  It increases
  monotonically and stops when the count no longer changes; the threshold is then the exact
  one, ``(sum of the active |x| - u_g) / #active`` (the same formula as Condat's final step
  [CON]), with no tolerance.  It takes a few iterations in practice (at most the group size).

Multi-level balls [MLP s.4] (``method="multilevel"``, ``levels`` outermost first) are
the same chain level by level: norms from the inside out, projections from the outside
in.  The level that contains ``shard_axis`` is the one reduced across ranks (gathered if
it is the outermost level, all-reduced otherwise, with the collective l1 thresholds for an
l1 norm); the levels inside it are local, and the levels outside it work on norms that
are then identical on every rank and are computed redundantly (they are small).  The
bi-level projection is the two-level case ``(group axes, axis)``.

Flat balls (``"l1"``, ``"l2"``, ``"linf"``) are the same computation with a single group
(every axis reduced), so ``method="exact"`` is accepted for them, for ``"l1,1"`` (the flat
l1 ball, as in :func:`multiproj.project`) and for ``"l1,2"`` (exact = bi-level).

Communication per projection: one ``all_gather`` of a fixed 1 KiB header per rank (shape,
dtype, parameters and an error flag, so that every rank checks the others and raises the
same error instead of hanging), then the group norms: ``world * max_local_groups`` float64
received (groups split) or one ``all_reduce`` of ``n_groups`` float64 (split inside groups),
plus, for l1,1 split inside groups, the iterations above.  The tensor itself never moves.

CPU tensors are processed in place of their memory through NumPy views (``Tensor.numpy()``,
no copy) with the CPU primitives (:mod:`multiproj._cpu.primitives`, Numba kernels); CUDA
tensors with the same primitives in torch operations on their device
(:mod:`multiproj._torch.primitives`).  The communication is O(number of groups) either way.
Backends: gloo (CPU tensors), NCCL (communication vectors placed on the current CUDA
device), and any other backend that accepts CPU tensors.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [CON] L. Condat, Math. Prog. 158 (2016).
C. Michelot, A finite algorithm for finding the projection of a point onto the canonical
simplex of R^n, J. Optim. Theory Appl. 50 (1986).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._backend import primitives
from ._core.ball import Ball
from ._core.checks import check_axes, check_every, check_radius
from ._core.plan import resolve
from ._core.registry import METHODS
from ._core.types import Axis, BallLike, Levels, Scalar

if TYPE_CHECKING:
    import torch

    from .nn import ProjectionHandle

__all__ = ["project", "project_", "register_sharded_projection", "CommStats"]

_MAXDIM = 64
_HEADER = 8
_META_LEN = _HEADER + 2 * _MAXDIM
_Q_NAMES = ("1", "2", "inf")


class CommStats:
    """Counts the bytes that :func:`project` sends through collectives (for benchmarks).

    ``with CommStats() as st: project(...)`` then ``st.bytes_header``, ``st.bytes_norms``
    (the group-norm vectors and, for l1,1 inside groups, the threshold iterations),
    ``st.collectives`` and ``st.iterations``.  Bytes are the payload of this rank's input
    buffers (``all_gather`` counts the gathered result it receives)."""

    _active: list = []

    def __init__(self):
        self.bytes_header = 0
        self.bytes_norms = 0
        self.collectives = 0
        self.iterations = 0

    def __enter__(self):
        CommStats._active.append(self)
        return self

    def __exit__(self, *exc):
        CommStats._active.remove(self)

    @classmethod
    def _add(cls, kind: str, nbytes: int):
        for st in cls._active:
            setattr(st, kind, getattr(st, kind) + int(nbytes))
            st.collectives += 1

    @classmethod
    def _iter(cls):
        for st in cls._active:
            st.iterations += 1


# --------------------------------------------------------------------------- plan
class _Plan:
    """The checked parameters of one call (identical on every rank: checked collectively).

    ``levels`` lists the axes of every level, outermost first, and ``qs`` their norms
    (``qs[0] == "1"``): the bi-level l1,q ball reducing ``axes`` is the two levels
    ``(group axes, axes)``, a flat ball the levels ``((), every axis)``.  ``shard_level``
    is the index of the level that contains ``shard_axis``: 0 when the shards split the
    outermost groups, >= 1 when they split inside them."""

    __slots__ = ("ball", "method", "radius", "levels", "qs", "shard_axis", "shard_level")
    ball: Ball
    method: Any
    radius: float
    levels: tuple[tuple[int, ...], ...]
    qs: tuple[str, ...]
    shard_axis: int
    shard_level: int


def _torch():
    import torch
    import torch.distributed as dist

    return torch, dist


def _local_plan(shard, radius, ball, method, axis, levels, shard_axis) -> _Plan:
    """Validate this rank's arguments (no communication)."""
    torch, _ = _torch()
    if not isinstance(shard, torch.Tensor):
        raise TypeError(
            "The 'shard' parameter must be a torch.Tensor (this rank's slice of the full "
            f"tensor). Got {type(shard).__name__} instead."
        )
    if shard.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"The 'shard' parameter must be a float32 or float64 tensor. Got {shard.dtype} instead."
        )
    if not 1 <= shard.ndim <= _MAXDIM:
        raise ValueError(
            f"The 'shard' parameter must have 1 to {_MAXDIM} dimensions. Got {shard.ndim}."
        )
    p = _Plan()
    p.radius = check_radius(radius)
    sa = check_axes(shard_axis, shard.ndim, name="shard_axis")
    if isinstance(shard_axis, (tuple, list)):
        raise TypeError(f"The 'shard_axis' parameter must be one int. Got {shard_axis!r} instead.")
    p.shard_axis = sa[0]
    plan = resolve(method, ball, shard.ndim, axis, levels)
    p.ball, p.method = plan.ball, plan.method.name
    if p.method == "exact" and p.ball.norms == ("1", "inf"):
        raise NotImplementedError(
            "method='exact' for the ball 'l1,inf' is not available in "
            "multiproj.distributed; use method='bilevel'."
        )
    p.levels, p.qs = plan.chain()
    p.shard_level = next(i for i, lv in enumerate(p.levels) if p.shard_axis in lv)
    return p


def _comm_device(dist, group, shard):
    torch, _ = _torch()
    if dist.get_backend(group) == "nccl":
        if shard is not None and getattr(shard, "is_cuda", False):
            return shard.device
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _ball_code(ball: Ball) -> float:
    return float(sum((_Q_NAMES.index(q) + 1) * 4**k for k, q in enumerate(ball.norms)))


def _encode(shard, plan: _Plan | None, bad_arg: bool, nonfinite: bool) -> np.ndarray:
    """The header this rank sends: error flags, parameters, shape and the level of every
    axis."""
    m = np.zeros(_META_LEN)
    m[0] = float(bad_arg)
    m[7] = float(nonfinite)
    if plan is None:
        return m
    torch, _ = _torch()
    m[1] = shard.ndim
    m[2] = 64 if shard.dtype == torch.float64 else 32
    m[3] = plan.shard_axis
    m[4] = _ball_code(plan.ball)
    m[5] = sorted(METHODS).index(plan.method)
    m[6] = plan.radius
    m[_HEADER : _HEADER + shard.ndim] = shard.shape
    for i, lv in enumerate(plan.levels):
        for a in lv:
            m[_HEADER + _MAXDIM + a] = i
    return m


def _exchange_header(dist, group, dev, shard, plan, exc, nonfinite: bool):
    """``all_gather`` the headers; raise the same error on every rank when any rank has a
    bad argument or non-finite data, or when the ranks disagree.  Returns the shapes of
    all shards as a ``(world, ndim)`` int array."""
    torch, _ = _torch()
    world = dist.get_world_size(group)
    mine = torch.from_numpy(_encode(shard, plan, exc is not None, nonfinite)).to(dev)
    parts = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(parts, mine, group=group)
    CommStats._add("bytes_header", world * mine.numel() * 8)
    meta = torch.stack(parts).cpu().numpy()
    ranks = f"ranks 0..{world - 1}"
    if exc is not None:
        raise exc
    bad = [r for r in range(world) if meta[r, 0] != 0]
    if bad:
        raise ValueError(
            f"multiproj.distributed.project got an invalid argument on rank(s) {bad}; "
            "see the error raised there."
        )
    ndims = meta[:, 1].astype(int).tolist()
    if len(set(ndims)) > 1:
        raise ValueError(
            "The 'shard' parameter must have the same number of dimensions on every rank. "
            f"Got {ndims} on {ranks}."
        )
    dts = [f"float{int(d)}" for d in meta[:, 2]]
    if len(set(dts)) > 1:
        raise TypeError(
            f"The 'shard' parameter must have the same dtype on every rank. Got {dts} on {ranks}."
        )
    for col, name in ((3, "shard_axis"), (4, "ball"), (5, "method"), (6, "radius")):
        vals = meta[:, col].tolist()
        if len(set(vals)) > 1:
            if name == "method":
                vals = [sorted(METHODS)[int(k)] for k in vals]
            raise ValueError(
                f"The '{name}' parameter must be the same on every rank. Got {vals} on {ranks}."
            )
    roles = meta[:, _HEADER + _MAXDIM :]
    if (roles != roles[0]).any():
        raise ValueError(
            "The 'axis' (or 'levels') parameter must be the same on every rank; it differs "
            f"across {ranks}."
        )
    shapes = meta[:, _HEADER : _HEADER + ndims[0]].astype(np.int64)
    others = np.delete(shapes, plan.shard_axis, axis=1)
    if (others != others[0]).any():
        raise ValueError(
            "The 'shard' parameter must have the same shape on every rank except along "
            f"shard_axis={plan.shard_axis}. Got shapes {[tuple(s) for s in shapes.tolist()]} "
            f"on {ranks}."
        )
    bad = [r for r in range(world) if meta[r, 7] != 0]
    if bad:
        raise ValueError(
            "The 'shard' parameter must contain only finite values. Got NaN or inf on "
            f"rank(s) {bad}."
        )
    return shapes


# --------------------------------------------------------------------------- local ops
class _Ops:
    """Local steps on this rank's shard through the primitives interface
    (:mod:`multiproj._backend`): NumPy views of CPU tensors (Numba kernels), torch
    operations for device tensors.  ``host`` and ``back`` move the small per-group arrays
    between the host (float64 ndarrays, for the l1 steps) and the shard's array type."""

    def __init__(self, x):
        self.x = x
        self.p = primitives(x)
        self.device = None if isinstance(x, np.ndarray) else x.device

    def norms(self, a, axes, q):
        return self.p.group_norms(a, q, tuple(axes))

    def apply(self, a, axes, q, v, u, out):
        return self.p.apply_group_radii(a, q, self.back(v), self.back(u), tuple(axes), out=out)

    def soft(self, a, axes, tau, out):
        return self.p.soft_threshold(a, self.back(tau), tuple(axes), out=out)

    def l1_state(self, a, axes, kshape):
        return self.p.L1Sums(a, tuple(axes), kshape)

    def empty64(self, like):
        if self.device is None:
            return np.empty(like.shape)
        torch, _ = _torch()
        return torch.empty(like.shape, dtype=torch.float64, device=self.device)

    def host(self, arr):
        return arr if isinstance(arr, np.ndarray) else arr.detach().cpu().numpy()

    def back(self, arr):
        if self.device is None or not isinstance(arr, np.ndarray):
            return arr
        torch, _ = _torch()
        return torch.from_numpy(arr).to(self.device)


def _make_ops(shard):
    """Local steps on NumPy views for CPU tensors, on the device for the others."""
    t = shard.detach()
    return _Ops(t.numpy() if t.device.type == "cpu" else t)


# --------------------------------------------------------------------------- algorithm
def _to_comm(arr, dev):
    torch, _ = _torch()
    if isinstance(arr, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64)).to(dev)
    return arr.to(device=dev, dtype=torch.float64).contiguous()


def _reduce_partial(part, q, ops, dist, group, dev):
    """Combine partial q-norms of groups split across ranks: SUM of |x| (q = 1), SUM of
    x**2 (q = 2), MAX of |x| (q = inf).  Every rank gets the same full norms."""
    torch, _ = _torch()
    t = _to_comm(part**2 if q == "2" else part, dev)
    dist.all_reduce(t, op=dist.ReduceOp.MAX if q == "inf" else dist.ReduceOp.SUM, group=group)
    CommStats._add("bytes_norms", t.numel() * 8)
    if q == "2":
        t = torch.sqrt(t)
    return ops.back(t.cpu().numpy()) if isinstance(part, np.ndarray) else t.to(part.device)


def _outer_level(v1, plan, shapes, ops, dist, group, dev, rank, world):
    """``U_1 = P_l1(V_1, radius)``; when the shards split the outermost level, the local
    ``V_1`` of every rank is gathered first (zero padding leaves the projection unchanged)."""
    torch, _ = _torch()
    from ._cpu.primitives import outer_l1

    v = ops.host(v1)
    if plan.shard_level != 0:
        return outer_l1(v, plan.radius)
    inner = [k for lv in plan.levels[1:] for k in lv]
    counts = [int(np.prod([s for k, s in enumerate(shp) if k not in inner])) for shp in shapes]
    width = max(max(counts), 1)
    buf = np.zeros(width)
    buf[: v.size] = v.reshape(-1)
    mine = _to_comm(buf, dev)
    parts = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(parts, mine, group=group)
    CommStats._add("bytes_norms", world * width * 8)
    u_all, inside = outer_l1(torch.stack(parts).cpu().numpy(), plan.radius)
    return u_all[rank, : v.size].reshape(v.shape), inside


def _project_levels(out, plan, shapes, v_inner, ops, dist, group, dev):
    """The multi-level projection [MLP s.4] of the local slice, with the collectives that the
    level split by ``shard_axis`` needs (bi-level = two levels)."""
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    k = len(plan.levels)
    s = plan.shard_level
    # aggregation, inside out: vs[l] = V_l (keepdims), vs[k-1] = the shard itself
    vs = [None] * k
    vs[k - 1] = ops.x
    for lvl in range(k - 1, 0, -1):
        part = v_inner if lvl == k - 1 else ops.norms(vs[lvl], plan.levels[lvl], plan.qs[lvl])
        if lvl == s:
            part = _reduce_partial(part, plan.qs[lvl], ops, dist, group, dev)
        vs[lvl - 1] = part
    u, inside = _outer_level(vs[0], plan, shapes, ops, dist, group, dev, rank, world)
    if inside:
        np.copyto(out, ops.x) if isinstance(out, np.ndarray) else out.copy_(ops.x)
        return out
    # projection, outside in: U_l from U_{l-1}; the last level writes the result
    for lvl in range(1, k):
        dst = out if lvl == k - 1 else ops.empty64(vs[lvl])
        q, axes = plan.qs[lvl], plan.levels[lvl]
        if lvl == s and q == "1":
            tau = _collective_l1_thresholds(vs[lvl], axes, ops.host(vs[lvl - 1]), ops.host(u),
                                            plan, shapes, ops, dist, group, dev)
            u = ops.soft(vs[lvl], axes, tau, dst)
        else:
            u = ops.apply(vs[lvl], axes, q, vs[lvl - 1], u, dst)
    return out


def _collective_l1_thresholds(a, axes, v, u, plan, shapes, ops, dist, group, dev):
    """Per-group l1 thresholds when every rank holds a piece of every group (q = 1).

    Michelot's iteration, exact at termination (see the module docstring).  ``v`` and ``u``
    are the full groups' l1 norms and radii (host, keepdims).  Returns the keepdims host
    array ``tau``: 0 for the groups left unchanged, inf for the removed ones."""
    n_full = float(np.prod([
        int(shapes[:, j].sum()) if j == plan.shard_axis else int(shapes[0, j]) for j in axes
    ]))
    tau = np.zeros(v.shape)
    tau[u <= 0.0] = np.inf
    tf, uf, vf = tau.reshape(-1), u.reshape(-1), v.reshape(-1)
    act = np.flatnonzero((uf > 0.0) & (uf < vf))
    tf[act] = (vf[act] - uf[act]) / n_full  # below the threshold: Newton from the left
    count = np.full(act.size, n_full)  # entries above the current tau (all, at the start)
    live = np.zeros(tf.size, dtype=bool)
    live[act] = True
    state = ops.l1_state(a, axes, tau.shape)
    for _ in range(int(n_full) + 2):
        if act.size == 0:
            break
        CommStats._iter()
        s, c = state.sums(np.where(live, tf, np.inf))
        t = _to_comm(np.concatenate([s[act], c[act]]), dev)
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
        CommStats._add("bytes_norms", t.numel() * 8)
        sc = t.cpu().numpy()
        s_a, c_a = sc[: act.size], sc[act.size :]
        done = c_a == count  # the active set did not change: tau is exact
        new = np.maximum(tf[act], (s_a - uf[act]) / np.maximum(c_a, 1.0))
        tf[act[~done]] = new[~done]
        live[act[done]] = False
        act, count = act[~done], c_a[~done]
    return tau


def _run(shard, radius, ball, method, axis, levels, shard_axis, group, inplace: bool):
    torch, dist = _torch()
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "multiproj.distributed.project needs an initialised torch.distributed process "
            "group: call torch.distributed.init_process_group(...) first (or use "
            "multiproj.project in a single process)."
        )
    dev = _comm_device(dist, group, shard if isinstance(shard, torch.Tensor) else None)
    plan = exc = v_inner = None
    ops: Any = None
    try:
        plan = _local_plan(shard, radius, ball, method, axis, levels, shard_axis)
        ops = _make_ops(shard)
        # innermost norms first: a NaN/inf is then reported on every rank by the header
        v_inner = ops.norms(ops.x, plan.levels[-1], plan.qs[-1])
    except (TypeError, ValueError, NotImplementedError) as e:  # re-raised after the exchange
        plan, exc = None, e
    nonfinite = v_inner is not None and not bool(np.isfinite(ops.host(v_inner)).all())
    shapes = _exchange_header(dist, group, dev, shard, plan, exc, nonfinite)
    x = ops.x
    if isinstance(x, np.ndarray):
        out = x if inplace and shard.device.type == "cpu" else np.empty_like(x)
    else:
        out = x if inplace else torch.empty_like(x)
    _project_levels(out, plan, shapes, v_inner, ops, dist, group, dev)
    if inplace:
        if isinstance(out, np.ndarray) and shard.device.type != "cpu":
            shard.copy_(torch.from_numpy(out))
        return shard
    return (torch.from_numpy(out) if isinstance(out, np.ndarray) else out).to(shard.device)


def project(
    shard: torch.Tensor, radius: Scalar, ball: BallLike, *, method: str = "bilevel", axis: Axis = None,
    levels: Levels = None, shard_axis: int = 0, group: Any = None,
) -> torch.Tensor:
    r"""This rank's slice of the projection of a tensor sharded along ``shard_axis``.

    The full tensor ``Y`` is the concatenation of the ``shard`` of ranks 0, 1, ...,
    ``world_size - 1`` (of ``group``) along ``shard_axis``; slices may differ in length.
    The result is the slice of :func:`multiproj.project` ``(Y, radius, ball,
    method=method, axis=axis)`` that matches ``shard``, equal to the single-process result
    to rounding.  Every rank of ``group`` must call it with the same arguments (checked:
    every rank raises the same error otherwise).

    Parameters
    ----------
    shard : torch.Tensor
        float32 or float64, on the CPU (gloo) or on a CUDA device (NCCL).  Not modified.
    radius : float
        Radius ``r >= 0`` of the ball.
    ball : {"l1,inf", "l1,1", "l1,2", "l1", "l2", "linf"} or "l1,q2,...,qk"
        The norm (see :func:`multiproj.project`).
    method : {"bilevel", "multilevel", "exact"}
        ``"bilevel"`` for the l1,q balls; ``"multilevel"`` for ``"l1,q2,...,qk"`` with
        ``levels``; ``"exact"`` for the flat balls, l1,1 (the flat l1 ball) and l1,2
        (which equals its bi-level projection).
    axis : None, int or tuple of int, default None
        Axes reduced by the inner norm, numbered in the full tensor (same as in the shard);
        None means 0, as in :func:`multiproj.project`.  Flat balls take ``axis=None`` only
        (one ball over every axis; batched flat balls raise ValueError).
    levels : tuple, optional
        Only for ``method="multilevel"``: the axes of every level, outermost first, as in
        :func:`multiproj.project`.
    shard_axis : int, default 0
        The axis along which the full tensor is split.  If it is not reduced by the inner
        norm (bi-level: not in ``axis``; multi-level: in the outermost level) the shards
        split the groups and each rank owns whole groups; otherwise they split inside
        groups.
    group : ProcessGroup, optional
        The process group (default: the world).

    Returns
    -------
    torch.Tensor
        The projected slice, of the shard's shape, dtype and device.

    Raises
    ------
    RuntimeError
        If ``torch.distributed`` is not initialised.
    TypeError, ValueError
        On every rank when any rank got an invalid argument, when the shards disagree in
        dtype (TypeError), number of dimensions or shape outside ``shard_axis``, or in the
        other arguments (ValueError), or when a shard holds NaN or inf (ValueError).

    Notes
    -----
    Communication: the group norms (one float64 per group; see the module docstring), a
    1 KiB header per rank, and for an l1 inner norm split inside groups a few all-reduces
    of 2 floats per unfinished group.  The tensor is never communicated.  Multi-level: the
    level that contains ``shard_axis`` is reduced across ranks (its norms are then
    replicated, so every outer level is computed redundantly and locally on every rank);
    the levels inside it stay local.

    Examples
    --------
    On each of the ranks of an initialised process group (e.g. under ``torchrun``)::

        W = torch.randn(64, 1000)                    # the full weight, same seed everywhere
        rows = W.tensor_split(world, dim=1)[rank]    # this rank owns some input features
        X = multiproj.distributed.project(rows, 20.0, "l1,inf", axis=0, shard_axis=1)
    """
    return _run(shard, radius, ball, method, axis, levels, shard_axis, group, False)


def project_(
    shard: torch.Tensor, radius: Scalar, ball: BallLike, *, method: str = "bilevel", axis: Axis = None,
    levels: Levels = None, shard_axis: int = 0, group: Any = None,
) -> torch.Tensor:
    """In-place :func:`project`: writes this rank's projected slice into ``shard`` (its
    memory is kept, so a Parameter and the optimiser state that refers to it stay valid).
    Returns ``shard``."""
    torch, _ = _torch()
    with torch.no_grad():
        return _run(shard, radius, ball, method, axis, levels, shard_axis, group, True)


def register_sharded_projection(
    optimizer: torch.optim.Optimizer, param: torch.Tensor, radius: Scalar, ball: BallLike, *, method: str = "bilevel",
    axis: Axis = None, levels: Levels = None, shard_axis: int = 0, group: Any = None, every: int = 1,
) -> ProjectionHandle:
    """:func:`multiproj.nn.register_projection` for a parameter sharded across ranks.

    After every ``every``-th ``optimizer.step()``, this rank's shard ``param`` (e.g. the
    weight slice of a row- or column-parallel ``nn.Linear``: ``shard_axis=0`` splits the
    output features, ``shard_axis=1`` the input features) is replaced in place by its slice
    of the projection of the full weight (:func:`project_`).  Every rank must register the
    same projection on its own shard, and step its optimiser the same number of times.

    Returns a :class:`multiproj.nn.ProjectionHandle` whose ``project()`` runs the
    distributed projection; ``remove()`` unregisters the hook.

    Examples
    --------
    Column-parallel first layer, groups = input features (``axis=0``), each rank owns a
    block of input features (``shard_axis=1``)::

        lin = torch.nn.Linear(in_features // world, hidden)   # this rank's columns
        opt = torch.optim.Adam(lin.parameters())
        h = multiproj.distributed.register_sharded_projection(
            opt, lin.weight, 50.0, "l1,inf", axis=0, shard_axis=1)
    """
    torch, _ = _torch()
    from .nn import ProjectionHandle

    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "The 'optimizer' parameter must be a torch.optim.Optimizer. "
            f"Got {type(optimizer).__name__} instead."
        )
    _local_plan(param, radius, ball, method, axis, levels, shard_axis)  # checked now
    if not any(p is param for g in optimizer.param_groups for p in g["params"]):
        raise ValueError("The 'param' parameter must be one of the optimizer's parameters.")
    every = check_every(every)

    class _Handle(ProjectionHandle):
        def project(self):
            project_(self.param, self.radius, self.ball, method=self.method, axis=self.axis,
                     levels=self.levels, shard_axis=shard_axis, group=group)
            self.projections += 1
            return self.param

    return _Handle(optimizer, param, radius, ball, method, axis, levels, every)
