"""The radius at which a projection keeps a given number of groups (:func:`radius_for`).

Every sparse projection of multiproj removes a group ``j`` exactly when a score ``s_j`` of
the data is at most a threshold ``theta`` that decreases as the radius grows:

* bi-level l1,q, exact l1,2, multi-level: ``u = P_l1(v, r)`` with ``v`` the group norms
  (``V_1`` for the multi-level ball, the norms of the outermost level's fibres)
  [MLP s.3-4]; ``u_j = (v_j - tau)_+``, so ``s_j = v_j`` and
  ``r(theta) = sum_j (s_j - theta)_+``.
* flat l1 (and exact l1,1, which is the flat l1 ball of all entries): ``x = sign(y)(|y| - tau)_+``;
  entries are removed when ``|y_i| <= tau``, groups when ``max_i |y_ji| <= tau``, and
  ``r(tau) = sum_i (|y_i| - tau)_+``.
* exact l1,inf: the dual variable ``theta`` of [QUA]: group ``j`` is zero iff
  ``||y_j||_1 <= theta``, else it is clipped at ``mu_j(theta) > 0``, the threshold with
  ``sum_i (|y_ji| - mu_j)_+ = theta``; the radius is ``r(theta) = sum_j mu_j(theta)``.

``r`` is continuous and strictly decreasing in ``theta`` on ``[0, max_j s_j]``, so with the
scores sorted decreasingly, ``s_(1) >= s_(2) >= ...``, every ``theta`` strictly between
``s_(k+1)`` and ``s_(k)`` keeps exactly the ``k`` groups of largest score.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [QUA] A. Quattoni, X. Carreras, M. Collins,
T. Darrell, "An efficient projection for l1,inf regularization", ICML 2009.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal, overload

import numpy as np

from ._core.types import ArrayIn, Axis, BallLike, Levels

__all__ = ["radius_for", "keep_threshold"]


# CPU tensors go through NumPy on a view of their storage; tests turn this off to run the
# torch reductions (those of device tensors) on the CPU.
_CPU_VIEW = True


def _torch():
    import torch

    return torch


def _is_torch(y) -> bool:
    return type(y).__module__.startswith("torch")


def _check_keep(keep, n: int) -> int:
    """The number of groups ``keep`` asks for among ``n``."""
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real):
        raise TypeError(
            "The 'keep' parameter of radius_for must be a fraction in (0, 1] (float) or a "
            f"number of groups (int >= 0). Got {keep!r} of type {type(keep).__name__} instead."
        )
    if isinstance(keep, numbers.Integral):
        k = int(keep)
        if not 0 <= k <= n:
            raise ValueError(
                "The 'keep' parameter of radius_for, as a number of groups, must be an int "
                f"from 0 to the number of groups ({n}). Got {keep!r} instead."
            )
        return k
    value = float(keep)
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(
            "The 'keep' parameter of radius_for, as a fraction (float), must be in (0, 1]; "
            f"pass an int for a number of groups. Got {keep!r} instead."
        )
    # ceil(keep * n), immune to the rounding of products such as 0.1 * 30 = 3.0000000000000004
    return min(n, max(1, math.ceil(value * n - 1e-9 * max(1, n))))


def _plan(y, ball, method, axis, levels):
    """Validate the arguments as :func:`multiproj.project` does; return
    ``(kind, ball, axes, levels, method_name)`` with kind one of ``"flat"`` (scores =
    entries), ``"maxabs"`` (exact l1,1: scores = group max), ``"norms"`` (bi-level / exact
    l1,2: scores = group norms, radius from the norms), ``"l1inf"`` (exact l1,inf) or
    ``"multilevel"``."""
    from ._core.plan import resolve

    plan = resolve(method, ball, y.ndim, axis, levels)
    m, b = plan.method, plan.ball
    if b.is_flat:
        if plan.batched:
            raise ValueError(
                f"The 'axis' parameter of radius_for must leave one flat ball (axis=None). Got "
                f"axis={axis!r} with the ball {b.name!r} on a {y.ndim}-D array instead: a batch "
                "of balls, one radius each."
            )
        if b.norms[0] != "1":
            raise ValueError(
                f"radius_for needs a ball whose projection zeroes entries or groups (l1 or a "
                f"mixed l1,q ball). The projection onto the {b.name!r} ball removes nothing. "
                f"Got ball={ball!r} instead."
            )
        return "flat", b, None, None, m.name
    if m.name == "multilevel":
        return "multilevel", b, None, plan.levels, m.name
    axes = plan.axes
    if m.name == "exact" and b.norms == ("1", "1"):
        return "maxabs", b, axes, None, m.name
    if m.name == "exact" and b.norms == ("1", "inf"):
        return "l1inf", b, axes, None, m.name
    return "norms", b, axes, None, m.name  # bi-level, or exact l1,2 (= bi-level)


# ------------------------------------------------------------------ per-library reductions
class _NumpyOps:
    @staticmethod
    def prepare(y):
        from ._core.checks import as_float_array

        return as_float_array(y)

    @staticmethod
    def qnorm(a, q: str, axes):
        """float64 l_q norms of ``a`` over ``axes`` (kept as length-1 axes)."""
        if q == "inf":
            return np.abs(a).max(axis=axes, keepdims=True).astype(np.float64)
        if q == "1":
            return np.abs(a).sum(axis=axes, keepdims=True, dtype=np.float64)
        # float32 squares summed in float64: one temporary of the input's size and dtype
        return np.sqrt(np.multiply(a, a).sum(axis=axes, keepdims=True, dtype=np.float64))

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        return np.asarray(a, dtype=np.float64).ravel()

    @staticmethod
    def groups(a, axes) -> np.ndarray:
        """``|a|`` as a float64 matrix, one row per group (the reduced axes last)."""
        keep = [d for d in range(a.ndim) if d not in axes]
        t = np.abs(np.transpose(a, keep + list(axes))).astype(np.float64, copy=False)
        return t.reshape(-1, int(np.prod([a.shape[d] for d in axes])))

    @staticmethod
    def excess_sum(a, theta: float) -> float:
        """``sum_i (|a_i| - theta)_+`` in float64."""
        return float(np.maximum(np.abs(a).astype(np.float64, copy=False) - theta, 0.0).sum())


class _TorchOps:
    @staticmethod
    def prepare(y):
        import torch

        if y.layout != torch.strided:
            raise TypeError(f"The 'y' parameter must be a dense (strided) tensor. Got layout {y.layout} instead.")
        if y.is_complex():
            raise TypeError(
                f"The 'y' parameter must be a real (float, int or bool) tensor. Got a tensor of dtype {y.dtype} instead."
            )
        y = y.detach()
        return y if y.dtype.is_floating_point else y.to(torch.float64)

    @staticmethod
    def qnorm(a, q: str, axes):
        import torch

        dims = tuple(axes)
        if q == "inf":
            return a.abs().amax(dim=dims, keepdim=True).to(torch.float64)
        a64 = a.to(torch.float64)
        if q == "1":
            return a64.abs().sum(dim=dims, keepdim=True)
        return torch.linalg.vector_norm(a64, 2, dim=dims, keepdim=True)

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        import torch

        return a.detach().to(torch.float64).cpu().numpy().ravel()

    @staticmethod
    def groups(a, axes):
        import torch

        keep = [d for d in range(a.ndim) if d not in axes]
        n = int(np.prod([a.shape[d] for d in axes]))
        return a.permute(keep + list(axes)).reshape(-1, n).abs().to(torch.float64)

    @staticmethod
    def excess_sum(a, theta: float) -> float:
        import torch

        return float((a.abs().to(torch.float64) - theta).clamp_min(0).sum())


def _l1_thresholds(rows, theta: float) -> float:
    """``sum_j mu_j(theta)`` over the rows (float64, non-negative, each row's l1 norm
    ``> theta``) where ``sum_i (rows[j, i] - mu_j)_+ = theta``.

    With the row sorted decreasingly ``a_1 >= a_2 >= ...`` and ``c_m = a_1 + ... + a_m``,
    ``mu = (c_m - theta) / m`` for the largest ``m`` with ``a_m > (c_m - theta) / m``
    (the condition holds on a prefix of ``m``)."""
    if _is_torch(rows):
        import torch

        if rows.shape[0] == 0:
            return 0.0
        a = torch.sort(rows, dim=1, descending=True).values
        t = (torch.cumsum(a, dim=1) - theta) / torch.arange(1, a.shape[1] + 1, dtype=a.dtype, device=a.device)
        m = (a > t).sum(dim=1, keepdim=True).clamp_min(1)
        return float(torch.gather(t, 1, m - 1).clamp_min(0).sum())
    if rows.shape[0] == 0:
        return 0.0
    a = -np.sort(-rows, axis=1)
    t = (np.cumsum(a, axis=1) - theta) / np.arange(1, a.shape[1] + 1)
    m = np.maximum((a > t).sum(axis=1), 1)
    return float(np.maximum(t[np.arange(a.shape[0]), m - 1], 0.0).sum())


# The threshold sits just above s_(k+1): the projection then shrinks the kept groups as
# little as a radius that keeps k can (for the bi-level projection the largest such radius
# is sum_{i<=k} (s_(i) - s_(k+1))), with a margin that the rounding of the solvers cannot
# cross: MARGIN of the gap, and at least SAFETY * s_(1) (float32 rounding of the norms), but
# never more than half the gap (the midpoint).
MARGIN = 2.0**-10
SAFETY = 1e-5


def _threshold(hi: float, lo: float, top: float) -> float:
    gap = hi - lo
    return lo + min(0.5 * gap, max(MARGIN * gap, SAFETY * top))


def _achievable(s: np.ndarray, k: int) -> tuple[int, float, float]:
    """``(k', s_(k'), s_(k'+1))``: the largest ``k' <= k`` whose ``k'``-th largest score is
    strictly above the next one (``s_(n+1) = 0``), with those two scores."""
    n = s.size
    if k == 0 or n == 0:
        return 0, 0.0, 0.0
    if k < n:
        part = -np.partition(-s, (k - 1, k))
        hi, lo = float(part[k - 1]), float(part[k])
    else:
        hi, lo = float(s.min()), 0.0
    if hi > lo:
        return k, hi, lo
    srt = np.concatenate([-np.sort(-s), [0.0]])  # ties: walk down to a strict gap
    gaps = np.nonzero(srt[:k] > srt[1 : k + 1])[0]
    if gaps.size == 0:
        return 0, 0.0, 0.0
    j = int(gaps[-1])
    return j + 1, float(srt[j]), float(srt[j + 1])


def keep_threshold(scores: np.ndarray, k: int) -> tuple[float | None, int]:
    """``(theta, count)``: the threshold on the non-negative float64 ``scores`` (one per
    group) above which the ``count`` groups that :func:`radius_for` keeps lie (``count`` is
    ``k``, or the largest feasible count below it under ties).  ``theta`` is None when
    ``k`` reaches the number of non-zero scores (nothing to remove: the projection is the
    identity, ``count`` is that number); with ``count == 0`` every group is removed
    (``theta = max(scores)``).  A bi-level projection keeps ``k`` groups with the group
    radii ``u = (scores - theta)_+``, i.e. at the radius ``sum(u)``."""
    nonzero = int(np.count_nonzero(scores))
    if k >= nonzero:
        return None, nonzero
    count, hi, lo = _achievable(scores, k)
    if count == 0:
        return float(scores.max()), 0
    return _threshold(hi, lo, float(scores.max())), count


@overload
def radius_for(
    y: ArrayIn, ball: BallLike, *, keep: int | float, method: str = ..., axis: Axis = ...,
    levels: Levels = ..., return_count: Literal[False] = ...,
) -> float: ...
@overload
def radius_for(
    y: ArrayIn, ball: BallLike, *, keep: int | float, method: str = ..., axis: Axis = ...,
    levels: Levels = ..., return_count: Literal[True],
) -> tuple[float, int]: ...
def radius_for(
    y: ArrayIn, ball: BallLike, *, keep: int | float, method: str = "exact", axis: Axis = None,
    levels: Levels = None, return_count: bool = False,
) -> float | tuple[float, int]:
    r"""The radius at which :func:`multiproj.project` keeps ``keep`` groups of ``y``.

    A group is a slice of ``y`` along the axes not in ``axis`` (e.g. with ``axis=0`` the
    columns of a matrix: the input features of an ``nn.Linear`` weight), an entry of ``y``
    for the flat l1 ball, an index of the outermost level for ``method="multilevel"``.
    ``project(y, radius_for(y, ball, keep=k, ...), ball, ...)`` (same ``method``, ``axis``
    and ``levels``) is non-zero on exactly ``k`` groups: those of largest score (the group
    norm for the bi-level and multi-level projections and for exact l1,2; the group's l1
    norm for exact l1,inf; its largest ``|y|`` for exact l1,1, the flat l1 ball of all
    entries).

    Rule.  With the scores sorted decreasingly ``s_(1) >= ... >= s_(n)`` and ``s_(n+1) = 0``,
    the projection keeps exactly the ``k`` first groups when its threshold ``theta`` (the l1
    threshold of the group norms, or the dual variable of the exact l1,inf ball) lies in
    ``[s_(k+1), s_(k))``; ``r(theta)`` decreases with ``theta``.  The radius returned is
    ``r(theta)`` at ``theta = s_(k+1) + m`` with the margin
    ``m = min(g / 2, max(g / 1024, 1e-5 s_(1)))``, ``g = s_(k) - s_(k+1)``: close to the
    largest radius that keeps ``k`` (for the bi-level projection
    ``sum_{i<=k} (s_(i) - s_(k+1))``), so that the kept groups shrink as little as possible
    (which matters when the projection is repeated after every training step), yet strictly
    inside the interval, so that the rounding of the projection's own solver cannot change
    the count.  When ``k`` is the number of non-zero groups, the radius is ``||y||`` itself
    (the projection is then the identity).

    Ties.  When ``s_(k) == s_(k+1)`` no radius keeps exactly ``k`` groups: the radius
    returned keeps the largest feasible count ``k' < k`` (the largest ``k'`` with
    ``s_(k') > s_(k'+1)``; 0, with radius 0, when there is none).  Zero groups are never
    kept.  ``return_count=True`` returns ``(radius, k')`` so that the caller learns the
    count achieved.

    Parameters
    ----------
    y : array_like or torch.Tensor
        The data (a tensor stays on its device for the reductions; the exact l1,inf
        thresholds of the kept groups are computed in float64 there too).
    ball : str
        ``"l1"`` or a mixed ball ``"l1,q"`` / ``"l1,q2,...,qk"`` (the l2 and linf balls
        remove nothing: ValueError).
    keep : float in (0, 1] or int
        A fraction of the groups (``k = ceil(keep * n)``, at least 1) or a number of groups
        ``k`` from 0 to ``n``.
    method, axis, levels
        As in :func:`multiproj.project`.
    return_count : bool, default False
        Also return the number of groups the radius keeps.

    Returns
    -------
    float, or (float, int) with ``return_count=True``

    Examples
    --------
    >>> import numpy as np, multiproj
    >>> W = np.random.default_rng(0).standard_normal((50, 200))      # 200 column groups
    >>> r = multiproj.radius_for(W, "l1,inf", keep=0.1, method="bilevel")
    >>> X = multiproj.project(W, r, "l1,inf", method="bilevel")
    >>> int((np.abs(X).max(axis=0) > 0).sum())
    20
    >>> r, k = multiproj.radius_for(np.array([3.0, 2.0, 2.0, 1.0]), "l1", keep=2, return_count=True)
    >>> k                                             # the tie between the 2.0s: 1 is feasible
    1
    """
    torch_input = _is_torch(y)
    ops = _TorchOps if torch_input else _NumpyOps
    a = ops.prepare(y)
    if _CPU_VIEW and torch_input and a.device.type == "cpu" and a.dtype in (_torch().float32, _torch().float64):
        # a CPU tensor: the NumPy reductions on a zero-copy view of its storage
        a = (a.resolve_neg() if a.is_neg() else a).numpy()
        torch_input, ops = False, _NumpyOps
    kind, b, axes, lv, mname = _plan(a, ball, method, axis, levels)
    if a.ndim == 0 and kind == "flat":
        a = a.reshape(1)
    if kind == "flat":
        scores = ops.to_numpy(a.reshape(-1)).__abs__()
    elif kind == "maxabs":
        scores = ops.to_numpy(ops.qnorm(a, "inf", axes))
    elif kind == "l1inf":
        scores = ops.to_numpy(ops.qnorm(a, "1", axes))
    elif kind == "norms":
        scores = ops.to_numpy(ops.qnorm(a, b.inner, axes))
    else:  # multi-level: V_k = |y|, V_{l-1} = q_l norm of V_l over level l's axes
        cur = a
        for lvl in range(len(lv) - 1, 0, -1):
            cur = ops.qnorm(cur, b.norms[lvl], lv[lvl])
        scores = ops.to_numpy(cur)
    if not np.isfinite(scores).all():
        raise ValueError("The 'y' parameter must contain only finite values. Got NaN or inf.")
    n = scores.size
    k = _check_keep(keep, n)
    theta, count = keep_threshold(scores, k)
    if theta is None:
        from ._api import norm

        kw = {"levels": lv} if kind == "multilevel" else {"axis": axis} if axes is not None else {}
        radius = float(norm(y, b.name, **kw)) if count else 0.0
    elif count == 0:
        radius = 0.0
    elif kind in ("norms", "multilevel", "flat"):
        radius = float(np.maximum(scores - theta, 0.0).sum())
    elif kind == "maxabs":
        radius = ops.excess_sum(a, theta)
    else:
        rows = ops.groups(a, axes)
        sel = scores > theta
        if torch_input:
            import torch

            rows = rows[torch.from_numpy(sel).to(rows.device)]
        else:
            rows = rows[sel]
        radius = _l1_thresholds(rows, theta)
    return (radius, count) if return_count else radius
