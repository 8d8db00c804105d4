"""Training integration for PyTorch: projected optimisation steps, frozen zeros, and a
sparsity report.

Constrained training is a two-line change::

    import multiproj.nn as mpn

    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    handle = mpn.register_projection(opt, model[0].weight, 50.0, "l1,inf", method="bilevel")
    for x, y in loader:                 # the usual loop, unchanged
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()   # projected after step
    handle.remove()

Everything here calls only the public functional API (:func:`multiproj.project_`), which
writes into the parameter's own storage under ``torch.no_grad()``: the ``nn.Parameter``
object, its ``data_ptr`` and the optimiser state attached to it stay the same.

Axis convention (as everywhere in multiproj): ``axis`` names the axes that the inner norm
reduces.  For an ``nn.Linear`` weight (out_features x in_features), ``axis=0`` makes the
groups the columns, i.e. the input features, which is what feature selection needs.

torch is imported by this module (``import multiproj`` alone does not import it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._api import project, project_
from ._core.ball import parse_ball
from ._core.checks import check_every, check_radius
from ._core.plan import resolve
from ._core.registry import get_method
from ._core.types import Axis, BallLike, Levels, Scalar
from ._training.hooks import StepHook

__all__ = ["Projection", "register_projection", "ProjectionHandle", "freeze_zeros", "FreezeHandle", "sparsity_report"]


def _check_param(param, fn: str) -> torch.Tensor:
    if not isinstance(param, torch.Tensor):
        raise TypeError(
            f"The 'param' parameter of {fn} must be a torch.Tensor or nn.Parameter. "
            f"Got {type(param).__name__} instead."
        )
    if param.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"The 'param' parameter of {fn} must be a float32 or float64 tensor. "
            f"Got dtype {param.dtype} instead."
        )
    return param


def _check_optimizer(optimizer, fn: str) -> torch.optim.Optimizer:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"The 'optimizer' parameter of {fn} must be a torch.optim.Optimizer. "
            f"Got {type(optimizer).__name__} instead."
        )
    return optimizer


def _optimizes(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> bool:
    return any(p is param for group in optimizer.param_groups for p in group["params"])


class ProjectionHandle(StepHook):
    """Handle returned by :func:`register_projection`.

    Attributes
    ----------
    param : Tensor
        The projected parameter.
    radius, ball, method, axis, levels, every
        The projection's settings.
    steps : int
        ``optimizer.step()`` calls seen since registration.
    projections : int
        Projections applied so far.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, param: torch.Tensor, radius: Scalar, ball: BallLike,
        method: str, axis: Axis, levels: Levels, every: int,
    ) -> None:
        self.param = param
        self.radius = radius
        self.ball = ball
        self.method = method
        self.axis = axis
        self.levels = levels
        self.every = every
        self.steps = 0
        self.projections = 0
        self._register(optimizer)

    def _after_step(self, optimizer, args, kwargs) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            self.project()

    def project(self) -> torch.Tensor:
        """Project the parameter now (in place) and return it."""
        project_(
            self.param, self.radius, self.ball, method=self.method, axis=self.axis, levels=self.levels
        )
        self.projections += 1
        return self.param

    def __repr__(self) -> str:
        return (
            f"ProjectionHandle(shape={tuple(self.param.shape)}, radius={self.radius}, "
            f"ball={self.ball!r}, method={self.method!r}, every={self.every}, "
            f"steps={self.steps}, active={self.active})"
        )


