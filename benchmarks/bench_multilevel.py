"""Benchmark of the multi-level projection of tensors [MLP s.4].

(a) A tensor of 2**24 float64 entries (uniform on [0, 1), the authors' protocol) shaped as
    order 2, 3, 4 and 6 (4096^2, 256^3, 64^4, 16^6), norms l1,inf,...,inf (whose inner
    levels merge into one) and l1 with inner norms alternating 2 and inf (no merging),
    default levels (memory order): the median time of ``multiproj.project`` as a ratio
    to ``Y.copy()`` measured in the same run, with 1 and 2 threads, for two radii:
    eta = 1 (the authors' setting: few outer groups survive) and eta = ||Y|| / 2 (every
    group is projected: the dense worst case of the second pass).
(b) The parallel speedup of every pass (aggregation and projection, level by level) from
    1 to 2 threads, next to the 2-thread speedup of a plain parallel copy and a parallel
    read of the same tensor: the memory-bandwidth ceiling of this machine.

Usage::

    python benchmarks/bench_multilevel.py [--log2-size 24] [--repeats 15] [--threads 1 2]

Every time is a median over ``--repeats`` calls after two warm-up calls (JIT compiled).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from numba import njit, prange

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import median_time, print_machine  # noqa: E402

import multiproj  # noqa: E402
from multiproj._core.ball import parse_ball  # noqa: E402
from multiproj._core.checks import check_levels  # noqa: E402
from multiproj._core.threads import SERIAL_BELOW  # noqa: E402
from multiproj._core.threads import serial_if_small  # noqa: E402
from multiproj._cpu import multilevel as backend  # noqa: E402
from multiproj._cpu.groups import finite_group_norms, outer_l1  # noqa: E402
from multiproj._cpu.layout import to_keepdims  # noqa: E402

ORDERS = (2, 3, 4, 6)


# ------------------------------------------------------------------ bandwidth references
@njit(parallel=True, nogil=True, cache=True)
def _par_copy_into(x, out):
    n = x.shape[0]
    nb = 512
    step = (n + nb - 1) // nb
    for b in prange(nb):
        lo = b * step
        hi = min(n, lo + step)
        out[lo:hi] = x[lo:hi]


@njit(parallel=True, nogil=True, cache=True)
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


def paired_times(fn, ref, repeats: int, warmup: int = 2):
    """Median times of ``fn`` and ``ref`` called alternately, and the median of the
    per-pair ratios fn/ref: on a shared machine the load drifts, and alternating keeps
    the two measurements under the same conditions."""
    for _ in range(warmup):
        fn()
        ref()
    tf, tr = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        tr.append(t1 - t0)
        tf.append(t2 - t1)
    tf, tr = np.array(tf), np.array(tr)
    return float(np.median(tf)), float(np.median(tr)), float(np.median(tf / tr))


def tensor_shape(log2_size: int, order: int) -> tuple[int, ...]:
    if log2_size % order == 0:
        return (1 << (log2_size // order),) * order
    d = round(2 ** (log2_size / order))
    return (d,) * (order - 1) + ((1 << log2_size) // d ** (order - 1),)


# ------------------------------------------------------------------ (a) whole projection
def ball_name(family: str, k: int) -> str:
    """``inf``: l1,inf,...,inf (its inner levels merge into one: the cost of a bi-level
    projection); ``mixed``: inner norms alternating 2 and inf, innermost 2 (no two
    neighbours merge, so every level is its own pass)."""
    if family == "inf":
        return "l1" + ",inf" * (k - 1)
    inner = ["2" if j % 2 == 0 else "inf" for j in range(k - 1)][::-1]
    return "l1," + ",".join(inner)


def bench_orders(Y, log2_size, threads, repeats, rounds, families):
    """Each round times every (order, radius, threads) case once; a row reports the
    median over the rounds of the time and of the ratio to the copy, and the range of the
    ratio (the load of a shared machine drifts over minutes, not only between calls)."""
    cases = []
    for family in families:
        for k in ORDERS:
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
                    samples[ball, label, n].append(paired_times(
                        lambda: multiproj.project(y, radius, ball, method="multilevel"),
                        lambda: y.copy(),
                        repeats,
                    ))
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


# ------------------------------------------------------------------ (b) per level
def stage_label(st, levels, k) -> str:
    if st.fused:
        return f"levels {k - 1}+{k} (fused, reads y)"
    lvl = levels.index(st.red) + 1
    return f"level {lvl}" + (" (reads y)" if lvl == k else "")


def bench_levels(Y, log2_size, threads, repeats, order):
    """Time every pass of one projection separately (same calls as project_multilevel)."""
    k = order
    y = Y.reshape(tensor_shape(log2_size, k))
    ball = parse_ball("l1" + ",inf" * (k - 1))
    levels = check_levels(None, k, ball)
    radius = 0.5 * multiproj.norm(y, ball.name, levels=levels)
    stages = backend.multilevel_stages(y, ball, levels)
    # radii of every stage, as computed by project_multilevel
    radii = [None] * len(stages)
    u, _ = outer_l1(stages[-1].vc, radius)
    radii[-1] = u
    targets = [None] * len(stages)
    for j in range(len(stages) - 1, 0, -1):
        prev = stages[j - 1]
        u_next = np.empty_like(prev.vc)
        targets[j] = to_keepdims(prev.lay, u_next, prev.red)
        backend._project_stage_into(stages[j], targets[j], radii[j])
        radii[j - 1] = u_next
    out = np.empty_like(y)
    targets[0] = out

    def agg(st):
        if st.fused:
            v = np.empty(st.x3.shape[:2])
            w = np.empty(st.x3.shape[0])
            return lambda: backend.fused_norms(st.x3, st.qn, st.qm, v, w)
        def run():
            with serial_if_small(st.xc.size):
                finite_group_norms(st.xc, st.q)

        return run

    rows = []
    for j, st in enumerate(stages):
        entries = st.x3.size if st.fused else st.xc.size
        fibres = st.v.size if st.fused else st.vc.size
        name = stage_label(st, levels, k)
        for kind, fn in (
            ("aggregate", agg(st)),
            ("project", lambda st=st, j=j: backend._project_stage_into(st, targets[j], radii[j])),
        ):
            times = {}
            for n in threads:
                with multiproj.num_threads(n):
                    times[n] = median_time(fn, repeats)
            rows.append({"stage": name, "pass": kind, "entries": entries, "fibres": fibres, **times})
    t_outer = median_time(lambda: outer_l1(stages[-1].vc, radius), repeats)
    rows.append({"stage": "level 1 (l1 of V_1)", "pass": "project", "entries": stages[-1].vc.size,
                 "fibres": 1, **{n: t_outer for n in threads}})
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
    out = {}
    for n in threads:
        with multiproj.num_threads(n):
            out[n] = {
                "copy (fresh array)": median_time(lambda: par_copy(Y), repeats),
                "copy into existing": median_time(lambda: _par_copy_into(Y, _dst), repeats),
                "read (max |y|)": median_time(lambda: _par_max(Y), repeats),
            }
            out[n]["cores"] = cores_used(lambda: _par_max(Y), repeats)
    return out


_dst = None


def main(argv=None) -> int:
    global _dst
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
    _dst = np.empty_like(Y)
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

    print("\n(b) per-pass times and 1->2 thread speedup, l1,inf,...,inf, eta = ||Y|| / 2, every "
          "level kept (no merging of the inf levels; the two innermost fused)")
    print("| order | pass | stage | entries read | fibres |" + "".join(f" {n} thr |" for n in threads)
          + " speedup |")
    print("|---|---|---|---|---|" + "---|" * len(threads) + "---|")
    for k in args.levels_order:
        for r in bench_levels(Y, args.log2_size, threads, args.repeats, k):
            if r["fibres"] == 1 or r["entries"] < SERIAL_BELOW:
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
