"""``multiproj project``: project an array stored in a .npy or .csv file."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from ._core.registry import METHODS

    p = sub.add_parser(
        "project",
        help="project an array from a .npy/.csv file onto a norm ball",
        description="Project the array in INPUT onto {x : ||x||_ball <= radius} and save it.",
    )
    p.add_argument("input", help="input array (.npy, or .csv of numbers without header)")
    p.add_argument("output", help="where to write the result (.npy or .csv)")
    p.add_argument("--radius", type=float, required=True)
    p.add_argument("--ball", default="l1,inf", help="l1, l2, linf, l1,inf, l1,1, l1,2, l1,inf,inf, ...")
    p.add_argument("--method", default="bilevel", choices=sorted(METHODS))
    p.add_argument(
        "--axis", type=int, default=None,
        help="mixed balls: the axis reduced by the inner norm (default 0); flat balls: the axis "
        "every ball spans, one ball per index of the other axes (default: one ball over every axis)",
    )
    p.add_argument(
        "--levels",
        default=None,
        help="levels of method 'multilevel', outermost first, as a Python literal, e.g. '(1, 0)' or '(0, 1, (2, 3))'",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import ast
    import sys

    import numpy as np

    from . import norm, project
    from ._core.ball import parse_ball

    try:
        levels = None if args.levels is None else ast.literal_eval(args.levels)
        y = np.load(args.input) if args.input.endswith(".npy") else np.loadtxt(args.input, delimiter=",", ndmin=2)
        x = project(y, args.radius, args.ball, method=args.method, axis=args.axis, levels=levels)
        ball = parse_ball(args.ball)
        kw = {"levels": levels} if args.method == "multilevel" else {"axis": args.axis}
        before, after = norm(y, ball, **kw), norm(x, ball, **kw)
        if args.output.endswith(".npy"):
            np.save(args.output, x)
        else:
            np.savetxt(args.output, x, delimiter=",")
    except (OSError, ValueError, TypeError, SyntaxError, NotImplementedError) as exc:
        print(f"multiproj project: error: {exc}", file=sys.stderr)
        return 1
    if np.ndim(before):  # batched flat balls: one norm per ball
        print(f"max ||y|| = {np.max(before, initial=0.0):.6g}  ->  max ||x|| = "
              f"{np.max(after, initial=0.0):.6g} over {np.size(before)} balls "
              f"({args.ball}, method {args.method})")
        return 0
    print(f"||y|| = {before:.6g}  ->  ||x|| = {after:.6g}  ({args.ball}, method {args.method})")
    return 0
