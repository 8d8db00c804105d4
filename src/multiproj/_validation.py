"""Compatibility aliases of :mod:`multiproj._core.ball` and :mod:`multiproj._core.checks`
for the scripts in ``benchmarks/``.  New code imports :mod:`multiproj._core` directly."""

from ._core.ball import Ball, parse_ball  # noqa: F401
from ._core.checks import check_levels  # noqa: F401
