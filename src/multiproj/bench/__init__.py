"""Benchmark suite (``multiproj bench``) and guided tour (``multiproj demo``).

An integration layer: it calls only the public API (:func:`multiproj.project`,
:func:`multiproj.norm`, :func:`multiproj.num_threads`) and reads the method registry
:data:`multiproj.METHODS`, so every method and ball that the library gains shows up here
without a second list of names.  matplotlib and rich are imported only when a report needs
them.

Sub-benchmarks (see :mod:`multiproj.bench.suite`): ``sizes``, ``threads``, ``tensors``,
``sparsity``, ``torch``, ``targets``, ``contention``, ``firstcall``, ``autograd``,
``multilevel``.  The scripts under ``benchmarks/`` call these, or ``main`` of the modules
:mod:`~multiproj.bench.core`, :mod:`~multiproj.bench.l1inf`, :mod:`~multiproj.bench.multilevel`,
:mod:`~multiproj.bench.torch_path`, :mod:`~multiproj.bench.autograd`,
:mod:`~multiproj.bench.training`, :mod:`~multiproj.bench.distributed`,
:mod:`~multiproj.bench.gpu` and :mod:`~multiproj.bench.sae_compare`.
"""

from __future__ import annotations

from .suite import BENCHMARKS, FULL, QUICK, Config, run_benchmarks

__all__ = ["BENCHMARKS", "Config", "FULL", "QUICK", "run_benchmarks"]
