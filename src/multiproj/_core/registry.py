"""The method registry: one entry per ``method=`` name, read by the API, the CLI and the
benchmarks alike.  Solvers are named as ``"module:function"`` strings and
imported on first use, so that ``import multiproj`` does not import Numba or torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .ball import Ball


@dataclass(frozen=True)
class Method:
    """A projection method.

    Attributes
    ----------
    name : str
        The value of ``method=``.
    summary : str
        One line for help texts and tables.
    balls : tuple of str
        The balls it supports (the multi-level method supports every ``l1,q2,...,qk``;
        ``balls`` then lists examples and ``min_order`` says the rest).
    kernels : dict
        Backend name (``"numpy"`` for arrays and CPU tensors, ``"torch"`` for tensors on
        another device) -> ``"module:function"`` of its solver, with the signature
        ``solve(y, radius, ball, *, axes, levels, out)``.  A method without a ``"torch"``
        solver runs its ``"numpy"`` solver on a host copy of a device tensor.
    """

    name: str
    summary: str
    balls: tuple[str, ...]
    kernels: dict[str, str] = field(default_factory=dict)
    min_order: int | None = None  # any ball of this order or more is supported

    def supports(self, ball: Ball) -> bool:
        if self.min_order is not None:
            return ball.order >= self.min_order
        return ball.name in self.balls

    def solver(self, backend: str) -> Callable:
        target = self.kernels.get(backend)
        if target is None:
            raise NotImplementedError(f"method={self.name!r} has no {backend} implementation.")
        module, func = target.split(":")
        return getattr(importlib.import_module(module), func)


METHODS: dict[str, Method] = {}

# The primitives interface: the functions (and the class) that both backends provide with
# the same signatures, in multiproj._cpu.primitives and multiproj._torch.primitives.
PRIMITIVES = (
    "group_norms", "finite_group_norms", "outer_l1", "apply_group_radii", "soft_threshold", "L1Sums",
)


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def get_method(name) -> Method:
    """The registry entry of ``name`` (a Method is returned as it is)."""
    if isinstance(name, Method):
        return name
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(
            f"The 'method' parameter must be one of {sorted(METHODS)}. Got {name!r} instead."
        )
    return METHODS[name]


register(
    Method(
        name="exact",
        summary="Euclidean projection onto the ball",
        balls=("l1", "l2", "linf", "l1,1", "l1,2", "l1,inf"),
        kernels={
            "numpy": "multiproj._cpu.solvers:project_exact",
            "torch": "multiproj._torch.solvers:project_exact",
        },
    )
)
register(
    Method(
        name="bilevel",
        summary="bi-level projection: group norms, one l1 projection, per-group projection",
        balls=("l1,inf", "l1,1", "l1,2"),
        kernels={
            "numpy": "multiproj._cpu.solvers:project_bilevel",
            "torch": "multiproj._torch.solvers:project_bilevel",
        },
    )
)
register(
    Method(
        name="multilevel",
        summary="multi-level projection of a tensor: norms inside out, projections outside in",
        balls=("l1,inf", "l1,1", "l1,2", "l1,inf,inf", "l1,1,1", "l1,2,inf", "l1,inf,2,1"),
        min_order=2,
        kernels={
            "numpy": "multiproj._cpu.multilevel:project_multilevel",
            "torch": "multiproj._torch.solvers:project_multilevel",
        },
    )
)
