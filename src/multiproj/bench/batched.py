"""Batched flat l1 balls: one ball per column (``axis=0``) and per row (``axis=1``) of a
C-ordered float64 N(0,1) matrix, radius 1, against a batched NumPy sort of ``|Y|`` along the
same axis and ``Y.copy()`` measured in the same run (round-robin medians of
:func:`multiproj.bench.suite.time_round_robin`); ``benchmarks/bench_batched.py`` runs
:func:`main`.

Prints the machine, its load average (the ratios to the sort move with the load: the sort
is bound by computation, the projection mostly by memory), then one line per (threads,
axis): milliseconds and the ratios to the sort and to the copy.  Every projection is first
checked against the sort-based threshold of every ball.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from .baselines import sort_l1_batched
from .report import print_machine
from .suite import time_round_robin


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="one l1 ball per column and per row, against a batched NumPy sort")
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--cols", type=int, default=10_000)
    p.add_argument("--radius", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import multiproj as mp

    Y = np.random.default_rng(args.seed).standard_normal((args.rows, args.cols))
    print_machine()
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"multiproj {mp.__version__}: one l1 ball per column / row of a {args.rows} x {args.cols} "
          f"C-ordered float64 N(0,1) matrix, radius {args.radius}; round-robin medians of {args.repeat}")
    for ax in (0, 1):
        err = np.abs(mp.project(Y, args.radius, "l1", axis=ax) - sort_l1_batched(Y, args.radius, ax)).max()
        print(f"axis={ax}: max |multiproj - sort-based reference| = {err:.2e}")
    print(f"{'threads':>7} {'axis':>4} {'multiproj ms':>12} {'sort ms':>8} {'copy ms':>8} "
          f"{'/ sort':>7} {'/ copy':>7}")
    for nt in args.threads:
        if nt > mp.max_threads():
            print(f"{nt:>7} skipped: NUMBA_NUM_THREADS={mp.max_threads()}")
            continue
        with mp.num_threads(nt):
            for ax in (0, 1):
                med, _, notes = time_round_robin({
                    "proj": lambda ax=ax: mp.project(Y, args.radius, "l1", axis=ax),
                    "sort": lambda ax=ax: np.sort(np.abs(Y), axis=ax),
                    "copy": lambda: Y.copy(),
                }, args.repeat)
                if notes:
                    print(f"{nt:>7} {ax:>4} {notes}")
                    continue
                ms = {k: v * 1e3 for k, v in med.items()}
                print(f"{nt:>7} {ax:>4} {ms['proj']:>12.2f} {ms['sort']:>8.2f} {ms['copy']:>8.2f} "
                      f"{ms['proj'] / ms['sort']:>7.3f} {ms['proj'] / ms['copy']:>7.2f}")
    return 0
