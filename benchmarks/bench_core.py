"""Core benchmark: bi-level l1,inf vs ``Y.copy()``, and the l1 ball vs a sort-based
NumPy reference, single-thread and with all threads.

    python benchmarks/bench_core.py [--repeat 15] [--quick]

(The measuring code and the options are :mod:`multiproj.bench.core`.)
"""

import sys

from multiproj.bench.core import main

if __name__ == "__main__":
    sys.exit(main())
