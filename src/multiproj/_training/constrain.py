"""Model-wide constraints: :func:`multiproj.nn.constrain`."""

from __future__ import annotations

import fnmatch
import re

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .groupers import Grouping, resolve
from .hooks import StepHook
from .schedules import make_schedule

__all__ = ["constrain", "ConstraintHandle"]

_MODULE_NAMES = {
    "Linear": torch.nn.Linear,
    "Conv1d": torch.nn.Conv1d,
    "Conv2d": torch.nn.Conv2d,
    "Conv3d": torch.nn.Conv3d,
    "MultiheadAttention": torch.nn.MultiheadAttention,
}
_FIELDS = (
    "params", "modules", "ball", "method", "axis", "grouping", "levels", "radius", "keep",
    "schedule", "warmup", "steps", "every", "num_heads", "freeze",
)
_MHA_WEIGHTS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


def _default_grouping(module) -> str | None:
    if isinstance(module, torch.nn.Linear):
        return "inputs"
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        return "out_channels"
    if isinstance(module, torch.nn.MultiheadAttention):
        return "heads"
    return None


def _name_matcher(spec, where: str):
    """A predicate on parameter names: glob patterns (``fnmatch``), ``"re:<regex>"`` or a
    compiled pattern (``fullmatch``), or a list of these (any)."""
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    preds = []
    for s in items:
        if isinstance(s, re.Pattern):
            preds.append(lambda n, s=s: s.fullmatch(n) is not None)
        elif isinstance(s, str) and s.startswith("re:"):
            try:
                rx = re.compile(s[3:])
            except re.error as exc:
                raise ValueError(f"{where}, field 'params': invalid regular expression {s[3:]!r}: {exc}.") from None
            preds.append(lambda n, rx=rx: rx.fullmatch(n) is not None)
        elif isinstance(s, str):
            preds.append(lambda n, s=s: fnmatch.fnmatchcase(n, s))
        else:
            raise TypeError(
                f"{where}, field 'params': expected a glob pattern, 're:<regex>', a compiled "
                f"re.Pattern or a list of these. Got {s!r} of type {type(s).__name__} instead."
            )
    return lambda n: any(p(n) for p in preds)


def _module_types(spec, where: str) -> tuple:
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out = []
    for s in items:
        if isinstance(s, str) and s in _MODULE_NAMES:
            out.append(_MODULE_NAMES[s])
        elif isinstance(s, type) and issubclass(s, torch.nn.Module):
            out.append(s)
        else:
            raise ValueError(
                f"{where}, field 'modules': expected nn.Module types or names among "
                f"{sorted(_MODULE_NAMES)}. Got {s!r} instead."
            )
    return tuple(out)


def _select(model, rule: dict, where: str) -> list:
    """``[(name, param, module, attr)]`` selected by the rule."""
    by_name = _name_matcher(rule["params"], where) if "params" in rule else None
    types = _module_types(rule["modules"], where) if "modules" in rule else None
    if by_name is None and types is None:
        raise ValueError(f"{where}: give 'params' (name patterns) or 'modules' (module types) to select parameters.")
    out = []
    for mod_name, mod in model.named_modules():
        if types is not None and not isinstance(mod, types):
            continue
        for attr, p in mod.named_parameters(recurse=False):
            name = f"{mod_name}.{attr}" if mod_name else attr
            if by_name is not None:
                if not by_name(name):
                    continue
            elif isinstance(mod, torch.nn.MultiheadAttention):
                if attr not in _MHA_WEIGHTS:
                    continue
            elif attr != "weight":
                continue
            out.append((name, p, mod, attr))
    return out


