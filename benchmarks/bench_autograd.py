"""Cost of differentiating through a projection (CPU, one thread).

    python benchmarks/bench_autograd.py [--repeat 9] [--shape 1000 10000] [--fraction 0.1] [--cpu-time] [--extra]

(The measuring code and the options are :mod:`multiproj.bench.autograd`.)
"""

import sys

from multiproj.bench.autograd import main

if __name__ == "__main__":
    sys.exit(main())
