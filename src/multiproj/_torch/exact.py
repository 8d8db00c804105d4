"""Exact Euclidean projection onto the l1,inf ball in torch operations (any device).

Structure of the solution ([QUA], [CHU]).  For groups ``y_j`` (slices along the dims that
the inner norm does not reduce), ``x_ij = sign(y_ij) min(|y_ij|, mu_j)``.  With the entries
of group ``j`` sorted in decreasing order, ``a_1 >= ... >= a_N`` (``a_{N+1} = 0``), their
partial sums ``c_k = a_1 + ... + a_k`` and the breakpoints

    b_k = c_k - k a_k  (= sum_i (a_i - a_k)_+, non-decreasing, b_1 = 0),

the removed l1 mass ``theta = sum_i (a_i - mu)_+`` and the clip level ``mu`` are in a
one-to-one relation on ``0 <= theta < c_N``: on the piece ``b_k <= theta < b_{k+1}`` (``k``
entries above the clip level) ``mu_j(theta) = (c_k - theta) / k``; a group with
``c_N = ||y_j||_1 <= theta`` has ``mu_j = 0``.  The projection onto the ball of radius
``r < ||y||_{1,inf}`` is given by the unique ``theta* > 0`` with

    F(theta*) = sum_j mu_j(theta*) = r,

where ``F`` is convex, decreasing and piecewise linear.

Algorithm.  Every group is sorted once (``torch.sort`` along the reduced dims moved last and
flattened), and ``c`` and ``b`` are computed by two cumulative sums in float64 (``b`` as the
running sum of the non-negative increments ``b_{k+1} - b_k = k (a_k - a_{k+1})``, so it is
non-decreasing after rounding too, and exactly flat across ties).  Then Newton's method
from the left on ``F`` ([CHU]), vectorised over the groups: at the current ``theta`` the
piece of every group is found by ``torch.searchsorted`` in its row of ``b``, and the next
``theta`` is the root of ``F = r`` on those pieces,

    theta' = (sum_{j active} c_{j,k_j} / k_j - r) / sum_{j active} 1 / k_j.

As ``F`` is convex, the tangent lies below it and the iterates increase towards
``theta*``; each step crosses at least one breakpoint or stops, and a step whose pieces
are those of the root returns the root itself, so the iteration ends after finitely many
steps with ``theta*`` exact to rounding (no tolerance, no bisection).  It stops at the
first step that does not increase ``theta``.  The root of the final pieces is computed with
the partial sums shifted by the largest one, ``mu_j = (c_{j,k_j} - c_ref - t) / k_j`` with
``t = theta - c_ref``, which keeps ``mu`` accurate when ``r`` is far below the rounding of
``theta ~ ||y_j||_1`` (the near-equal sums then cancel exactly).  Finally ``x =
clip(y, -mu, mu)`` with ``mu`` in ``y``'s dtype, as the NumPy solver does.

Numerics: the sort is exact in any dtype; partial sums, breakpoints, ``theta`` and ``mu``
are float64 (float32 data is widened after the sort), so float32 and float64 results agree
with the Numba solver to rounding.

Groups whose l1 norm is at most a lower bound on ``theta*`` computed from the norms alone
(the root of ``sum_j (||y_j||_1 - theta)_+ = N r``, as ``mu_j(theta) >= (||y_j||_1 -
theta)_+ / N``) have ``mu_j = 0``; when they are many, only the others are sorted (on
uniform data at small radii a few percent of the groups), and the root of the restricted
problem is checked against the dropped groups' norms.

Cost: one sort of all (or of the kept) entries, O(nm log n) work (parallel over groups and within them on a
GPU), plus O(G log N) per Newton step (``G`` groups of ``N`` entries).  Memory: the sorted
values and their float64 partial sums and breakpoints (three float64 copies of the data at
the peak, plus the sort's index tensor while it runs).

Synchronisation with the host: one scalar read for the NaN/inf check and the "inside the
ball" test (``sum_j max_i |y_ij|``), one for the number of groups above the norm bound
(and one for the check when they are compacted), then one boolean read per
``NEWTON_CHUNK`` Newton steps (the loop state stays on the device; steps after convergence leave it unchanged).
Typical data takes 4 to 12 steps, i.e. two to five reads in all.  No data
is copied off the device.

References
----------
[QUA] A. Quattoni, X. Carreras, M. Collins, T. Darrell, An efficient projection for l1,inf
regularization, ICML 2009.  [CHU] D. Chu, C. Zhang, S. Sun, Q. Tao, Semismooth Newton
algorithm for efficient projections onto l1,inf-norm ball, ICML 2020.
"""

