"""Backend dispatch by array type: the one place that looks at what kind of array came in.

A backend module provides ``as_array(y)``, ``project(y, radius, plan, out)``,
``norm(y, plan)``, ``prox(y, lam, ball, axes)``, ``check_inplace(y)`` and ``inplace()``:
:mod:`multiproj._cpu.solvers` for NumPy arrays and anything NumPy converts,
:mod:`multiproj._torch.bridge` for tensors (imported, with torch, only then).

:func:`primitives` gives the primitives interface (the same names and signatures on both
backends: ``group_norms``, ``finite_group_norms``, ``outer_l1``, ``apply_group_radii``,
``soft_threshold``, ``L1Sums``) for an array, which is what :mod:`multiproj.dask` and
:mod:`multiproj.distributed` build on.
"""

from __future__ import annotations

from types import ModuleType

from ._core.registry import PRIMITIVES

__all__ = ["get_backend", "primitives", "PRIMITIVES"]


def _is_tensor(y) -> bool:
    return type(y).__module__.startswith("torch")


def get_backend(y) -> ModuleType:
    """The backend module for ``y``: the torch bridge for tensors, else the CPU backend."""
    if _is_tensor(y):
        from ._torch import bridge

        return bridge
    from ._cpu import solvers

    return solvers


def primitives(x) -> ModuleType:
    """The primitives module for ``x``: NumPy arrays use the CPU primitives, tensors the
    torch ones (on the tensor's device)."""
    if _is_tensor(x):
        from ._torch import primitives as torch_primitives

        return torch_primitives
    from ._cpu import primitives as cpu_primitives

    return cpu_primitives
