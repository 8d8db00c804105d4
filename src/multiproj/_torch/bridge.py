"""The torch backend's entry points: :func:`multiproj.project`, :func:`~multiproj.project_`,
:func:`~multiproj.norm` and :func:`~multiproj.prox` on ``torch.Tensor`` input.

:func:`multiproj._backend.get_backend` sends every tensor here (torch is imported only then).

CPU tensors
    run the same Numba kernels as NumPy arrays, on a zero-copy NumPy view of the tensor's
    storage (``t.detach().numpy()``): results are bit-for-bit those of the NumPy call.  The
    result is a new tensor that wraps the kernel's output array (``torch.from_numpy``, no
    copy).  Strided (non-contiguous) tensors are viewed with their strides; a copy is made
    only where NumPy would make one (the reduced axes not adjacent in memory order, see
    :mod:`multiproj._cpu.layout`), or for a tensor with the negative bit set
    (``torch._neg_view``), which is resolved first.
CUDA (and other device) tensors
    run torch operations on the tensor's device (:mod:`multiproj._torch.solvers`, the
    ``"torch"`` solver of the method in :data:`multiproj.METHODS`); no data leaves the
    device, except for a method registered without a ``"torch"`` solver, which copies to
    the host, runs the NumPy solver and copies the result back
    (:func:`multiproj._torch.solvers.host_fallback`).

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

from .._core.ball import Ball
from .._core.checks import has_internal_overlap
from .._core.plan import Plan
from .._core.registry import Method
from .._cpu import solvers as cpu

__all__ = ["as_array", "project", "norm", "prox", "check_inplace", "inplace"]

_FLOATS = (torch.float32, torch.float64)


# --------------------------------------------------------------------------- checks
def as_array(y, name: str = "y") -> torch.Tensor:
    """The tensor as float32/float64 (no copy when it already is one).  The autograd
    history is kept here; the entry points below detach."""
    if y.layout != torch.strided:
        raise TypeError(
            f"The '{name}' parameter must be a dense (strided) tensor. Got layout {y.layout} instead."
        )
    if y.device.type == "meta":
        raise TypeError(
            f"The '{name}' parameter must be a tensor with data (on the CPU or an accelerator). "
            "Got a tensor on the 'meta' device, which has shapes but no values."
        )
    if y.dtype in _FLOATS:
        return y
    if y.is_complex():
        raise TypeError(
            f"The '{name}' parameter must be a real (float, int or bool) tensor. "
            f"Got a tensor of dtype {y.dtype} instead."
        )
    target = torch.float32 if y.dtype.is_floating_point else torch.float64
    return y.to(target)


def _detached(y: torch.Tensor) -> torch.Tensor:
    return y.detach() if y.requires_grad else y


def _numpy_view(t: torch.Tensor) -> np.ndarray:
    """Zero-copy NumPy view of a detached CPU float tensor (a copy if its neg bit is set)."""
    if t.is_neg():
        t = t.resolve_neg()
    return t.numpy()


def _has_internal_overlap(t: torch.Tensor) -> bool:
    return has_internal_overlap(tuple(t.shape), t.stride())


def _overlaps(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when ``b`` shares storage with ``a`` other than as the same view (same first
    element and strides: in place).  Storage sharing is enough: the result then goes
    through a buffer."""
    if a.data_ptr() == b.data_ptr() and a.stride() == b.stride():
        return False
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


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
    if out.device.type == "meta":
        raise TypeError(
            "The 'out' parameter must be a tensor with storage. Got a tensor on the 'meta' device."
        )
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


# --------------------------------------------------------------------------- entry points
def project(y: torch.Tensor, radius, plan: Plan, out=None):
    """:func:`multiproj.project` for the float tensor ``y`` (from :func:`as_array`) and the
    call's plan.  Returns a new tensor of ``y``'s dtype and device, or ``out``.

    When ``y`` or ``radius`` (then a 0-d tensor, or for batched flat balls a tensor of
    radii) requires grad, grad mode is on and ``out`` is None, the result is differentiable (:mod:`multiproj._torch.autograd`); its forward
    is :func:`project` itself on the detached tensor."""
    from . import autograd

    if out is None and autograd.wants_grad(y, radius):
        return autograd.project(y, radius, plan, _project_detached)
    return _project_detached(y, plan.radius(radius, tuple(y.shape)), plan, out)


