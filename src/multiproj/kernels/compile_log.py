"""Log the just-in-time compilations of the package's kernels on the ``multiproj`` logger.

Numba compiles a kernel on its first call with new argument types, unless its on-disk cache
already holds the machine code (then nothing is compiled and nothing is logged).  Numba
announces each compilation as a ``numba:compile`` event; :func:`install` registers one
listener that turns the events of this package's functions into log records:

* ``INFO`` when a compilation starts that is not nested in another one of the package
  (compiling a kernel compiles the kernels it calls, inside the outer event);
* ``DEBUG`` when it ends, with its duration.

The records carry ``multiproj_compile`` = ``"start"`` or ``"end"`` (and ``seconds`` at the
end), so that a handler can show a status line.  Python's default logging configuration
prints neither level; ``logging.basicConfig(level=logging.INFO)`` shows them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from numba.core import event

logger = logging.getLogger("multiproj")

_installed: list[Any] = []


class _CompileListener(event.Listener):
    def __init__(self) -> None:
        self._local = threading.local()

    @staticmethod
    def _name(ev: Any) -> str | None:
        """``module.function`` of the compiled function when it belongs to this package."""
        data = ev.data if isinstance(ev.data, dict) else {}
        fn = getattr(data.get("dispatcher"), "py_func", None)
        module = getattr(fn, "__module__", None) or ""
        if module != "multiproj" and not module.startswith("multiproj."):
            return None
        return f"{module}.{getattr(fn, '__qualname__', '?')}"

    def on_start(self, ev: Any) -> None:
        name = self._name(ev)
        if name is None:
            return
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        if depth == 0:
            self._local.t0 = time.perf_counter()
            logger.info(
                "compiling %s (first use with these argument types; the machine code is cached "
                "on disk for later runs)", name, extra={"multiproj_compile": "start"},
            )

    def on_end(self, ev: Any) -> None:
        if self._name(ev) is None:
            return
        depth = getattr(self._local, "depth", 1) - 1
        self._local.depth = max(depth, 0)
        if depth == 0:
            seconds = time.perf_counter() - getattr(self._local, "t0", time.perf_counter())
            logger.debug(
                "compiled %s in %.2f s", self._name(ev), seconds,
                extra={"multiproj_compile": "end", "seconds": seconds},
            )


def install() -> None:
    """Register the listener (once per process)."""
    if not _installed:
        listener = _CompileListener()
        event.register("numba:compile", listener)
        _installed.append(listener)
