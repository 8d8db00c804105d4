"""Serial and parallel compilations of one kernel body."""

from __future__ import annotations

import types

from numba import njit

from .._core.config import JIT_OPTIONS, PARALLEL_OPTIONS


def serial_and_parallel(fn):
    """``(serial, parallel)`` compilations of ``fn``, whose loops over independent items use
    ``prange`` (a plain ``range`` in the serial compilation).

    The parallel one is compiled from a copy of ``fn`` under its own qualified name, so the
    two have separate on-disk cache entries (Numba keys its cache by the function's name and
    bytecode, not by the compilation options).
    """
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel",
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__doc__ = fn.__doc__
    return njit(**JIT_OPTIONS)(fn), njit(**PARALLEL_OPTIONS)(twin)
