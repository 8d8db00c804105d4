"""The primitives interface on torch tensors, in torch operations on the tensor's device.

Same names and signatures as :mod:`multiproj._cpu.primitives`: the steps of the bi-level
projection [MLP s.3] on groups given by the axes the inner norm reduces, per-group values
with ``keepdim=True`` shapes (the reduced dims of length 1), so that ``u`` broadcasts
against ``y`` without any transpose:

* :func:`group_norms` / :func:`finite_group_norms` -- ``v_g = ||y_g||_q``;
* :func:`outer_l1` -- ``u = P_l1(v, radius)`` (exact, sort based);
* :func:`apply_group_radii` -- project group ``g`` onto its l_q ball of radius ``u_g``;
* :func:`soft_threshold` -- ``sign(y) max(|y| - tau_g, 0)``;
* :class:`L1Sums` -- sums and counts above per-group thresholds (collective l1 thresholds).

Numerics: group norms accumulate in the input dtype with torch's tree reductions (max is
exact in any order); the outer l1 projection and all thresholds are computed in float64.
Results agree with the Numba kernels to rounding.

References
----------
[MLP] G. Perez, M. Barlaud, arXiv:2405.02086.  J. Duchi et al., Efficient projections onto
the l1-ball, ICML 2008 (the sort-based threshold used here).  C. Michelot, J. Optim. Theory
Appl. 50 (1986) (the lower bound used to discard entries before sorting).
"""

from __future__ import annotations

import math

import torch

from .._core.checks import raise_not_finite
from .._core.registry import PRIMITIVES

__all__ = [*PRIMITIVES, "l1_thresholds"]

_ORD = {"1": 1.0, "2": 2.0, "inf": math.inf}
_SORT_DIRECTLY = 1 << 20  # vectors up to this length are sorted without pre-filtering


def soft_threshold(y: torch.Tensor, tau, axes=None, out=None) -> torch.Tensor:
    r"""``sign(y) * max(|y| - tau, 0)``, rounded once from the exact value.

    ``tau`` is a number or a keepdims tensor of per-group thresholds (the groups reduce
    ``axes``) that broadcasts against ``y`` (``inf`` zeroes, ``0`` keeps).  In float64 the
    result is ``y - clip(y, -tau, tau)`` (one subtraction per kept entry).  In a narrower
    dtype ``tau`` (a float64 value) is split as ``t_hi + t_lo``, both in ``y``'s dtype, and
    the result is ``sign(y) max((|y| - t_hi) - t_lo, 0)``: ``|y| - t_hi`` is exact where
    ``|y| <= 2 t_hi`` (Sterbenz) and rounded relatively above, so every entry is within
    two roundings of its own value, however small it is next to ``tau`` (rounding ``tau``
    to the dtype first would cost an absolute ulp of ``tau`` per entry).
    """
    if y.dtype == torch.float64:
        if isinstance(tau, torch.Tensor):
            tau = tau.to(y.dtype)
        return torch.sub(y, torch.clamp(y, -tau, tau), out=out)
    hi, lo = _split(tau, y.dtype)
    t = y.abs().sub_(hi).sub_(lo).clamp_(min=0.0)
    return torch.copysign(t, y, out=out)


def _split(tau, dtype: torch.dtype):
    """``(hi, lo)`` in ``dtype`` with ``hi + lo`` equal to the float64 ``tau`` to the
    precision of ``dtype`` squared (``hi`` the rounding of ``tau``; ``inf`` gives
    ``(inf, 0)``)."""
    if not isinstance(tau, torch.Tensor):
        hi = torch.tensor(tau, dtype=dtype).item()
        lo = tau - hi if math.isfinite(tau) else 0.0
        return hi, lo
    tau = tau.to(torch.float64)
    hi = tau.to(dtype)
    lo = torch.where(torch.isfinite(tau), tau - hi.to(torch.float64), 0.0).to(dtype)
    return hi, lo


