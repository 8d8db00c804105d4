"""What the first call compiles: a projection that runs on one thread (a small problem, or
one thread set) compiles only the serial kernels, and a kernel chosen between a serial and
a parallel variant compiles only the one it runs; the serial twins agree with the parallel
kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

numba = pytest.importorskip("numba")

_PROBE = r"""
import json, sys
import numpy as np
from numba.core import event

seen = []


class L(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        d = ev.data["dispatcher"]
        fn = d.py_func
        if fn.__module__.startswith("multiproj."):
            seen.append([fn.__qualname__, bool(d.targetoptions.get("parallel"))])


event.register("numba:compile", L())
import multiproj

y = np.random.default_rng(0).random((300, 200))
out = {}
for method in sys.argv[1:]:
    seen.clear()
    multiproj.project(y, 1.0, "l1,inf", method=method, axis=0)
    out[method] = list(seen)
print(json.dumps(out))
"""


def _compiled(tmp_path, threads: int) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_NUM_THREADS": str(threads)}
    res = subprocess.run([sys.executable, "-c", _PROBE, "bilevel", "exact"], env=env,
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(res.stdout.splitlines()[-1])


@pytest.mark.parametrize("threads", [1, 2])
def test_small_first_call_compiles_serial_kernels_only(tmp_path, threads):
    got = _compiled(tmp_path, threads)
    for method, kernels in got.items():
        names = [k for k, _ in kernels]
        assert kernels, method  # a fresh cache: the call compiled its kernels
        assert not [k for k, par in kernels if par], (method, names)
        # the serial twins of the group kernels, never both variants of one kernel
        assert any(k.endswith("_serial") for k in names), (method, names)
        for k in names:
            assert k + "_parallel" not in names and k + "_par" not in names, (method, k)
    assert "_newton_left_serial" in [k for k, _ in got["exact"]]


def test_serial_twin_matches_parallel_kernel():
    from multiproj.kernels import grouped, l1inf
    from multiproj.kernels.compile import for_threads, serial_twin
    from multiproj import num_threads

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 70, 600))
    s1, m1, s2, m2 = (np.empty(2 * 600) for _ in range(4))
    l1inf.stats_cols(x, s1, m1)
    serial_twin(l1inf.stats_cols)(x, s2, m2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(m1, m2)
    assert serial_twin(l1inf.stats_cols) is serial_twin(l1inf.stats_cols)
    with num_threads(1):
        assert for_threads(grouped.cols_linf64) is serial_twin(grouped.cols_linf64)
    if numba.config.NUMBA_NUM_THREADS > 1:
        with num_threads(2):
            assert for_threads(grouped.cols_linf64) is grouped.cols_linf64


@pytest.mark.parametrize("seed", range(6))
def test_sorted_start_is_a_tight_lower_bound(seed):
    """The bracket's start from the sorted group norms (NumPy, nothing compiled) is a lower
    bound on the l1 threshold of the norms, checked in rational arithmetic, and close to it."""
    from fractions import Fraction

    from multiproj.kernels import l1inf
    from multiproj.kernels.vector import l1_threshold

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    s = rng.random(n) * [1e-3, 1.0, 1e6][seed % 3]
    if seed % 2:
        s = np.round(s, 1) + 0.5  # ties
    for frac in (1e-9, 1e-3, 0.3, 0.9):
        R = float(s.sum() * frac)
        lb = l1inf._sorted_start(s, R)
        fl = Fraction(lb)
        phi = sum(Fraction(x) - fl for x in s if Fraction(x) > fl)
        assert lb == 0.0 or phi >= Fraction(R), (n, frac)  # sum (s - lb)_+ >= R
        tau, _ = l1_threshold(s, R, np.empty(n))
        assert lb <= tau * (1 + 1e-15) and lb >= tau * (1 - 1e-10), (lb, tau)
