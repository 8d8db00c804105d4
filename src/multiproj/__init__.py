"""multiproj: fast exact, bi-level and multi-level projections onto structured-sparsity
balls (l1, l2, linf, l1,inf, l1,1, l1,2 and their tensor generalisations), for NumPy arrays
and PyTorch tensors.

Quick start::

    import numpy as np, multiproj
    W = np.random.randn(100, 1000)            # e.g. an nn.Linear weight (out x in)
    X = multiproj.project(W, 10.0, "l1,inf", method="bilevel", axis=0)
    multiproj.norm(X, "l1,inf", axis=0)       # <= 10.0; many columns are exactly zero

Numba is imported on the first projection, not at ``import multiproj``.  The integrations
:mod:`multiproj.nn`, :mod:`multiproj.sae`, :mod:`multiproj.dask`,
:mod:`multiproj.distributed` and :mod:`multiproj.bench` are attributes of the package,
imported on first access.
"""

import importlib as _importlib

from ._api import norm, project, project_
from ._prox import prox
from ._core.registry import METHODS
from ._core.threads import get_num_threads, max_threads, num_threads, set_num_threads

__version__ = "0.1.0"

#: integrations loaded on first attribute access (``multiproj.nn`` ...), with the extra that
#: provides what they import
_SUBMODULES = {
    "nn": "torch",
    "sae": "sae",
    "dask": "dask",
    "distributed": "torch",
    "bench": "bench",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))

__all__ = [
    "project",
    "project_",
    "norm",
    "prox",
    "METHODS",
    "get_num_threads",
    "set_num_threads",
    "num_threads",
    "max_threads",
    "__version__",
]
