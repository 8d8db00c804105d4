"""Compatibility alias of :mod:`multiproj._core.config` for modules that import it here."""

from ._core.config import JIT_OPTIONS, PARALLEL_OPTIONS  # noqa: F401
