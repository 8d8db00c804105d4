"""The thread policy: serial cut-offs, the thread count as a ceiling, the threading layer
chosen before Numba starts its threads (logic only: the speed is measured by
benchmarks/bench_threads.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import multiproj
from multiproj._core import config, threads

pytest.importorskip("numba")


def test_expected_layer_follows_numba_rules():
    prio = ("tbb", "omp", "workqueue")
    assert config.expected_layer("default", prio, True) == "tbb"
    assert config.expected_layer("default", prio, False) == "omp"
    assert config.expected_layer("default", ("workqueue", "tbb", "omp"), True) == "workqueue"
    assert config.expected_layer("default", ("omp", "tbb", "workqueue"), True) == "omp"
    assert config.expected_layer("TBB", prio, False) == ""
    assert config.expected_layer("workqueue", prio, True) == "workqueue"
    assert config.expected_layer("threadsafe", prio, False) == "omp"
    assert config.expected_layer("safe", prio, True) == "tbb"
    assert config.expected_layer("safe", prio, False) == ""


def test_serial_cutoff_per_method():
    assert threads.serial_below() == threads.SERIAL_BELOW
    assert threads.serial_below("no-such-method") == threads.SERIAL_BELOW
    for name in multiproj.METHODS:
        assert threads.serial_below(name) >= 1


def test_serial_if_small_sets_one_thread_and_restores():
    top = multiproj.max_threads()
    with multiproj.num_threads(top):
        with threads.serial_if_small(threads.SERIAL_BELOW - 1):
            assert multiproj.get_num_threads() == 1
        assert multiproj.get_num_threads() == top
        with threads.serial_if_small(threads.SERIAL_BELOW):
            assert multiproj.get_num_threads() == top
    with multiproj.num_threads(1):  # the user's count is a ceiling: never raised
        with threads.serial_if_small(10 * threads.SERIAL_BELOW):
            assert multiproj.get_num_threads() == 1


def test_serial_if_small_restores_on_error():
    top = multiproj.max_threads()
    with multiproj.num_threads(top):
        with pytest.raises(KeyError):
            with threads.serial_if_small(1):
                raise KeyError("x")
        assert multiproj.get_num_threads() == top


@pytest.mark.parametrize("method", ["bilevel", "exact"])
def test_small_calls_run_on_one_thread(monkeypatch, method):
    """The kernels of a call below the cut-off see one thread (the column blocking reads
    the count), the ones above it see the user's count."""
    from multiproj._cpu import groups

    seen = []
    real = groups._threads
    monkeypatch.setattr(groups, "_threads", lambda: seen.append(real()) or seen[-1])
    top = multiproj.max_threads()
    y = np.random.default_rng(0).random((64, 32))
    with multiproj.num_threads(top):
        multiproj.project(y, 1.0, "l1,inf", method=method, axis=0)
        assert seen and set(seen) == {1}
        assert multiproj.get_num_threads() == top
        seen.clear()
        monkeypatch.setitem(threads.SERIAL_BELOW_BY_METHOD, method, 0)
        multiproj.project(y, 1.0, "l1,inf", method=method, axis=0)
        assert seen and set(seen) == {top}


_PROBE = textwrap.dedent(
    """
    import json, os
    import numpy as np
    import multiproj, numba
    multiproj.project(np.ones((4, 3)), 1.0, "l1,inf", method="bilevel", axis=0)
    print(json.dumps({"layer": numba.threading_layer(),
                      "spin": os.environ.get("GOMP_SPINCOUNT")}))
    """
)


def _probe(**env) -> dict:
    e = {k: v for k, v in os.environ.items()
         if k not in ("NUMBA_THREADING_LAYER", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    e.update(env)
    e["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(multiproj.__file__)), e.get("PYTHONPATH", "")])
    res = subprocess.run([sys.executable, "-c", _PROBE], env=e, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_user_layer_is_respected_and_omp_sleeps():
    got = _probe(NUMBA_THREADING_LAYER="omp")
    assert got == {"layer": "omp", "spin": config.OMP_SPINCOUNT}
    got = _probe(NUMBA_THREADING_LAYER="omp", GOMP_SPINCOUNT="5000")
    assert got == {"layer": "omp", "spin": "5000"}


def test_default_layer_prefers_tbb_when_it_loads():
    got = _probe()
    tbb = bool(config.tbb_candidates())
    assert got["layer"] == ("tbb" if tbb else "omp")
    assert got["spin"] == (None if tbb else config.OMP_SPINCOUNT)