def _pairwise_sum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row sums of the float64 matrix ``x`` (G, N) as ``(s, e)``: ``s`` the pairwise sum and
    ``e`` the sum of the rounding errors of its additions, each recovered exactly by
    Knuth's TwoSum.  ``s + e`` is the exact sum to within ``N eps^2`` of the sum of the
    magnitudes, whatever the order of magnitude of the terms."""
    G = x.shape[0]
    err = x.new_zeros(G)
    while x.shape[1] > 1:
        n = x.shape[1]
        h = n // 2
        a, b = x[:, :h], x[:, h : 2 * h]
        s = a + b
        bb = s - a
        err += ((a - (s - bb)) + (b - bb)).sum(dim=1)
        x = torch.cat([s, x[:, 2 * h :]], dim=1) if n % 2 else s
    s = x[:, 0] if x.shape[1] else x.new_zeros(G)
    return s, err


def _threshold_of(vals: torch.Tensor, mask: torch.Tensor, r64: torch.Tensor):
    """``(tau, cnt)``: ``tau = (sum(vals[mask]) - r) / cnt`` per row with compensated sums
    (:func:`_pairwise_sum`) and an exact ``sum - r`` (TwoSum), so that ``tau`` is exact to
    a few ulps even when ``r`` lies far below the rounding of the sum."""
    cnt = mask.sum(dim=1)
    s, e = _pairwise_sum(torch.where(mask, vals.to(torch.float64), 0.0))
    r64 = r64.reshape(-1)
    d = s - r64
    bb = d - s
    e = e + ((s - (d - bb)) + (-r64 - bb))
    return (d + e) / cnt.clamp(min=1), cnt


def _michelot_refine(vals: torch.Tensor, r64: torch.Tensor, mask: torch.Tensor,
                     prefix: bool = False, steps: int = 16) -> torch.Tensor:
    """Per-row l1 threshold from a first guess of the active sets ``mask`` (G, N).

    Michelot's iteration ``tau <- (sum_{a > tau} a - r) / #{a > tau}`` with the compensated
    sums of :func:`_threshold_of`.  A threshold computed from a subset of the active set
    lies below the true one, and from below the iteration climbs monotonically to it, so
    a guess that rounding made too small or too large (a radius below the rounding of the
    sums) is repaired in a few steps; a right guess costs one threshold and one count.
    ``prefix``: every row is sorted in decreasing order, so the sets are prefixes and the
    passes only read the columns up to the longest one.  A row with no entry above its
    threshold keeps it.
    """
    cnt = mask.sum(dim=1)
    for _ in range(steps):
        w = int(cnt.max()) if prefix and cnt.numel() else vals.shape[1]
        sub_v = vals[:, :w]
        tau, _ = _threshold_of(sub_v, mask[:, :w], r64)
        above = sub_v > tau.unsqueeze(1)
        new = above.sum(dim=1)
        if prefix and w < vals.shape[1]:
            new = new + (vals[:, w:] > tau.unsqueeze(1)).sum(dim=1)
        new = torch.where(new == 0, cnt, new)
        if bool((new == cnt).all()):
            break
        cnt = new
        mask = vals > tau.unsqueeze(1)
    return tau


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
    ``tau = (c_rho - r) / rho``.  The threshold is then recomputed from the active set
    with compensated sums (:func:`_michelot_refine`): exact to a few ulps of ``tau``
    whatever ``N``, even when ``r`` is far below the rounding of ``c_rho``.
    """
    G, N = a.shape
    s = torch.sort(a, dim=1, descending=True).values
    r64 = r.to(device=a.device, dtype=torch.float64).reshape(G, 1)
    k = torch.arange(1, N + 1, device=a.device, dtype=torch.float64)
    # m_k = (c_k - r) / k, in place in the float64 cumulative sums (memory: one float64
    # copy of ``a`` besides the sorted values)
    m = torch.cumsum(s, dim=1, dtype=torch.float64).sub_(r64).div_(k)
    # s_k > m_k holds for k <= rho (a prefix), so rho is the count; the rounding of the
    # cumulative sums may move it where r is below that rounding: the compensated
    # Michelot steps settle it
    rho = (s > m).sum(dim=1).clamp_(min=1)
    del m
    mask = torch.arange(N, device=a.device).unsqueeze(0) < rho.unsqueeze(1)
    return _michelot_refine(s, r64, mask, prefix=True)


