"""``multiproj project``: project a matrix stored in a .npy or .csv file."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from ._registry import METHODS

    p = sub.add_parser(
        "project",
        help="project an array from a .npy/.csv file onto a norm ball",
        description="Project the array in INPUT onto {x : ||x||_ball <= radius} and save it.",
    )
    p.add_argument("input", help="input array (.npy, or .csv of numbers without header)")
    p.add_argument("output", help="where to write the result (.npy or .csv)")
    p.add_argument("--radius", type=float, required=True)
    p.add_argument("--ball", default="l1,inf", help="l1, l2, linf, l1,inf, l1,1, l1,2, ...")
    p.add_argument("--method", default="bilevel", choices=sorted(METHODS))
    p.add_argument("--axis", type=int, default=0, help="axis reduced by the inner norm")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from . import norm, project

    try:
        y = np.load(args.input) if args.input.endswith(".npy") else np.loadtxt(args.input, delimiter=",", ndmin=2)
        x = project(y, args.radius, args.ball, method=args.method, axis=args.axis)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        print(f"multiproj project: error: {exc}", file=sys.stderr)
        return 1
    if args.output.endswith(".npy"):
        np.save(args.output, x)
    else:
        np.savetxt(args.output, x, delimiter=",")
    kw = {} if x.ndim < 2 or args.ball in ("l1", "l2", "linf") else {"axis": args.axis}
    print(f"||y|| = {norm(y, args.ball, **kw):.6g}  ->  ||x|| = {norm(x, args.ball, **kw):.6g}")
    return 0
