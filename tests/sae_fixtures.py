"""Fixtures shared by the SAE test modules (import them into a module to use them)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from multiproj.sae import make_synthetic  # noqa: E402

#: small, fast training settings of the estimator
FAST = dict(epochs=3, retrain_epochs=2, batch_size=16, lr=1e-3, hidden=16, n_threads=1)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models: one intra-op thread is faster, and robust on a loaded 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def small():
    """5 informative features (the first ones) among 30, well separated."""
    return make_synthetic(n_samples=160, n_features=30, n_informative=5, class_sep=2.0, random_state=2)
