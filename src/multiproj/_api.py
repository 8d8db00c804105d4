"""The public functional API: validate once, dispatch by array type and method."""

from __future__ import annotations

import numpy as np

from ._registry import get_method
from ._validation import (
    Ball,
    as_float_array,
    check_axes,
    check_levels,
    check_out,
    check_radius,
    parse_ball,
)

__all__ = ["project", "project_", "norm"]


def _check_ball_axes(y: np.ndarray, ball: Ball, axis) -> tuple[int, ...] | None:
    if ball.is_flat:
        return None
    if y.ndim < 2:
        raise ValueError(
            f"The mixed ball {ball.name!r} needs an array with at least 2 dimensions "
            f"(groups and entries). Got a {y.ndim}-D array; use a flat ball such as 'l1' instead."
        )
    return check_axes(axis, y.ndim)


def project(y, radius, ball, *, method="exact", axis=0, levels=None, out=None):
    r"""Project ``y`` onto the ball ``{x : ||x||_ball <= radius}``.

    .. math::

        P(y) = \arg\min_{x} \tfrac12 \|x - y\|_F^2 \quad \text{s.t.}\quad \|x\|_{ball} \le r

    with, for a mixed ball whose inner norm reduces ``axis`` (groups are the slices along
    the other axes), :math:`\|x\|_{1,q} = \sum_g \|x_g\|_q`.

    Parameters
    ----------
    y : array_like or torch.Tensor
        Data, any shape for the flat balls, at least 2-D for mixed balls.  float32 and
        float64 are kept; other real types are converted to float64 (see the input policy
        in :mod:`multiproj._validation`).  A tensor gives a tensor of the same dtype and
        device: CPU tensors run the same kernels on a zero-copy view, CUDA tensors run
        torch operations on the device (:mod:`multiproj._torch`).  When ``y`` requires
        grad (and grad mode is on) the result is differentiable, with the exact
        vector-Jacobian product as backward (:mod:`multiproj._autograd`).
    radius : float or 0-d torch.Tensor
        Radius ``r >= 0``; with a tensor ``y``, a radius tensor that requires grad makes
        the result differentiable in the radius too.
    ball : {"l1", "l2", "linf", "l1,inf", "l1,1", "l1,2"} or "l1,q2,...,qk"
        The norm.  Flat balls take ``y`` as one vector.  ``method="multilevel"`` takes any
        ``"l1,q2,...,qk"`` (k >= 2, each ``q`` one of 1, 2, inf), the norms named from the
        outermost level inwards, e.g. ``"l1,inf,inf"``, ``"l1,1,1"``, ``"l1,2,inf"``.
    method : {"exact", "bilevel", "multilevel"}
        ``"exact"``: the Euclidean projection (l1,1 is then the flat l1 ball and l1,2
        coincides with the bi-level projection).  ``"bilevel"``: the bi-level projection
        of [MLP] s.3: group norms ``v``, ``u = P_l1(v, r)``, then each group projected onto
        its own l_q ball of radius ``u_g``; it is sparser than the exact projection for
        l1,inf.  ``"multilevel"``: the multi-level projection of a tensor [MLP s.4], see
        ``levels``.
    axis : int or tuple of int, default 0
        Axes reduced by the inner norm, as in :func:`numpy.linalg.norm`.  For an
        ``nn.Linear`` weight (out x in), ``axis=0`` makes the input features the groups.
        Not used by ``method="multilevel"`` (``levels`` says which axes every norm
        reduces).
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
    radius_in, radius = radius, check_radius(radius)
    multilevel = m.name == "multilevel"
    if levels is not None and not multilevel:
        raise ValueError(
            f"The 'levels' parameter is used only by method='multilevel'. Got levels={levels!r} "
            f"with method={m.name!r} instead; use 'axis' for this method."
        )
    backend, y_arr = _dispatch(y)
    if backend != "numpy":  # a radius tensor that requires grad is kept for autograd
        radius = radius_in if getattr(radius_in, "requires_grad", False) else radius
        return backend.project(y, radius, ball, method=m, axis=axis, levels=levels, out=out)
    y_arr = as_float_array(y_arr)
    if not m.supports(ball):
        raise ValueError(
            f"method={m.name!r} does not support the ball {ball.name!r}; "
            f"it supports {', '.join(m.balls)}."
        )
    if multilevel:  # 'axis' is not used: the levels say which axes every norm reduces
        axes, levels = None, check_levels(levels, y_arr.ndim, ball)
    else:
        axes = _check_ball_axes(y_arr, ball, axis)
    out = check_out(out, y_arr)
    if y_arr.size == 0:
        return y_arr.copy() if out is None else out
    return m.solver("numpy")(y_arr, radius, ball, axes=axes, levels=levels, out=out)


def project_(y, radius, ball, *, method="exact", axis=0, levels=None):
    """In-place :func:`project`: writes the projection into ``y`` and returns ``y``.

    ``y`` must be a float32 or float64 array (or tensor); its memory is reused, so views
    of it and optimiser state that refer to it stay valid.
    """
    backend, y_arr = _dispatch(y)
    if backend != "numpy":
        return backend.project_(y, radius, ball, method=method, axis=axis, levels=levels)
    if not isinstance(y, np.ndarray) or y.dtype not in (np.float32, np.float64):
        raise TypeError(
            "project_ needs a float32 or float64 numpy.ndarray (or torch tensor) to write "
            f"into. Got {type(y).__name__}"
            + (f" of dtype {y.dtype}" if hasattr(y, "dtype") else "")
            + " instead."
        )
    return project(y, radius, ball, method=method, axis=axis, levels=levels, out=y)


def norm(y, ball, *, axis=0, levels=None) -> float:
    """The norm ``||y||_ball`` as a Python float (same ball, ``axis`` and ``levels``
    conventions as :func:`project`).

    With ``levels``, or a ball of three norms or more (then ``levels`` defaults to
    ``(0, 1, ..., k - 1)``), the multi-level norm of [MLP s.4] is returned and ``axis`` is
    not used."""
    ball = parse_ball(ball)
    backend, y_arr = _dispatch(y)
    if backend != "numpy":
        return backend.norm(y, ball, axis=axis, levels=levels)
    from ._numpy import norm as _norm

    y_arr = as_float_array(y_arr)
    if levels is not None or ball.order > 2:  # multi-level norm
        return _norm(y_arr, ball, levels=check_levels(levels, y_arr.ndim, ball))
    axes = _check_ball_axes(y_arr, ball, axis)
    return _norm(y_arr, ball, axes=axes)


def _dispatch(y):
    """Return ``("numpy", y)`` for anything NumPy handles, or a backend module for tensors."""
    mod = type(y).__module__
    if mod.startswith("torch"):
        from . import _torch

        return _torch, y
    return "numpy", y