def _flat_l1_threshold(a: torch.Tensor, radius: float, total: torch.Tensor) -> torch.Tensor:
    """Threshold of the l1 projection of the flat vector ``a = |y|`` (``total = sum(a)``,
    ``total > radius > 0``), as a 0-d float64 tensor.

    For long vectors, Michelot's bound ``tau >= (sum(a) - r) / n`` first discards entries
    that cannot be active (twice, each a masked selection), then the remaining candidates
    get the exact sort-based threshold; short vectors (e.g. the group norms of the
    bi-level projection) are sorted directly.  Where the radius is below the rounding of
    the sums behind the bound (``r < 16 n eps ||a||_1``), the bound may have discarded
    active entries; compensated Michelot steps over every entry then recover them.
    """
    cand = a
    n = a.numel()
    bound = (total - radius) / n
    r = torch.full((1, 1), radius, dtype=torch.float64, device=a.device)
    tau = None
    for _ in range(2 if n > _SORT_DIRECTLY else 0):
        keep = cand > _round_down(bound, cand.dtype)
        cand = cand[keep]
        if cand.numel() == 0:  # rounding only: every entry sits at the bound
            tau = bound.reshape(1)
            break
        bound = torch.clamp_min((cand.sum(dtype=torch.float64) - radius) / cand.numel(), 0.0)
    if tau is None:
        tau = l1_thresholds(cand.reshape(1, -1), r.reshape(1))
    if cand is not a and radius < 16.0 * n * _EPS * float(total):
        row = a.reshape(1, -1)
        tau = _michelot_refine(row, r, row > tau.unsqueeze(1))
    return tau[0]


_EPS = torch.finfo(torch.float64).eps


