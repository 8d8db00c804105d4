"""Baselines and radius helpers of the benchmarks: plain NumPy references measured beside the
library's projections, the radii that give a chosen sparsity, and a median timer.

* :func:`sort_l1_nonneg`, :func:`sort_l1`: the sort-based projection onto the l1 ball
  (Duchi et al., ICML 2008), for a non-negative vector and for any real vector;
* :func:`naive_bilevel_l1inf`: the bi-level l1,inf projection in three NumPy lines;
* :func:`radius_zeroing`: the radius at which the bi-level projection zeroes a fraction of
  the groups; :func:`radius_zeroing_exact`: the same for the exact l1,inf projection (both
  through :func:`multiproj.radius_for`);
* :func:`median_time`: median wall time of repeated calls after a warm-up;
  :func:`interleaved_times`: two functions timed in turns (same machine load for both);
* :func:`tensor_shape`: the shape of ``2**L`` entries as a tensor of a given order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = [
    "sort_l1_nonneg",
    "sort_l1",
    "naive_bilevel_l1inf",
    "group_norms",
    "radius_zeroing",
    "radius_zeroing_exact",
    "median_time",
    "interleaved_times",
    "sort_l1_batched",
    "tensor_shape",
]


def sort_l1_nonneg(v: np.ndarray, radius: float) -> np.ndarray:
    """Sort-based projection of a non-negative vector onto the l1 ball of ``radius``."""
    if v.sum() <= radius:
        return v.copy()
    s = np.sort(v)[::-1]
    c = np.cumsum(s) - radius
    k = np.nonzero(s * np.arange(1, s.size + 1) > c)[0][-1]
    return np.maximum(v - c[k] / (k + 1.0), 0.0)


def sort_l1(v: np.ndarray, radius: float) -> np.ndarray:
    """Sort-based projection of a real vector onto the l1 ball: ``sign(v) P(|v|)``."""
    return np.sign(v) * sort_l1_nonneg(np.abs(v), radius)


def sort_l1_batched(Y: np.ndarray, radius: float, axis: int) -> np.ndarray:
    """Sort-based projection of every l1 ball along ``axis`` of ``Y`` (one ball per index of
    the other axes), from the sorted magnitudes (Duchi et al. 2008)."""
    a = np.abs(np.moveaxis(Y, axis, -1))
    srt = -np.sort(-a, axis=-1)
    cs = np.cumsum(srt, axis=-1) - radius
    k = np.arange(1, a.shape[-1] + 1)
    rho = np.sum(srt * k > cs, axis=-1)  # the support size (the test is monotone in k)
    tau = np.take_along_axis(cs, rho[..., None] - 1, axis=-1) / rho[..., None]
    tau = np.where(a.sum(axis=-1, keepdims=True) <= radius, 0.0, tau)
    return np.moveaxis(np.sign(np.moveaxis(Y, axis, -1)) * np.maximum(a - tau, 0.0), -1, axis)


def naive_bilevel_l1inf(y: np.ndarray, radius: float) -> np.ndarray:
    """The naive NumPy bi-level l1,inf projection, groups = columns.

    Three lines: column maxima ``v``, ``u = P_l1(v, radius)`` by sorting, ``clip(y, -u, u)``.
    """
    v = np.abs(y).max(axis=0)
    u = sort_l1_nonneg(v, radius)
    return np.clip(y, -u, u)


def group_norms(y: np.ndarray, q: str, outer: int) -> np.ndarray:
    """l_q norms (``q`` in ``"1"``, ``"2"``, ``"inf"``) of the groups indexed by axis
    ``outer``."""
    a = np.abs(np.moveaxis(y, outer, 0).reshape(y.shape[outer], -1))
    if q == "inf":
        return a.max(axis=1)
    if q == "1":
        return a.sum(axis=1)
    return np.sqrt((a * a).sum(axis=1))


def _keep(fraction: float):
    """``keep`` of :func:`multiproj.radius_for` that zeroes ``fraction`` of the groups."""
    keep = 1.0 - float(fraction)
    return keep if keep > 0.0 else 0


def radius_zeroing(y: np.ndarray, ball, fraction: float = 0.5, outer: int = 1) -> float:
    """Radius at which the bi-level projection zeroes ``fraction`` of the groups (those of
    smallest norm), from :func:`multiproj.radius_for`.

    The groups are indexed by axis ``outer`` (the other axes are reduced by the inner norm
    of ``ball``, a name such as ``"l1,inf"`` or a ball object with ``is_flat`` and
    ``inner``); for a flat ball the "groups" are the entries.
    """
    from .. import radius_for

    if isinstance(ball, str):
        flat, inner = "," not in ball, ball.rsplit(",", 1)[-1]
    else:
        flat, inner = ball.is_flat, ball.inner
    if flat:
        return float(radius_for(y, "l1", keep=_keep(fraction)))
    axes = tuple(a for a in range(y.ndim) if a != outer)
    return float(radius_for(y, f"l1,{inner}", keep=_keep(fraction), method="bilevel",
                            axis=axes if len(axes) > 1 else axes[0]))


def radius_zeroing_exact(y: np.ndarray, fraction: float) -> float:
    """Radius whose exact l1,inf projection (groups = columns of the 2-D ``y``) zeroes
    ``fraction`` of the columns (those of smallest l1 norm), from
    :func:`multiproj.radius_for`."""
    from .. import radius_for

    return float(radius_for(y, "l1,inf", keep=_keep(fraction), method="exact", axis=0))


def median_time(fn: Callable[[], object], repeat: int = 15, warmup: int = 2,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """Median time of ``fn()`` in seconds (``clock``: wall time by default), after
    ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return float(np.median(times))


def interleaved_times(fn: Callable[[], object], ref: Callable[[], object], repeats: int, warmup: int = 2,
                      clock: Callable[[], float] = time.perf_counter) -> tuple[float, float, float]:
    """``(median time of fn, median time of ref, median of the per-turn ratios fn / ref)``
    in seconds, ``ref`` then ``fn`` at each of ``repeats`` turns after ``warmup`` untimed
    turns: on a shared machine the load drifts, and alternating keeps both measurements
    under the same conditions."""
    for _ in range(warmup):
        fn()
        ref()
    tf, tr = [], []
    for _ in range(repeats):
        t0 = clock()
        ref()
        t1 = clock()
        fn()
        t2 = clock()
        tr.append(t1 - t0)
        tf.append(t2 - t1)
    a, b = np.array(tf), np.array(tr)
    return float(np.median(a)), float(np.median(b)), float(np.median(a / b))


def tensor_shape(log2_size: int, order: int) -> tuple[int, ...]:
    """Shape of ``order`` axes of sizes powers of two whose product is ``2**log2_size``,
    as equal as possible (larger axes first)."""
    q, r = divmod(log2_size, order)
    return tuple(2 ** (q + (1 if i < r else 0)) for i in range(order))