def register_projection(
    optimizer: torch.optim.Optimizer, param: torch.Tensor, radius: Scalar, ball: BallLike, *,
    method: str = "bilevel", axis: Axis = None, levels: Levels = None, every: int = 1,
) -> ProjectionHandle:
    r"""Project ``param`` onto a norm ball after every ``every``-th ``optimizer.step()``.

    This turns the optimiser into a projected method: after the update ``w <- step(w)``,
    ``w <- P(w)`` with ``P`` the projection onto ``{w : ||w||_ball <= radius}`` (computed by
    :func:`multiproj.project_`, in place, outside autograd).  It uses
    :meth:`torch.optim.Optimizer.register_step_post_hook`; several parameters, each with
    its own radius and ball, may be registered on one optimiser (hooks run in registration
    order).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        An optimiser whose parameters include ``param``.
    param : torch.Tensor or nn.Parameter
        float32 or float64, on any device.
    radius : float
        Radius of the ball, >= 0.
    ball : str
        ``"l1"``, ``"l2"``, ``"linf"``, ``"l1,inf"``, ``"l1,1"``, ``"l1,2"``, ... as in
        :func:`multiproj.project`.
    method : str, default "bilevel"
        A :data:`multiproj.METHODS` name.  The default is the bi-level projection [MLP];
        use ``"exact"`` for flat balls.
    axis : None, int or tuple of int, default None
        As in :func:`multiproj.project`: the axes reduced by the inner norm of a mixed ball
        (None means 0), the axes every flat ball spans (None: every axis).  ``axis=0`` on an ``nn.Linear`` weight groups by
        input feature (column), so whole input features are removed.
    levels : tuple, optional
        For ``method="multilevel"``.
    every : int, default 1
        Project after steps ``every``, ``2 * every``, ... (counted from registration).

    Returns
    -------
    ProjectionHandle
        ``.remove()`` unregisters the hook; ``.project()`` projects immediately;
        ``.steps`` and ``.projections`` count calls.

    Raises
    ------
    TypeError, ValueError
        Bad optimiser, parameter, radius, ball, method, axis or ``every``; or ``param`` is
        not optimised by ``optimizer``.  Everything is checked at registration.

    Examples
    --------
    >>> import torch, multiproj.nn as mpn
    >>> lin = torch.nn.Linear(20, 4)
    >>> opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    >>> h = mpn.register_projection(opt, lin.weight, 1.0, "l1,inf")
    >>> lin(torch.randn(8, 20)).sum().backward(); opt.step()
    >>> h.steps, h.projections
    (1, 1)
    >>> h.remove()

    References
    ----------
    [MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [BLP] M. Barlaud, G. Perez,
    J.-P. Marmorat, arXiv:2407.16293 (projected training of the SAE).
    """
    fn = "register_projection"
    _check_optimizer(optimizer, fn)
    _check_param(param, fn)
    if not _optimizes(optimizer, param):
        raise ValueError(
            f"The 'param' parameter of {fn} must be one of the optimizer's parameters "
            f"(shape {tuple(param.shape)} is not in optimizer.param_groups)."
        )
    radius = check_radius(radius)
    plan = resolve(method, ball, param.ndim, axis, levels)
    every = check_every(every)
    return ProjectionHandle(optimizer, param, radius, plan.ball.name, plan.method.name, axis, levels, every)


class FreezeHandle:
    """Handle returned by :func:`freeze_zeros`.

    Attributes
    ----------
    param : Tensor
        The parameter.
    mask : torch.Tensor of bool
        Same shape and device as ``param``: True where the entry may change, False where it
        is frozen at zero.
    """

    def __init__(self, param: torch.Tensor, mask: torch.Tensor, optimizer: torch.optim.Optimizer | None) -> None:
        self.param = param
        self.mask = mask  # (the setter also stores the complement used by the hooks)
        self._grad_hook = param.register_hook(self._mask_grad) if param.requires_grad else None
        self._step_hook = (
            optimizer.register_step_post_hook(self._after_step) if optimizer is not None else None
        )

    @property
    def mask(self) -> torch.Tensor:
        return self._mask

    @mask.setter
    def mask(self, value: torch.Tensor) -> None:
        self._mask = value
        self._frozen = ~value

    def _mask_grad(self, grad: torch.Tensor) -> torch.Tensor:
        return grad.masked_fill(self._frozen, 0)

    def _after_step(self, optimizer, args, kwargs) -> None:
        self.apply()

    def apply(self) -> torch.Tensor:
        """Set the frozen entries to zero now (in place, under no_grad); return the param."""
        with torch.no_grad():
            self.param.masked_fill_(self._frozen, 0)
        return self.param

    @property
    def n_frozen(self) -> int:
        """Number of entries kept at zero."""
        return int(self._frozen.sum())

    def remove(self) -> None:
        """Release the entries (idempotent): gradients and steps reach them again."""
        for name in ("_grad_hook", "_step_hook"):
            h = getattr(self, name)
            if h is not None:
                h.remove()
                setattr(self, name, None)

    @property
    def active(self) -> bool:
        return self._grad_hook is not None or self._step_hook is not None

    def __repr__(self) -> str:
        return (
            f"FreezeHandle(shape={tuple(self.param.shape)}, frozen={self.n_frozen}, "
            f"active={self.active})"
        )


