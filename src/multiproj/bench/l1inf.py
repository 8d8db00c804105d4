"""Benchmark of the exact l1,inf projection, with the bi-level projection beside it.

Cases (float64, groups = columns, C order, ``axis=0``):

* 1000 x 10000 normal data, radii that zero 10%, 50% and 90% of the columns of the exact
  solution (``theta`` = that quantile of the column l1 norms, ``r = sum_j mu_j(theta)``);
* the authors' protocol: uniform [0, 1) data, 1000 x m, m = 1000 ... 8000, radius 1.

Every time is a median over ``--repeat`` calls after a warm-up, and is reported as a ratio
to ``Y.copy()`` measured in the same run.  ``--cpu-time`` measures process CPU time instead
of wall time (steadier on a shared, loaded machine).  The optimality-certificate gap is
printed for every exact result.

    python benchmarks/bench_l1inf.py --threads 1 --cpu-time
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import multiproj

from .baselines import median_time
from .baselines import radius_zeroing_exact as radius_zeroing
from .report import print_machine


def timer(fn, repeat, cpu):
    return median_time(fn, repeat, clock=time.process_time if cpu else time.perf_counter)


def gap(y, x, r):
    """Relative certificate gap (r ||y - x||_* - <y - x, x>) / (r ||y - x||_*)."""
    d = y - x
    lhs = r * np.abs(d).sum(axis=0).max()
    return (lhs - float((d * x).sum())) / max(lhs, 1e-300)


def run_case(name, y, r, repeat, cpu):
    t_copy = timer(lambda: y.copy(), repeat, cpu)
    t_ex = timer(lambda: multiproj.project(y, r, "l1,inf", method="exact"), repeat, cpu)
    t_bi = timer(lambda: multiproj.project(y, r, "l1,inf", method="bilevel"), repeat, cpu)
    x = multiproj.project(y, r, "l1,inf", method="exact")
    zero = float((np.abs(x).max(axis=0) == 0).mean())
    print(
        f"| {name} | {r:.4g} | {100 * zero:.0f}% | {1e3 * t_copy:.1f} ms | "
        f"{1e3 * t_ex:.1f} ms | **{t_ex / t_copy:.2f}** | {t_bi / t_copy:.2f} | "
        f"{t_ex / t_bi:.1f} | {gap(y, x, r):.1e} |",
        flush=True,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="Numba threads (default 1)")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time, not wall time")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    args = ap.parse_args(argv)
    print_machine()
    print(f"command: python benchmarks/bench_l1inf.py {' '.join(argv or sys.argv[1:])}")
    print(f"threads={args.threads}, clock={'process CPU' if args.cpu_time else 'wall'}, "
          f"median of {args.repeat}")
    n, m = (200, 2000) if args.quick else (1000, 10000)
    ms = [500, 1000] if args.quick else [1000, 2000, 4000, 6000, 8000]
    rng = np.random.default_rng(0)
    print()
    print("| data | radius | zero cols | copy | exact | exact / copy | bilevel / copy "
          "| exact / bilevel | gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    with multiproj.num_threads(args.threads):
        y = rng.standard_normal((n, m))
        for frac in (0.1, 0.5, 0.9):
            run_case(f"normal {n}x{m}, {int(100 * frac)}% zero", y, radius_zeroing(y, frac),
                     args.repeat, args.cpu_time)
        for mm in ms:
            u = rng.random((n, mm))
            run_case(f"uniform {n}x{mm}", u, 1.0, args.repeat, args.cpu_time)
    return 0

