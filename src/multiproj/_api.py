"""The public functional API: validate once, dispatch by array type and method."""

from __future__ import annotations

import numpy as np

from ._registry import get_method
from ._validation import Ball, as_float_array, check_axes, check_out, check_radius, parse_ball

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
    y : array_like
        Data, any shape for the flat balls, at least 2-D for mixed balls.  float32 and
        float64 are kept; other real types are converted to float64 (see the input policy
        in :mod:`multiproj._validation`).
    radius : float
        Radius ``r >= 0``.
    ball : {"l1", "l2", "linf", "l1,inf", "l1,1", "l1,2"}
        The norm.  Flat balls take ``y`` as one vector.
    method : {"exact", "bilevel"}
        ``"exact"``: the Euclidean projection (l1,1 is then the flat l1 ball and l1,2
        coincides with the bi-level projection).  ``"bilevel"``: the bi-level projection
        of [MLP] s.3: group norms ``v``, ``u = P_l1(v, r)``, then each group projected onto
        its own l_q ball of radius ``u_g``; it is sparser than the exact projection for
        l1,inf.
    axis : int or tuple of int, default 0
        Axes reduced by the inner norm, as in :func:`numpy.linalg.norm`.  For an
        ``nn.Linear`` weight (out x in), ``axis=0`` makes the input features the groups.
    out : ndarray, optional
        Array of the same shape and dtype to write into; may be ``y`` itself (in place).

    Returns
    -------
    ndarray
        The projection, of ``y``'s float dtype (``out`` when given).  ``y`` is not modified
        unless it is ``out``.

    References
    ----------
    [MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [CON] L. Condat, Math. Prog. 158 (2016).
    """
    m = get_method(method)
    ball = parse_ball(ball)
    radius = check_radius(radius)
    backend, y_arr = _dispatch(y)
    if backend != "numpy":
        return backend.project(y, radius, ball, method=m, axis=axis, levels=levels, out=out)
    y_arr = as_float_array(y_arr)
    if not m.supports(ball):
        raise ValueError(
            f"method={m.name!r} does not support the ball {ball.name!r}; "
            f"it supports {', '.join(m.balls)}."
        )
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
    """The norm ``||y||_ball`` as a Python float (same ball and ``axis`` conventions as
    :func:`project`)."""
    ball = parse_ball(ball)
    backend, y_arr = _dispatch(y)
    if backend != "numpy":
        return backend.norm(y, ball, axis=axis, levels=levels)
    from ._numpy import norm as _norm

    y_arr = as_float_array(y_arr)
    axes = _check_ball_axes(y_arr, ball, axis)
    return _norm(y_arr, ball, axes=axes, levels=levels)


def _dispatch(y):
    """Return ``("numpy", y)`` for anything NumPy handles, or a backend module for tensors."""
    mod = type(y).__module__
    if mod.startswith("torch"):
        from . import _torch

        return _torch, y
    return "numpy", y