def freeze_zeros(
    param: torch.Tensor, optimizer: torch.optim.Optimizer | None = None, *, threshold: float = 0.0
) -> FreezeHandle:
    """Keep the entries of ``param`` that are zero now at zero through later training.

    The second phase of the "double descent" schedule of [SAE]/[BLP]: after a projection
    has zeroed entries (and whole groups), retrain with those entries fixed at zero.

    Two mechanisms, both removed by ``handle.remove()``:

    * a gradient hook (``param.register_hook``) that zeroes the gradient of frozen entries,
      which is enough for plain SGD;
    * when ``optimizer`` is given, a step post-hook that sets frozen entries back to zero
      after every ``optimizer.step()``.  This is needed for optimisers with state or
      decoupled weight decay (Adam's moments, AdamW's decay, momentum) which move entries
      whose gradient is zero.

    Parameters
    ----------
    param : torch.Tensor or nn.Parameter
        float32 or float64.
    optimizer : torch.optim.Optimizer, optional
        The optimiser that updates ``param`` (recommended for anything but plain SGD).
    threshold : float, default 0.0
        Entries with ``|w| <= threshold`` are set to zero now and frozen (the original
        schedule uses 1e-3 after a projection).  With 0, exactly the current zeros.

    Returns
    -------
    FreezeHandle
        ``.mask`` (bool, True = free), ``.remove()``, ``.apply()``, ``.n_frozen``.
    """
    fn = "freeze_zeros"
    _check_param(param, fn)
    threshold = check_radius(threshold, "threshold")
    if optimizer is not None:
        _check_optimizer(optimizer, fn)
        if not _optimizes(optimizer, param):
            raise ValueError(
                f"The 'param' parameter of {fn} must be one of the optimizer's parameters "
                f"(shape {tuple(param.shape)} is not in optimizer.param_groups)."
            )
    with torch.no_grad():
        mask = param.detach().abs() > threshold
    handle = FreezeHandle(param, mask, optimizer)
    handle.apply()
    return handle


# Model-wide constraints, schedules, named groupings and compaction live in private modules.
from ._training.compact import CompactResult, compact  # noqa: E402
from ._training.constrain import ConstraintHandle, constrain  # noqa: E402
from ._training.groupers import sparsity_report  # noqa: E402


# --------------------------------------------------------------------------- layer
class Projection(nn.Module):
    r"""A projection layer: ``forward(y) = P(y)`` onto ``{x : ||x||_ball <= radius}``,
    differentiable with respect to ``y`` and (when learned) to the radius.

    Parameters
    ----------
    radius : float
        Initial radius, ``>= 0`` (``> 0`` when ``learn_radius``).
    ball : str
        ``"l1"``, ``"l2"``, ``"linf"``, ``"l1,inf"``, ``"l1,1"``, ``"l1,2"`` or a multi-level
        ball, as in :func:`multiproj.project`.
    method : str, optional
        ``"exact"``, ``"bilevel"`` or ``"multilevel"``.  Default: ``"exact"`` for the flat
        balls, ``"bilevel"`` for the mixed ones.
    axis, levels
        As in :func:`multiproj.project`.
    learn_radius : bool, default False
        Learn the radius: it is then ``softplus(rho)`` with ``rho`` an ``nn.Parameter``
        (so it stays > 0 whatever the optimiser does); otherwise a fixed buffer.

    Notes
    -----
    Use it on activations (a sparsemax-like layer for ``ball="l1"``), or on a weight with
    :func:`torch.nn.utils.parametrize.register_parametrization` (the weight seen by the
    model is the projection of a free parameter, and gradients flow through the
    projection).  Learning the radius needs a term in the loss that asks for a small
    radius (a sparsity cost): the task loss alone only grows it.
    """

    _radius: torch.Tensor  # the buffer of a fixed radius

    def __init__(
        self, radius: float, ball: BallLike, *, method: str | None = None, axis: Axis = None,
        levels: Levels = None, learn_radius: bool = False,
    ) -> None:
        super().__init__()
        r = check_radius(radius, "radius")
        self.ball = parse_ball(ball).name
        if method is None:
            method = "exact" if parse_ball(ball).is_flat else "bilevel"
        self.method = get_method(method).name
        self.axis = axis
        self.levels = levels
        self.learn_radius = bool(learn_radius)
        if self.learn_radius:
            if r <= 0.0:
                raise ValueError(
                    "The 'radius' parameter of Projection must be > 0 when learn_radius=True "
                    f"(it is softplus of a parameter). Got {radius!r} instead."
                )
            # inverse softplus, stable for large r: rho = r + log(1 - exp(-r))
            rho = r + math.log(-math.expm1(-r))
            self.rho = nn.Parameter(torch.tensor(rho, dtype=torch.float64))
        else:
            self.register_buffer("_radius", torch.tensor(r, dtype=torch.float64))

    @property
    def radius(self) -> torch.Tensor:
        """The current radius, a 0-d tensor (differentiable when learned)."""
        if self.learn_radius:
            return nn.functional.softplus(self.rho)
        return self._radius

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        r = self.radius
        if not self.learn_radius:
            r = float(r)
        return project(y, r, self.ball, method=self.method, axis=self.axis, levels=self.levels)

    def extra_repr(self) -> str:
        return (f"radius={float(self.radius.detach()):.6g}, ball={self.ball!r}, method={self.method!r}, "
                f"axis={self.axis!r}, levels={self.levels!r}, learn_radius={self.learn_radius}")
__all__ += ["constrain", "ConstraintHandle", "compact", "CompactResult"]
