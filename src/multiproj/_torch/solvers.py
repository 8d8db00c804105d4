"""Projections written in pure torch operations, for tensors on CUDA (or any other device).

Nothing here leaves the tensor's device, except the documented host fallbacks
(:func:`host_fallback`).  The functions trust their inputs: ``y`` is a detached float32 or
float64 tensor checked by :mod:`multiproj._torch.bridge`, ``axes`` and ``levels`` come from
the call's plan, ``radius`` a finite float >= 0.  They run on CPU tensors too, which is how
the test suite covers them without a GPU; CPU tensors normally go through the Numba kernels
instead.

The l1,inf and l1,2 projections are two passes over ``y`` (one reduction, one element-wise
pass) whatever the memory layout, built on :mod:`multiproj._torch.primitives`.

Synchronisation: the NaN/inf check of the group norms and the "inside the ball" test read
one scalar each on the host; no data is copied off the device.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [CON] L. Condat, Math. Prog. 158 (2016).
[BEJ] B. Bejar, I. Dokmanic, R. Vidal, IEEE TPAMI (2021).
"""

from __future__ import annotations

import math

import torch

from .._core.ball import Ball, exact_form
from .._core.checks import raise_not_finite
from .._core.registry import get_method
from .primitives import (
    _flat_l1_threshold,
    _inverse,
    _rows,
    apply_group_radii,
    finite_group_norms,
    group_norms,
    l1_thresholds,
    l2_safe_low,
    outer_l1,
    soft_threshold,
)

__all__ = [
    "project_flat",
    "project_batched",
    "project_bilevel",
    "project_exact",
    "project_multilevel",
    "multilevel_norms",
    "norm",
    "prox",
    "host_fallback",
]


