"""Projections written in pure torch operations, for tensors on CUDA (or any other device).

Nothing here leaves the tensor's device, except the documented host fallbacks
(:func:`host_fallback`).  The functions trust their inputs: ``y`` is a detached float32 or
float64 tensor checked by :mod:`multiproj._torch`, ``axes`` sorted non-negative dims,
``radius`` a finite float >= 0.  They run on CPU tensors too, which is how the test suite
covers them without a GPU; CPU tensors normally go through the Numba kernels instead.

The building blocks of the bi-level projection [MLP s.3] are public to the package so that
other backends (the distributed path) can reuse them:

* :func:`group_norms` / :func:`finite_group_norms` -- ``v_g = ||y_g||_q``;
* :func:`outer_l1` -- ``u = P_l1(v, radius)`` (exact, sort based);
* :func:`apply_group_radii` -- project group ``g`` onto its l_q ball of radius ``u_g``.

Group norms are kept with ``keepdim=True`` (the reduced dims have length 1), so that
``u`` broadcasts against ``y`` without any transpose: the l1,inf and l1,2 projections are
two passes over ``y`` (one reduction, one element-wise pass) whatever the memory layout.

Numerics: group norms accumulate in the input dtype with torch's tree reductions (max is
exact in any order); the outer l1 projection and all thresholds are computed in float64.
Results agree with the Numba kernels to rounding.

Synchronisation: the NaN/inf check of the group norms and the "inside the ball" test read
one scalar each on the host; no data is copied off the device.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  [CON] L. Condat, Math. Prog. 158 (2016).
J. Duchi et al., Efficient projections onto the l1-ball, ICML 2008 (the sort-based
threshold used here).  C. Michelot, J. Optim. Theory Appl. 50 (1986) (the lower bound used
to discard entries before sorting).
"""

from __future__ import annotations

import math

import torch

from ._validation import Ball, raise_not_finite

__all__ = [
    "group_norms",
    "finite_group_norms",
    "outer_l1",
    "apply_group_radii",
    "l1_thresholds",
    "soft_threshold",
    "project_flat",
    "project_bilevel",
    "project_exact",
    "project_multilevel",
    "multilevel_norms",
    "norm",
    "prox",
    "host_fallback",
]

_ORD = {"1": 1.0, "2": 2.0, "inf": math.inf}
_SORT_DIRECTLY = 1 << 20  # vectors up to this length are sorted without pre-filtering


# --------------------------------------------------------------------------- helpers
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


def soft_threshold(y: torch.Tensor, tau: torch.Tensor | float, out=None) -> torch.Tensor:
    r"""``sign(y) * max(|y| - tau, 0)`` computed as ``y - clip(y, -tau, tau)``.

    ``tau`` broadcasts against ``y`` (``inf`` zeroes, ``0`` keeps); both forms round the
    same way (one subtraction per kept entry).
    """
    if isinstance(tau, torch.Tensor):
        tau = tau.to(y.dtype)
        clipped = torch.clamp(y, -tau, tau)
    else:
        clipped = torch.clamp(y, -tau, tau)
    return torch.sub(y, clipped, out=out)


