"""Benchmark suite (``multiproj bench``) and guided tour (``multiproj demo``).

An integration layer: it calls only the public API (:func:`multiproj.project`,
:func:`multiproj.norm`, :func:`multiproj.num_threads`) and reads the method registry
:data:`multiproj.METHODS`, so every method and ball that the library gains shows up here
without a second list of names.  matplotlib and rich are imported only when a report needs
them.

Sub-benchmarks (see :mod:`multiproj.bench.suite`): ``sizes``, ``threads``, ``tensors``,
``sparsity``, ``torch``.
"""

from __future__ import annotations

from .suite import BENCHMARKS, FULL, QUICK, Config, run_benchmarks

__all__ = ["BENCHMARKS", "Config", "FULL", "QUICK", "run_benchmarks"]