from __future__ import annotations

import math

import torch

from .._core.checks import raise_not_finite

__all__ = ["project_exact_l1inf", "exact_l1inf_thresholds", "NEWTON_CHUNK"]

# Newton steps run on the device between two reads of the convergence flag.
NEWTON_CHUNK = 4


def _finish(res: torch.Tensor, y: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """``res`` as the result: written into ``out`` when given, never ``y`` itself."""
    if out is not None:
        if not (res.data_ptr() == out.data_ptr() and res.stride() == out.stride()):
            out.copy_(res)
        return out
    return y.clone() if res is y else res


def _canonical(y: torch.Tensor, axes: tuple[int, ...]):
    """``|y|`` as a contiguous ``(G, N)`` matrix whose rows are the groups (the kept dims in
    their order, then the reduced ``axes`` flattened), written in one pass; and the
    keepdim shape of per-group values (the reduced dims of length 1)."""
    keep = [d for d in range(y.ndim) if d not in axes]
    perm = keep + list(axes)
    G = math.prod(y.shape[d] for d in keep)
    N = math.prod(y.shape[d] for d in axes)
    a = torch.empty((G, N), dtype=y.dtype, device=y.device)
    torch.abs(y.permute(perm), out=a.view([y.shape[d] for d in perm]))
    kshape = [1 if d in axes else y.shape[d] for d in range(y.ndim)]
    return a, kshape


def _pieces(theta, b, c, s):
    """Linear pieces of every group at ``theta`` (0-d float64): partial sum ``c_{j,k_j}``,
    count ``k_j`` (float64) and the activity mask ``theta < ||y_j||_1``."""
    G = b.shape[0]
    t = theta.reshape(1, 1).expand(G, 1).contiguous()
    # b_{j,1} = 0 <= theta, so 1 <= k_j <= N
    k = torch.searchsorted(b, t, right=True)
    ck = c.gather(1, k - 1).squeeze(1)
    return ck, k.squeeze(1).to(torch.float64), theta < s


def _root(ck, kf, act, r, theta):
    """Root of ``F = r`` on the given pieces: ``(theta', t', d, 1 / k, any)`` with ``theta'
    = c_ref + t'`` and ``d_j = c_{j,k_j} - c_ref`` (``c_ref`` the largest active partial
    sum); ``any`` is False (and ``theta' = theta``) when no group is active."""
    inv = torch.where(act, 1.0 / kf, 0.0)
    D = inv.sum()
    some = D > 0
    cref = torch.where(some, torch.where(act, ck, -math.inf).amax(), theta)
    d = torch.where(act, ck - cref, 0.0)
    tp = torch.where(some, ((d * inv).sum() - r) / torch.where(some, D, 1.0), 0.0)
    return cref + tp, tp, d, inv, some


def _start_theta(s: torch.Tensor, N: int, r: float) -> torch.Tensor:
    """A lower bound on ``theta*`` (0-d float64) from the group l1 norms ``s``: ``mu_j(theta)
    >= (s_j - theta)_+ / N`` (the tangent at ``theta = 0``), so the root of ``sum_j (s_j -
    theta)_+ = N r``, an l1-ball threshold of ``s`` (sort-based, Duchi et al. 2008), has
    ``F >= r``; it is pulled down by a relative 1e-12 against rounding (as in
    :mod:`multiproj.kernels.l1inf`)."""
    v = torch.sort(s, descending=True).values
    cs = torch.cumsum(v, dim=0)
    k = torch.arange(1, v.shape[0] + 1, dtype=torch.float64, device=s.device)
    t = (cs - float(N) * r) / k
    # the active set is a prefix: its length is the number of entries above their t
    rho = (v > t).sum().clamp_min(1) - 1
    tau = t[rho]
    return torch.clamp_min(tau * (1.0 - 1e-12), 0.0)


# The groups are compacted before the sort when at most this fraction of them can be kept.
COMPACT_FRACTION = 0.75


def exact_l1inf_thresholds(a: torch.Tensor, radius: float, stats: dict | None = None) -> torch.Tensor:
    """Clip levels ``mu`` (float64, shape ``(G,)``) of the exact l1,inf projection of the
    groups ``a`` (rows of a non-negative ``(G, N)`` matrix), for ``0 < radius <
    sum_j max_i a_ji``.

    Groups with ``||a_j||_1 <= theta_0``, a lower bound on ``theta*`` from the group norms
    alone (:func:`_start_theta`), have ``mu_j = 0``; when at most ``COMPACT_FRACTION`` of
    the groups remain, only those are sorted and solved (the restricted problem has the same
    root).  The restriction is verified (every dropped group's norm at most the root found;
    else the full problem is solved), at the cost of two more host reads.

    ``stats`` (a dict), when given, receives ``theta`` (float), ``newton_steps`` (steps that
    moved ``theta``), ``host_reads`` (the flag reads of the loop) and ``candidates`` (the
    groups sorted).
    """
    G, N = a.shape
    r = float(radius)
    if G > 1:
        s0 = a.sum(dim=1, dtype=torch.float64)
        keep = s0 > _start_theta(s0, N, r)
        n = int(keep.sum())
        if 0 < n <= COMPACT_FRACTION * G:
            idx = torch.nonzero(keep).squeeze(1)
            mu_c, theta = _solve(a.index_select(0, idx), r, stats)
            rest = torch.where(keep, -math.inf, s0).amax()
            if bool(theta >= rest):
                mu = torch.zeros(G, dtype=torch.float64, device=a.device)
                mu[idx] = mu_c
                if stats is not None:
                    stats.update(candidates=n)
                return mu
    mu, _ = _solve(a, r, stats)
    if stats is not None:
        stats.update(candidates=G)
    return mu


def _solve(a: torch.Tensor, r: float, stats: dict | None):
    """``(mu, theta*)`` by sorting every group of ``a`` and Newton from the left (see the
    module docstring)."""
    G, N = a.shape
    dev = a.device
    srt = torch.sort(a, dim=1, descending=True).values
    s64 = srt if srt.dtype == torch.float64 else srt.to(torch.float64)
    del srt
    c = torch.cumsum(s64, dim=1)
    s = c[:, -1]
    b = torch.zeros((G, N), dtype=torch.float64, device=dev)
    if N > 1:
        inc = torch.sub(s64[:, :-1], s64[:, 1:])
        inc.mul_(torch.arange(1, N, dtype=torch.float64, device=dev))
        torch.cumsum(inc, dim=1, out=b[:, 1:])
        del inc
    del s64
    theta = torch.zeros((), dtype=torch.float64, device=dev)
    prev = theta
    done = torch.zeros((), dtype=torch.bool, device=dev)
    steps = torch.zeros((), dtype=torch.int64, device=dev)
    # The pieces only move forward (b is sorted, theta increases), so at most G * (N + 1)
    # steps can change them; a step that changes nothing ends the loop.  The state is frozen
    # once done, so the steps run after convergence in the last chunk change nothing.
    reads = 0
    for _ in range(0, G * (N + 1) + 1, NEWTON_CHUNK):
        for _ in range(NEWTON_CHUNK):
            ck, kf, act = _pieces(theta, b, c, s)
            nxt, _, _, _, some = _root(ck, kf, act, r, theta)
            stop = done | ~some | (nxt <= theta)
            # theta* < max_j ||y_j||_1 for r > 0, but with r below the rounding of that norm
            # a root can round onto it, where no group is active: then the pieces of the
            # previous theta (whose root that was) are the last ones
            new = torch.where(stop, torch.where(done | some, theta, prev), nxt)
            prev = torch.where(stop, prev, theta)
            theta = new
            steps += (~stop).to(torch.int64)
            done = stop
        reads += 1
        if bool(done):
            break
    # the pieces at the final theta and their root (the same computation as the last step)
    ck, kf, act = _pieces(theta, b, c, s)
    theta, tp, d, inv, _ = _root(ck, kf, act, r, theta)
    mu = torch.where(act, torch.clamp_min((d - tp) * inv, 0.0), 0.0)
    # sums that are equal in exact arithmetic may differ by rounding (eps * ||y_j||_1); when
    # r is below that, rescale to sum(mu) = r (the groups kept then have equal l1 norms to
    # rounding, so the split of r among them satisfies the optimality conditions to rounding)
    tot = mu.sum()
    fix = (tot > 0) & ((tot - r).abs() > 1e-12 * r)
    mu = torch.where(fix, mu * (r / torch.where(tot > 0, tot, 1.0)), mu)
    if stats is not None:
        stats.update(theta=float(theta), newton_steps=int(steps), host_reads=reads)
    return mu, theta


def project_exact_l1inf(y: torch.Tensor, radius: float, axes, out: torch.Tensor | None = None) -> torch.Tensor:
    """Exact projection of ``y`` onto the l1,inf ball of ``radius``, in torch operations on
    ``y``'s device (see the module docstring for the algorithm).

    Parameters
    ----------
    y : Tensor
        Detached float32 or float64 tensor, any shape and memory layout.
    radius : float
        Finite, >= 0.
    axes : tuple of int
        The dims that the inner (l_inf) norm reduces; the other dims index the groups.
    out : Tensor, optional
        Written with the result and returned (may be ``y`` itself); otherwise a new tensor.

    Returns
    -------
    Tensor
        ``x`` with ``x_ij = sign(y_ij) min(|y_ij|, mu_j)``; ``y``'s values (a copy) when
        ``||y||_{1,inf} <= radius``.

    Raises
    ------
    ValueError
        If ``y`` holds NaN or inf.
    """
    axes = tuple(sorted(axes))
    if y.numel() == 0:
        return _finish(y, y, out)
    a, kshape = _canonical(y, axes)
    # one read: sum of the group maxima (NaN/inf propagate into it)
    gmax = a.amax(dim=1)
    total = float(gmax.sum(dtype=torch.float64))
    if not math.isfinite(total):
        raise_not_finite()
    if radius == 0.0:
        return torch.zeros_like(y) if out is None else out.zero_()
    if total <= radius:
        return _finish(y, y, out)
    # The projection is positively homogeneous: with data far from 1 (subnormal, or sums of
    # breakpoints that could overflow), solve for a / s and radius / s, s a power of two
    # near max |y| (exact scaling), and scale the thresholds back.
    big = float(gmax.max())
    if not 2.0**-500 < big < 2.0**500:
        s = math.ldexp(1.0, math.frexp(big)[1])
        mu = exact_l1inf_thresholds(a.to(torch.float64) / s, radius / s) * s
        mu = mu.to(y.dtype).reshape(kshape)
        del a
        return torch.clamp(y, -mu, mu, out=out)
    mu = exact_l1inf_thresholds(a, radius).to(y.dtype).reshape(kshape)
    del a
    return torch.clamp(y, -mu, mu, out=out)
