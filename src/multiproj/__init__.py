"""multiproj: fast exact, bi-level and multi-level projections onto structured-sparsity
balls (l1, l2, linf, l1,inf, l1,1, l1,2 and their tensor generalisations), for NumPy arrays
and PyTorch tensors.

Quick start::

    import numpy as np, multiproj
    W = np.random.randn(100, 1000)            # e.g. an nn.Linear weight (out x in)
    X = multiproj.project(W, 10.0, "l1,inf", method="bilevel", axis=0)
    multiproj.norm(X, "l1,inf", axis=0)       # <= 10.0; many columns are exactly zero

Numba is imported on the first projection, not at ``import multiproj``.
"""

from ._api import norm, project, project_
from ._prox import prox
from ._radius import radius_for
from ._registry import METHODS
from ._threads import get_num_threads, max_threads, num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "project",
    "project_",
    "norm",
    "prox",
    "radius_for",
    "METHODS",
    "get_num_threads",
    "set_num_threads",
    "num_threads",
    "max_threads",
    "__version__",
]
