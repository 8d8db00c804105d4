"""Thread control for the parallel kernels.

The kernels use Numba's threading layer; these helpers wrap :func:`numba.set_num_threads`
so that user code never has to import numba, and so that Numba is imported only when it is
first needed (``import multiproj`` stays fast).

Policy (the thread count set here is the most the kernels use, never exceeded):

* a projection, norm or prox of fewer than :data:`SERIAL_BELOW` entries (per method,
  :data:`SERIAL_BELOW_BY_METHOD`) runs on the calling thread alone: waking the other
  threads costs more than the work, and on a busy machine a thread that waits for a core
  makes the whole call wait for a scheduler time slice;
* larger ones use the count of :func:`set_num_threads` (default: every core Numba sees);
* the threading layer is prepared before Numba starts its threads
  (:func:`multiproj._core.config.prepare_threading`): TBB when the ``tbb`` package is
  installed, else OpenMP with waiting threads that sleep instead of spinning; a layer that
  the user chose is kept.
"""

from __future__ import annotations

import contextlib

from .checks import as_int

__all__ = ["get_num_threads", "set_num_threads", "num_threads", "max_threads"]


def _numba():
    """Numba, its threading layer prepared (:func:`multiproj._core.config.prepare_threading`)."""
    from .config import prepare_threading

    prepare_threading()
    import numba

    return numba


def max_threads() -> int:
    """Largest thread count the kernels may use (``NUMBA_NUM_THREADS``)."""
    numba = _numba()

    return int(numba.config.NUMBA_NUM_THREADS)


def get_num_threads() -> int:
    """Number of threads the parallel kernels use now (at most; see :func:`set_num_threads`)."""
    numba = _numba()

    return int(numba.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the number of threads used by the parallel kernels.

    The count is a ceiling the library never exceeds.  Calls on fewer than about two
    million entries (:data:`multiproj._core.threads.SERIAL_BELOW`) run on one thread
    whatever the count, because starting the other threads costs more than the work there
    and, on a machine whose cores are busy with other processes, a thread waiting for a
    core would hold up the call.  Larger calls use ``n`` threads.  With ``n = 1`` nothing
    runs in parallel.  The count applies to the calling thread (as
    :func:`numba.set_num_threads` does).

    The threading layer is Numba's: TBB when the ``tbb`` package is installed (the
    ``multiproj[tbb]`` extra; its work stealing keeps two threads on a busy machine about as
    fast as one), else OpenMP, whose waiting threads then sleep at once
    (``GOMP_SPINCOUNT=0`` unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set).  Set
    ``NUMBA_THREADING_LAYER`` to choose another; it is respected.

    Parameters
    ----------
    n : int
        Between 1 and :func:`max_threads` inclusive.
    """
    n = as_int(n, f"The number of threads must be an int. Got {n!r} instead.")
    top = max_threads()
    if not 1 <= n <= top:
        raise ValueError(f"The number of threads must be between 1 and {top}. Got {n} instead.")
    _numba().set_num_threads(n)


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
            _numba().set_num_threads(self.previous)


class _one_thread(num_threads):
    """``num_threads(1)`` for the library's own passes: nothing is set or restored when the
    count is 1 already."""

    __slots__ = ()
    restore_always = False

    def __init__(self):
        self.n = 1

    def __enter__(self) -> int:
        numba = _numba()
        self.previous = numba.get_num_threads()
        self.changed = self.previous != 1
        if self.changed:
            numba.set_num_threads(1)
        return 1


# Calls on fewer entries than this run on the calling thread.  Measured with two threads
# on two cores, round-robin against one thread, idle and with two busy processes: the
# memory-bound bi-level passes gain little below about 2e6 float64 entries when idle and
# lose up to 50-250 x under OpenMP with spinning threads (2 x under TBB) when the cores are
# busy; above it TBB and non-spinning OpenMP stay near one thread's time on the busy machine.
SERIAL_BELOW = 1 << 21

# Cut-off per method (the registry's names); methods not listed use SERIAL_BELOW.
SERIAL_BELOW_BY_METHOD = {"bilevel": SERIAL_BELOW, "exact": SERIAL_BELOW, "multilevel": SERIAL_BELOW}

_NO_CHANGE = contextlib.nullcontext()


def serial_below(method: str | None = None) -> int:
    """The serial cut-off (entries) of ``method`` (:data:`SERIAL_BELOW_BY_METHOD`)."""
    return SERIAL_BELOW_BY_METHOD.get(method, SERIAL_BELOW) if method else SERIAL_BELOW


def serial_if_small(size: int, method: str | None = None):
    """One thread for a call over fewer than :func:`serial_below` entries, else a context
    that changes nothing (the count of :func:`set_num_threads` applies)."""
    return _one_thread() if size < serial_below(method) else _NO_CHANGE
