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

import numpy as np

from ._validation import as_float_array, check_axes, check_radius, parse_ball, raise_not_finite

__all__ = ["prox"]

PROX_NORMS = ("l1", "l1,2", "l1,inf")


def prox(y, strength, norm, *, axis=0):
    r"""Proximal operator of ``strength * ||.||_norm``.

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
    norm : {"l1", "l1,2", "l1,inf"}
        ``"l1"`` takes ``y`` as one vector (``axis`` is ignored).
    axis : int or tuple of int, default 0
        Axes reduced by the inner norm (the groups are the slices along the other axes),
        as in :func:`multiproj.project`.

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
    from ._api import _check_ball_axes, _dispatch

    ball = parse_ball(norm)
    if ball.name not in PROX_NORMS:
        raise ValueError(
            f"The 'norm' parameter of prox must be one of {', '.join(repr(n) for n in PROX_NORMS)}. "
            f"Got {norm!r} instead."
        )
    lam = check_radius(strength, "strength")
    backend, y_arr = _dispatch(y)
    if backend != "numpy":  # a strength tensor that requires grad is kept for autograd
        lam = strength if getattr(strength, "requires_grad", False) else lam
        return backend.prox(y, lam, ball.name, axis=axis)
    y_arr = as_float_array(y_arr)
    if ball.is_flat:
        axes = tuple(range(y_arr.ndim))
    else:
        axes = _check_ball_axes(y_arr, ball, axis)
    if y_arr.size == 0:
        return y_arr.copy()
    from ._numpy import run_on_groups

    return run_on_groups(y_arr, None, axes, lambda xc, oc: _prox_on(xc, oc, lam, ball.inner))


def _prox_on(xc: np.ndarray, oc: np.ndarray, lam: float, q: str) -> None:
    """Prox on a canonical view; ``oc`` may be ``xc`` (a private gathered copy)."""
    from ._numpy import apply_group_radii, group_norms

    if q == "1":
        from .kernels.l1 import soft_threshold_into

        x1 = xc.reshape(-1)
        if not np.isfinite(group_norms(x1.reshape(1, -1, 1), "1")).all():
            raise_not_finite()
        soft_threshold_into(x1, lam, oc.reshape(-1))
        return
    A, _, B = xc.shape
    shape = (A, B) if B > 1 else (A,)
    if q == "2":
        v = group_norms(xc, "2")
        if not np.isfinite(v).all():
            raise_not_finite()
        apply_group_radii(xc, oc, "2", v, np.maximum(v - lam, 0.0))
        return
    # l1,inf: clip every group at the threshold of its own l1 projection of radius lam
    from .kernels.l1inf import l1_thresholds_cols, l1_thresholds_rows

    s = group_norms(xc, "1").reshape(-1)
    if not np.isfinite(s).all():
        raise_not_finite()
    m = group_norms(xc, "inf").reshape(-1)
    tau = np.empty(A * B)
    if B > 1:
        l1_thresholds_cols(xc, lam, tau)
    else:
        l1_thresholds_rows(xc[:, :, 0], lam, tau)
    # inside the l1 ball the whole group is its own projection: the prox is 0
    tau[s <= lam] = 0.0
    if lam == 0.0:
        tau = m
    apply_group_radii(xc, oc, "inf", m.reshape(shape), tau.reshape(shape))
