"""GPU check: CUDA results against CPU results for every ball and method, and the time of the
bi-level l1,inf projection of a 8192 x 65536 float32 matrix against a device-to-device copy.

    python benchmarks/gpu_check.py [--device cuda|cpu] [--shape 8192x65536] [--repeat 20] [--json PATH]

(The measuring code and the options are :mod:`multiproj.bench.gpu`.)
"""

import sys

from multiproj.bench.gpu import main

if __name__ == "__main__":
    sys.exit(main())
