"""Benchmark of the multi-level projection of tensors (Perez and Barlaud, arXiv:2405.02086, section 4).

(a) A tensor of 2**24 float64 entries (uniform on [0, 1), the authors' protocol) shaped as
    order 2, 3, 4 and 6 (4096^2, 256^3, 64^4, 16^6), norms l1,inf,...,inf (whose inner
    levels merge into one) and l1 with inner norms alternating 2 and inf (no merging),
    default levels (memory order): the median time of ``multiproj.project`` as a ratio
    to ``Y.copy()`` measured in the same run, with 1 and 2 threads, for two radii:
    eta = 1 (the authors' setting: few outer groups survive) and eta = ||Y|| / 2 (every
    group is projected: the dense worst case of the second pass).
(b) The 2-thread speedup of a plain parallel copy and a parallel read of the same
    tensor: the memory-bandwidth ceiling of this machine; and, when the caller passes
    ``per_pass`` (``benchmarks/bench_multilevel.py`` does), the parallel speedup of every
    pass (aggregation and projection, level by level) from 1 to 2 threads.

Usage::

    python benchmarks/bench_multilevel.py [--log2-size 24] [--repeats 15] [--threads 1 2]

Every time is a median over ``--repeats`` calls after two warm-up calls (JIT compiled).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from numba import njit, prange

import multiproj

from .._core.config import PARALLEL_OPTIONS
from .baselines import interleaved_times, median_time, tensor_shape
from .report import print_machine

ORDERS = (2, 3, 4, 6)


# ------------------------------------------------------------------ bandwidth references
@njit(**PARALLEL_OPTIONS)
def _par_copy_into(x, out):
    n = x.shape[0]
    nb = 512
    step = (n + nb - 1) // nb
    for b in prange(nb):
        lo = b * step
        hi = min(n, lo + step)
        out[lo:hi] = x[lo:hi]


@njit(**PARALLEL_OPTIONS)
def _par_max(x):
    n = x.shape[0]
    nb = 512
    step = (n + nb - 1) // nb
    part = np.zeros(nb)
    for b in prange(nb):
        m = 0.0
        for i in range(b * step, min(n, (b + 1) * step)):
            a = abs(x[i])
            m = a if a > m else m
        part[b] = m
    return part.max()


def par_copy(x):
    """A parallel copy into a fresh array (like ``x.copy()``, page faults included)."""
    out = np.empty_like(x)
    _par_copy_into(x.reshape(-1), out.reshape(-1))
    return out


# ------------------------------------------------------------------ (a) whole projection
def ball_name(family: str, k: int) -> str:
    """``inf``: l1,inf,...,inf (its inner levels merge into one: the cost of a bi-level
    projection); ``mixed``: inner norms alternating 2 and inf, innermost 2 (no two
    neighbours merge, so every level is its own pass)."""
    if family == "inf":
        return "l1" + ",inf" * (k - 1)
    inner = ["2" if j % 2 == 0 else "inf" for j in range(k - 1)][::-1]
    return "l1," + ",".join(inner)


def bench_orders(Y, log2_size, threads, repeats, rounds, families, orders=ORDERS, verbose=True):
    """Each round times every (order, radius, threads) case once; a row reports the
    median over the rounds of the time and of the ratio to the copy, and the range of the
    ratio (the load of a shared machine drifts over minutes, not only between calls)."""
    cases = []
    for family in families:
        for k in orders:
            y = Y.reshape(tensor_shape(log2_size, k))
            ball = ball_name(family, k)
            full = multiproj.norm(y, ball, levels=tuple(range(k)))
            for label, radius in (("1", 1.0), ("norm/2", 0.5 * full)):
                cases.append((k, y, ball, label, radius))
    samples = {(c[2], c[3], n): [] for c in cases for n in threads}
    for rnd in range(rounds):
        for k, y, ball, label, radius in cases:
            for n in threads:
                with multiproj.num_threads(n):
                    samples[ball, label, n].append(interleaved_times(
                        lambda: multiproj.project(y, radius, ball, method="multilevel"),
                        lambda: y.copy(),
                        repeats,
                    ))
        if verbose:
            print(f"round {rnd + 1}/{rounds} done (load {os.getloadavg()[0]:.1f})", flush=True)
    rows = []
    for k, y, ball, label, radius in cases:
        row = {"order": k, "shape": "x".join(map(str, y.shape)), "eta": label, "ball": ball}
        for n in threads:
            a = np.array(samples[ball, label, n])  # columns: t_project, t_copy, ratio
            row[n] = (float(np.median(a[:, 0])), float(np.median(a[:, 1])), float(np.median(a[:, 2])),
                      float(a[:, 2].min()), float(a[:, 2].max()))
        rows.append(row)
    return rows


def cores_used(fn, repeats: int) -> float:
    """CPU time of this process over wall time while ``fn`` runs: how many cores the
    process actually got (2 threads on an idle 2-core machine: close to 2)."""
    fn()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.process_time() - c0) / (time.perf_counter() - w0)


def bench_bandwidth(Y, threads, repeats):
    """Median times of a parallel copy (into a fresh and into an existing array) and a
    parallel read of ``Y``, and the cores the process got, for every thread count."""
    dst = np.empty_like(Y)
    out = {}
    for n in threads:
        with multiproj.num_threads(n):
            out[n] = {
                "copy (fresh array)": median_time(lambda: par_copy(Y), repeats),
                "copy into existing": median_time(lambda: _par_copy_into(Y, dst), repeats),
                "read (max |y|)": median_time(lambda: _par_max(Y), repeats),
            }
            out[n]["cores"] = cores_used(lambda: _par_max(Y), repeats)
    return out


def main(argv=None, per_pass=None) -> int:
    """Run parts (a) and (b) with the options of ``argv``; ``per_pass(Y, log2_size,
    threads, repeats, order)``, when given, returns the rows of the per-pass table of
    order ``order`` (``stage``, ``pass``, ``entries``, ``fibres``, ``serial`` and the
    seconds for each thread count)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--log2-size", type=int, default=24)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3, help="rounds of part (a); medians over rounds")
    p.add_argument("--families", nargs="+", default=["inf", "mixed"], choices=["inf", "mixed"],
                   help="ball families of part (a): l1,inf,...,inf and/or alternating 2/inf")
    p.add_argument("--levels-order", type=int, nargs="+", default=list(ORDERS),
                   help="orders whose passes are timed one by one in part (b)")
    args = p.parse_args(argv)
    threads = [n for n in args.threads if n <= multiproj.max_threads()]

    print_machine()
    print(f"threads: {threads} (max {multiproj.max_threads()}); load average at start: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    Y = np.random.default_rng(0).random(1 << args.log2_size)
    nbytes = Y.nbytes
    t0 = time.perf_counter()

    print(f"\n(a) multi-level projection of {1 << args.log2_size} float64 entries "
          f"({nbytes / 2**20:.0f} MiB), ratio to Y.copy() in the same run")
    rows = bench_orders(Y, args.log2_size, threads, args.repeats, args.rounds, args.families)
    print(f"\nratio to copy = median over alternated calls of t(project) / t(Y.copy()); "
          f"median over {args.rounds} rounds (range over the rounds)")
    print("\n| ball | shape | eta |" + "".join(f" {n} thread{'s' if n > 1 else ''} (x copy) |" for n in threads)
          + (" speedup 1->2 |" if 1 in threads and 2 in threads else ""))
    print("|---|---|---|" + "---|" * len(threads) + ("---|" if 1 in threads and 2 in threads else ""))
    for r in rows:
        line = f"| {r['ball']} | {r['shape']} | {r['eta']} |"
        line += "".join(f" {r[n][0] * 1e3:.1f} ms ({r[n][2]:.2f}; {r[n][3]:.2f}-{r[n][4]:.2f}) |" for n in threads)
        if 1 in threads and 2 in threads:
            line += f" {r[1][0] / r[2][0]:.2f} |"
        print(line)

    print("\n(b) bandwidth references (Numba prange, same tensor)")
    bw = bench_bandwidth(Y, threads, args.repeats)
    print("| operation |" + "".join(f" {n} thr |" for n in threads) + " speedup 1->2 |")
    print("|---|" + "---|" * len(threads) + "---|")
    for name in [k for k in bw[threads[0]] if k != "cores"]:
        traffic = nbytes * (1 if name.startswith("read") else 2)
        line = f"| {name} |" + "".join(
            f" {bw[n][name] * 1e3:.1f} ms ({traffic / bw[n][name] / 1e9:.1f} GB/s) |" for n in threads)
        line += f" {bw[1][name] / bw[2][name]:.2f} |" if 1 in bw and 2 in bw else " - |"
        print(line)
    print("cores the process obtained during the parallel read (CPU time / wall time): "
          + ", ".join(f"{n} thread{'s' if n > 1 else ''}: {bw[n]['cores']:.2f}" for n in threads))
    t_np = median_time(lambda: Y.copy(), args.repeats)
    print(f"| numpy Y.copy() (1 thread) | {t_np * 1e3:.1f} ms ({2 * nbytes / t_np / 1e9:.1f} GB/s) |")

    if per_pass is not None:
        print("\n(b) per-pass times and 1->2 thread speedup, l1,inf,...,inf, eta = ||Y|| / 2, every "
              "level kept (no merging of the inf levels; the two innermost fused)")
        print("| order | pass | stage | entries read | fibres |" + "".join(f" {n} thr |" for n in threads)
              + " speedup |")
        print("|---|---|---|---|---|" + "---|" * len(threads) + "---|")
        for k in args.levels_order:
            for r in per_pass(Y, args.log2_size, threads, args.repeats, k):
                if r["serial"]:
                    sp = "serial"  # by design: too small to wake a second thread
                else:
                    sp = f"{r[1] / r[2]:.2f}" if 1 in r and 2 in r else "-"
                print(f"| {k} | {r['pass']} | {r['stage']} | {r['entries']} | {r['fibres']} |"
                      + "".join(f" {r[n] * 1e3:.3f} ms |" for n in threads) + f" {sp} |")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"wall {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
