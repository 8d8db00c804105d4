"""Shared fixtures: dtypes, data generators and tolerances."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# CI (CI=true, as .ci/run is called) draws the same hypothesis examples on every run, so a
# red CI can be reproduced and a green one is not luck; local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")

DTYPES = [np.float32, np.float64]


def tol(dtype):
    """(rtol, atol) for comparing a result of ``dtype`` with a float64 reference."""
    return (2e-5, 2e-5) if np.dtype(dtype) == np.float32 else (1e-10, 1e-12)


def make_data(kind: str, shape, dtype=np.float64, seed: int = 0) -> np.ndarray:
    """Test data of a given kind: normal, uniform, ties, heavy, sparse, positive, negative."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        y = rng.standard_normal(shape)
    elif kind == "uniform":
        y = rng.uniform(-1, 1, shape)
    elif kind == "ties":
        y = rng.integers(-3, 4, shape).astype(np.float64)
    elif kind == "heavy":
        y = rng.standard_cauchy(shape)
    elif kind == "sparse":
        y = rng.standard_normal(shape) * (rng.random(shape) < 0.1)
    elif kind == "positive":
        y = rng.random(shape)
    elif kind == "negative":
        y = -rng.random(shape)
    else:
        raise ValueError(kind)
    return np.asarray(y, dtype=dtype)


DATA_KINDS = ["normal", "uniform", "ties", "heavy", "sparse"]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param
