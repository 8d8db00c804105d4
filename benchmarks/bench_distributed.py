"""Distributed projections: communication volume, 2 gloo ranks vs 1 process, and a
Dask run on an array several times larger than a memory limit.

    python benchmarks/bench_distributed.py [--repeat 7] [--dask-gb 4] [--limit-gb 1] [--no-lazy] [--only comm|time|dask]

(The measuring code and the options are :mod:`multiproj.bench.distributed`.)
"""

import sys

from multiproj.bench.distributed import main

if __name__ == "__main__":
    sys.exit(main())
