"""Aliases of CPU-backend functions under the names that :func:`multiproj.kernels.l1inf.project_on`
and the scripts in ``benchmarks/`` import from here.  The package itself imports
:mod:`multiproj._cpu`."""

from ._core.threads import SERIAL_BELOW as _SERIAL_BELOW  # noqa: F401
from ._core.threads import serial_if_small as _serial_if_small  # noqa: F401
from ._cpu.groups import apply_group_radii, finite_group_norms, outer_l1  # noqa: F401
from ._cpu.layout import to_keepdims as _keepdims  # noqa: F401
from ._cpu.multilevel import _project_stage_into, fused_norms, multilevel_stages  # noqa: F401
