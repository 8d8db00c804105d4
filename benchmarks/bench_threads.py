"""Threads under contention: every Numba thread against one, for the bi-level (l1,inf and
l1,2), exact l1,inf and multi-level projections of 1000 x m matrices and a 128^3 tensor,
on an idle machine and beside two busy processes (``while True: pass``, one per core of a
two-core machine).  The two thread counts take turns on the same calls (medians); the
bound is 1.3 x the one-thread time beside busy processes and 1.0 x when idle.

    python benchmarks/bench_threads.py [--quick] [--repeats 15] [--markdown PATH]

(A preset of ``multiproj bench contention``.)
"""

from multiproj.bench.presets import run_preset

if __name__ == "__main__":
    run_preset(["contention"], __doc__)
