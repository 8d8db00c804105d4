"""Serial and parallel compilations of one kernel body, and the log of compilations.

Numba compiles a kernel on its first call with a new argument type (and keeps the result
in its on-disk cache, see :mod:`multiproj.kernels`).  :func:`log_compilations` reports each
compilation of a kernel of this package that is not found in the cache on the logger
``"multiproj"``: one INFO record ``"compiling <kernel> (first use; cached afterwards)"``
when it starts and one ``"compiled <kernel> in <s> s"`` when it ends (the kernels it calls
are compiled inside it and are not reported separately).
"""

from __future__ import annotations

import logging
import threading
import time
import types

import numba
from numba import njit
from numba.core import event

from .._core.config import JIT_OPTIONS, PARALLEL_OPTIONS

logger = logging.getLogger("multiproj")


def serial_and_parallel(fn):
    """``(serial, parallel)`` compilations of ``fn``, whose loops over independent items use
    ``prange`` (a plain ``range`` in the serial compilation).

    The parallel one is compiled from a copy of ``fn`` under its own qualified name, so the
    two have separate on-disk cache entries (Numba keys its cache by the function's name and
    bytecode, not by the compilation options).  Each is compiled on its own first call.
    """
    return njit(**JIT_OPTIONS)(fn), njit(**PARALLEL_OPTIONS)(_twin(fn, "_parallel"))


def _twin(fn, suffix: str, globals_: dict | None = None):
    """A copy of the function ``fn`` under the qualified name ``<qualname><suffix>`` (its
    own on-disk cache entries), reading its globals from ``globals_`` when given."""
    twin = types.FunctionType(fn.__code__, fn.__globals__ if globals_ is None else globals_,
                              fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__doc__ = fn.__doc__
    return twin


_serial_twins: dict = {}


def serial_twin(kernel):
    """The serial compilation of a kernel defined with ``PARALLEL_OPTIONS`` (its ``prange``
    loops run as plain loops), made on first request and compiled on its first call.

    A parallel kernel is compiled into a gufunc per parallel loop, scheduled by the
    threading layer: several times the compilation time of the same code without
    ``parallel``, and no faster on one thread.  :func:`for_threads` picks between them.
    """
    tw = _serial_twins.get(kernel)
    if tw is None:
        tw = _serial_twins[kernel] = njit(**JIT_OPTIONS)(_twin(kernel.py_func, "_serial"))
    return tw


def for_threads(kernel):
    """``kernel`` (a parallel kernel) when Numba runs more than one thread, else its serial
    twin (:func:`serial_twin`): a call on one thread (a small problem below the serial
    cut-off of :mod:`multiproj._core.threads`, or ``set_num_threads(1)``) compiles and runs
    only the serial code."""
    return serial_twin(kernel) if numba.get_num_threads() == 1 else kernel


def with_globals(fn, suffix: str, **names):
    """The serial kernel compiled from ``fn`` with the global ``name``s it calls replaced
    by the given kernels (e.g. a parallel callee), under its own qualified name: the choice
    between callees is made before the call, so one compilation never holds both."""
    return njit(**JIT_OPTIONS)(_twin(fn, suffix, {**fn.__globals__, **names}))


def _is_ours(dispatcher) -> bool:
    fn = getattr(dispatcher, "py_func", None)
    return getattr(fn, "__module__", "").startswith("multiproj.")


def kernel_name(dispatcher) -> str:
    """``module.function`` of a kernel, without the package prefix (``grouped.apply_radii_cols``)."""
    fn = dispatcher.py_func
    return f"{fn.__module__.rpartition('.')[2]}.{fn.__qualname__}"


class _CompileLog(event.Listener):
    """Listener of Numba's ``numba:compile`` events: logs the outermost compilation of a
    kernel of this package (per thread: compilations nest when a kernel calls another)."""

    def __init__(self):
        self.local = threading.local()

    def _stack(self) -> list:
        st = getattr(self.local, "stack", None)
        if st is None:
            st = self.local.stack = []
        return st

    def on_start(self, event) -> None:
        st = self._stack()
        d = event.data.get("dispatcher")
        top = not st and _is_ours(d)
        st.append((top, time.perf_counter()))
        if top:
            logger.info("compiling %s (first use; cached afterwards)", kernel_name(d),
                        extra={"multiproj_compile": "start"})

    def on_end(self, event) -> None:
        st = self._stack()
        if not st:  # pragma: no cover - an end without a start (listener added mid-way)
            return
        top, t0 = st.pop()
        if top:
            seconds = time.perf_counter() - t0
            logger.info("compiled %s in %.2f s", kernel_name(event.data["dispatcher"]), seconds,
                        extra={"multiproj_compile": "end", "seconds": seconds})


_listener: _CompileLog | None = None


def log_compilations() -> None:
    """Register the compilation log (once per process)."""
    global _listener
    if _listener is None:
        _listener = _CompileLog()
        event.register("numba:compile", _listener)
