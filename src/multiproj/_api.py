"""The public functional API: check the arguments and resolve the plan once, then hand the
call to the backend of the array type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from ._backend import get_backend
from ._core.ball import parse_ball
from ._core.plan import resolve, resolve_norm
from ._core.registry import get_method
from ._core.types import Array, ArrayIn, ArrayLike, Axis, BallLike, InplaceArray, Levels, NDArray, Scalar

if TYPE_CHECKING:
    import torch

__all__ = ["project", "project_", "norm"]


@overload
def project(
    y: torch.Tensor, radius: Scalar, ball: BallLike, *, method: str = ..., axis: Axis = ...,
    levels: Levels = ..., out: torch.Tensor | None = ...,
) -> torch.Tensor: ...
@overload
def project(
    y: ArrayLike, radius: Scalar, ball: BallLike, *, method: str = ..., axis: Axis = ...,
    levels: Levels = ..., out: NDArray[Any] | None = ...,
) -> NDArray[Any]: ...
def project(
    y: ArrayIn, radius: Scalar, ball: BallLike, *, method: str = "exact", axis: Axis = None,
    levels: Levels = None, out: Array | None = None,
) -> Array:
    r"""Project ``y`` onto the ball ``{x : ||x||_ball <= radius}``.

    .. math::

        P(y) = \arg\min_{x} \tfrac12 \|x - y\|_F^2 \quad \text{s.t.}\quad \|x\|_{ball} \le r

    with, for a mixed ball whose inner norm reduces ``axis`` (groups are the slices along
    the other axes), :math:`\|x\|_{1,q} = \sum_g \|x_g\|_q`.  A flat ball spans ``axis``
    (all axes by default); with fewer axes every index of the other axes is its own ball,
    projected independently (``x_b = P_{r_b}(y_b)``, batched balls).

    Parameters
    ----------
    y : array_like or torch.Tensor
        Data, any shape for the flat balls, at least 2-D for mixed balls.  float32 and
        float64 are kept; other real types are converted to float64 (see the input policy
        in :mod:`multiproj._core.checks`).  A tensor gives a tensor of the same dtype and
        device: CPU tensors run the same kernels on a zero-copy view, CUDA tensors run
        torch operations on the device (:mod:`multiproj._torch.bridge`).  When ``y``
        requires grad (and grad mode is on) the result is differentiable, with the exact
        vector-Jacobian product as backward (:mod:`multiproj._torch.autograd`).
    radius : float, 0-d torch.Tensor or array_like
        Radius ``r >= 0``; with a tensor ``y``, a radius tensor that requires grad makes
        the result differentiable in the radius too.  For batched flat balls (see
        ``axis``) also an array of radii, one per ball: of the batch shape (``y.shape``
        without the balls' axes), of its keepdims form (the balls' axes of length 1), or
        anything that broadcasts to one of them; a tensor of radii that requires grad
        receives one gradient per radius (summed over the balls that share it).  Mixed
        balls take a number.
    ball : {"l1", "l2", "linf", "l1,inf", "l1,1", "l1,2"} or "l1,q2,...,qk"
        The norm.  Flat balls take ``y`` as one vector, or as a batch of vectors (see
        ``axis``).  ``method="multilevel"`` takes any
        ``"l1,q2,...,qk"`` (k >= 2, each ``q`` one of 1, 2, inf), the norms named from the
        outermost level inwards, e.g. ``"l1,inf,inf"``, ``"l1,1,1"``, ``"l1,2,inf"``.
    method : {"exact", "bilevel", "multilevel"}
        ``"exact"``: the Euclidean projection (l1,1 is then the flat l1 ball and l1,2
        coincides with the bi-level projection).  ``"bilevel"``: the bi-level projection
        of [MLP] s.3: group norms ``v``, ``u = P_l1(v, r)``, then each group projected onto
        its own l_q ball of radius ``u_g``; it is sparser than the exact projection for
        l1,inf.  ``"multilevel"``: the multi-level projection of a tensor [MLP s.4], see
        ``levels``.
    axis : None, int or tuple of int, default None
        Mixed balls: the axes reduced by the inner norm, as in :func:`numpy.linalg.norm`
        (None means 0).  For an ``nn.Linear`` weight (out x in), ``axis=0`` makes the input
        features the groups.  Flat balls: the axes that every ball spans (None: every
        axis, one ball); the other axes index independent balls, each projected onto its
        own ball (batched balls), e.g. ``axis=0`` of a matrix gives one ball per column.
        Not used by ``method="multilevel"`` (``levels`` says which axes every norm
        reduces).  An axis out of range raises ValueError.
    levels : tuple, optional
        Only for ``method="multilevel"`` (ValueError with any other method).  From the
        outermost level to the innermost, the axis (int) or axes (tuple of ints, flattened
        into one level) of ``y`` that each level spans; one entry per norm of ``ball``, and
        every axis of ``y`` named exactly once.  Default ``(0, 1, ..., k - 1)`` for a tensor
        of order k.  With norms ``l1, q_2, ..., q_k`` the norm is computed from the inside
        out, ``V_k = |y|`` and ``V_{l-1}`` = the ``q_l`` norm of ``V_l`` over level ``l``'s
        axes, ``||y|| = sum(V_1)``; the projection goes from the outside in,
        ``U_1 = P_l1(V_1, radius)`` and every fibre of ``V_l`` along level ``l`` projected
        onto the ``l_{q_l}`` ball of radius the matching entry of ``U_{l-1}``, then
        ``x = sign(y) * U_k``.  For a matrix, ``method="multilevel", levels=(1, 0)``
        (groups = columns, the inner norm reduces axis 0) is ``method="bilevel", axis=0``,
        and ``levels=(0, 1)`` is ``method="bilevel", axis=1``.  Levels that follow memory
        order (e.g. the default for a C-ordered array) need no transposed copy of ``y``.
    out : ndarray, optional
        Array of the same shape and dtype to write into; may be ``y`` itself (in place).

    Returns
    -------
    ndarray or torch.Tensor
        The projection, of ``y``'s float dtype (``out`` when given).  ``y`` is not modified
        unless it is ``out``.

    References
    ----------
    [MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [CON] L. Condat, Math. Prog. 158 (2016).
    """
    m = get_method(method)
    ball = parse_ball(ball)
    backend = get_backend(y)
    y = backend.as_array(y)
    return backend.project(y, radius, resolve(m, ball, y.ndim, axis, levels), out)


def project_(
    y: InplaceArray, radius: Scalar, ball: BallLike, *, method: str = "exact", axis: Axis = None,
    levels: Levels = None,
) -> InplaceArray:
    """In-place :func:`project`: writes the projection into ``y`` and returns ``y``.

    ``y`` must be a float32 or float64 array (or tensor); its memory is reused, so views
    of it and optimiser state that refer to it stay valid.
    """
    backend = get_backend(y)
    backend.check_inplace(y)
    with backend.inplace():
        project(y, radius, ball, method=method, axis=axis, levels=levels, out=y)
    return y


def project_plan_(y, radius: float, plan) -> None:
    """:func:`project_` of a float32/float64 array or tensor with a plan
    (:func:`multiproj._core.plan.resolve`) and a radius (``check_radius``) that the caller
    checked once, for a projection repeated on the same storage (a constrained weight after
    every optimiser step): no argument is checked again."""
    backend = get_backend(y)
    with backend.inplace():
        backend.project(y, radius, plan, y)


def norm(y: ArrayIn, ball: BallLike, *, axis: Axis = None, levels: Levels = None) -> float:
    """The norm ``||y||_ball`` as a Python float (same ball, ``axis`` and ``levels``
    conventions as :func:`project`).

    For batched flat balls (a flat ball whose ``axis`` leaves some axes out) the norms of
    all the balls: a float64 array of the batch shape (``y.shape`` without ``axis``), or a
    float64 tensor on ``y``'s device for a tensor.  ``axis=None`` (every axis) keeps one
    ball and a float.

    With ``levels``, or a ball of three norms or more (then ``levels`` defaults to
    ``(0, 1, ..., k - 1)``), the multi-level norm of [MLP s.4] is returned and ``axis`` is
    not used."""
    ball = parse_ball(ball)
    backend = get_backend(y)
    y = backend.as_array(y)
    return backend.norm(y, resolve_norm(ball, y.ndim, axis, levels))