def l1_thresholds(a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    r"""Row-wise l1-ball thresholds: ``tau[g]`` with ``sum_i max(a[g, i] - tau[g], 0) = r[g]``.

    Parameters
    ----------
    a : Tensor, shape (G, N)
        Non-negative entries (absolute values).
    r : Tensor, shape (G,)
        Radii.  Rows with ``sum(a[g]) <= r[g]`` get ``tau <= 0`` (inside the ball).

    Returns
    -------
    Tensor, shape (G,), float64

    Notes
    -----
    Sort based (Duchi et al. 2008): with ``s`` the row sorted in decreasing order and
    ``c_k = s_1 + ... + s_k``, ``rho = max{k : k s_k > c_k - r}`` and
    ``tau = (c_rho - r) / rho``.  Exact to rounding (no bisection tolerance); sums in
    float64.
    """
    G, N = a.shape
    s = torch.sort(a, dim=1, descending=True).values
    r64 = r.to(device=a.device, dtype=torch.float64).reshape(G, 1)
    k = torch.arange(1, N + 1, device=a.device, dtype=torch.float64)
    # m_k = (c_k - r) / k, in place in the float64 cumulative sums (memory: one float64
    # copy of ``a`` besides the sorted values)
    m = torch.cumsum(s, dim=1, dtype=torch.float64).sub_(r64).div_(k)
    # s_k > m_k holds exactly for k <= rho (a prefix), so rho is the count
    rho = (s > m).sum(dim=1).clamp_(min=1)
    return m.gather(1, (rho - 1).unsqueeze(1)).squeeze(1)


def _flat_l1_threshold(a: torch.Tensor, radius: float, total: torch.Tensor) -> torch.Tensor:
    """Threshold of the l1 projection of the flat vector ``a = |y|`` (``total = sum(a)``,
    ``total > radius > 0``), as a 0-d float64 tensor.

    For long vectors, Michelot's bound ``tau >= (sum(a) - r) / n`` first discards entries
    that cannot be active (twice, each a masked selection), then the remaining candidates
    get the exact sort-based threshold; short vectors (e.g. the group norms of the
    bi-level projection) are sorted directly.
    """
    cand = a
    n = a.numel()
    bound = (total - radius) / n
    for _ in range(2 if n > _SORT_DIRECTLY else 0):
        keep = cand > _round_down(bound, cand.dtype)
        cand = cand[keep]
        if cand.numel() == 0:  # rounding only: every entry sits at the bound
            return bound
        bound = torch.clamp_min((cand.sum(dtype=torch.float64) - radius) / cand.numel(), 0.0)
    r = torch.full((1,), radius, dtype=torch.float64, device=a.device)
    return l1_thresholds(cand.reshape(1, -1), r)[0]


def _round_down(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (float64) in ``dtype``, rounded towards -inf so that ``t > result`` keeps every
    entry ``t > x``."""
    b = x.to(dtype)
    if dtype == torch.float64:
        return b
    return torch.where(b.to(torch.float64) > x, torch.nextafter(b, torch.full_like(b, -math.inf)), b)


# --------------------------------------------------------------------------- primitives
def group_norms(y: torch.Tensor, q: str, dims: tuple[int, ...]) -> torch.Tensor:
    """Inner norms ``v_g = ||y_g||_q`` of the groups (slices along the dims not in ``dims``).

    Returns a float64 tensor with ``keepdim=True`` shape: the reduced ``dims`` have length
    1, so it broadcasts against ``y``.  NaN/inf in a group makes its norm non-finite.
    """
    v = torch.linalg.vector_norm(y, ord=_ORD[q], dim=dims, keepdim=True)
    return v.to(torch.float64)


def finite_group_norms(y: torch.Tensor, q: str, dims: tuple[int, ...]) -> torch.Tensor:
    """:func:`group_norms`, raising ValueError when ``y`` holds NaN or inf (one host sync).

    An l2 norm that overflows in float32 is recomputed in float64 before giving up.
    """
    v = group_norms(y, q, dims)
    if not bool(torch.isfinite(v).all()):
        if q == "2" and y.dtype != torch.float64:
            v = torch.linalg.vector_norm(y.to(torch.float64), ord=2.0, dim=dims, keepdim=True)
            if bool(torch.isfinite(v).all()):
                return v
        raise_not_finite()
    return v


def outer_l1(v: torch.Tensor, radius: float) -> tuple[torch.Tensor, bool]:
    """``(P_l1(v, radius), inside)`` for a non-negative tensor ``v`` of group norms.

    Same contract as :func:`multiproj._numpy.outer_l1`: ``u`` has ``v``'s shape (float64);
    ``inside`` is True when ``sum(v) <= radius`` (then ``u = v``).  Step 2 of the bi-level
    projection [MLP s.3]: ``u_g = max(v_g - tau, 0)``.
    """
    v = v.to(torch.float64)
    if v.numel() == 0:
        return v.clone(), True
    if radius == 0.0:
        return torch.zeros_like(v), False
    flat = v.reshape(-1)
    total = flat.sum()
    if bool(total <= radius):
        return v.clone(), True
    tau = _flat_l1_threshold(flat, radius, total)
    return torch.clamp_min(v - tau, 0.0), False


def _rows(t: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``t`` with the reduced ``dims`` moved last, as a (G, N) matrix (a copy when needed)."""
    keep = [d for d in range(t.ndim) if d not in dims]
    perm = tuple(keep) + tuple(dims)
    n = math.prod(t.shape[d] for d in dims)
    return t.permute(perm).reshape(-1, n), perm


def apply_group_radii(y, out, q: str, v: torch.Tensor, u: torch.Tensor, dims: tuple[int, ...]):
    r"""Project every group ``y_g`` onto its own l_q ball of radius ``u_g`` (step 3 of [MLP]).

    ``v`` and ``u`` are the keepdim-shaped group norms and radii (float64).  ``u_g <= 0``
    zeroes the group, ``u_g >= v_g`` keeps it.  q = inf clips at ``u_g``; q = 2 scales by
    ``u_g / v_g``; q = 1 soft-thresholds each group at its own exact l1 threshold.
    ``out`` may be None (a new tensor is returned), another tensor or ``y`` itself.
    """
    if q == "inf":
        uu = u.to(y.dtype)
        return torch.clamp(y, -uu, uu, out=out)
    if q == "2":
        f = torch.where(u <= 0, 0.0, torch.where(u >= v, 1.0, u / torch.clamp_min(v, 1e-300)))
        return torch.mul(y, f.to(y.dtype), out=out)
    # q == "1": per-group l1 projection; sort each group (moved to a row) once
    a, perm = _rows(y.abs(), dims)
    ur = u.permute(perm).reshape(-1)
    vr = v.permute(perm).reshape(-1)
    tau = l1_thresholds(a, ur)
    tau = torch.where(ur <= 0, math.inf, torch.where(ur >= vr, 0.0, torch.clamp_min(tau, 0.0)))
    tau = tau.reshape(u.permute(perm).shape).permute(tuple(_inverse(perm)))
    return soft_threshold(y, tau, out=out)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


# --------------------------------------------------------------------------- solvers
def project_flat(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Projection onto the l1 (exact threshold), l2 (scaling) or linf (clipping) ball of
    ``y`` taken as one vector."""
    q = ball.norms[0]
    if q == "inf":
        if not bool(torch.isfinite(torch.linalg.vector_norm(y, ord=math.inf))):
            raise_not_finite()
        return torch.clamp(y, -radius, radius, out=out)
    if q == "2":
        nrm = float(torch.linalg.vector_norm(y, ord=2.0, dtype=torch.float64))
        if not math.isfinite(nrm):  # NaN/inf, or float64 squares that overflow
            m = float(torch.linalg.vector_norm(y, ord=math.inf))
            if not math.isfinite(m):
                raise_not_finite()
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


def project_bilevel(y, radius, ball: Ball, *, axes, levels=None, out=None):
    """Bi-level l1,q projection [MLP s.3] in torch ops: norms, one l1 projection, per-group
    projection.  Two passes over ``y`` for q in {inf, 2}."""
    q = ball.inner
    v = finite_group_norms(y, q, axes)
    u, inside = outer_l1(v, radius)
    if inside:
        return _finish(y, y, out)
    return apply_group_radii(y, out, q, v, u, axes)


def project_exact(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Euclidean projection.  l1,1 is the flat l1 ball and l1,2 its bi-level projection; the
    exact l1,inf projection is :func:`multiproj._torch_exact.project_exact_l1inf` (sort and
    Newton on the device)."""
    if ball.is_flat:
        return project_flat(y, radius, ball, out=out)
    if ball.norms == ("1", "1"):
        return project_flat(y, radius, Ball(("1",)), out=out)
    if ball.norms == ("1", "2"):
        return project_bilevel(y, radius, ball, axes=axes, out=out)
    from ._torch_exact import project_exact_l1inf

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
        u = apply_group_radii(vs[lvl], None, ball.norms[lvl], vs[lvl - 1], u, levels[lvl])
    return apply_group_radii(y, out, ball.norms[k - 1], vs[k - 2], u, levels[k - 1])


def host_fallback(method: str, y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Run the NumPy solver of ``method`` on a host copy of ``y`` and copy the result back to
    ``y``'s device (used where no device algorithm exists; documented per method)."""
    from . import _api

    arr = y.detach().cpu().numpy()
    axis = 0 if axes is None else axes
    res = _api.project(arr, radius, ball, method=method, axis=axis, levels=levels)
    res_t = torch.from_numpy(res).to(y.device)
    return _finish(res_t, y, out)


# --------------------------------------------------------------------------- prox
def prox(y, lam: float, ball: Ball, *, axes=None) -> torch.Tensor:
    r"""Proximal operator of ``lam * ||.||`` for the l1, l1,2 and l1,inf norms, in torch ops.

    Moreau's identity ``prox_{lam f}(y) = y - P_{lam B*}(y)`` (``B*`` the dual unit ball),
    as in :func:`multiproj._prox.prox`:

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
        return apply_group_radii(y, None, "2", v, torch.clamp_min(v - lam, 0.0), axes)
    s = finite_group_norms(y, "1", axes)
    if lam == 0.0:
        return y.clone()
    a, perm = _rows(y.abs(), axes)
    tau = l1_thresholds(a, torch.full((a.shape[0],), lam, dtype=torch.float64, device=y.device))
    tau = tau.reshape(s.permute(perm).shape).permute(tuple(_inverse(perm)))
    tau = torch.where(s <= lam, 0.0, torch.clamp_min(tau, 0.0)).to(y.dtype)
    return torch.clamp(y, -tau, tau)


# --------------------------------------------------------------------------- norms
def norm(y: torch.Tensor, ball: Ball, *, axes=None, levels=None) -> float:
    """``||y||_ball`` as a Python float (flat or l1,q ball), computed on ``y``'s device."""
    if y.numel() == 0:
        return 0.0
    if ball.is_flat:
        flat = y.reshape(1) if y.ndim == 0 else y  # reduce every dim: no reshaped copy
        v = finite_group_norms(flat, ball.norms[0], tuple(range(flat.ndim)))
        return float(v.sum())
    if levels is not None:
        return float(multilevel_norms(y, ball, levels)[0].sum())
    return float(finite_group_norms(y, ball.inner, axes).sum())
