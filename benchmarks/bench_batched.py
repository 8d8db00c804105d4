"""Batched flat l1 balls (one ball per column and per row of a 1000 x 10000 matrix) against a
batched NumPy sort and ``Y.copy()`` of the same run.

    NUMBA_NUM_THREADS=1 python benchmarks/bench_batched.py [--rows 1000] [--cols 10000]
        [--repeat 15] [--threads 1 2]

(The measuring code and the options are :mod:`multiproj.bench.batched`.)
"""

import sys

from multiproj.bench.batched import main

if __name__ == "__main__":
    sys.exit(main())
