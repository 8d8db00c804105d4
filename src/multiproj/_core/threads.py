"""Thread control for the parallel kernels.

The kernels use Numba's threading layer; these helpers wrap :func:`numba.set_num_threads`
so that user code never has to import numba, and so that Numba is imported only when it is
first needed (``import multiproj`` stays fast).
"""

from __future__ import annotations

import contextlib

from .checks import as_int

__all__ = ["get_num_threads", "set_num_threads", "num_threads", "max_threads"]


def max_threads() -> int:
    """Largest thread count the kernels may use (``NUMBA_NUM_THREADS``)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def get_num_threads() -> int:
    """Number of threads the parallel kernels use now."""
    import numba

    return int(numba.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the number of threads used by the parallel kernels.

    Parameters
    ----------
    n : int
        Between 1 and :func:`max_threads` inclusive.
    """
    n = as_int(n, f"The number of threads must be an int. Got {n!r} instead.")
    top = max_threads()
    if not 1 <= n <= top:
        raise ValueError(f"The number of threads must be between 1 and {top}. Got {n} instead.")
    import numba

    numba.set_num_threads(n)


class num_threads:
    """Context manager that sets the thread count and restores the previous one on exit.

    The previous value is restored even when the body raises.

    Examples
    --------
    >>> import multiproj
    >>> with multiproj.num_threads(1):
    ...     pass
    """

    __slots__ = ("n", "previous", "changed")
    restore_always = True  # also when the count was already n (the body may change it)

    def __init__(self, n: int):
        self.n = n

    def __enter__(self) -> int:
        self.previous = get_num_threads()
        self.changed = type(self.n) is not int or self.n != self.previous
        if self.changed:  # (an unchanged int count is valid: it is the current one)
            set_num_threads(self.n)
        return self.n

    def __exit__(self, *exc: object) -> None:
        if self.changed or self.restore_always:
            import numba

            numba.set_num_threads(self.previous)


class _one_thread(num_threads):
    """``num_threads(1)`` for the library's own passes: nothing is set or restored when the
    count is 1 already."""

    __slots__ = ()
    restore_always = False

    def __init__(self):
        self.n = 1

    def __enter__(self) -> int:
        import numba

        self.previous = numba.get_num_threads()
        self.changed = self.previous != 1
        if self.changed:
            numba.set_num_threads(1)
        return 1


# Passes over fewer entries than this run on the calling thread: waking the other threads
# costs more than the work (and, on a busy machine, a scheduler time slice).
SERIAL_BELOW = 1 << 18

_NO_CHANGE = contextlib.nullcontext()


def serial_if_small(size: int):
    """One thread for a pass over fewer than :data:`SERIAL_BELOW` entries, else a context
    that changes nothing."""
    return _one_thread() if size < SERIAL_BELOW else _NO_CHANGE
