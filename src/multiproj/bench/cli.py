"""``multiproj bench``: run the benchmark suite and write its tables, JSON, CSV and figures."""

from __future__ import annotations

import argparse
from typing import Any

BENCH_NAMES = ("sizes", "threads", "tensors", "sparsity", "torch", "targets", "contention", "firstcall",
               "autograd", "multilevel")
# run when no name is given ('contention' starts busy processes, 'firstcall' compiles
# everything again, 'autograd' needs torch, 'multilevel' repeats 'tensors' at more radii
# and balls: only on request)
DEFAULT_NAMES = ("sizes", "threads", "tensors", "sparsity", "torch", "targets")


def add_parser(sub: Any) -> None:
    from ..cli import add_command

    p = add_command(
        sub,
        "bench",
        help="run the benchmark suite (sizes, threads, tensors, sparsity, torch)",
        description=(
            "Time the projections of the method registry (multiproj.METHODS) and the naive "
            "NumPy bi-level baseline.  Every time is the median of repeated calls after a "
            "warm-up, reported with its ratio to Y.copy() of the same array measured in the "
            "same run.  Sub-benchmarks: sizes (1000 x m, the authors' protocol), threads "
            "(speedup vs thread count), tensors (2^24 entries as orders 2, 3, 4, 6), sparsity "
            "(radius sweep: zero groups, distance, additive identity), torch (tensors, CPU "
            "and CUDA)."
        ),
        func=run,
    )
    p.add_argument(
        "benchmarks",
        nargs="*",
        metavar="NAME",
        help=f"sub-benchmarks to run, among {', '.join(BENCH_NAMES)} (default: all but contention, firstcall, autograd and multilevel)",
    )
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (under a minute)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per function (median) (default: 10, 3 with --quick)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="thread count for the parallel kernels (default: all; 'threads' and 'tensors' set their own)",
    )
    p.add_argument("--json", metavar="PATH",
                   help="write the results and the machine to a JSON file (default: not written)")
    p.add_argument("--csv", metavar="PATH",
                   help="write all rows to a CSV file, machine in '#' lines (default: not written)")
    p.add_argument("--markdown", metavar="PATH", help="write the tables as GitHub markdown (default: not written)")
    p.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR (default: none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no compile status line")


def run(args: argparse.Namespace) -> int:
    import sys
    from dataclasses import replace

    from ..cli import UsageError, check_output
    from . import report, suite

    names = list(dict.fromkeys(args.benchmarks)) or list(DEFAULT_NAMES)
    unknown = [n for n in names if n not in suite.BENCHMARKS]
    if unknown:
        raise UsageError(
            f"NAME: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(suite.BENCHMARKS)}."
        )
    cfg = suite.QUICK if args.quick else suite.FULL
    if args.repeats is not None:
        if args.repeats < 1:
            raise UsageError(f"--repeats must be >= 1. Got {args.repeats} instead.")
        cfg = replace(cfg, repeats=args.repeats)
    for flag in ("json", "csv", "markdown"):
        check_output(getattr(args, flag), f"--{flag}")
    check_output(args.plots, "--plots", folder=True)
    command = "multiproj bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else names)
    progress = not (args.no_progress or args.quiet)
    if args.threads is not None:
        from .. import max_threads, num_threads

        top = max_threads()
        if not 1 <= args.threads <= top:
            raise UsageError(f"--threads must be between 1 and {top}. Got {args.threads} instead.")
        with num_threads(args.threads):
            results = run_with_progress(names, cfg, progress=progress)
    else:
        results = run_with_progress(names, cfg, progress=progress)
    info = report.machine_info()
    report.print_tables(results, info)
    if args.json:
        print(f"JSON: {report.write_json(args.json, results, info, cfg.to_dict(), command)}")
    if args.csv:
        print(f"CSV:  {report.write_csv(args.csv, results, info, command)}")
    if args.markdown:
        print(f"markdown: {report.write_markdown(args.markdown, results, info, command)}")
    if args.plots:
        for path in report.write_plots(args.plots, results, info):
            print(f"plot: {path}")
    return 0


def run_with_progress(names, cfg, progress: bool = True) -> dict:
    """:func:`multiproj.bench.suite.run_benchmarks` under a rich progress bar (when rich is
    installed and ``progress`` is true)."""
    from . import suite

    steps = suite.plan(names, cfg)
    try:
        if not progress:
            raise ImportError
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return suite.run_benchmarks(names, cfg)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(steps[0][1].label if steps else "", total=len(steps))
        labels = [c.label for _, c in steps] + [""]
        done = [0]

        def on_case(name, label):
            done[0] += 1
            bar.update(task, advance=1, description=labels[done[0]])

        return suite.run_benchmarks(names, cfg, on_case=on_case)
