"""Named groupings of a weight: which slices of a parameter a structured ball treats as
groups, and the group statistics of :func:`multiproj.nn.sparsity_report`.

A grouping is a view of the parameter (its own shape, or a reshape such as the heads of an
attention projection) and the axes of that view that the inner norm reduces (``axis`` of
:func:`multiproj.project`); the groups are the slices along the other axes.

=================  ==========================================  ===================================
name               parameter                                   groups
=================  ==========================================  ===================================
``"inputs"``       ``nn.Linear`` weight ``(out, in)``          input features (columns), ``axis=0``
``"outputs"``      ``nn.Linear`` weight                        output units (rows), ``axis=1``
``"in_channels"``  conv weight ``(out, in, *kernel)``          input channels: ``axis=(0, 2, ...)``
``"out_channels"`` conv weight                                 filters: ``axis=(1, 2, ...)``
``"heads"``        ``in_proj_weight`` ``(3E, E)`` of           head ``h``: its rows of q, k and v,
                   ``nn.MultiheadAttention``, or a q/k/v        seen as ``(3, H, E/H, E)``
                   projection weight ``(E, in)``               (``(H, E/H, in)``)
``"head_inputs"``  output projection weight ``(out, E)``       head ``h``: its ``E/H`` columns
=================  ==========================================  ===================================

``"inputs"`` / ``"in_channels"`` (and ``"in_features"``) are one grouping, the slices along
dimension 1; ``"outputs"`` / ``"out_channels"`` / ``"out_features"`` / ``"filters"`` the
slices along dimension 0.  The heads groupings need the number of heads (taken from the
``nn.MultiheadAttention`` module, or given).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch

_DIM1 = ("inputs", "in_features", "in_channels")
_DIM0 = ("outputs", "out_features", "out_channels", "filters")
_HEADS = ("heads", "head_inputs")
GROUPING_NAMES = _DIM1 + _DIM0 + _HEADS


@dataclass(frozen=True)
class Grouping:
    """How a parameter is grouped.

    Attributes
    ----------
    name : str
        The grouping's name (``"axis=(0,)"`` for raw axes).
    shape : tuple of int or None
        Shape of the view the projection sees (None: the parameter's own shape).
    axis : tuple of int
        Axes of that view reduced by the inner norm.
    """

    name: str
    shape: tuple[int, ...] | None
    axis: tuple[int, ...]

    def group_shape(self, param_shape) -> tuple[int, ...]:
        shape = self.shape or tuple(param_shape)
        return tuple(s for d, s in enumerate(shape) if d not in self.axis)

    def n_groups(self, param_shape) -> int:
        n = 1
        for s in self.group_shape(param_shape):
            n *= s
        return n

    def view(self, t: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """``(v, is_view)``: the grouped view of ``t`` (detached), or a reshaped copy
        (``is_view`` False) when the memory layout admits no view."""
        t = t.detach()
        if self.shape is None or tuple(self.shape) == tuple(t.shape):
            return t, True
        try:
            return t.view(self.shape), True
        except RuntimeError:
            return t.reshape(self.shape), False

    def nonzero_groups(self, t: torch.Tensor) -> torch.Tensor:
        """Flat bool tensor, one entry per group (C order of the group axes): True where the
        group has a non-zero entry."""
        v, _ = self.view(t)
        nz = v != 0
        if self.axis:
            nz = nz.any(dim=self.axis) if len(self.axis) > 1 else nz.any(dim=self.axis[0])
        return nz.reshape(-1)


def _err(where: str, msg: str) -> str:
    return f"{where}: {msg}" if where else msg[:1].upper() + msg[1:]


def resolve(param: torch.Tensor, grouping, *, module=None, attr: str = "", num_heads=None,
            where: str = "") -> Grouping:
    """The :class:`Grouping` of ``param`` for ``grouping`` (a name, or an int / tuple of
    ints used as ``axis``).  ``module`` is the module owning ``param`` as its attribute
    ``attr`` (used to read ``num_heads`` of ``nn.MultiheadAttention``); ``where`` prefixes
    error messages."""
    from .._core.checks import check_axes

    if grouping is None or isinstance(grouping, (int, tuple, list)) and not isinstance(grouping, bool):
        axis = 0 if grouping is None else grouping
        try:
            axes = check_axes(axis, max(param.ndim, 1))
        except (TypeError, ValueError) as exc:
            raise type(exc)(_err(where, str(exc))) from None
        return Grouping(f"axis={axes}", None, axes)
    if not isinstance(grouping, str):
        raise TypeError(_err(where, (
            f"the 'grouping' must be one of {list(GROUPING_NAMES)} or an axis (int or tuple of "
            f"ints). Got {grouping!r} of type {type(grouping).__name__} instead.")))
    name = grouping.strip().lower()
    if name not in GROUPING_NAMES:
        raise ValueError(_err(where, (
            f"the 'grouping' must be one of {list(GROUPING_NAMES)} or an axis. Got {grouping!r} instead.")))
    nd = param.ndim
    if name in _DIM1 + _DIM0:
        if nd < 2:
            raise ValueError(_err(where, (
                f"the grouping {name!r} needs a weight with at least 2 dimensions (out, in, ...). "
                f"Got a parameter of shape {tuple(param.shape)}.")))
        keep = 1 if name in _DIM1 else 0
        return Grouping(name, None, tuple(d for d in range(nd) if d != keep))
    # attention heads
    if isinstance(module, torch.nn.MultiheadAttention):
        num_heads = module.num_heads if num_heads is None else num_heads
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(_err(where, (
            f"the grouping {name!r} needs 'num_heads' (an int >= 1) for a parameter that is not "
            f"an nn.MultiheadAttention projection. Got num_heads={num_heads!r}.")))
    if nd != 2:
        raise ValueError(_err(where, (
            f"the grouping {name!r} needs a 2-D projection weight. Got shape {tuple(param.shape)}.")))
    rows, cols = param.shape
    H = num_heads
    if name == "heads":
        if attr.endswith("in_proj_weight"):  # q, k, v packed: rows [q; k; v]
            if rows % (3 * H):
                raise ValueError(_err(where, f"in_proj_weight rows ({rows}) are not 3 x {H} heads."))
            return Grouping("heads", (3, H, rows // (3 * H), cols), (0, 2, 3))
        if rows % H:
            raise ValueError(_err(where, (
                f"the grouping 'heads' splits the {rows} rows (output units) into num_heads={H} "
                f"equal heads; {rows} is not a multiple of {H}.")))
        return Grouping("heads", (H, rows // H, cols), (1, 2))
    if cols % H:
        raise ValueError(_err(where, (
            f"the grouping 'head_inputs' splits the {cols} columns (inputs) into num_heads={H} "
            f"equal heads; {cols} is not a multiple of {H}.")))
    return Grouping("head_inputs", (rows, H, cols // H), (0, 2))


def natural_groupings(module, attr: str, param: torch.Tensor) -> dict:
    """The named groupings that apply to ``module.<attr>`` = ``param`` (for the report)."""
    nn = torch.nn
    out = {}
    if attr == "weight" and isinstance(module, nn.Linear):
        out = {"inputs": resolve(param, "inputs"), "outputs": resolve(param, "outputs")}
    elif attr == "weight" and isinstance(module, nn.modules.conv._ConvNd):
        out = {"in_channels": resolve(param, "in_channels"), "out_channels": resolve(param, "out_channels")}
    elif isinstance(module, nn.MultiheadAttention) and attr in (
        "in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"
    ):
        out = {"heads": resolve(param, "heads", module=module, attr=attr)}
    elif param.ndim >= 2:
        out = {"inputs": resolve(param, "inputs"), "outputs": resolve(param, "outputs")}
    return out


def _stats(g: Grouping, w: torch.Tensor) -> dict:
    nz = g.nonzero_groups(w)
    n = nz.numel()
    zero = n - int(nz.sum())
    return {
        "groups": n,
        "zero_groups": zero,
        "zero_group_fraction": zero / n if n else 0.0,
        "kept": torch.nonzero(nz).flatten().tolist(),
    }


def _owner(model, name: str):
    mod_name, _, attr = name.rpartition(".")
    return (model.get_submodule(mod_name) if mod_name else model), attr


def sparsity_report(
    module: torch.nn.Module | torch.Tensor, *, axis: int | tuple[int, ...] = 0,
    grouping: str | dict[str, str] | None = None,
) -> dict:
    """Sparsity of every parameter of ``module``, with group statistics.

    Parameters
    ----------
    module : nn.Module or torch.Tensor
        A module (all its named parameters) or a single tensor (reported as ``"tensor"``).
    axis : int or tuple of int, default 0
        For 2-D parameters (and N-D ones when a tuple of axes is given), the axes the inner
        norm reduces: a group is a slice along the other axes.  ``axis=0`` on an
        ``nn.Linear`` weight makes the groups the columns, i.e. the input features.
    grouping : str or dict, optional
        A named grouping (see :mod:`multiproj._training.groupers`: ``"inputs"``,
        ``"outputs"``, ``"in_channels"``, ``"out_channels"``, ``"heads"``, ...) used for the
        top-level group statistics of every parameter it applies to, or a dict from
        parameter-name glob patterns to groupings (the first matching pattern wins).

    Returns
    -------
    dict
        Parameter name -> dict with ``shape``, ``numel``, ``zeros`` (entries equal to 0),
        ``zero_fraction``.  Parameters with at least 2 dimensions also get ``groups``,
        ``zero_groups``, ``zero_group_fraction`` and ``kept`` (sorted indices of the groups
        with a non-zero entry, C order over the group axes) for ``grouping`` when given, else
        for ``axis`` (2-D) or the filters ``"out_channels"`` (N-D), with the name used under
        ``grouping``; and ``groupings``: the same statistics for each named grouping that
        applies (Linear: ``inputs``/``outputs``; conv: ``in_channels``/``out_channels``;
        attention projections: ``heads``).

    Examples
    --------
    >>> import torch, multiproj.nn as mpn
    >>> conv = torch.nn.Conv2d(3, 4, 3)
    >>> with torch.no_grad():
    ...     conv.weight[1:3] = 0
    >>> r = mpn.sparsity_report(conv)["weight"]
    >>> r["grouping"], r["zero_groups"], r["groupings"]["out_channels"]["kept"]
    ('out_channels', 2, [0, 3])
    """
    if isinstance(module, torch.Tensor):
        items = [("tensor", module, None, "")]
    elif isinstance(module, torch.nn.Module):
        items = [(n, p, *_owner(module, n)) for n, p in module.named_parameters()]
    else:
        raise TypeError(
            "The 'module' parameter of sparsity_report must be an nn.Module or a tensor. "
            f"Got {type(module).__name__} instead."
        )
    if isinstance(axis, bool):
        raise TypeError(f"The 'axis' parameter must be an int or a tuple of ints. Got {axis!r} instead.")
    if isinstance(axis, int) and axis not in (0, 1, -1, -2):
        raise ValueError(f"The 'axis' parameter must be 0 or 1 (or a tuple of axes). Got {axis!r} instead.")
    if grouping is not None and not isinstance(grouping, (str, dict)):
        raise TypeError(
            "The 'grouping' parameter of sparsity_report must be a grouping name or a dict of "
            f"name patterns to groupings. Got {type(grouping).__name__} instead."
        )
    report = {}
    with torch.no_grad():
        for name, p, mod, attr in items:
            w = p.detach()
            zeros = int((w == 0).sum())
            entry = {
                "shape": tuple(w.shape),
                "numel": w.numel(),
                "zeros": zeros,
                "zero_fraction": zeros / w.numel() if w.numel() else 0.0,
            }
            if w.ndim >= 2:
                chosen = grouping
                if isinstance(grouping, dict):
                    chosen = next((g for pat, g in grouping.items() if fnmatch.fnmatchcase(name, pat)), None)
                if chosen is not None:
                    g = resolve(w, chosen, module=mod, attr=attr, where=f"sparsity_report({name!r})")
                elif w.ndim == 2 or isinstance(axis, (tuple, list)):
                    g = resolve(w, axis, where=f"sparsity_report({name!r})")
                else:
                    g = resolve(w, "out_channels")
                entry.update(_stats(g, w), grouping=g.name)
                named = natural_groupings(mod, attr, w) if mod is not None else {
                    "inputs": resolve(w, "inputs"), "outputs": resolve(w, "outputs")}
                entry["groupings"] = {k: _stats(gg, w) for k, gg in named.items()}
            report[name] = entry
    return report
