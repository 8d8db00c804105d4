"""PyTorch benchmarks (CPU): the cost of going through a tensor, and of projecting in training.

    python benchmarks/bench_torch.py [--quick] [--threads N] [--cpu-time]

(The measuring code and the options are :mod:`multiproj.bench.torch_path`.)
"""

import sys

from multiproj.bench.torch_path import main

if __name__ == "__main__":
    sys.exit(main())