def _project_detached(y: torch.Tensor, radius: float, plan: Plan, out=None):
    """The projection of the tensor's data, outside autograd (``radius`` checked)."""
    yt = _detached(y)
    out = _check_out(out, yt)
    if yt.is_cpu:  # Numba kernels on a zero-copy view
        return _project_cpu(yt, radius, plan, out)
    if yt.numel() == 0:
        return yt.clone() if out is None else out
    solver = _device_solver(plan.method)
    with torch.no_grad():
        target = None if out is None else out.detach()
        if target is not None and _overlaps(yt, target):  # through a buffer
            res = project(yt, radius, plan, None)
            target.copy_(res)
            return out
        if solver is None:
            from .solvers import host_fallback

            res = host_fallback(plan.method.name, yt, radius, plan.ball, axes=plan.axes,
                                levels=plan.levels, out=target)
        else:
            res = solver(yt, radius, plan.ball, axes=plan.axes, levels=plan.levels, out=target)
    return out if out is not None else res


def _project_cpu(yt, radius, plan: Plan, out):
    """CPU tensor: the CPU solver on a zero-copy view of the storage."""
    arr = _numpy_view(yt)
    if out is None:
        res = cpu.solve(arr, radius, plan)
        if np.may_share_memory(res, arr):  # never hand back the caller's storage
            res = res.copy()
        return torch.from_numpy(res)
    if arr.size == 0:
        return out
    od = out.detach()
    if od.is_neg():  # no writable view: compute, then copy into the storage
        res = cpu.solve(arr, radius, plan)
        with torch.no_grad():
            od.copy_(torch.from_numpy(res))
        return out
    same = od.data_ptr() == yt.data_ptr() and od.stride() == yt.stride()
    cpu.solve(arr, radius, plan, arr if same else od.numpy())
    _bump_version(out)
    return out


def check_inplace(y) -> None:
    """TypeError unless ``y`` is a float32 or float64 tensor (:func:`multiproj.project_`)."""
    if not isinstance(y, torch.Tensor) or y.dtype not in _FLOATS:
        raise TypeError(
            "The 'y' parameter of project_ must be a float32 or float64 tensor (or "
            f"numpy.ndarray) to write into. Got {type(y).__name__}" + (f" of dtype {y.dtype}" if hasattr(y, "dtype") else "")
            + " instead."
        )


def inplace():
    """Context of an in-place projection: ``torch.no_grad()``, so that leaf tensors and
    ``nn.Parameter`` objects that require grad are written in their own storage (same
    object, same ``data_ptr``) and optimiser state keyed on them stays valid."""
    return torch.no_grad()


def norm(y: torch.Tensor, plan: Plan):
    """:func:`multiproj.norm` for a tensor, as a Python float (computed on ``y``'s device);
    for batched flat balls a float64 tensor of the batch shape on ``y``'s device."""
    yt = _detached(y)
    if yt.is_cpu:
        res = cpu.norm(_numpy_view(yt), plan)
        return torch.from_numpy(res) if isinstance(res, np.ndarray) else res
    from .solvers import norm as _norm

    with torch.no_grad():
        return _norm(yt, plan.ball, axes=plan.axes, levels=plan.levels)


def prox(y: torch.Tensor, lam: float, ball: Ball, axes, strength=None):
    """:func:`multiproj.prox` for a tensor: the proximal operator of ``lam * ||.||``.

    CPU tensors run the CPU implementation on a zero-copy view; device tensors use the
    Moreau decomposition ``prox_{s||.||}(y) = y - P_{s B_*}(y)`` with the projection onto
    the dual-norm ball in torch operations (see :func:`multiproj._torch.solvers.prox`).
    When ``strength`` (the raw argument, ``lam`` checked) or ``y`` requires grad and grad
    mode is on, the result is differentiable (:mod:`multiproj._torch.autograd`).
    """
    from . import autograd

    if autograd.wants_grad(y, strength):
        return autograd.prox(y, lam if strength is None else strength, ball, axes, _prox_detached)
    return _prox_detached(y, lam, ball, axes)


def _prox_detached(y: torch.Tensor, lam: float, ball: Ball, axes):
    """The prox of the tensor's data, outside autograd."""
    yt = _detached(y)
    if yt.is_cpu:
        view = _numpy_view(yt)
        res = cpu.prox(view, lam, ball, axes)
        if np.may_share_memory(res, view):
            res = res.copy()
        return torch.from_numpy(np.asarray(res))
    from .solvers import prox as _prox_dev

    with torch.no_grad():
        return _prox_dev(yt, lam, ball, axes=axes)
