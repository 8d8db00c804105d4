"""Physical compaction of a pruned model: :func:`multiproj.nn.compact`.

A chain of layers ``P -> (channel-wise ops) -> Q`` (``P``, ``Q`` Linear or convolution
layers, the ops in between acting on each channel separately: batch norm, elementwise
activations, pooling, dropout, a flatten) loses channel ``c`` of ``P`` without changing its
output when

* ``Q`` does not read it (the inputs of ``Q`` that come from ``c`` have zero weights), or
* ``P`` does not write it: the weights of output ``c`` of ``P`` are zero, so the channel
  holds the constant ``b_c`` (the bias), which the ops in between map to a fixed tensor
  ``D_c``.  Its contribution ``Q_lin(D_c)`` (``Q`` without its bias) is computed once, in
  float64, and added to ``Q``'s bias when it is the same at every position (always for a
  Linear ``Q``, and for a convolution whose zero padding does not meet the constant), or
  else kept as a fixed offset added to ``Q``'s output (then the compacted model accepts
  only the spatial size of ``example_input``).

The inputs of the first layer whose weights are all zero (input features of a Linear,
input channels of a convolution) are removed too: the compacted model reads
``x[..., input_index]`` (features) or ``x[:, input_index]`` (channels), see
:class:`CompactResult`.  Batch norm is taken in evaluation mode (running statistics): the
compacted model is returned in ``eval()`` mode and equals the original one in ``eval()``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["compact", "CompactResult"]

_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.LogSigmoid, nn.Identity,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
)
_POOLS = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class CompactResult:
    """What :func:`compact` returns.

    Attributes
    ----------
    model : nn.Module
        The compacted model (``eval()`` mode).  It reads the selected inputs:
        ``result.model(result.select_input(x))`` equals ``original(x)``.
    input_index : torch.LongTensor or None
        The kept inputs of the first layer, indices into ``input_dim`` of the original
        input (None when no input was removed).
    input_dim : int
        ``-1`` (features of a Linear) or ``1`` (channels of a convolution).
    removed : dict
        Layer name -> ``{"inputs": removed inputs, "outputs": removed outputs}``.
    params_before, params_after : int
        Parameter counts of the original and the compacted model.
    """

    model: nn.Module
    input_index: torch.Tensor | None
    input_dim: int = -1
    removed: dict = field(default_factory=dict)
    params_before: int = 0
    params_after: int = 0

    def select_input(self, x: torch.Tensor) -> torch.Tensor:
        """The compacted model's input from the original one (``x`` itself when no input
        was removed)."""
        if self.input_index is None:
            return x
        return x.index_select(self.input_dim, self.input_index.to(x.device))

    def with_input_selection(self) -> nn.Module:
        """A module that takes the original input: the selection, then :attr:`model`."""
        return _SelectThen(self.input_index, self.input_dim, self.model)


class _SelectThen(nn.Module):
    def __init__(self, index, dim, model):
        super().__init__()
        self.register_buffer("index", index if index is not None else torch.zeros(0, dtype=torch.long))
        self.dim, self.model, self.select = dim, model, index is not None

    def forward(self, x):
        return self.model(x.index_select(self.dim, self.index) if self.select else x)


class OffsetOutput(nn.Module):
    """``layer(x) + offset``: the fixed contribution of removed constant channels whose
    effect depends on the position (a convolution's zero padding)."""

    def __init__(self, layer: nn.Module, offset: torch.Tensor):
        super().__init__()
        self.layer = layer
        self.register_buffer("offset", offset)

    def forward(self, x):
        y = self.layer(x)
        if y.shape[1:] != self.offset.shape[1:]:
            raise ValueError(
                f"This compacted layer folds removed constant channels into a fixed offset of "
                f"shape {tuple(self.offset.shape[1:])}; it accepts only inputs of the spatial "
                f"size compact() saw. Got an output of shape {tuple(y.shape[1:])}."
            )
        return y + self.offset


class _NotAChain(NotImplementedError):
    """A module that a chain does not handle: the model is compacted as a graph."""


def _unsupported(what: str, cls=NotImplementedError) -> NotImplementedError:
    return cls(
        f"compact supports nn.Sequential chains of Linear / Conv1d-3d (groups=1) layers with "
        f"batch norm, elementwise activations, pooling, dropout and flatten between them, and "
        f"the SupervisedAutoencoder of multiproj.sae; other graphs through Torch-Pruning's "
        f"dependency graph. {what}"
    )


def _flatten(seq: nn.Module) -> list:
    out = []
    for m in seq.children() if isinstance(seq, nn.Sequential) else [seq]:
        out.extend(_flatten(m) if isinstance(m, nn.Sequential) else [m])
    return out


def _is_producer(m) -> bool:
    return isinstance(m, nn.Linear) or isinstance(m, _CONV)


def _check_chain(mods, names):
    for m, name in zip(mods, names):
        if isinstance(m, _CONV) and m.groups != 1:
            raise _unsupported(f"Layer {name!r} is a grouped convolution (groups={m.groups}).")
        if isinstance(m, _CONV) and m.padding_mode != "zeros":
            raise _unsupported(f"Layer {name!r} uses padding_mode={m.padding_mode!r}.")
        if isinstance(m, nn.Flatten) and m.start_dim != 1:
            raise _unsupported(f"Layer {name!r} is an nn.Flatten with start_dim={m.start_dim}.")
        if not (_is_producer(m) or isinstance(m, _ELEMENTWISE + _POOLS + _BN) or isinstance(m, nn.Flatten)):
            raise _unsupported(f"Layer {name!r} is an {type(m).__name__}.", _NotAChain)


def _nz_rows(w: torch.Tensor) -> torch.Tensor:
    """True for output units / filters of a weight with a non-zero entry."""
    return (w != 0).reshape(w.shape[0], -1).any(dim=1)


def _nz_cols(w: torch.Tensor, block: int) -> torch.Tensor:
    """True for the input channels of ``w`` read with a non-zero weight; for a Linear after
    a flatten, channel ``c`` is the block of columns ``[c * block, (c + 1) * block)``."""
    if w.ndim == 2:
        return (w != 0).reshape(w.shape[0], -1, block).any(dim=2).any(dim=0)
    return (w != 0).transpose(0, 1).reshape(w.shape[1], -1).any(dim=1)


def _cols(keep: torch.Tensor, block: int) -> torch.Tensor:
    """Column indices of the kept channels (blocks of ``block`` columns)."""
    return (keep[:, None] * block + torch.arange(block)).reshape(-1)


def _compact_chain(chain: nn.Module, x: torch.Tensor, remove_inputs: bool, prefix: str):
    """Compact one chain; returns ``(new_chain, input_index or None, input_dim, removed)``."""
    mods = _flatten(chain)
    names = [f"{prefix}{i}" for i in range(len(mods))] if isinstance(chain, nn.Sequential) else [prefix.rstrip(".")]
    _check_chain(mods, names)
    ref = [copy.deepcopy(m).double().eval() for m in mods]
    prods = [i for i, m in enumerate(mods) if _is_producer(m)]
    if not prods:
        return copy.deepcopy(chain).eval(), None, -1, {}
    # the input shape of every layer, from the example input
    shapes = []
    with torch.no_grad():
        h = x.detach().double()
        for m in ref:
            shapes.append(tuple(h.shape))
            h = m(h)
    for i in prods:
        if isinstance(mods[i], nn.Linear) and len(shapes[i]) != 2:
            raise _unsupported(f"Layer {names[i]!r} is a Linear on {len(shapes[i])}-D input (only (batch, features)).")
    keep_out = {i: torch.arange(mods[i].weight.shape[0]) for i in prods}
    keep_in = {i: torch.arange(mods[i].weight.shape[1]) for i in prods}
    bias_add = {}   # producer index -> float64 tensor added to the bias (per output unit)
    offsets = {}    # producer index -> float64 offset of its output (position dependent)
    bn_keep = {}    # batch-norm index -> kept channels
    input_index, input_dim = None, -1
    first = prods[0]
    if remove_inputs and first == 0:
        w = mods[0].weight.detach()
        used = _nz_cols(w, 1)
        if not used.all():
            if not used.any():
                used[0] = True
            keep_in[0] = torch.nonzero(used).flatten()
            input_index = keep_in[0].clone()
            input_dim = -1 if isinstance(mods[0], nn.Linear) else 1
    for a, b in zip(prods[:-1], prods[1:]):
        P, Q = mods[a], mods[b]
        mids = list(range(a + 1, b))
        C = P.weight.shape[0]
        block = 1
        q_in = Q.weight.shape[1]
        if isinstance(Q, nn.Linear):
            if q_in % C:
                raise _unsupported(f"Layer {names[b]!r} reads {q_in} features from {C} channels of {names[a]!r}.")
            block = q_in // C
            if block > 1 and not any(isinstance(mods[k], nn.Flatten) for k in mids):
                raise _unsupported(f"Layer {names[b]!r} reads {q_in} features from {C} channels without a flatten.")
        elif q_in != C:
            raise _unsupported(f"Layer {names[b]!r} reads {q_in} channels, {names[a]!r} writes {C}.")
        with torch.no_grad():
            written = _nz_rows(P.weight.detach())
            read = _nz_cols(Q.weight.detach(), block)
            keep = written & read
            if not keep.any():  # keep one channel, so that no layer has zero width
                keep[0] = True
            const = (~written) & read & ~keep  # constant channels whose effect must be folded
            if const.any():
                bias = ref[a].bias if ref[a].bias is not None else torch.zeros(C, dtype=torch.float64)
                out_shape = shapes[a + 1] if a + 1 < len(shapes) else None
                z = torch.zeros((1,) + tuple(out_shape[1:]), dtype=torch.float64)
                view = (1, C) + (1,) * (z.ndim - 2)
                z = z + (bias * const.double()).reshape(view)
                for k in mids:
                    z = ref[k](z)
                if block > 1 or z.ndim == 2:  # Linear Q after a flatten (or a plain Linear)
                    zf = z.reshape(1, -1)
                    mask = const.repeat_interleave(block).double() if block > 1 else const.double()
                    eff = torch.nn.functional.linear(zf * mask, ref[b].weight)
                    bias_add[b] = bias_add.get(b, 0) + eff.reshape(-1)
                else:
                    mask = const.double().reshape((1, C) + (1,) * (z.ndim - 2))
                    eff = ref[b]._conv_forward(z * mask, ref[b].weight, None)
                    flat = eff.reshape(eff.shape[0], eff.shape[1], -1)
                    mean = flat.mean(dim=2, keepdim=True)
                    uniform = torch.allclose(flat, mean.expand_as(flat), rtol=1e-13, atol=1e-13 * float(flat.abs().max() + 1))
                    if uniform:
                        bias_add[b] = bias_add.get(b, 0) + mean.reshape(-1)
                    else:
                        offsets[b] = offsets.get(b, 0) + eff
        idx = torch.nonzero(keep).flatten()
        keep_out[a] = idx
        keep_in[b] = _cols(idx, block) if block > 1 else idx
        for k in mids:
            if isinstance(mods[k], _BN):
                bn_keep[k] = idx
    new_mods, removed = [], {}
    for i, m in enumerate(mods):
        if i in keep_out:
            nm = _slice_layer(m, keep_out[i], keep_in[i], bias_add.get(i))
            if i in offsets:
                nm = OffsetOutput(nm, offsets[i][:, keep_out[i]].to(m.weight.dtype))
            removed[names[i]] = {"inputs": m.weight.shape[1] - len(keep_in[i]),
                                 "outputs": m.weight.shape[0] - len(keep_out[i])}
        elif i in bn_keep:
            nm = _slice_bn(m, bn_keep[i])
        else:
            nm = copy.deepcopy(m)
        new_mods.append(nm)
    return nn.Sequential(*new_mods).eval(), input_index, input_dim, removed


def _slice_layer(m, rows, cols, add):
    w = m.weight.detach()[rows][:, cols]
    has_bias = m.bias is not None or add is not None
    if isinstance(m, nn.Linear):
        nm = nn.Linear(len(cols), len(rows), bias=has_bias, device=w.device, dtype=w.dtype)
    else:
        nm = type(m)(len(cols), len(rows), m.kernel_size, stride=m.stride, padding=m.padding,
                     dilation=m.dilation, groups=1, bias=has_bias, padding_mode=m.padding_mode,
                     device=w.device, dtype=w.dtype)
    with torch.no_grad():
        nm.weight.copy_(w)
        if has_bias:
            b = m.bias.detach()[rows].double() if m.bias is not None else torch.zeros(len(rows), dtype=torch.float64)
            if add is not None:
                b = b + add[rows]
            nm.bias.copy_(b.to(w.dtype))
    nm.weight.requires_grad_(m.weight.requires_grad)
    return nm


def _slice_bn(m, idx):
    nm = copy.deepcopy(m)
    nm.num_features = len(idx)
    with torch.no_grad():
        for name in ("weight", "bias"):
            t = getattr(m, name)
            if t is not None:
                setattr(nm, name, nn.Parameter(t.detach()[idx].clone(), requires_grad=t.requires_grad))
        for name in ("running_mean", "running_var"):
            t = getattr(m, name)
            if t is not None:
                setattr(nm, name, t[idx].clone())
    return nm


# Operations that map a zero channel to a zero channel (an exact zero stays zero through
# them), named by the prefix of their autograd node (and TBackward, a transpose); a channel that a graph's layers write as zero may be
# removed only through these.
_ZERO_PRESERVING = (
    "Add", "Sub", "Mul", "Neg", "Relu", "LeakyRelu", "Hardtanh", "Gelu", "Silu", "Tanh", "Elu",
    "Mean", "Sum", "MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool", "View", "Reshape",
    "UnsafeView", "Flatten", "Permute", "Transpose", "Clone", "Cat", "Split", "Dropout",
    "Identity", "Squeeze", "Unsqueeze", "Expand", "Slice", "Select", "Max", "Amax",
)


def _tp_import():
    try:
        import torch_pruning as tp
    except ImportError:
        raise ImportError(
            "compact of a model that is not an nn.Sequential chain (residual or branching "
            "graphs) uses the dependency graph of Torch-Pruning, which is not installed: "
            'pip install "multiproj[prune]" (or pip install torch-pruning).'
        ) from None
    return tp


def _graph_removable(dg, group) -> torch.Tensor | None:
    """The root channels of a Torch-Pruning ``group`` that no layer reads, or that every
    layer writing them writes as exact zeros (zero weights and bias) through
    zero-preserving operations only; None when the group's channels reach the model's
    output (removing them would change its shape)."""
    tp_ops = __import__("torch_pruning.ops", fromlist=["ops"])
    # concatenation, split, reshape, slice, expand: they move values, zeros stay zeros
    structural = tuple(getattr(tp_ops, n) for n in ("_ConcatOp", "_SplitOp", "_UnbindOp", "_ReshapeOp",
                                                    "_SliceOp", "_ExpandOp") if hasattr(tp_ops, n))
    root = group[0]
    n_root = len(root.root_idxs)
    unread = torch.ones(n_root, dtype=torch.bool)
    zero = torch.ones(n_root, dtype=torch.bool)
    readers = 0
    for item in group:
        dep, idxs, ridx = item.dep, item.idxs, item.root_idxs
        node, mod = dep.target, dep.target.module
        pos = torch.tensor([root.root_idxs.index(r) for r in ridx], dtype=torch.long)
        pruner = dg.get_pruner_of_module(mod)
        reads = (pruner is not None and dep.handler == pruner.prune_in_channels
                 and pruner.prune_in_channels != pruner.prune_out_channels)
        if not reads and not node.outputs:
            return None  # channels of the model's output
        if _is_producer(mod):
            if getattr(mod, "groups", 1) != 1:
                return None  # grouped convolutions: not handled
            i = torch.tensor(idxs, dtype=torch.long)
            w = mod.weight.detach()
            if reads:
                cols = (w != 0).transpose(0, 1).reshape(w.shape[1], -1).any(dim=1)
                readers += 1
                unread[pos] &= ~cols[i]
            else:
                rows = _nz_rows(w)[i]
                if mod.bias is not None:
                    rows = rows | (mod.bias.detach()[i] != 0)
                zero[pos] &= ~rows
        elif reads:
            unread[:] = False  # read by a layer whose weights are not checked here
        elif isinstance(mod, tp_ops._ElementWiseOp):
            fn = mod._grad_fn
            name = fn if isinstance(fn, str) else type(fn).__name__
            if not (name.startswith(_ZERO_PRESERVING) or name.startswith("TBackward")):
                zero[:] = False
        elif not isinstance(mod, _ELEMENTWISE + _POOLS + (nn.Flatten,) + structural):
            zero[:] = False  # batch norm, layer norm, ...: a zero channel may not stay zero
    if not readers:
        unread[:] = False
    return unread | zero


def _compact_graph(model, example_input):
    """Compaction of any traceable model through Torch-Pruning's dependency graph: the
    groups of coupled channels (a residual sum couples the channels of every layer that
    feeds it) lose the channels that :func:`_graph_removable` finds."""
    tp = _tp_import()
    new = copy.deepcopy(model).eval()
    flags = {p: p.requires_grad for p in new.parameters()}
    for p in new.parameters():
        p.requires_grad_(True)  # the graph is traced through autograd
    try:
        with torch.enable_grad():
            dg = tp.DependencyGraph().build_dependency(new, example_inputs=example_input.detach(), verbose=False)
    except Exception as exc:
        raise _unsupported(f"Torch-Pruning could not trace the {type(model).__name__}: {exc}") from None
    names = {m: n for n, m in new.named_modules()}
    before = {names[m]: (m.weight.shape[1], m.weight.shape[0]) for m in new.modules() if _is_producer(m)}
    roots = [m for m in dg.module2node if _is_producer(m)]
    for m in roots:
        pruner = dg.get_pruner_of_module(m)
        if pruner is None or pruner.get_out_channels(m) is None:
            continue
        group = dg.get_pruning_group(m, pruner.prune_out_channels, list(range(pruner.get_out_channels(m))))
        keep = _graph_removable(dg, group)
        if keep is None:
            continue
        drop = torch.nonzero(keep).flatten().tolist()
        if len(drop) == len(keep):  # keep one channel, so that no layer has zero width
            drop = drop[1:]
        if drop:
            dg.get_pruning_group(m, pruner.prune_out_channels, drop).prune()
    for p, f in flags.items():
        p.requires_grad_(f)
    removed = {}
    for m in new.modules():
        if _is_producer(m) and names.get(m) in before:
            i0, o0 = before[names[m]]
            removed[names[m]] = {"inputs": i0 - m.weight.shape[1], "outputs": o0 - m.weight.shape[0]}
    return new.eval(), removed


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def compact(
    model: nn.Module, example_input: torch.Tensor, *, remove_inputs: bool = True, check: bool = True
) -> CompactResult:
    """A smaller model with the same outputs as the pruned ``model`` (in ``eval()`` mode).

    Removes the input features (Linear) or channels (convolution) that the first layer reads
    with zero weights, and the hidden units / channels between two layers that the next layer
    does not read or the previous one does not write (the constant output of a written-off
    channel is folded into the next layer's bias; see :mod:`multiproj._training.compact`).

    Parameters
    ----------
    model : nn.Sequential, nn.Linear, nn.ConvNd or multiproj.sae.SupervisedAutoencoder
        Sequential chains (nested ones are flattened) of Linear / Conv1d-3d (``groups=1``)
        layers with batch norm, elementwise activations, pooling, dropout and
        ``nn.Flatten`` between them; after the last layer anything goes (it is kept).  The
        SAE: the encoder loses input features and hidden units, the decoder hidden units.
        Any other module (residual blocks, branches, a Sequential holding such a block) is
        compacted through the dependency graph of Torch-Pruning [TP] (the optional extra
        ``multiproj[prune]``; ImportError naming it when missing): its groups of coupled
        channels (the layers that feed one residual sum, the branches of a concatenation)
        lose the channels that no Linear / convolution reads with a non-zero weight, and
        those that every layer writing them writes as exact zeros (zero weights and bias)
        through operations that keep zeros (no batch norm); the model's own outputs and
        inputs are kept (``input_index`` is None), a written-off channel with a non-zero
        bias is kept, and grouped convolutions are left as they are.
    example_input : torch.Tensor
        An input batch, used for the activation shapes and for the output check.
    remove_inputs : bool, default True
        Remove the unread inputs of the first layer (the caller then feeds
        ``result.select_input(x)``, or ``x[:, result.input_index]`` for features).
    check : bool, default True
        Compare the outputs of both models on ``example_input`` in float64 and raise
        RuntimeError if they differ (``rtol=1e-9`` for a float64 model; ``1e-5`` for a
        float32 one, whose folded biases are rounded to float32).

    Returns
    -------
    CompactResult
        ``.model``, ``.input_index``, ``.select_input(x)``, ``.with_input_selection()``,
        ``.removed``, ``.params_before``, ``.params_after``.

    References
    ----------
    [TP] G. Fang, X. Ma, M. Song, M. B. Mi, X. Wang, "DepGraph: Towards Any Structural
    Pruning", CVPR 2023.

    Examples
    --------
    >>> import torch, multiproj.nn as mpn
    >>> net = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> with torch.no_grad():
    ...     net[0].weight[:, 5:] = 0        # 5 input features unused
    ...     net[0].weight[:3] = 0           # 3 hidden units written off (bias only)
    >>> res = mpn.compact(net, torch.randn(4, 10))
    >>> res.model, res.input_index.tolist()
    (Sequential(
      (0): Linear(in_features=5, out_features=5, bias=True)
      (1): ReLU()
      (2): Linear(in_features=5, out_features=2, bias=True)
    ), [0, 1, 2, 3, 4])
    >>> x = torch.randn(3, 10)
    >>> torch.allclose(res.model(res.select_input(x)), net(x), atol=1e-6)
    True
    """
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(
            f"The 'example_input' parameter of compact must be a torch.Tensor. Got {type(example_input).__name__} instead."
        )
    from ..sae.model import SupervisedAutoencoder

    if isinstance(model, SupervisedAutoencoder):
        enc, idx, dim, rem_e = _compact_chain(model.encoder, example_input, remove_inputs, "encoder.")
        with torch.no_grad():
            z = copy.deepcopy(model.encoder).eval()(example_input)
        dec, _, _, rem_d = _compact_chain(model.decoder, z, False, "decoder.")
        new = copy.copy(model)
        new._modules = dict(model._modules)
        new.encoder, new.decoder = enc, dec
        new = copy.deepcopy(new).eval()
        removed = {**rem_e, **rem_d}
    elif isinstance(model, nn.Module):
        try:
            if not (isinstance(model, nn.Sequential) or _is_producer(model)):
                raise _NotAChain()
            new, idx, dim, removed = _compact_chain(model, example_input, remove_inputs, "" if isinstance(model, nn.Sequential) else "layer.")
        except _NotAChain:  # residual or branching: Torch-Pruning's dependency graph
            new, removed = _compact_graph(model, example_input)
            idx, dim = None, -1
    else:
        raise TypeError(f"The 'model' parameter of compact must be an nn.Module. Got {type(model).__name__} instead.")
    res = CompactResult(new, idx, dim, removed, _count(model), _count(new))
    if check:
        ref = copy.deepcopy(model).double().eval()
        with torch.no_grad():
            x64 = example_input.detach().double()
            want = ref(x64)
            got = copy.deepcopy(new).double()(res.select_input(x64))
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        p = next(model.parameters(), None)
        rtol = 1e-9 if p is None or p.dtype == torch.float64 else 1e-5  # folded biases are rounded once
        for a, b in zip(want, got):
            scale = float(a.abs().max()) if a.numel() else 1.0
            if a.shape != b.shape or not torch.allclose(a, b, rtol=rtol, atol=rtol * scale):
                raise RuntimeError("compact: the compacted model's outputs differ from the model's (float64 check).")
    return res