def _finish(res: torch.Tensor, y: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """Return ``res`` as the result: copied into ``out`` if given, never aliasing ``y``."""
    if out is not None:
        same = res is out or (res.data_ptr() == out.data_ptr() and res.stride() == out.stride())
        if not same:  # (in place and unchanged: nothing to copy)
            out.copy_(res)
        return out
    if res is y:
        return y.clone()
    return res


def project_flat(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Projection onto the l1 (exact threshold), l2 (scaling) or linf (clipping) ball of
    ``y`` taken as one vector, or, when ``axes`` leaves some axes out, onto one ball per
    index of the other axes (:func:`project_batched`)."""
    if axes is not None and len(axes) < y.ndim:
        return project_batched(y, radius, ball.norms[0], axes, out=out)
    q = ball.norms[0]
    if q == "inf":
        if not bool(torch.isfinite(torch.linalg.vector_norm(y, ord=math.inf))):
            raise_not_finite()
        return torch.clamp(y, -radius, radius, out=out)
    if q == "2":
        nrm = float(torch.linalg.vector_norm(y, ord=2.0, dtype=torch.float64))
        if not (nrm >= l2_safe_low(torch.float64) and nrm < math.inf):
            # NaN/inf, or float64 squares that underflow or overflow: scale by max |y|
            m = float(torch.linalg.vector_norm(y, ord=math.inf))
            if not math.isfinite(m):
                raise_not_finite()
            if m > 0.0:
                nrm = m * float(torch.linalg.vector_norm(y / m, ord=2.0, dtype=torch.float64))
        if nrm <= radius:
            return _finish(y, y, out)
        return torch.mul(y, radius / nrm, out=out)
    a = y.abs().reshape(-1)
    total = a.sum(dtype=torch.float64)
    if not bool(torch.isfinite(total)):
        raise_not_finite()
    if radius == 0.0:
        return torch.zeros_like(y) if out is None else out.zero_()
    if bool(total <= radius):
        return _finish(y, y, out)
    tau = _flat_l1_threshold(a, radius, total)
    return soft_threshold(y, tau, out=out)


def _batched_l2_norms(y, axes):
    """The l2 norms of the balls (keepdim, float64), scaled by the balls' maxima where the
    squares under- or overflow."""
    v = torch.linalg.vector_norm(y, ord=2.0, dim=axes, keepdim=True, dtype=torch.float64)
    m = torch.linalg.vector_norm(y, ord=math.inf, dim=axes, keepdim=True).to(torch.float64)
    if not bool(torch.isfinite(m).all()):
        raise_not_finite()
    risky = (~torch.isfinite(v)) | ((v < 1e-140) & (m > 0))
    if bool(risky.any()):
        ms = torch.where(m > 0, m, 1.0)
        vs = ms * torch.linalg.vector_norm(y.to(torch.float64) / ms, ord=2.0, dim=axes, keepdim=True)
        v = torch.where(risky, vs, v)
    return v


def project_batched(y, radius, q: str, axes, out=None):
    """One flat l_q ball per index of the axes not in ``axes`` (each ball spans ``axes``),
    ``radius`` a float or a float64 array of the batch shape (``y.shape`` without
    ``axes``).  Norms per ball, then clipping (inf), scaling (2) or the exact sort-based
    l1 threshold of every ball (:func:`apply_group_radii`)."""
    kshape = tuple(1 if k in axes else n for k, n in enumerate(y.shape))
    r = torch.as_tensor(radius, dtype=torch.float64).to(y.device)
    r = torch.broadcast_to(r.reshape(kshape) if r.ndim else r, kshape)
    if q == "2":
        v = _batched_l2_norms(y, axes)
    else:
        v = finite_group_norms(y, q, axes)
    return apply_group_radii(y, q, v, r, axes, out=out)


def project_bilevel(y, radius, ball: Ball, *, axes, levels=None, out=None):
    """Bi-level l1,q projection [MLP s.3] in torch ops: norms, one l1 projection, per-group
    projection.  Two passes over ``y`` for q in {inf, 2}."""
    q = ball.inner
    v = finite_group_norms(y, q, axes)
    u, inside = outer_l1(v, radius)
    if inside:
        return _finish(y, y, out)
    return apply_group_radii(y, q, v, u, axes, out=out)


def project_exact(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Euclidean projection.  l1,1 is the flat l1 ball and l1,2 its bi-level projection; the
    exact l1,inf projection is :func:`multiproj._torch.exact.project_exact_l1inf` (sort and
    semismooth Newton on the device)."""
    how, b = exact_form(ball)
    if how == "flat":  # l1,1 is the flat l1 ball of every entry
        return project_flat(y, radius, b, axes=axes if ball.is_flat else None, out=out)
    if how == "bilevel":
        return project_bilevel(y, radius, b, axes=axes, out=out)
    from .exact import project_exact_l1inf

    return project_exact_l1inf(y, radius, axes, out=out)


def multilevel_norms(y, ball: Ball, levels) -> list[torch.Tensor]:
    """Aggregate from the inside out [MLP s.5]: ``V_k = |y|``, ``V_{l-1}`` = the ``q_l`` norm
    of ``V_l`` over level ``l``'s axes (keepdim shapes, float64).

    Returns ``[V_1, ..., V_{k-1}]`` (outermost first).  Only the first step reads ``y``;
    raises ValueError on NaN/inf (one host sync)."""
    k = len(levels)
    v = finite_group_norms(y, ball.norms[k - 1], levels[k - 1])
    norms = [v]
    for lvl in range(k - 2, 0, -1):
        v = group_norms(v, ball.norms[lvl], levels[lvl])
        norms.append(v)
    return norms[::-1]


def project_multilevel(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Multi-level projection onto the l1,q2,...,qk ball [MLP s.5] in torch operations.

    ``levels`` (checked by the API): the axes of every level, outermost first.  Norms are
    aggregated from the inside out (:func:`multilevel_norms`), then projected from the
    outside in: ``U_1 = P_l1(V_1, radius)`` (:func:`outer_l1`), every fibre of ``V_l`` along
    level ``l`` onto the l_{q_l} ball of radius the matching entry of ``U_{l-1}``
    (:func:`apply_group_radii`, which works on the non-negative ``V_l`` as on any tensor),
    and finally the fibres of ``y`` itself, which gives ``sign(y) * U_k``.  Two passes over
    ``y``; the other passes touch the smaller arrays of norms only.
    """
    k = len(levels)
    vs = multilevel_norms(y, ball, levels)
    u, inside = outer_l1(vs[0], radius)
    if inside:
        return _finish(y, y, out)
    for lvl in range(1, k - 1):  # U_{l} from U_{l-1}, on V_l (0-based: vs[lvl])
        u = apply_group_radii(vs[lvl], ball.norms[lvl], vs[lvl - 1], u, levels[lvl])
    return apply_group_radii(y, ball.norms[k - 1], vs[k - 2], u, levels[k - 1], out=out)


def host_fallback(method: str, y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Run the CPU solver of ``method`` on a host copy of ``y`` (with the plan's ``axes``
    and ``levels``, already checked) and copy the result back to ``y``'s device.  Used where
    no device algorithm exists (documented per method)."""
    arr = y.detach().cpu().numpy()
    res = get_method(method).solver("numpy")(arr, radius, ball, axes=axes, levels=levels, out=None)
    res_t = torch.from_numpy(res).to(y.device)
    return _finish(res_t, y, out)


# --------------------------------------------------------------------------- prox
def prox(y, lam: float, ball: Ball, *, axes=None) -> torch.Tensor:
    r"""Proximal operator of ``lam * ||.||`` for the l1, l1,2 and l1,inf norms, in torch ops.

    Moreau's identity ``prox_{lam f}(y) = y - P_{lam B*}(y)`` (``B*`` the dual unit ball),
    as in :func:`multiproj.prox`:

    * l1: soft threshold at ``lam``;
    * l1,2: group soft threshold, ``y_g * max(0, 1 - lam / ||y_g||_2)``;
    * l1,inf: each group clipped at the threshold ``tau_g`` of its own projection onto the
      l1 ball of radius ``lam`` (sort based, exact), and set to 0 when
      ``||y_g||_1 <= lam`` [BEJ].
    """
    q = ball.inner
    if ball.is_flat:
        if not bool(torch.isfinite(y.abs().sum(dtype=torch.float64))):
            raise_not_finite()
        return soft_threshold(y, lam)
    if q == "2":
        v = finite_group_norms(y, "2", axes)
        return apply_group_radii(y, "2", v, torch.clamp_min(v - lam, 0.0), axes)
    s = finite_group_norms(y, "1", axes)
    if lam == 0.0:
        return y.clone()
    a, perm = _rows(y.abs(), axes)
    tau = l1_thresholds(a, torch.full((a.shape[0],), lam, dtype=torch.float64, device=y.device))
    tau = tau.reshape(s.permute(perm).shape).permute(tuple(_inverse(perm)))
    tau = torch.where(s <= lam, 0.0, torch.clamp_min(tau, 0.0)).to(y.dtype)
    return torch.clamp(y, -tau, tau)


# --------------------------------------------------------------------------- norms
def norm(y: torch.Tensor, ball: Ball, *, axes=None, levels=None):
    """``||y||_ball`` as a Python float (flat or l1,q ball), computed on ``y``'s device;
    for batched flat balls (``axes`` leaving some axes out) a float64 tensor of the batch
    shape."""
    if ball.is_flat and axes is not None and len(axes) < y.ndim:
        q = ball.norms[0]
        batch = tuple(n for k, n in enumerate(y.shape) if k not in axes)
        if y.numel() == 0:
            return torch.zeros(batch, dtype=torch.float64, device=y.device)
        v = _batched_l2_norms(y, axes) if q == "2" else finite_group_norms(y, q, axes)
        return v.reshape(batch)
    if y.numel() == 0:
        return 0.0
    if ball.is_flat:
        flat = y.reshape(1) if y.ndim == 0 else y  # reduce every dim: no reshaped copy
        v = finite_group_norms(flat, ball.norms[0], tuple(range(flat.ndim)))
        return float(v.sum())
    if levels is not None:
        return float(multilevel_norms(y, ball, levels)[0].sum())
    return float(finite_group_norms(y, ball.inner, axes).sum())
