"""Private Numba kernels.  They trust their inputs: validation happens in the public API.

Importing this package imports Numba; the public API imports it lazily on the first call.

Compiled kernels are cached on disk (``cache=True`` in :mod:`multiproj._core.config`) where
Numba finds a writable place: ``NUMBA_CACHE_DIR`` when set, else a ``__pycache__`` folder
next to these files, else the user's cache directory.  On a read-only installation with
no writable cache directory (and no ``NUMBA_CACHE_DIR``), Numba would refuse to define
cached functions; the kernels are then compiled without a cache, at every start, after
one warning.
"""

from __future__ import annotations

import warnings

from .._core import config
from .compile import log_compilations

# before the first parallel kernel starts Numba's threads (see multiproj._core.config)
config.prepare_threading()
log_compilations()


def _probe():  # a function of this folder: Numba looks for a cache place next to it
    return 0


def _cache_is_writable() -> bool:
    """Whether Numba can cache the functions defined in this folder."""
    import numba

    try:
        numba.njit(cache=True)(_probe)
    except RuntimeError as exc:  # "cannot cache function ...: no locator available ..."
        if "locator" not in str(exc):
            raise
        return False
    return True


if config.JIT_OPTIONS.get("cache") and not _cache_is_writable():
    warnings.warn(
        "multiproj: Numba has no writable cache directory for the compiled kernels (none "
        "next to the package, in the user's cache directory or in NUMBA_CACHE_DIR); they "
        "are compiled without a cache, at every start. Set NUMBA_CACHE_DIR to a writable "
        "directory to keep them between runs.",
        RuntimeWarning,
        stacklevel=2,
    )
    # every kernel module reads these dicts when it defines its kernels, after this runs
    config.JIT_OPTIONS["cache"] = False
    config.PARALLEL_OPTIONS["cache"] = False
