"""``multiproj project``: project an array stored in a .npy or .csv file."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from ._core.registry import METHODS

    p = sub.add_parser(
        "project",
        help="project an array from a .npy/.csv file onto a norm ball",
        description="Project the array in INPUT onto {x : ||x||_ball <= radius} and save it.",
    )
    p.add_argument("input", help="input array (.npy, or .csv of numbers without header)")
    p.add_argument("output", help="where to write the result: a name ending in .npy or .csv (1-D or 2-D arrays)")
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


class UnusableFile(Exception):
    """An input or output file the command cannot use (exit status 2)."""


_NPY_MAGIC = b"\x93NUMPY"


def _suffix(path: str) -> str:
    return Path(path).suffix.lower()


def read_array(path: str):
    """The array stored in ``path``: a .npy file (checked by its header, never unpickled)
    or, under any other name, a CSV file of numbers without header.  UnusableFile when the
    file holds no array."""
    import warnings

    import numpy as np

    if _suffix(path) == ".npy":
        with open(path, "rb") as f:
            head = f.read(len(_NPY_MAGIC))
        if head != _NPY_MAGIC:
            raise UnusableFile(
                f"{path!r} is not a NumPy .npy file (it does not start with the .npy header). "
                "Write it with numpy.save, or name a CSV file '.csv'."
            )
        return np.load(path, allow_pickle=False)
    with warnings.catch_warnings():  # an empty file is reported below, not as a warning
        warnings.simplefilter("ignore", UserWarning)
        y = np.loadtxt(path, delimiter=",", ndmin=2)
    if y.size == 0:
        raise UnusableFile(f"{path!r} holds no numbers (an empty CSV file).")
    return y


def run(args: argparse.Namespace) -> int:
    """Exit status 0 on success; 1 when the projection refuses the data or arguments (the
    library's message) or a file cannot be opened; 2 when the input file holds no array
    or the output name or the array's shape does not fit a supported format."""
    import ast
    import sys

    import numpy as np

    from . import norm, project
    from ._core.ball import parse_ball

    def fail(message, status):
        print(f"multiproj project: error: {message}", file=sys.stderr)
        return status

    out_format = _suffix(args.output)
    if out_format not in (".npy", ".csv"):
        return fail(
            f"The output file name must end in .npy or .csv (the format follows the suffix). "
            f"Got {args.output!r}.", 2)
    try:
        levels = None if args.levels is None else ast.literal_eval(args.levels)
        y = read_array(args.input)
        if out_format == ".csv" and y.ndim > 2:
            return fail(
                f"A .csv output holds a 1-D or 2-D array; the input is {y.ndim}-D (shape "
                f"{y.shape}). Name a .npy output instead.", 2)
        x = project(y, args.radius, args.ball, method=args.method, axis=args.axis, levels=levels)
        ball = parse_ball(args.ball)
        kw = {"levels": levels} if args.method == "multilevel" else {"axis": args.axis}
        before, after = norm(y, ball, **kw), norm(x, ball, **kw)
        if out_format == ".npy":
            with open(args.output, "wb") as f:  # the name as given (np.save would add .npy)
                np.save(f, x)
        else:
            np.savetxt(args.output, x, delimiter=",")
    except UnusableFile as exc:
        return fail(exc, 2)
    except (OSError, ValueError, TypeError, SyntaxError, NotImplementedError) as exc:
        return fail(exc, 1)
    if np.ndim(before):  # batched flat balls: one norm per ball
        print(f"max ||y|| = {np.max(before, initial=0.0):.6g}  ->  max ||x|| = "
              f"{np.max(after, initial=0.0):.6g} over {np.size(before)} balls "
              f"({args.ball}, method {args.method})")
        return 0
    print(f"||y|| = {before:.6g}  ->  ||x|| = {after:.6g}  ({args.ball}, method {args.method})")
    return 0