def _round_down(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (float64) in ``dtype``, rounded towards -inf so that ``t > result`` keeps every
    entry ``t > x``."""
    b = x.to(dtype)
    if dtype == torch.float64:
        return b
    return torch.where(b.to(torch.float64) > x, torch.nextafter(b, torch.full_like(b, -math.inf)), b)


# --------------------------------------------------------------------------- primitives
def l2_safe_low(dtype: torch.dtype) -> float:
    """The smallest l2 norm that a plain sum of squares in ``dtype`` gives to rounding: above
    it the squares that underflowed (below the normal range) weigh less than n 2**-p of the
    sum (p the precision)."""
    fi = torch.finfo(dtype)
    return math.sqrt(fi.smallest_normal / fi.eps)


def _l2_rescaled(y: torch.Tensor, v: torch.Tensor, axes) -> torch.Tensor:
    """``v`` (plain l2 norms, keepdim shape) with the groups whose sum of squares may have
    underflowed or overflowed recomputed as ``m ||y_g / m||_2``, ``m = max |y_g|`` (float64).
    Groups of zeros keep 0; NaN/inf stays non-finite."""
    v = v.to(torch.float64)
    m = torch.amax(y.abs(), dim=axes, keepdim=True)
    redo = ~((v >= l2_safe_low(y.dtype)) & (v < math.inf)) & (m > 0)
    if not bool(redo.any()):
        return v
    scale = torch.where(redo, m, torch.ones_like(m))
    vs = torch.linalg.vector_norm(y / scale, ord=2.0, dim=axes, keepdim=True).to(torch.float64)
    return torch.where(redo, vs * m.to(torch.float64), v)


def _l2_ok(v: torch.Tensor, dtype: torch.dtype) -> bool:
    """One host sync: every plain l2 norm in ``v`` is in the range where it is exact."""
    return bool(((v >= l2_safe_low(dtype)) & (v < math.inf)).all())


def group_norms(y: torch.Tensor, q: str, axes: tuple[int, ...]) -> torch.Tensor:
    """Inner norms ``v_g = ||y_g||_q`` of the groups (slices along the dims not in ``axes``).

    Returns a float64 tensor with ``keepdim=True`` shape: the reduced ``dims`` have length
    1, so it broadcasts against ``y``.  NaN/inf in a group makes its norm non-finite.  l2
    norms are exact to rounding at any magnitude: the groups whose plain sum of squares
    (in ``y``'s dtype) may have underflowed or overflowed are recomputed with scaling
    (a second pass, only then).
    """
    v = torch.linalg.vector_norm(y, ord=_ORD[q], dim=axes, keepdim=True)
    if q == "2" and not _l2_ok(v, y.dtype):
        return _l2_rescaled(y, v, axes)
    return v.to(torch.float64)


def finite_group_norms(y: torch.Tensor, q: str, axes: tuple[int, ...]) -> torch.Tensor:
    """:func:`group_norms`, raising ValueError when ``y`` holds NaN or inf (one host sync
    when the l2 norms are in range)."""
    if q == "2":
        v = torch.linalg.vector_norm(y, ord=2.0, dim=axes, keepdim=True)
        if _l2_ok(v, y.dtype):
            return v.to(torch.float64)
        v = _l2_rescaled(y, v, axes)
    else:
        v = group_norms(y, q, axes)
    if not bool(torch.isfinite(v).all()):
        raise_not_finite()
    return v


def outer_l1(v: torch.Tensor, radius: float) -> tuple[torch.Tensor, bool]:
    """``(P_l1(v, radius), inside)`` for a non-negative tensor ``v`` of group norms.

    Same contract as :func:`multiproj._cpu.primitives.outer_l1`: ``u`` has ``v``'s shape (float64);
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


def apply_group_radii(y, q: str, v: torch.Tensor, u: torch.Tensor, axes: tuple[int, ...], out=None):
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
        f = torch.where(u <= 0, 0.0, torch.where(u >= v, 1.0, u / torch.where(v > 0, v, 1.0)))
        return torch.mul(y, f.to(y.dtype), out=out)
    # q == "1": per-group l1 projection; sort each group (moved to a row) once
    a, perm = _rows(y.abs(), axes)
    ur = u.permute(perm).reshape(-1)
    vr = v.permute(perm).reshape(-1)
    tau = l1_thresholds(a, ur)
    tau = torch.where(ur <= 0, math.inf, torch.where(ur >= vr, 0.0, torch.clamp_min(tau, 0.0)))
    tau = tau.reshape(u.permute(perm).shape).permute(tuple(_inverse(perm)))
    return soft_threshold(y, tau, axes, out=out)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv




class L1Sums:
    """Sums and counts of the entries ``|a| > tau_g`` of every group of ``a`` (the local
    piece of groups split across ranks), as :class:`multiproj._cpu.primitives.L1Sums`, in
    torch operations (dense passes only); the results are float64 host arrays."""

    def __init__(self, a: torch.Tensor, axes: tuple[int, ...], kshape: tuple[int, ...]):
        self.b, self.axes, self.kshape = a.abs(), tuple(axes), kshape

    def sums(self, tf):
        """``(S, C)``: sums and counts of the entries above ``tf`` (flat, keepdims order)."""
        t = torch.from_numpy(tf.reshape(self.kshape)).to(self.b.device)
        mask = self.b > t  # compared in float64
        s = torch.where(mask, self.b, 0).sum(dim=self.axes, keepdim=True, dtype=torch.float64)
        c = mask.sum(dim=self.axes, keepdim=True, dtype=torch.float64)
        return s.reshape(-1).cpu().numpy(), c.reshape(-1).cpu().numpy()
