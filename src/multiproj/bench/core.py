"""Core benchmark: bi-level l1,inf vs ``Y.copy()``, and the l1 ball vs a sort-based
NumPy reference, single-thread and with all threads.

    python benchmarks/bench_core.py [--repeat 15] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import multiproj

from .baselines import median_time, radius_zeroing, sort_l1
from .report import print_machine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="200 x 2000 and 1e5 entries (smoke test)")
    args = ap.parse_args(argv)
    print_machine()
    rng = np.random.default_rng(0)
    (n, m), size = ((200, 2000), 100_000) if args.quick else ((1000, 10000), 1_000_000)
    Y = rng.standard_normal((n, m))
    r = radius_zeroing(Y, "l1,inf", 0.5)
    v = rng.standard_normal(size)
    rv = 0.1 * np.abs(v).sum()
    X = multiproj.project(Y, r, "l1,inf", method="bilevel", axis=0)
    zero = float((np.abs(X).max(axis=0) == 0).mean())
    np.testing.assert_allclose(multiproj.project(v, rv, "l1"), sort_l1(v, rv), rtol=1e-9, atol=1e-12)

    print(f"\nbi-level l1,inf, {n} x {m} float64 normal, axis=0, {zero:.0%} zero columns")
    print(f"l1 ball, {size:.0e} float64 normal, radius 10% of the l1 norm")
    print("ratios: to Y.copy() of the same run; 'into out=' writes into a reused array; 'floor' is")
    print("(Y.sum() + Y.copy()) / Y.copy(), the cost of one read pass plus one copy pass\n")
    out = np.empty_like(Y)
    print(f"{'threads':>7} | {'copy ms':>8} | {'bi-level ms':>11} | {'ratio to copy':>13} | {'into out=':>9} | {'floor':>5} | {'sort ref ms':>11} | {'l1 ms':>6} | {'ratio to sort':>13}")
    rows = {}
    for n in sorted({1, multiproj.max_threads()}):
        with multiproj.num_threads(n):
            t_copy = median_time(lambda: Y.copy(), args.repeat)
            t_bi = median_time(lambda: multiproj.project(Y, r, "l1,inf", method="bilevel", axis=0), args.repeat)
            t_out = median_time(lambda: multiproj.project(Y, r, "l1,inf", method="bilevel", axis=0, out=out), args.repeat)
            # two-pass floor: one read of Y (a sum) plus one copy of Y
            t_read = median_time(lambda: Y.sum(), args.repeat)
            t_sort = median_time(lambda: sort_l1(v, rv), max(5, args.repeat // 3))
            t_l1 = median_time(lambda: multiproj.project(v, rv, "l1"), args.repeat)
        rows[n] = t_bi
        print(
            f"{n:>7} | {t_copy * 1e3:8.1f} | {t_bi * 1e3:11.1f} | {t_bi / t_copy:13.2f} | "
            f"{t_out / t_copy:9.2f} | {(t_read + t_copy) / t_copy:5.2f} | "
            f"{t_sort * 1e3:11.1f} | {t_l1 * 1e3:6.2f} | {t_l1 / t_sort:13.3f}"
        )
    if len(rows) > 1:
        print(f"\nbi-level speed-up with {max(rows)} threads: {rows[1] / rows[max(rows)]:.2f} x")
    return 0

