"""Compilation settings shared by every Numba kernel.

``fastmath`` stays off: the projections promise exactness to rounding, and reassociating
reductions would change results between thread counts.  Reductions that benefit from
vectorisation are unrolled by hand instead (max is exact in any order).
"""

from __future__ import annotations

JIT_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
PARALLEL_OPTIONS = {**JIT_OPTIONS, "parallel": True}
