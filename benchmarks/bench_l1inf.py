"""Benchmark of the exact l1,inf projection, with the bi-level projection beside it.

    python benchmarks/bench_l1inf.py [--threads 1] [--repeat 15] [--cpu-time] [--quick]

(The measuring code and the options are :mod:`multiproj.bench.l1inf`.)
"""

import sys

from multiproj.bench.l1inf import main

if __name__ == "__main__":
    sys.exit(main())
