"""PyTorch backend: :func:`multiproj.project`, :func:`~multiproj.project_`,
:func:`~multiproj.norm` and :func:`~multiproj.prox` on ``torch.Tensor`` input.

:func:`multiproj._api._dispatch` sends every tensor here (torch is imported only then).

CPU tensors
    run the same Numba kernels as NumPy arrays, on a zero-copy NumPy view of the tensor's
    storage (``t.detach().numpy()``): results are bit-for-bit those of the NumPy call.  The
    result is a new tensor that wraps the kernel's output array (``torch.from_numpy``, no
    copy).  Strided (non-contiguous) tensors are viewed with their strides; a copy is made
    only where NumPy would make one (the reduced axes not adjacent in memory order, see
    :mod:`multiproj._layout`), or for a tensor with the negative bit set
    (``torch._neg_view``), which is resolved first.
CUDA (and other device) tensors
    run torch operations on the tensor's device (:mod:`multiproj._torch_ops`, the
    ``"torch"`` solver of the method in :data:`multiproj.METHODS`); no data leaves the
    device, except where no device algorithm exists: exact l1,inf, and any method
    registered without a ``"torch"`` solver, copy to the host, run the NumPy solver and
    copy the result back (:func:`multiproj._torch_ops.host_fallback`).

Autograd: when ``y`` (or a 0-d tensor ``radius``) requires grad and grad mode is on,
:func:`project` and :func:`prox` return a differentiable result whose backward is the
exact vector-Jacobian product (:mod:`multiproj._autograd`); the forward values are those of
the paths above.  Otherwise, and always for ``out=`` and ``project_``, the projection is
applied to the data outside autograd (no ``grad_fn``).

Input dtypes follow the NumPy policy: float32 and float64 are kept; float16 and
bfloat16 give float32; bool and integer give float64; complex raises TypeError.

``project_`` and ``out=`` write into the tensor's own storage (same object, same
``data_ptr``) and bump its autograd version counter, as a torch in-place operation would.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _api
from ._registry import Method, get_method
from ._validation import Ball, check_radius, parse_ball

__all__ = ["project", "project_", "norm", "prox"]

_FLOATS = (torch.float32, torch.float64)


# --------------------------------------------------------------------------- checks
def _as_float_tensor(y, name: str = "y") -> torch.Tensor:
    """The tensor as float32/float64 (no copy when it already is one), without autograd
    history (detached when it requires grad)."""
    if y.layout != torch.strided:
        raise TypeError(
            f"The '{name}' parameter must be a dense (strided) tensor. Got layout {y.layout} instead."
        )
    if y.dtype in _FLOATS:
        return y.detach() if y.requires_grad else y
    if y.is_complex():
        raise TypeError(
            f"The '{name}' parameter must be a real (float, int or bool) tensor. "
            f"Got a tensor of dtype {y.dtype} instead."
        )
    target = torch.float32 if y.dtype.is_floating_point else torch.float64
    return y.detach().to(target)


def _numpy_view(t: torch.Tensor) -> np.ndarray:
    """Zero-copy NumPy view of a detached CPU float tensor (a copy if its neg bit is set)."""
    if t.is_neg():
        t = t.resolve_neg()
    return t.numpy()


def _has_internal_overlap(t: torch.Tensor) -> bool:
    return any(s == 0 and n > 1 for s, n in zip(t.stride(), t.shape))


def _check_out(out, y: torch.Tensor) -> torch.Tensor | None:
    if out is None:
        return None
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            "The 'out' parameter must be a torch.Tensor when 'y' is a tensor. "
            f"Got {type(out).__name__} instead."
        )
    if tuple(out.shape) != tuple(y.shape):
        raise ValueError(
            f"The 'out' parameter must have shape {tuple(y.shape)}. Got shape {tuple(out.shape)} instead."
        )
    if out.dtype != y.dtype:
        raise TypeError(f"The 'out' parameter must have dtype {y.dtype}. Got dtype {out.dtype} instead.")
    if out.device != y.device:
        raise ValueError(
            f"The 'out' parameter must be on device {y.device}. Got device {out.device} instead."
        )
    if out.layout != torch.strided or _has_internal_overlap(out):
        raise ValueError(
            "The 'out' parameter must be a dense tensor whose elements have distinct memory "
            "locations (not an expanded view)."
        )
    return out


def _bump_version(t: torch.Tensor) -> None:
    """Tell autograd that ``t`` was modified in place (writes through NumPy bypass it)."""
    try:
        torch.autograd.graph.increment_version(t)
    except (AttributeError, RuntimeError):  # pragma: no cover - old torch, inference tensors
        pass


def _device_solver(method: Method):
    """The torch-ops solver of ``method``, or None when it has none (host fallback)."""
    if "torch" not in method.kernels:
        return None
    return method.solver("torch")


# --------------------------------------------------------------------------- API
def project(y, radius, ball: Ball, *, method: Method, axis=0, levels=None, out=None):
    """:func:`multiproj.project` for a tensor ``y`` (``radius`` checked, ``ball`` parsed,
    ``method`` a registry entry).  Returns a new tensor of ``y``'s (float) dtype and device,
    or ``out``.  When ``y`` or ``radius`` (then a 0-d tensor) requires grad, grad mode is
    on and ``out`` is None, the result is differentiable (:mod:`multiproj._autograd`)."""
    from . import _autograd

    if out is None and _autograd.wants_grad(y, radius):
        return _autograd.project(y, radius, ball, method=method, axis=axis, levels=levels)
    radius = check_radius(radius)  # a tensor that requires grad, with grad mode off
    yt = _as_float_tensor(y)
    out = _check_out(out, yt)
    if yt.is_cpu:  # Numba kernels on a zero-copy view
        return _project_cpu(yt, radius, ball, method, axis, levels, out)
    axes, levels = _axes_levels(yt, ball, method, axis, levels)
    if yt.numel() == 0:
        return yt.clone() if out is None else out
    solver = _device_solver(method)
    with torch.no_grad():
        target = None if out is None else out.detach()
        if solver is None:
            from ._torch_ops import host_fallback

            res = host_fallback(method.name, yt, radius, ball, axes=axes, levels=levels, out=target)
        else:
            res = solver(yt, radius, ball, axes=axes, levels=levels, out=target)
    return out if out is not None else res


def _axes_levels(y, ball: Ball, method: Method, axis, levels):
    """The checks of :func:`multiproj._api.project` that follow dispatch (same messages)."""
    if not method.supports(ball):
        raise ValueError(
            f"method={method.name!r} does not support the ball {ball.name!r}; "
            f"it supports {', '.join(method.balls)}."
        )
    if method.name == "multilevel":  # 'axis' is not used
        from ._validation import check_levels

        return None, check_levels(levels, y.ndim, ball)
    return _api._check_ball_axes(y, ball, axis), levels


def _project_cpu(yt, radius, ball, method, axis, levels, out):
    """CPU tensor: the NumPy solver on a zero-copy view of the storage (validated as in
    the NumPy API, without a second pass through it)."""
    arr = _numpy_view(yt)
    axes, levels = _axes_levels(arr, ball, method, axis, levels)
    solve = method.solver("numpy")
    if out is None:
        if arr.size == 0:
            return yt.clone()
        res = solve(arr, radius, ball, axes=axes, levels=levels, out=None)
        if np.may_share_memory(res, arr):  # never hand back the caller's storage
            res = res.copy()
        return torch.from_numpy(res)
    if arr.size == 0:
        return out
    od = out.detach()
    if od.is_neg():  # no writable view: compute, then copy into the storage
        res = solve(arr, radius, ball, axes=axes, levels=levels, out=None)
        with torch.no_grad():
            od.copy_(torch.from_numpy(res))
        return out
    same = od.data_ptr() == yt.data_ptr() and od.stride() == yt.stride()
    solve(arr, radius, ball, axes=axes, levels=levels, out=arr if same else od.numpy())
    _bump_version(out)
    return out


def project_(y, radius, ball, *, method="exact", axis=0, levels=None):
    """:func:`multiproj.project_` for a tensor: project ``y`` in place and return ``y``.

    The projection is written into ``y``'s storage (same object, same ``data_ptr``; CPU
    tensors through a NumPy view, device tensors by torch operations with ``out=y``) under
    ``torch.no_grad()``, so it works on leaf tensors and ``nn.Parameter`` objects that
    require grad, and optimiser state keyed on the parameter stays valid.
    """
    m = method if isinstance(method, Method) else get_method(method)
    ball = parse_ball(ball)
    radius = check_radius(radius)
    if not isinstance(y, torch.Tensor) or y.dtype not in _FLOATS:
        raise TypeError(
            "project_ needs a float32 or float64 tensor (or numpy.ndarray) to write into. "
            f"Got {type(y).__name__}" + (f" of dtype {y.dtype}" if hasattr(y, "dtype") else "")
            + " instead."
        )
    with torch.no_grad():
        project(y, radius, ball, method=m, axis=axis, levels=levels, out=y)
    return y


def norm(y, ball: Ball, *, axis=0, levels=None) -> float:
    """:func:`multiproj.norm` for a tensor, as a Python float (computed on ``y``'s device)."""
    yt = _as_float_tensor(y)
    if yt.is_cpu:
        return _api.norm(_numpy_view(yt), ball, axis=axis, levels=levels)
    if levels is not None or ball.order > 2:  # multi-level norm, as in the NumPy API
        from ._validation import check_levels

        axes, levels = None, check_levels(levels, yt.ndim, ball)
    else:
        axes = _api._check_ball_axes(yt, ball, axis)
    from ._torch_ops import norm as _norm

    with torch.no_grad():
        return _norm(yt, ball, axes=axes, levels=levels)


def prox(y, strength, norm, *, axis=0):
    """:func:`multiproj.prox` for a tensor: the proximal operator of ``strength * ||.||``.

    CPU tensors run the NumPy implementation on a zero-copy view; device tensors use the
    Moreau decomposition ``prox_{s||.||}(y) = y - P_{s B_*}(y)`` with the projection onto
    the dual-norm ball in torch operations (see :func:`multiproj._torch_ops.prox`).
    When ``y`` or ``strength`` (then a 0-d tensor) requires grad and grad mode is on, the
    result is differentiable (:mod:`multiproj._autograd`).
    """
    from . import _autograd

    if _autograd.wants_grad(y, strength):
        return _autograd.prox(y, strength, norm, axis=axis)
    strength = check_radius(strength, "strength")  # a tensor, with grad mode off
    yt = _as_float_tensor(y)
    if yt.is_cpu:
        from . import _prox

        res = _prox.prox(_numpy_view(yt), strength, norm, axis=axis)
        if np.may_share_memory(res, _numpy_view(yt)):
            res = res.copy()
        return torch.from_numpy(np.asarray(res))
    from ._torch_ops import prox as _prox_dev

    strength = check_radius(strength, "strength")
    ball = parse_ball(norm)
    axes = _api._check_ball_axes(yt, ball, axis)
    with torch.no_grad():
        return _prox_dev(yt, strength, ball, axes=axes)
