"""Preset runner of the benchmark scripts under ``benchmarks/``: a script names the
sub-benchmarks of :mod:`multiproj.bench.suite` it runs (and any sizes it changes); this
module parses the common options, runs them, prints the tables with the machine and
writes the files asked for.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

__all__ = ["run_preset"]


def run_preset(names, description: str, argv=None, **overrides) -> dict:
    """Run the sub-benchmarks ``names`` with the options of ``argv`` (``sys.argv[1:]`` by
    default): ``--quick``, ``--repeats N``, ``--json PATH``, ``--markdown PATH``.
    ``overrides`` replace fields of the :class:`~multiproj.bench.suite.Config`.  Returns
    ``{name: rows}``."""
    from . import report, suite

    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls per function (median)")
    ap.add_argument("--json", metavar="PATH", help="write the results and the machine to a JSON file")
    ap.add_argument("--markdown", metavar="PATH", help="write the tables as GitHub markdown")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    cfg = suite.QUICK if args.quick else suite.FULL
    if args.repeats is not None:
        if args.repeats < 1:
            ap.error(f"--repeats must be >= 1. Got {args.repeats} instead.")
        cfg = replace(cfg, repeats=args.repeats)
    if overrides:
        cfg = replace(cfg, **overrides)
    results = suite.run_benchmarks(list(names), cfg)
    info = report.machine_info()
    report.print_tables(results, info)
    command = " ".join([sys.argv[0].rpartition("/")[2], *(sys.argv[1:] if argv is None else argv)])
    if args.json:
        print(f"JSON: {report.write_json(args.json, results, info, cfg.to_dict(), command)}")
    if args.markdown:
        print(f"markdown: {report.write_markdown(args.markdown, results, info, command)}")
    return results
