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
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel",
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__doc__ = fn.__doc__
    return njit(**JIT_OPTIONS)(fn), njit(**PARALLEL_OPTIONS)(twin)


def _is_ours(dispatcher) -> bool:
    fn = getattr(dispatcher, "py_func", None)
    return getattr(fn, "__module__", "").startswith("multiproj.")


def kernel_name(dispatcher) -> str:
    """``module.function`` of a kernel, without the package prefix (``grouped.outer_l1``)."""
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
