"""Compare the constraints of the SAE's first layer on the synthetic data of [SAE].

    python benchmarks/sae_compare.py [--quick] [--folds 4] [--radius R] [--rows ...] [--json PATH]

(The measuring code and the options are :mod:`multiproj.bench.sae_compare`.)
"""

import sys

from multiproj.bench.sae_compare import main

if __name__ == "__main__":
    sys.exit(main())
