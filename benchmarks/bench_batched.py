"""Batched flat l1 balls: one ball per column (``axis=0``) and per row (``axis=1``) of a
C-ordered float64 matrix, radius 1, against a batched NumPy sort of ``|Y|`` along the same
axis and ``Y.copy()`` measured in the same run (round-robin, medians).

Run::

    PYTHONPATH=src python benchmarks/bench_batched.py [--rows 1000] [--cols 10000]
        [--repeat 15] [--threads 1 2]

Prints one line per (threads, axis): milliseconds and the ratios to the sort and to the copy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--cols", type=int, default=10_000)
    p.add_argument("--radius", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import multiproj as mp

    Y = np.random.default_rng(args.seed).standard_normal((args.rows, args.cols))
    print(f"multiproj {mp.__version__}: one l1 ball per column / row of a {args.rows} x {args.cols} "
          f"C-ordered float64 N(0,1) matrix, radius {args.radius}; medians of {args.repeat}")
    for ax in (0, 1):  # compile, and check once against the sort-based threshold
        mp.project(Y[:50, :60], args.radius, "l1", axis=ax)
    print(f"{'threads':>7} {'axis':>4} {'multiproj ms':>12} {'sort ms':>8} {'copy ms':>8} "
          f"{'/ sort':>7} {'/ copy':>7}")
    for nt in args.threads:
        if nt > mp.max_threads():
            print(f"{nt:>7} skipped: NUMBA_NUM_THREADS={mp.max_threads()}")
            continue
        with mp.num_threads(nt):
            for ax in (0, 1):
                cases = {
                    "proj": lambda: mp.project(Y, args.radius, "l1", axis=ax),
                    "sort": lambda: np.sort(np.abs(Y), axis=ax),
                    "copy": lambda: Y.copy(),
                }
                times = {k: [] for k in cases}
                for _ in range(args.repeat):  # round-robin: the three see the same machine state
                    for k, fn in cases.items():
                        times[k] += _time(fn, 1)
                med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
                print(f"{nt:>7} {ax:>4} {med['proj']:>12.2f} {med['sort']:>8.2f} {med['copy']:>8.2f} "
                      f"{med['proj'] / med['sort']:>7.3f} {med['proj'] / med['copy']:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
