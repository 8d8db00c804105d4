"""Sparse training toolkit: compaction gains and the cost of ``multiproj.nn.constrain``.

    python benchmarks/bench_training.py [--repeat 50] [--width 512] [--batch 256]

(The measuring code and the options are :mod:`multiproj.bench.training`.)
"""

import sys

from multiproj.bench.training import main

if __name__ == "__main__":
    sys.exit(main())
