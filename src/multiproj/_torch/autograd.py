r"""Differentiable projections and proximal operators: exact vector-Jacobian products.

:func:`project` and :func:`prox` here are the autograd-aware forms of
:func:`multiproj.project` and :func:`multiproj.prox`, used by them when the input tensor
requires grad (with grad mode on) or when the radius (strength) is a 0-d tensor that
requires grad.  The forward pass *is* the public, non-differentiable call on the detached
tensor (Numba kernels for CPU tensors, torch operations on a device), so the values are
identical to it; the backward pass is a hand-written vector-Jacobian product (VJP),
computed from ``y``, ``x = P(y)`` and the radius only: torch operations on the tensor's
device, and for CPU tensors fused Numba kernels (one to three passes over the data) for
the flat, exact l1,inf and bi-level projections (the multi-level ones of order >= 3 use the
torch operations on CPU too).  It costs O(size of ``y``) time and memory, never a Jacobian
matrix.  ``sign(0)`` is taken as +1 (the maps are odd in every entry, so either sign gives
the derivative at a zero entry).  The backward is not itself differentiable
(``once_differentiable``).

All the maps are piecewise linear (l1, linf, l1,inf, l1,1 and their multi-level forms) or
piecewise smooth (l2, l1,2): the VJPs below are exact wherever the map is differentiable,
i.e. everywhere except on a set of measure zero (ties between magnitudes, an entry exactly
at a threshold, a point exactly on the sphere).  At such points the formulas return one
of the one-sided derivatives.  At ``radius = 0`` the radius gradient is the right
derivative.

Notation: ``g = dL/dx`` is the incoming gradient, ``s = sign(y)``, ``a = |y|``; a "group"
or "fibre" is a slice along the axes that a norm reduces; ``1_S`` is the indicator of a set.

Flat balls
----------
linf (clipping), ``x = clip(y, -r, r)``: ``dL/dy = g 1_{a < r}`` and
``dL/dr = sum_{a > r} s g``.

l2 (scaling), outside the ball ``x = r y / n`` with ``n = ||y||_2``:
``dL/dy = (r / n) (g - y <y, g> / n^2)`` and ``dL/dr = <y, g> / n``.

l1, outside the ball ``x = s max(a - tau, 0)`` with support ``S = {a > tau}`` and
``sum_S a - |S| tau = r``.  Differentiating the constraint,
``d tau = (sum_S s dy - dr) / |S|``, so on ``S`` ``dx = dy - s d tau`` and ``dx = 0``
elsewhere: the Jacobian is ``diag(1_S) - s_S s_S^T / |S|`` and ``dx/dr = s_S / |S|``.
With ``c = sum_S s g / |S|``: ``dL/dy = 1_S (g - s c)`` and ``dL/dr = c``.  The threshold
itself is not needed, only ``S = {x != 0}``.

Inside a ball (``x == y``) every VJP is the identity and the radius gradient is 0.

Batched flat balls (``axis`` leaving batch axes, one ball and one radius ``r_b`` per index
``b`` of them): the balls are independent, so each ball gets the formula of its norm above
(reductions over the balls' axes only) and ``dL/dr_b`` is that ball's radius gradient; a
radius shared by several balls (a scalar, or an array broadcast over the batch) receives
the sum over the balls that share it.  At ``r_b = 0`` the l1 support is the set of the
largest entries of the ball (the right derivative).

Exact l1,inf
------------
``x_ij = s_ij min(a_ij, mu_j)`` (group ``j``, entry ``i``) with the KKT conditions: there is
``theta > 0`` such that every group with ``mu_j > 0`` (the set ``J``) has the active set
``A_j = {i : a_ij > mu_j}`` and ``sum_{A_j} (a_ij - mu_j) = theta``, and
``sum_J mu_j = r`` [QUA, CHU].  Hence ``mu_j = (sum_{A_j} a_ij - theta) / k_j`` with
``k_j = |A_j|``.  With ``b_j = sum_{A_j} s_ij dy_ij``:
``d mu_j = (b_j - d theta) / k_j`` and ``sum_J d mu_j = dr`` give
``d theta = (sum_J b_j / k_j - dr) / K`` with ``K = sum_J 1 / k_j``.  Then
``dx_ij = s_ij d mu_j`` on ``A_j``, ``dx_ij = dy_ij`` off it (``j`` in ``J``), and
``dx_j = 0`` for the groups outside ``J``.  Writing ``c_j = sum_{A_j} s_ij g_ij`` and
``C = sum_J c_j / k_j``, the VJP is, in closed form,

* ``dL/dy_ij = s_ij (c_j - C / K) / k_j`` for ``i`` in ``A_j``, ``j`` in ``J``;
* ``dL/dy_ij = g_ij`` for ``i`` not in ``A_j``, ``j`` in ``J``; ``0`` for ``j`` not in ``J``;
* ``dL/dr = C / K``.

``mu_j = max_i |x_ij|`` and ``A_j = {a_ij > mu_j}`` are read from ``x``.

Bi-level and multi-level projections (chain rule through the levels)
---------------------------------------------------------------------
The bi-level l1,q projection [MLP, BLP] is the multi-level projection of order 2 whose
outer level spans the group axes and whose inner level spans ``axis``; the exact l1,2
projection is the bi-level one and the exact l1,1 projection is the flat l1 one.  For the
order-k projection with inner norms ``q_2 ... q_k`` [MLP]:

* aggregation (inside out): ``V_k = a``, ``V_{l-1} = N_{q_l}(V_l)`` (norm of every fibre
  of ``V_l`` along level ``l``);
* projection (outside in): ``U_1 = P_l1(V_1, r)``, ``U_l = P_{q_l}(V_l, U_{l-1})`` fibre by
  fibre, and ``x = s U_k``.

Each projected fibre has norm equal to its radius (``U_l <= V_l`` entry-wise, so a fibre is
either projected onto the sphere or, when ``U_{l-1} = V_{l-1}``, left unchanged), hence the
``U_l`` are recovered from ``|x|`` by the same aggregation as the ``V_l`` from ``a``.
The VJP runs the chain rule backwards.  With ``gU_k = s g``, for ``l = k, ..., 2`` and every
fibre (data ``v`` = fibre of ``V_l``, radius ``u`` = entry of ``U_{l-1}``, norm ``n`` = entry
of ``V_{l-1}``, incoming ``gw`` = fibre of ``gU_l``) the fibre's VJP gives a direct part
``gV_l`` and ``gU_{l-1}``:

* unchanged fibre (``u = n``): ``gV_l = gw``, ``gU_{l-1} = 0``;
* ``q = inf`` (clip at ``u``): clipped entries ``C = {v > u}``; ``gV_l = gw 1_{not C}``,
  ``gU_{l-1} = sum_C gw``;
* ``q = 2`` (scale by ``u / n``): ``gV_l = (u / n) (gw - v <v, gw> / n^2)``,
  ``gU_{l-1} = <v, gw> / n``;
* ``q = 1`` (l1 projection of radius ``u``, ``v >= 0``): support ``S = {w > 0}`` with ``w``
  the fibre of ``U_l``; ``c = sum_S gw / |S|``, ``gV_l = 1_S (gw - c)``, ``gU_{l-1} = c``.

At the top, ``U_1 = P_l1(V_1, r)`` gives ``gV_1`` and ``dL/dr`` by the flat l1 formula (all
signs +1).  Then the aggregation is differentiated from the outside in: the total gradient
of ``V_l`` is its direct part plus ``G_{l-1} dN_{q_l}/dV_l`` (broadcast over the fibre),
with ``dN_inf/dv = 1_{v = n}`` (the argmax entry), ``dN_2/dv = v / n``,
``dN_1/dv = 1``; finally ``dL/dy = s G_k``.  (For q = inf the argmax entry of a clipped
fibre is clipped, so its direct part is 0 and only the aggregation path reaches it.)

Proximal operators
------------------
l1, ``x = s max(a - lam, 0)``: ``dL/dy = g 1_{a > lam}``, ``dL/dlam = -sum_{a > lam} s g``.

l1,2, ``x_j = y_j max(0, 1 - lam / n_j)``: on the groups with ``n_j > lam``,
``dL/dy_j = g_j - (lam / n_j) (g_j - y_j <y_j, g_j> / n_j^2)`` and
``dL/dlam = -sum_j <y_j, g_j> / n_j``; the other groups get 0.

l1,inf (Moreau): ``x_j = y_j - P_l1(y_j, lam)``.  On a group with ``||y_j||_1 > lam`` the
l1 projection has support ``S_j = {a_ij > tau_j} = {x_ij != y_ij}``; with
``c_j = sum_{S_j} s g / |S_j|`` the flat l1 VJP gives ``dL/dy_j = g_j - 1_{S_j} (g_j - s c_j)``
and ``dL/dlam = -sum_j c_j``; groups with ``||y_j||_1 <= lam`` (``x_j = 0``) get 0.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [BLP] M. Barlaud, G. Perez, J.-P. Marmorat,
arXiv:2407.16293.  [QUA] A. Quattoni et al., ICML 2009.  [CHU] D. Chu et al., ICML 2020.
J. Duchi et al., ICML 2008 and A. Martins, R. Astudillo, ICML 2016 (the l1 / sparsemax
Jacobian ``diag(s) - s s^T / |S|``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit
from torch.autograd.function import once_differentiable

from .._core.ball import Ball
from .._core.checks import check_axes, check_levels, check_radius
from .._core.config import JIT_OPTIONS
from .._core.plan import Plan
from .._cpu.layout import group_layout

__all__ = ["project", "prox", "wants_grad"]

_FLOATS = (torch.float32, torch.float64)


def wants_grad(y, radius) -> bool:
    """True when a call on ``y`` with ``radius`` must record an autograd graph: grad mode
    is on and ``y`` or ``radius`` is a tensor that requires grad."""
    if not torch.is_grad_enabled():
        return False
    return bool(getattr(y, "requires_grad", False) or getattr(radius, "requires_grad", False))


# --------------------------------------------------------------------------- structure
class _Spec:
    """What the backward needs to know about a projection: its kind and its levels.

    ``kind`` is ``"linf"``, ``"l2"``, ``"l1inf"`` (exact, with ``axes``) or ``"levels"``
    (flat l1, bi-level and multi-level: ``norms`` outermost first, ``levels`` the axes of
    each level; level 1 is never reduced, so ``levels[0]`` is informative only).
    """

    __slots__ = ("kind", "axes", "norms", "levels")

    def __init__(self, kind, axes=None, norms=None, levels=None):
        self.kind, self.axes, self.norms, self.levels = kind, axes, norms, levels


def _spec(ndim: int, ball: Ball, method: str, axis, levels) -> _Spec:
    if ball.is_flat and axis is not None and len(check_axes(axis, ndim)) < ndim:
        return _Spec("batched", axes=check_axes(axis, ndim), norms=ball.norms)
    if ball.is_flat:
        if ball.norms[0] != "1":
            return _Spec("l" + ball.norms[0])
        return _Spec("levels", norms=("1",), levels=(tuple(range(ndim)),))
    if method == "multilevel":
        return _Spec("levels", norms=ball.norms, levels=check_levels(levels, ndim, ball))
    axes = check_axes(axis, ndim)
    if method == "exact":
        if ball.norms == ("1", "1"):
            return _Spec("levels", norms=("1",), levels=(tuple(range(ndim)),))
        if ball.norms == ("1", "inf"):
            return _Spec("l1inf", axes=axes)
    groups = tuple(d for d in range(ndim) if d not in axes)
    return _Spec("levels", norms=ball.norms, levels=(groups, axes))


# --------------------------------------------------------------------------- VJPs
def _tiny(t: torch.Tensor) -> float:
    return torch.finfo(t.dtype).tiny


def _aggregate(t: torch.Tensor, q: str, dims) -> torch.Tensor:
    """Norms of the fibres of a non-negative tensor along ``dims`` (keepdim shape)."""
    if q == "inf":
        return torch.amax(t, dim=dims, keepdim=True)
    if q == "1":
        return t.sum(dim=dims, keepdim=True)
    return torch.linalg.vector_norm(t, 2.0, dim=dims, keepdim=True)


def _vjp_linf(y, x, g, r):
    clipped = x != y  # exactly the entries with |y| > r
    gy = torch.where(clipped, 0.0, g)
    gr = torch.where(clipped, torch.sign(y) * g, 0.0).sum()
    return gy, gr


def _vjp_l2(y, x, g, r):
    if torch.equal(x, y):
        return g, torch.zeros((), dtype=y.dtype, device=y.device)
    n = torch.linalg.vector_norm(y, 2.0).clamp_min(_tiny(y))
    dot = torch.sum(y * g)
    gy = (r / n) * (g - y * (dot / (n * n)))
    return gy, dot / n


def _vjp_batched(y, x, g, r, q, axes):
    """VJP of independent flat l_q balls spanning ``axes`` with radii ``r`` (a float or a
    tensor of the keepdims shape): ``(dL/dy, dL/dr)``, the latter of the keepdims shape."""
    inside = (x == y).all(dim=axes, keepdim=True)
    s = torch.where(y < 0, -1.0, 1.0).to(y.dtype)
    if q == "inf":
        clipped = x != y  # exactly the entries with |y| > r
        gy = torch.where(clipped, 0.0, g)
        gr = torch.where(clipped, s * g, 0.0).sum(dim=axes, keepdim=True)
        return gy, gr
    if q == "2":
        from .solvers import _batched_l2_norms  # scaled where the squares under/overflow

        n = _batched_l2_norms(y, axes).to(y.dtype).clamp_min(_tiny(y))
        d = (y * g).sum(dim=axes, keepdim=True) / n  # <y, g> / n
        gy = torch.where(inside, g, (r / n) * (g - (y / n) * d))
        return gy, torch.where(inside, 0.0, d)
    a = y.abs()
    sup = x != 0
    zero = torch.as_tensor(r, device=y.device) == 0
    if bool(zero.any()):  # radius 0: the right derivative keeps the largest entries
        top = (a == torch.amax(a, dim=axes, keepdim=True)) & (a > 0)
        sup = torch.where(zero, top, sup)
    cnt = sup.sum(dim=axes, keepdim=True).clamp_min(1).to(y.dtype)
    c = torch.where(sup, s * g, 0.0).sum(dim=axes, keepdim=True) / cnt
    gy = torch.where(inside, g, torch.where(sup, g - s * c, 0.0))
    return gy, torch.where(inside, 0.0, c)


def _vjp_l1inf(y, x, g, r, axes):
    if torch.equal(x, y):
        return g, torch.zeros((), dtype=y.dtype, device=y.device)
    a = y.abs()
    s = torch.sign(y)
    if r == 0.0:  # right derivative: the group of largest l1 norm, every non-zero entry
        l1 = a.sum(dim=axes, keepdim=True)
        in_j = l1 == l1.max()
        act = a > 0
    else:
        mu = torch.amax(x.abs(), dim=axes, keepdim=True)
        in_j = mu > 0
        act = a > mu
    sg = s * g
    k = act.sum(dim=axes, keepdim=True).clamp_min(1).to(y.dtype)
    c = torch.where(act, sg, 0.0).sum(dim=axes, keepdim=True)
    inv_k = torch.where(in_j, 1.0 / k, 0.0)
    ratio = torch.sum(c * inv_k) / torch.sum(inv_k)  # C / K
    gy = torch.where(in_j, torch.where(act, s * ((c - ratio) * inv_k), g), 0.0)
    return gy, ratio


def _vjp_levels(y, x, g, r, norms, levels):
    """VJP of the multi-level projection (flat l1 for one level, bi-level for two)."""
    if torch.equal(x, y):
        return g, torch.zeros((), dtype=y.dtype, device=y.device)
    k = len(norms)
    zero = r == 0.0
    # sign with s(0) = +1: x is odd in every entry of y, so either sign gives the derivative
    # at y_i = 0 (torch.sign(0) = 0 would drop it)
    s = torch.where(y < 0, -1.0, 1.0).to(y.dtype)
    V = [None] * (k + 1)
    U = [None] * (k + 1)
    V[k], U[k] = y.abs(), x.abs()
    for lvl in range(k, 1, -1):
        V[lvl - 1] = _aggregate(V[lvl], norms[lvl - 1], levels[lvl - 1])
        U[lvl - 1] = _aggregate(U[lvl], norms[lvl - 1], levels[lvl - 1])
    gw = s * g
    direct = [None] * (k + 1)
    for lvl in range(k, 1, -1):
        v, w, u, n = V[lvl], U[lvl], U[lvl - 1], V[lvl - 1]
        dims, q = levels[lvl - 1], norms[lvl - 1]
        if q == "inf":
            clipped = v > u
            gv = torch.where(clipped, 0.0, gw)
            gu = torch.where(clipped, gw, 0.0).sum(dim=dims, keepdim=True)
        elif q == "2":
            nn_ = n.clamp_min(_tiny(n))
            dot = (v * gw).sum(dim=dims, keepdim=True)
            gv = (u / nn_) * (gw - v * (dot / (nn_ * nn_)))
            gu = dot / nn_
        else:
            sup = w > 0
            if zero:  # radius 0 below: the right derivative keeps the largest entry
                sup = sup | ((v == torch.amax(v, dim=dims, keepdim=True)) & (v > 0))
            cnt = sup.sum(dim=dims, keepdim=True).clamp_min(1).to(v.dtype)
            c = torch.where(sup, gw, 0.0).sum(dim=dims, keepdim=True) / cnt
            gv = torch.where(sup, gw - c, 0.0)
            gu = c
        changed = u < n
        direct[lvl] = torch.where(changed, gv, gw)
        gw = torch.where(changed, gu, 0.0)
    # top level: U_1 = P_l1(V_1, r), all signs +1
    top = U[1] > 0
    if zero:
        top = (V[1] == V[1].max()) & (V[1] > 0)
    cnt = top.sum().clamp_min(1).to(y.dtype)
    c = torch.where(top, gw, 0.0).sum() / cnt
    G = torch.where(top, gw - c, 0.0)
    for lvl in range(2, k + 1):
        q, v, n = norms[lvl - 1], V[lvl], V[lvl - 1]
        if q == "inf":
            G = direct[lvl] + torch.where(v == n, G, 0.0)
        elif q == "2":
            G = direct[lvl] + G * (v / n.clamp_min(_tiny(n)))
        else:
            G = direct[lvl] + G
    return s * G, c


# --------------------------------------------------------------------------- CPU kernels
# Fused Numba VJPs for CPU tensors: flat l1, l2, linf, exact l1,inf and the bi-level
# l1,inf / l1,1 / l1,2 (= exact l1,2) projections (the same formulas as the torch VJPs
# above, in one to three passes over the data instead of one pass per torch operation).
# The multi-level projections of order >= 3 use the torch VJP.  The kernels work on the
# canonical (A, N, B) views of multiproj._cpu.layout (group (a, b) = y3[a, :, b], b innermost
# in memory), serially; the radius 0 cases use the torch VJP (its right derivatives).


@njit(**JIT_OPTIONS)
def _clip_vjp(y3, x3, g3, gy3, gu, v, idx):
    """Bi-level l1,inf in one pass: the clipped entries are those where ``x != y``; there
    ``gy = 0`` and ``gu[a, b] = sum_clipped sign(y) g``, elsewhere ``gy = g``.  Also
    ``v[a, b] = max_i |y3[a, i, b]|`` and ``idx[a, b]``, the first ``i`` reaching it."""
    A, N, B = y3.shape
    for a in range(A):
        for b in range(B):
            gu[a, b] = 0.0
            v[a, b] = -1.0
            idx[a, b] = 0
        for i in range(N):
            for b in range(B):  # branch free (selects), so that the loop vectorises
                t = y3[a, i, b]
                gv = g3[a, i, b]
                m = x3[a, i, b] != t
                gy3[a, i, b] = 0.0 if m else gv
                gu[a, b] += gv * np.copysign(1.0, t) if m else 0.0
                at = abs(t)
                gt = at > v[a, b]
                idx[a, b] = i if gt else idx[a, b]
                v[a, b] = at if gt else v[a, b]


@njit(**JIT_OPTIONS)
def _set_argmax(y3, idx, gv, gy3):
    """``gy3[a, idx, b] += sign(y) gv[a, b]`` (the derivative of the group maximum)."""
    A, _, B = y3.shape
    for a in range(A):
        for b in range(B):
            if gv[a, b] != 0.0:
                i = idx[a, b]
                gy3[a, i, b] += gv[a, b] if y3[a, i, b] >= 0 else -gv[a, b]


@njit(**JIT_OPTIONS)
def _amax_abs(x3, mu):
    A, N, B = x3.shape
    for a in range(A):
        for b in range(B):
            mu[a, b] = 0.0
        for i in range(N):
            for b in range(B):
                mu[a, b] = max(mu[a, b], abs(x3[a, i, b]))


@njit(**JIT_OPTIONS)
def _l1inf_counts(y3, g3, mu, gy3, k, c):
    """Exact l1,inf, first pass: ``k = |A_j|``, ``c_j = sum_{A_j} s g`` with
    ``A_j = {|y| > mu_j}``; ``gy = g`` off the active sets."""
    A, N, B = y3.shape
    for a in range(A):
        for b in range(B):
            k[a, b] = 0.0
            c[a, b] = 0.0
        for i in range(N):
            for b in range(B):
                t = y3[a, i, b]
                gv = g3[a, i, b]
                m = abs(t) > mu[a, b]
                gy3[a, i, b] = 0.0 if m else gv
                k[a, b] += 1.0 if m else 0.0
                c[a, b] += gv * np.copysign(1.0, t) if m else 0.0


@njit(**JIT_OPTIONS)
def _l1inf_fill(y3, mu, f, gy3):
    """Exact l1,inf, second pass: ``gy = s f_j`` on ``A_j``, 0 on the groups with
    ``mu_j = 0``."""
    A, N, B = y3.shape
    for a in range(A):
        for i in range(N):
            for b in range(B):
                t = y3[a, i, b]
                if mu[a, b] == 0.0:
                    gy3[a, i, b] = 0.0
                elif abs(t) > mu[a, b]:
                    gy3[a, i, b] = f[a, b] if t > 0 else -f[a, b]


@njit(**JIT_OPTIONS)
def _l1_support(y, x, g):
    """Flat l1: ``(x == y everywhere, |S|, sum_S s g)`` with ``S = {x != 0}``."""
    same = True
    cnt = 0
    c = 0.0
    for i in range(x.size):
        xi = x[i]
        if xi != y[i]:
            same = False
        if xi != 0.0:
            cnt += 1
            c += g[i] if xi > 0 else -g[i]
    return same, cnt, c


@njit(**JIT_OPTIONS)
def _l1_apply(x, g, c, gy):
    for i in range(x.size):
        xi = x[i]
        gy[i] = 0.0 if xi == 0.0 else (g[i] - c if xi > 0 else g[i] + c)


@njit(**JIT_OPTIONS)
def _two_level_sums(y3, x3, g3, q, v, u, d, cnt):
    """Bi-level l1,q (q = 1 or 2), first pass, per group: ``v = ||y||_q``, ``u = ||x||_q``
    and, for q = 2, ``d = <y, g>``; for q = 1, ``cnt = |S|`` and ``d = sum_S s g`` with
    ``S = {x != 0}`` (the inner support)."""
    A, N, B = y3.shape
    for a in range(A):
        for b in range(B):
            v[a, b] = 0.0
            u[a, b] = 0.0
            d[a, b] = 0.0
            cnt[a, b] = 0.0
        for i in range(N):
            for b in range(B):
                t = y3[a, i, b]
                xt = x3[a, i, b]
                gv = g3[a, i, b]
                if q == 2:
                    v[a, b] += t * t
                    u[a, b] += xt * xt
                    d[a, b] += t * gv
                else:
                    v[a, b] += abs(t)
                    u[a, b] += abs(xt)
                    m = xt != 0.0
                    cnt[a, b] += 1.0 if m else 0.0
                    d[a, b] += gv * np.copysign(1.0, t) if m else 0.0
        if q == 2:
            for b in range(B):
                v[a, b] = np.sqrt(v[a, b])
                u[a, b] = np.sqrt(u[a, b])


@njit(**JIT_OPTIONS)
def _scale_add(y3, g3, alpha, beta, gy3):
    """``gy = alpha g + beta y`` with per-group coefficients (bi-level l1,2)."""
    A, N, B = y3.shape
    for a in range(A):
        for i in range(N):
            for b in range(B):
                gy3[a, i, b] = alpha[a, b] * g3[a, i, b] + beta[a, b] * y3[a, i, b]


@njit(**JIT_OPTIONS)
def _l1_groups_apply(y3, x3, g3, c, gv, gy3):
    """Bi-level l1,1: ``gy = 1_S (g - s c_j) + s gv_j`` (``S = {x != 0}``, s(0) = +1)."""
    A, N, B = y3.shape
    for a in range(A):
        for i in range(N):
            for b in range(B):
                s = np.copysign(1.0, y3[a, i, b])
                m = x3[a, i, b] != 0.0
                gy3[a, i, b] = (g3[a, i, b] - s * c[a, b] if m else 0.0) + s * gv[a, b]


@njit(**JIT_OPTIONS)
def _linf_vjp(y, x, g, gy):
    """Flat linf: ``gy = g`` where ``x == y``, 0 where clipped; returns ``sum_clipped s g``."""
    c = 0.0
    for i in range(x.size):
        m = x[i] != y[i]
        gy[i] = 0.0 if m else g[i]
        c += g[i] * np.copysign(1.0, y[i]) if m else 0.0
    return c


@njit(**JIT_OPTIONS)
def _l2_sums(y, x, g):
    """Flat l2: ``(x == y everywhere, ||y||^2, <y, g>)``."""
    same = True
    n2 = 0.0
    d = 0.0
    for i in range(x.size):
        if x[i] != y[i]:
            same = False
        n2 += y[i] * y[i]
        d += y[i] * g[i]
    return same, n2, d


@njit(**JIT_OPTIONS)
def _axpby(g, y, alpha, beta, gy):
    for i in range(g.size):
        gy[i] = alpha * g[i] + beta * y[i]


def _np(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    return (t.resolve_neg() if t.is_neg() else t).numpy()


def _cpu_vjp(spec: _Spec, y, x, g, r):
    """The Numba VJP of a CPU tensor, or None when the projection has no kernel here."""
    if not y.is_cpu or r <= 0.0 or y.dtype not in _FLOATS:
        return None
    two_level_inf = spec.kind == "levels" and spec.norms == ("1", "inf")
    two_level_12 = spec.kind == "levels" and spec.norms in (("1", "1"), ("1", "2"))
    flat_l1 = spec.kind == "levels" and spec.norms == ("1",)
    flat = spec.kind in ("linf", "l2")
    if not (two_level_inf or two_level_12 or flat_l1 or flat or spec.kind == "l1inf"):
        return None
    yn, xn, gn = _np(y), _np(x), _np(g)
    zero = torch.zeros((), dtype=y.dtype)
    if flat:
        y1, x1, g1 = yn.reshape(-1), xn.reshape(-1), gn.reshape(-1)
        gy = np.empty_like(x1)
        if spec.kind == "linf":
            c = _linf_vjp(y1, x1, g1, gy)
        else:
            same, n2, d = _l2_sums(y1, x1, g1)
            if same:
                return g, zero
            n = math.sqrt(n2)
            _axpby(g1, y1, r / n, -r * d / (n * n * n), gy)
            c = d / n
        return torch.from_numpy(gy.reshape(yn.shape)), torch.tensor(c, dtype=y.dtype)
    if flat_l1:
        y1, x1, g1 = yn.reshape(-1), xn.reshape(-1), gn.reshape(-1)
        same, cnt, c = _l1_support(y1, x1, g1)
        if same:
            return g, zero
        c /= max(cnt, 1)
        gy = np.empty_like(x1)
        _l1_apply(x1, g1, c, gy)
        return torch.from_numpy(gy.reshape(yn.shape)), torch.tensor(c, dtype=y.dtype)
    axes = spec.axes if spec.kind == "l1inf" else spec.levels[1]
    lay = group_layout(yn, axes)
    y3, x3, g3 = lay.gather(yn), lay.gather(xn), lay.gather(gn)
    A, _, B = lay.canonical
    gy3 = np.empty(lay.canonical, dtype=yn.dtype)
    if two_level_12:
        q = 2 if spec.norms[1] == "2" else 1
        v, u, d, cnt = (np.empty((A, B)) for _ in range(4))
        _two_level_sums(y3, x3, g3, q, v, u, d, cnt)
        if float(v.sum()) <= r:  # inside the ball (u = v up to rounding)
            return g, zero
        changed = u < v
        nn_ = np.maximum(v, np.finfo(np.float64).tiny)
        if q == 2:
            gu = np.where(changed, d / nn_, 0.0)
        else:
            cj = d / np.maximum(cnt, 1.0)
            gu = np.where(changed, cj, 0.0)
        top = u > 0
        c = float(gu[top].sum()) / max(int(top.sum()), 1)
        gv = np.where(top, gu - c, 0.0)
        if q == 2:  # gy = (u/n)(g - y <y,g>/n^2) + gv y/n, or g + gv y/n if unchanged
            alpha = np.where(changed, u / nn_, 1.0)
            beta = gv / nn_ - np.where(changed, alpha * d / (nn_ * nn_), 0.0)
            _scale_add(y3, g3, alpha, beta, gy3)
        else:  # unchanged groups: direct part g (c_j = 0 and S = the non-zero entries)
            _l1_groups_apply(y3, x3, g3, np.where(changed, cj, 0.0), gv, gy3)
    elif two_level_inf:
        v = np.empty((A, B))
        idx = np.empty((A, B), dtype=np.int64)
        gu = np.empty((A, B))
        _clip_vjp(y3, x3, g3, gy3, gu, v, idx)
        if float(v.sum()) <= r:  # the forward's own test: inside the ball
            return g, zero
        u = np.abs(np.take_along_axis(x3, idx[:, None, :], axis=1)[:, 0, :]).astype(np.float64)
        top = u > 0
        c = float(gu[top].sum()) / max(int(top.sum()), 1)
        gv = np.where(top & (u < v), gu - c, 0.0)
        _set_argmax(y3, idx, gv, gy3)
    else:
        mu = np.empty((A, B))
        _amax_abs(x3, mu)
        k = np.empty((A, B))
        cj = np.empty((A, B))
        _l1inf_counts(y3, g3, mu, gy3, k, cj)
        act = mu > 0
        if not (k[act] > 0).any():  # no active entry: x == y, inside the ball
            return g, zero
        inv_k = np.where(act, 1.0 / np.maximum(k, 1.0), 0.0)
        c = float((cj * inv_k).sum()) / float(inv_k.sum())
        _l1inf_fill(y3, mu, (cj - c) * inv_k, gy3)
    gy = lay.unview(gy3)
    return torch.from_numpy(gy), torch.tensor(c, dtype=y.dtype)


def _vjp(spec: _Spec, y, x, g, r):
    if spec.kind == "batched":
        return _vjp_batched(y, x, g, r, spec.norms[0], spec.axes)
    res = _cpu_vjp(spec, y, x, g, r)
    if res is not None:
        return res
    if spec.kind == "linf":
        return _vjp_linf(y, x, g, r)
    if spec.kind == "l2":
        return _vjp_l2(y, x, g, r)
    if spec.kind == "l1inf":
        return _vjp_l1inf(y, x, g, r, spec.axes)
    return _vjp_levels(y, x, g, r, spec.norms, spec.levels)


def _prox_vjp(name, axes, y, x, g, lam):
    s = torch.sign(y)
    if name == "l1":
        keep = x != 0  # |y| > lam
        return torch.where(keep, g, 0.0), -torch.where(keep, s * g, 0.0).sum()
    if name == "l1,2":
        n = torch.linalg.vector_norm(y, 2.0, dim=axes, keepdim=True)
        act = n > lam
        nn_ = n.clamp_min(_tiny(n))
        dot = (y * g).sum(dim=axes, keepdim=True)
        gy = g - (lam / nn_) * (g - y * (dot / (nn_ * nn_)))
        gy = torch.where(act, gy, 0.0)
        return gy, -torch.where(act, dot / nn_, 0.0).sum()
    # l1,inf: x_j = y_j - P_l1(y_j, lam) on the groups that are not zeroed
    act = torch.amax(x.abs(), dim=axes, keepdim=True) > 0
    if lam == 0.0:  # right derivative: P_l1(y_j, lam) ~ lam s e_argmax
        a = y.abs()
        sup = (a == torch.amax(a, dim=axes, keepdim=True)) & (a > 0)
    else:
        sup = x != y
    cnt = sup.sum(dim=axes, keepdim=True).clamp_min(1).to(y.dtype)
    c = torch.where(sup, s * g, 0.0).sum(dim=axes, keepdim=True) / cnt
    gy = torch.where(act, torch.where(sup, s * c, g), 0.0)
    return gy, -torch.where(act, c, 0.0).sum()


# --------------------------------------------------------------------------- Functions
def _radius_grad(gr: torch.Tensor, radius, axes=None):
    """``dL/dradius`` of ``radius``'s shape, dtype and device from the gradient ``gr`` of
    the radii as used: one value, or for batched balls one per ball in the keepdims shape
    (``axes``, the balls' axes, of length 1), summed over the balls that share an entry of
    ``radius`` (a scalar, or an array that broadcasts to the batch shape or to the keepdims
    shape, as :func:`multiproj.project` reads it)."""
    gr = gr.to(device=radius.device, dtype=radius.dtype)
    if axes is None:
        return gr.reshape(radius.shape)
    batch = gr.reshape([n for k, n in enumerate(gr.shape) if k not in axes])
    if radius.ndim == 0:
        return gr.sum()
    try:  # the batch shape first, then the keepdims shape (the order of the checks)
        return batch.sum_to_size(radius.shape)
    except RuntimeError:
        return gr.sum_to_size(radius.shape)


class _ExactVJP(torch.autograd.Function):
    """A map ``x = f(y, s)`` of the data ``y`` and a scalar ``s`` (a radius or a strength,
    a number or a 0-d tensor) whose forward is the backend's detached call and whose
    backward is ``ctx.vjp(y, x, g) -> (dL/dy, dL/ds)``; the inputs after ``s`` (plan,
    solver, ...) get no gradient."""

    @staticmethod
    def _save(ctx, y, x, scalar, vjp, n_inputs: int, axes=None) -> None:
        ctx.scalar_t = scalar.detach() if isinstance(scalar, torch.Tensor) else None
        ctx.axes = axes  # batched flat balls: the balls' axes (one radius per ball)
        ctx.vjp = vjp
        ctx.n_rest = n_inputs - 2
        ctx.save_for_backward(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        y, x = ctx.saved_tensors
        if y.numel() == 0:
            keep = () if ctx.axes is None else tuple(1 if k in ctx.axes else n for k, n in enumerate(y.shape))
            gy, gs = g, torch.zeros(keep, dtype=y.dtype, device=y.device)
        else:
            gy, gs = ctx.vjp(y, x, g.to(y.dtype))
        return (gy if ctx.needs_input_grad[0] else None,
                _radius_grad(gs, ctx.scalar_t, ctx.axes) if ctx.needs_input_grad[1] else None) + (None,) * ctx.n_rest


class _Project(_ExactVJP):
    """``x = P(y, radius)``: forward by :func:`multiproj.project`, backward by the VJPs of
    this module."""

    @staticmethod
    def forward(ctx, y, radius, plan, solve):
        spec = _spec(plan.ndim, plan.ball, plan.method.name, plan.axes, plan.levels)
        axes = None
        if plan.batched:  # radii of the batch shape; the VJP reads them in the keepdims shape
            r = plan.radius(radius.detach() if isinstance(radius, torch.Tensor) else radius, tuple(y.shape))
            axes = plan.axes
            keep = tuple(1 if k in axes else n for k, n in enumerate(y.shape))
            rv = torch.tensor(np.asarray(r), dtype=y.dtype, device=y.device).reshape(keep if np.ndim(r) else ())
        else:
            r = rv = float(radius) if isinstance(radius, torch.Tensor) else radius
        x = solve(y.detach(), r, plan)
        _ExactVJP._save(ctx, y, x, radius, lambda y, x, g: _vjp(spec, y, x, g, rv), 4, axes)
        return x


class _Prox(_ExactVJP):
    """``x = prox_{lam ||.||}(y)``: forward by :func:`multiproj.prox`, backward by the VJPs
    of this module."""

    @staticmethod
    def forward(ctx, y, strength, ball, axes, solve):
        lam = float(strength) if isinstance(strength, torch.Tensor) else strength
        x = solve(y.detach(), lam, ball, axes)
        dims = tuple(range(y.ndim)) if axes is None else axes
        _ExactVJP._save(ctx, y, x, strength, lambda y, x, g: _prox_vjp(ball.name, dims, y, x, g, lam), 5)
        return x


# --------------------------------------------------------------------------- entry points
def _check_tensor_scalar(value, name: str, fn: str, batched: bool = False):
    """A radius/strength: a number, or a 0-d real tensor (kept, for its gradient); for
    batched flat balls (``batched``) also an array or a float tensor of radii, checked
    by the plan in the forward."""
    if batched:
        if isinstance(value, torch.Tensor) and not value.dtype.is_floating_point:
            raise TypeError(
                f"The '{name}' parameter of {fn} must be a float tensor to be differentiable. "
                f"Got a tensor of dtype {value.dtype} instead."
            )
        return value
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or not value.dtype.is_floating_point:
            raise TypeError(
                f"The '{name}' parameter of {fn} must be a finite number >= 0 or a 0-d float "
                f"tensor. Got a tensor of shape {tuple(value.shape)} and dtype {value.dtype} instead."
            )
        check_radius(value.detach(), name)
        return value
    return check_radius(value, name)


def _float_input(y):
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"The 'y' parameter must be a torch.Tensor. Got {type(y).__name__} instead.")
    if y.dtype in _FLOATS or not y.dtype.is_floating_point:
        return y
    return y.to(torch.float32)  # float16 / bfloat16, differentiably


def project(y: torch.Tensor, radius, plan: Plan, solve):
    r"""Differentiable :func:`multiproj.project` of a tensor, for the call's ``plan``.

    ``radius`` is a number or a 0-d tensor (a tensor that requires grad receives
    ``dL/dr``); ``solve(y, r, plan)`` is the backend's projection of the detached data, so
    values are identical to the non-differentiable path.  The backward is the exact VJP of
    the module notes.  ``out=`` is not offered: results written into an existing tensor
    are not differentiable.
    """
    radius = _check_tensor_scalar(radius, "radius", "project", plan.batched)
    y = _float_input(y)
    return _Project.apply(y, radius, plan, solve)


def prox(y: torch.Tensor, strength, ball: Ball, axes, solve):
    r"""Differentiable :func:`multiproj.prox` of a tensor (``strength`` a number or a 0-d
    tensor; a tensor that requires grad receives ``dL/dstrength``); ``solve(y, lam, ball,
    axes)`` is the backend's prox of the detached data."""
    strength = _check_tensor_scalar(strength, "strength", "prox")
    y = _float_input(y)
    return _Prox.apply(y, strength, ball, axes, solve)
