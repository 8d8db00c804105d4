"""Compilation settings shared by every Numba kernel, and the preparation of Numba's
threading layer.

``fastmath`` stays off: the projections promise exactness to rounding, and reassociating
reductions would change results between thread counts.  Reductions that benefit from
vectorisation are unrolled by hand instead (max is exact in any order).

Threading layer (:func:`prepare_threading`, run before Numba starts its threads): Numba
tries TBB, then OpenMP, then its own work queue.  TBB schedules by work stealing: when
another process holds a core, the calling thread takes over the chunks of the thread that
is not running, so two threads on a busy machine cost about what one does.  OpenMP splits a
loop into one fixed chunk per thread, and the call waits for the chunk of a thread the
scheduler has put aside; its threads also spin while they wait, taking time slices from
the thread that has the work.  So TBB is made loadable when the ``tbb`` package is
installed (a pip installation puts ``libtbb`` where the loader does not look), and OpenMP's
waiting threads sleep instead of spinning unless the user set ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT``.  A layer chosen by the user (``NUMBA_THREADING_LAYER``,
``numba.config.THREADING_LAYER``) is kept.
"""

from __future__ import annotations

import os
import sys

JIT_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
PARALLEL_OPTIONS = {**JIT_OPTIONS, "parallel": True}

# spin iterations of a waiting OpenMP thread before it sleeps (GNU OpenMP spins 300000 by
# default, about a millisecond of a core per parallel region and waiting thread)
OMP_SPINCOUNT = "0"

_prepared = False


def _tbb_library_names() -> tuple[str, ...]:
    if sys.platform.startswith("win"):
        return ("tbb12.dll",)
    if sys.platform == "darwin":
        return ("libtbb.12.dylib",)
    return ("libtbb.so.12",)


def tbb_candidates() -> list[str]:
    """Existing paths of the shared library of the ``tbb`` distribution: the files it
    declares, then the environment's library folders; empty when it is not installed."""
    names = _tbb_library_names()
    found = []
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            dist = distribution("tbb")
        except PackageNotFoundError:
            return []
        for f in dist.files or ():
            if f.name in names:
                found.append(str(f.locate()))
    except Exception:  # noqa: BLE001 - a broken metadata record: try the prefixes
        pass
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for sub in ("lib", os.path.join("Library", "bin"), "bin"):
            found.extend(os.path.join(prefix, sub, n) for n in names)
    return [p for p in dict.fromkeys(found) if os.path.isfile(p)]


def preload_tbb() -> bool:
    """Load ``libtbb`` of the ``tbb`` package process-wide, so that Numba's TBB layer (which
    asks the loader for it by name) finds it; True when one was loaded.  Numba still checks
    its version."""
    import ctypes

    for path in tbb_candidates():
        try:
            ctypes.CDLL(path, mode=getattr(ctypes, "RTLD_GLOBAL", 0))
        except OSError:
            continue
        return True
    return False


def _tbb_loads() -> bool:
    """Whether Numba's TBB layer loads (library found, version accepted)."""
    try:
        from numba.np.ufunc import parallel

        parallel._check_tbb_version_compatible()
        from numba.np.ufunc import tbbpool  # noqa: F401
    except (ImportError, AttributeError, OSError, ValueError):
        return False
    return True


def expected_layer(layer: str, priority, tbb: bool) -> str:
    """The layer Numba picks for the setting ``layer`` (``"default"``, a layer's name or
    ``"safe"``/``"threadsafe"``/``"forksafe"``), the ``priority`` order of the default and
    whether TBB loads; ``""`` when none would load (TBB asked for but missing).  OpenMP is
    taken to load (Numba's wheels ship it on Linux and Windows)."""
    layer = layer.lower()
    if layer in ("tbb", "omp", "workqueue"):
        return layer if layer != "tbb" or tbb else ""
    if layer == "safe":
        return "tbb" if tbb else ""
    if layer == "threadsafe":
        return "tbb" if tbb else "omp"
    if layer == "forksafe":
        return "tbb" if tbb else ("workqueue" if sys.platform.startswith("linux") else "omp")
    return next(b for b in priority if b != "tbb" or tbb)


def prepare_threading() -> None:
    """Prepare Numba's threading layer before its threads start (see the module docstring);
    once per process, and nothing once Numba's threads run."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    try:
        import numba
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba without its parallel backend
        return
    if getattr(parallel, "_is_initialized", False):
        return
    layer = str(numba.config.THREADING_LAYER).lower()
    tbb = False
    if layer in ("default", "tbb", "safe", "threadsafe", "forksafe"):
        tbb = _tbb_loads() or (preload_tbb() and _tbb_loads())
    picked = expected_layer(layer, tuple(numba.config.THREADING_LAYER_PRIORITY), tbb)
    if picked == "omp" and "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = OMP_SPINCOUNT  # libgomp reads it when it starts
