"""What the benchmark scripts share, taken from :mod:`multiproj.bench`: the median timer, the
baselines and the machine information."""

from __future__ import annotations

from multiproj.bench.baselines import median_time  # noqa: F401
from multiproj.bench.report import machine_info, machine_line


def print_machine() -> None:
    print("machine: " + machine_line(machine_info()))