class _Entry:
    """One constrained parameter, with everything a projection needs resolved at
    registration: the plan (method, ball, axes or levels), the radius or keep target, the
    schedule, and for bi-level projections of CPU weights the group layout of the weight's
    storage (:class:`multiproj._cpu.primitives.GroupView`), so that the projection after a
    step runs the group kernels in place with no argument checked again."""

    __slots__ = ("name", "param", "rule", "grouping", "ball", "method", "levels", "radius",
                 "keep", "n", "schedule", "every", "warmup", "r0", "last_radius", "projections",
                 "freeze", "frozen", "plan", "kw", "q", "groups", "ptr", "k_final")

    def _inner_dims(self, ndim: int) -> tuple:
        """Axes of the view reduced to tell one group from another."""
        if self.grouping.name == "entries":
            return ()
        if self.method == "multilevel":
            return tuple(d for d in range(ndim) if d not in self.levels[0])
        return self.grouping.axis

    def prepare(self) -> None:
        """Plan the in-place group kernels on the weight's storage (bi-level projections
        of a CPU weight whose grouped view is a view of the storage); else the projection
        goes through :func:`multiproj._api.project_plan_` with the resolved plan."""
        self.groups = None
        self.ptr = self.param.data_ptr()
        if self.q is None or self.param.device.type != "cpu":
            return
        view, is_view = self.grouping.view(self.param)
        if not is_view or view.is_neg() or view.is_conj():
            return
        from .._cpu.primitives import GroupView

        try:
            self.groups = GroupView(view.numpy(), self.plan.axes)
        except ValueError:  # no canonical view of the storage: the general path
            self.groups = None

    def keep_now(self, t: int | None) -> int:
        """The scheduled number of groups at step ``t`` (the target when None)."""
        if t is None or self.k_final is not None and t >= self.warmup + self.schedule.steps:
            return self.keep if t is None else self.k_final
        k = self.schedule.keep_count(t, self.n, self.keep)
        if t >= self.warmup + self.schedule.steps:  # the progress is 1 from here on
            self.k_final = k
        return k

    def project(self, t: int | None) -> None:
        if self.param.data_ptr() != self.ptr:  # the storage was replaced (param.data = ...)
            self.prepare()
        if self.groups is not None:
            self._project_groups(t)
        else:
            self._project_general(t)
        self.projections += 1

    def _project_groups(self, t: int | None) -> None:
        """Bi-level projection [MLP s.3] in place on the planned canonical view: group
        norms ``v``, group radii ``u = (v - theta)_+`` (``theta`` the l1 threshold for a
        radius, or the keep threshold of :func:`multiproj.radius_for`), each group onto
        its l_q ball of radius ``u_g``."""
        from .._radius import keep_threshold

        g, q = self.groups, self.q
        try:
            v = g.norms(q)
        except ValueError:
            raise ValueError(f"The parameter {self.name!r} must contain only finite values to be "
                             f"projected. Got NaN or inf.") from None
        if self.frozen is not None:  # removed groups stay removed and do not compete
            v[self.frozen] = 0.0
        if self.keep is not None:
            theta, _ = keep_threshold(v, self.keep_now(t))
            u = v if theta is None else np.maximum(v - theta, 0.0)
            r = float(u.sum())
        else:
            total = float(v.sum())
            if self.r0 is None:
                self.r0 = total
            r = self.radius if t is None else self.schedule.radius(t, self.r0, self.radius)
            u = v if total <= r else _outer_l1(v, r)
        if u is not v or self.frozen is not None and self.frozen.any():
            g.apply(q, v, u)  # u_g = v_g leaves a group as it is; u_g = 0 zeroes it
            torch.autograd.graph.increment_version(self.param)
        if self.freeze:
            self.frozen = u == 0.0
        self.last_radius = r

    def _project_general(self, t: int | None) -> None:
        from .._api import norm, project_plan_
        from .._radius import radius_for

        view, is_view = self.grouping.view(self.param)
        if self.frozen is not None:  # groups removed earlier stay removed
            with torch.no_grad():
                view.masked_fill_(self.frozen, 0)
        if self.keep is not None:
            r = radius_for(view, self.ball, keep=self.keep_now(t), method=self.method, **self.kw)
        else:
            if self.r0 is None:
                self.r0 = norm(view, self.ball, **self.kw)
            r = self.radius if t is None else self.schedule.radius(t, self.r0, self.radius)
        project_plan_(view, r, self.plan)
        with torch.no_grad():
            if self.freeze:
                inner = self._inner_dims(view.ndim)
                self.frozen = (view == 0).all(dim=inner, keepdim=True) if inner else view == 0
            if not is_view:  # a reshaped copy: write it back into the parameter
                self.param.detach().copy_(view.reshape(self.param.shape))
        self.last_radius = r


def _outer_l1(v: np.ndarray, radius: float) -> np.ndarray:
    from .._cpu.primitives import outer_l1

    return outer_l1(v, radius)[0]


