"""Proximal operators of the l1, l1,2 and l1,inf norms (Moreau's identity where it applies).

For a norm ``f`` with dual unit ball ``B*``, ``prox_{lam f}(y) = y - P_{lam B*}(y)``
(Moreau decomposition).  The three operators in closed form, groups as in
:func:`multiproj.project` (the inner norm reduces ``axis``):

* l1: soft threshold, ``sign(y) max(|y| - lam, 0)``;
* l1,2: group soft threshold, ``y_g max(0, 1 - lam / ||y_g||_2)``;
* l1,inf: the dual ball is ``{z : max_g ||z_g||_1 <= 1}``, so each group loses its own
  projection onto the l1 ball of radius ``lam``:
  ``y_g - P_l1(y_g, lam) = sign(y_g) min(|y_g|, tau_g)`` where ``tau_g`` is that
  projection's threshold, and the group becomes 0 when ``||y_g||_1 <= lam``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from ._backend import get_backend
from ._core.ball import parse_ball
from ._core.checks import check_radius
from ._core.plan import resolve
from ._core.types import Array, ArrayIn, ArrayLike, Axis, BallLike, NDArray, Scalar

if TYPE_CHECKING:
    import torch

__all__ = ["prox"]

PROX_NORMS = ("l1", "l1,2", "l1,inf")


@overload
def prox(y: torch.Tensor, strength: Scalar, ball: BallLike, *, axis: Axis = ...) -> torch.Tensor: ...
@overload
def prox(y: ArrayLike, strength: Scalar, ball: BallLike, *, axis: Axis = ...) -> NDArray[Any]: ...
def prox(y: ArrayIn, strength: Scalar, ball: BallLike, *, axis: Axis = None) -> Array:
    r"""Proximal operator of ``strength * ||.||_ball``.

    .. math::

        \operatorname{prox}_{\lambda f}(y) = \arg\min_x \tfrac12 \|x - y\|_F^2
        + \lambda f(x), \qquad f \in \{\ell_1, \ell_{1,2}, \ell_{1,\infty}\}

    Parameters
    ----------
    y : array_like
        Data, any shape for ``"l1"``, at least 2-D for the mixed norms.  float32 and
        float64 are kept (same input policy as :func:`multiproj.project`).  A torch
        tensor is handled by the torch backend (same dtype and device).
    strength : float
        ``lambda >= 0``, finite.  ``0`` returns a copy of ``y``.
    ball : {"l1", "l1,2", "l1,inf"}
        ``"l1"`` takes ``y`` as one vector or, with ``axis``, as a batch of vectors
        (:func:`multiproj.project`); the l1 prox is the entry-wise soft threshold, the same
        for every batch.
    axis : None, int or tuple of int, default None
        Mixed norms: the axes reduced by the inner norm (the groups are the slices along
        the other axes; None means 0); l1: the axes every ball spans (None: every axis).
        Same rule and checks as :func:`multiproj.project`.

    Returns
    -------
    ndarray
        A new array of ``y``'s float dtype; ``y`` is not modified.

    Notes
    -----
    Moreau's identity ``y = prox_{lam f}(y) + P_{lam B*}(y)``, ``B*`` the unit ball of the
    dual norm (l_inf for l1, max of group l2 norms for l1,2, max of group l1 norms for
    l1,inf).  For l1,inf the projection onto ``lam B*`` is one l1-ball projection per group
    (Condat's algorithm [CON]), and the prox clips each group at that projection's
    threshold, exactly [BEJ].

    References
    ----------
    [CON] L. Condat, Math. Prog. 158 (2016).  [BEJ] B. Bejar, I. Dokmanic, R. Vidal, IEEE
    TPAMI (2021).
    """
    b = parse_ball(ball)
    if b.name not in PROX_NORMS:
        raise ValueError(
            f"The 'ball' parameter of prox must be one of {', '.join(repr(n) for n in PROX_NORMS)}. "
            f"Got {ball!r} instead."
        )
    lam = check_radius(strength, "strength")
    backend = get_backend(y)
    y = backend.as_array(y)
    plan = resolve("exact", b, y.ndim, axis)
    axes = None if b.is_flat else plan.axes  # the l1 soft threshold is entry-wise
    return backend.prox(y, lam, b, axes, strength)