class ConstraintHandle(StepHook):
    """What :func:`constrain` returns: one handle for every constrained parameter.

    Attributes
    ----------
    names : list of str
        The constrained parameters, in registration order.
    steps : int
        ``optimizer.step()`` calls seen since registration.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, entries: list[_Entry]) -> None:
        self._entries = entries
        order = {id(p): i for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])}
        self._reversed = sorted(entries, key=lambda e: -order[id(e.param)])
        self.steps = 0
        self._register(optimizer)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def _after_step(self, optimizer, args, kwargs) -> None:
        self.steps += 1
        t = self.steps
        # the parameters the optimiser updated last are first: still in cache
        for e in self._reversed:
            if t > e.warmup and (t - e.warmup) % e.every == 0:
                e.project(t)

    def project_now(self, *, target: bool = False) -> None:
        """Project every constrained parameter now (in place): at the schedule's current
        value (the first projection's value during warm-up), or at the final target with
        ``target=True``."""
        for e in self._entries:
            e.project(None if target else max(self.steps, e.schedule.warmup + 1))

    def report(self) -> dict:
        """Parameter name -> dict: ``rule`` (index), ``ball``, ``method``, ``grouping``,
        ``groups`` (count), ``kept_groups`` (non-zero groups now), ``kept`` (their indices),
        ``target_keep`` (groups, or None) / ``target_radius`` (or None), ``keep_now`` (the
        scheduled count at the current step, or None), ``radius`` (of the last projection,
        None before the first), ``norm`` (now), ``projections``."""
        from .._api import norm

        out = {}
        with torch.no_grad():
            for e in self._entries:
                w = e.param.detach()
                view, _ = e.grouping.view(w)
                if e.method == "multilevel":
                    inner = tuple(d for d in range(view.ndim) if d not in e.levels[0])
                    nz = (view != 0).any(dim=inner).reshape(-1) if inner else (view != 0).reshape(-1)
                    kw = {"levels": e.levels}
                elif e.grouping.name == "entries":  # flat l1: the entries are the groups
                    nz = (view != 0).reshape(-1)
                    kw = {}
                else:
                    nz = e.grouping.nonzero_groups(w)
                    kw = {"axis": e.grouping.axis}
                t = max(self.steps, e.schedule.warmup + 1)
                out[e.name] = {
                    "rule": e.rule,
                    "ball": e.ball,
                    "method": e.method,
                    "grouping": e.grouping.name,
                    "groups": nz.numel(),
                    "kept_groups": int(nz.sum()),
                    "kept": torch.nonzero(nz).flatten().tolist(),
                    "target_keep": e.keep,
                    "target_radius": e.radius,
                    "keep_now": None if e.keep is None else e.schedule.keep_count(t, e.n, e.keep),
                    "radius": e.last_radius,
                    "norm": norm(view, e.ball, **kw),
                    "projections": e.projections,
                }
        return out

    def __repr__(self) -> str:
        return f"ConstraintHandle({len(self)} parameters, steps={self.steps}, active={self.active})"


def _check_rule(i, rule) -> dict:
    where = f"rules[{i}]"
    if not isinstance(rule, dict):
        raise TypeError(f"{where} must be a dict of fields {list(_FIELDS)}. Got {type(rule).__name__} instead.")
    unknown = [k for k in rule if k not in _FIELDS]
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {unknown}; the fields are {list(_FIELDS)}.")
    if "ball" not in rule:
        raise ValueError(f"{where}: the 'ball' field is required (e.g. 'l1,inf', 'l1,2', 'l1').")
    if ("radius" in rule) == ("keep" in rule):
        raise ValueError(f"{where}: give exactly one of 'radius' and 'keep'. Got {sorted(k for k in rule if k in ('radius', 'keep'))}.")
    if "axis" in rule and "grouping" in rule:
        raise ValueError(f"{where}: give 'axis' or 'grouping', not both.")
    return rule


def _reraise(exc, prefix):
    return type(exc)(f"{prefix}: {exc}")


def _build(i, rule, name, param, module, attr) -> _Entry:
    from .._radius import _check_keep
    from .._core.ball import parse_ball
    from .._core.checks import check_every, check_levels, check_radius
    from .._core.plan import check_supports
    from .._core.plan import resolve as resolve_plan
    from .._core.registry import get_method

    where = f"rules[{i}] (parameter {name!r})"
    e = _Entry()
    e.name, e.param, e.rule = name, param, i
    if param.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{where}: the parameter must be float32 or float64. Got dtype {param.dtype}.")
    try:
        ball = parse_ball(rule["ball"])
    except (TypeError, ValueError) as exc:
        raise _reraise(exc, f"{where}, field 'ball'") from None
    method = rule.get("method", "exact" if ball.is_flat else "bilevel")
    try:
        m = get_method(method)
    except ValueError as exc:
        raise _reraise(exc, f"{where}, field 'method'") from None
    try:
        check_supports(m, ball)
    except ValueError as exc:
        raise _reraise(exc, f"{where}, field 'method'") from None
    e.ball, e.method = ball.name, m.name
    grouping = rule.get("grouping", rule.get("axis"))
    if grouping is None and "levels" not in rule:
        grouping = _default_grouping(module)
    field = "grouping" if "grouping" in rule else "axis"
    if ball.is_flat:
        e.grouping = Grouping("entries", None, tuple(range(param.ndim)))
    else:
        num_heads = rule.get("num_heads")
        e.grouping = resolve(param, grouping, module=module, attr=attr, num_heads=num_heads,
                             where=f"{where}, field {field!r}")
    view, _ = e.grouping.view(param)
    e.levels = None
    if m.name == "multilevel":
        try:
            e.levels = check_levels(rule.get("levels"), view.ndim, ball)
        except (TypeError, ValueError) as exc:
            raise _reraise(exc, f"{where}, field 'levels'") from None
        n = 1
        for d in e.levels[0]:
            n *= view.shape[d]
    elif "levels" in rule:
        raise ValueError(f"{where}, field 'levels': used only by method='multilevel'.")
    elif not ball.is_flat and view.ndim < 2:
        raise ValueError(f"{where}: the mixed ball {ball.name!r} needs a parameter with at least 2 dimensions. "
                         f"Got shape {tuple(param.shape)}.")
    else:
        n = view.numel() if ball.is_flat else e.grouping.n_groups(param.shape)
    e.n = n
    e.radius = e.keep = None
    if "keep" in rule:
        if ball.is_flat and ball.norms[0] != "1":
            raise ValueError(f"{where}, field 'keep': the {ball.name!r} ball removes nothing; use 'radius' or the 'l1' ball.")
        try:
            e.keep = _check_keep(rule["keep"], n)
        except (TypeError, ValueError) as exc:
            raise _reraise(exc, f"{where}, field 'keep'") from None
    else:
        try:
            e.radius = check_radius(rule["radius"])
        except (TypeError, ValueError) as exc:
            raise _reraise(exc, f"{where}, field 'radius'") from None
    e.schedule = make_schedule(rule.get("schedule"), warmup=rule.get("warmup", 0),
                               steps=rule.get("steps", 0), where=where)
    try:
        e.every = check_every(rule.get("every", 1))
    except (TypeError, ValueError) as exc:
        raise _reraise(exc, f"{where}, field 'every'") from None
    e.warmup = e.schedule.warmup
    e.r0 = e.last_radius = e.frozen = e.k_final = None
    e.projections = 0
    e.freeze = rule.get("freeze", False)
    if not isinstance(e.freeze, bool):
        raise TypeError(f"{where}, field 'freeze': expected True or False. Got {e.freeze!r} instead.")
    e.kw = {"levels": e.levels} if m.name == "multilevel" else {} if ball.is_flat else {"axis": e.grouping.axis}
    e.plan = resolve_plan(m, ball, view.ndim, **e.kw)
    # the bi-level l1,q projection runs on the planned group view of the storage
    e.q = ball.inner if m.name == "bilevel" and ball.order == 2 else None
    e.prepare()
    return e


def constrain(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer,
    rules: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> ConstraintHandle:
    """Constrain many parameters of ``model`` to norm balls after every optimiser step.

    Each rule selects parameters and says how to project them.  After every
    ``optimizer.step()`` (one step post-hook for all of them) each selected parameter is
    projected in place (:func:`multiproj.project_` on the parameter's storage, or on a
    reshaped view of it for head groupings) onto its ball, with a radius that is either
    given or computed by :func:`multiproj.radius_for` so that exactly ``keep`` groups stay
    non-zero (the largest feasible count under ties), optionally annealed from dense to the
    target by a schedule (:mod:`multiproj._training.schedules`).

    Parameters
    ----------
    model : nn.Module
    optimizer : torch.optim.Optimizer
        Must optimise every selected parameter.
    rules : dict or list of dict
        Fields of a rule:

        ``params``
            Parameter names (as in ``model.named_parameters()``): a glob pattern such as
            ``"encoder.*.weight"``, ``"re:<regex>"`` (full match), a compiled
            ``re.Pattern``, or a list of these.
        ``modules``
            Module types (``nn.Linear``, ``nn.Conv2d``, ... or the names ``"Linear"``,
            ``"Conv1d"``, ``"Conv2d"``, ``"Conv3d"``, ``"MultiheadAttention"``).  Alone it
            selects each module's ``weight`` (``in_proj_weight``, or the separate q/k/v
            weights, for attention); with ``params`` it restricts the names to parameters of
            these modules.
        ``ball`` (required), ``method`` (default ``"bilevel"``, ``"exact"`` for flat balls), ``levels``
            As in :func:`multiproj.project`.
        ``grouping`` or ``axis``
            A named grouping (``"inputs"``, ``"outputs"``, ``"in_channels"``,
            ``"out_channels"``, ``"heads"``, ``"head_inputs"``, see
            :mod:`multiproj._training.groupers`) or raw axes reduced by the inner norm.
            Default: ``"inputs"`` for Linear weights, ``"out_channels"`` for conv weights,
            ``"heads"`` for attention, ``axis=0`` otherwise.
        ``radius`` or ``keep`` (exactly one)
            The radius, or the groups to keep: a fraction in (0, 1] or a count.
        ``schedule``, ``steps``, ``warmup``
            ``"linear"``, ``"cosine"``, ``"constant"`` or a callable ``p -> share``; the
            number of annealing steps; optimiser steps before the first projection.
            Default: the target from the first projection on.
        ``every``
            Project every ``every``-th step after the warm-up (default 1).
        ``num_heads``
            For the heads groupings of a weight that is not an attention module's.
        ``freeze``
            If True, a group removed by a projection stays zero for the rest of training
            (it is set to zero before every later projection, so it never competes again).
            With a ``keep`` target this keeps the removed groups, which the optimiser moves
            off zero at every step, from raising the threshold of the next projection: the
            kept groups are then shrunk by a tiny margin only (see
            :func:`multiproj.radius_for`), which matters for weights followed by batch norm,
            whose loss does not push their norm back up.  Default False.

    Returns
    -------
    ConstraintHandle
        ``.remove()``, ``.project_now()``, ``.report()``, ``.steps``, ``.names``.

    Raises
    ------
    TypeError, ValueError
        Checked at registration: the message names the rule (``rules[i]``), the parameter
        and the field.  A rule that selects nothing, a parameter selected by two rules, or a
        parameter the optimiser does not update is an error.

    Examples
    --------
    >>> import torch, multiproj.nn as mpn
    >>> net = torch.nn.Sequential(torch.nn.Linear(30, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    >>> h = mpn.constrain(net, opt, [
    ...     {"params": "0.weight", "ball": "l1,inf", "keep": 5, "schedule": "linear", "steps": 4},
    ...     {"params": "2.weight", "ball": "l1,2", "grouping": "inputs", "radius": 3.0}])
    >>> for _ in range(6):
    ...     opt.zero_grad(); net(torch.randn(8, 30)).pow(2).sum().backward(); opt.step()
    >>> h.report()["0.weight"]["kept_groups"]
    5
    >>> h.remove()
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"The 'model' parameter of constrain must be an nn.Module. Got {type(model).__name__} instead.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"The 'optimizer' parameter of constrain must be a torch.optim.Optimizer. Got {type(optimizer).__name__} instead."
        )
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, (list, tuple)) or not rules:
        raise TypeError(f"The 'rules' parameter of constrain must be a dict or a non-empty list of dicts. Got {rules!r} instead.")
    optimized = {id(p) for g in optimizer.param_groups for p in g["params"]}
    entries, owner = [], {}
    for i, rule in enumerate(rules):
        _check_rule(i, rule)
        selected = _select(model, rule, f"rules[{i}]")
        if not selected:
            names = [n for n, _ in model.named_parameters()][:8]
            raise ValueError(f"rules[{i}] selects no parameter of the model (parameters: {names}...).")
        for name, p, mod, attr in selected:
            if name in owner:
                raise ValueError(f"rules[{i}] selects {name!r}, already constrained by rules[{owner[name]}].")
            if id(p) not in optimized:
                raise ValueError(f"rules[{i}] selects {name!r}, which the optimizer does not update.")
            owner[name] = i
            entries.append(_build(i, rule, name, p, mod, attr))
    return ConstraintHandle(optimizer, entries)
