"""``multiproj project``: project an array stored in a .npy or .csv file."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from .cli import UsageError, add_command, check_output, flag_message

#: API parameter -> the option that sets it (for the library's error messages)
FLAGS = {"radius": "--radius", "ball": "--ball", "method": "--method", "axis": "--axis", "levels": "--levels"}


def add_parser(sub: Any) -> None:
    from ._core.registry import METHODS

    p = add_command(
        sub,
        "project",
        help="project an array from a .npy/.csv file onto a norm ball",
        description="Project the array in INPUT onto {x : ||x||_ball <= radius} and save it to OUTPUT.",
        func=run,
    )
    p.add_argument("input", help="input array: .npy (numpy.save), or .csv of numbers without header")
    p.add_argument("output", help="where to write the result: .npy, or .csv for 1-D and 2-D arrays")
    p.add_argument("--radius", type=float, required=True, help="radius r >= 0 of the ball (required)")
    p.add_argument("--ball", default="l1,inf", help="the norm: l1, l2, linf, l1,inf, l1,1, l1,2, l1,inf,inf, ...")
    p.add_argument("--method", default="exact", choices=sorted(METHODS),
                   help="exact: Euclidean projection; bilevel / multilevel: the sparser bi-level "
                   "and multi-level projections")
    p.add_argument("--axis", type=int, nargs="+", default=None, metavar="AXIS",
                   help="mixed balls: the axes reduced by the inner norm, e.g. --axis 0 1 (default 0); "
                   "flat balls: the axes every ball spans, one ball per index of the other axes "
                   "(default: one ball over every axis)")
    p.add_argument("--levels", default=None,
                   help="levels of --method multilevel, outermost first, as a Python literal, "
                   "e.g. '(1, 0)' or '(0, 1, (2, 3))' (default: one level per axis)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                   help="write norms before/after and sparsity as JSON to PATH (to stdout without PATH; "
                   "default: no JSON)")
    p.add_argument("--quiet", action="store_true", help="no summary line and no compile status line")


def _message(exc: BaseException, input_name: str) -> str:
    """The library's message naming the options (``--radius``) and the input file."""
    text = flag_message(exc, FLAGS)
    return re.sub(r"[Tt]he 'y' parameter( of \w+)?", f"the array in {input_name}", text)


class UnusableFile(UsageError):
    """An input or output file the command cannot use (exit status 2)."""


_NPY_MAGIC = b"\x93NUMPY"


def _suffix(path: str) -> str:
    return Path(path).suffix.lower()


def read_array(path: str) -> Any:
    """The array stored in ``path``: a .npy file (checked by its header, never unpickled)
    or, under any other name, a CSV file of numbers without header.  UnusableFile when the
    file cannot be read or holds no array."""
    import warnings

    import numpy as np

    try:
        if _suffix(path) == ".npy":
            with open(path, "rb") as f:
                head = f.read(len(_NPY_MAGIC))
            if head != _NPY_MAGIC:
                raise UnusableFile(
                    f"{path!r} is not a NumPy .npy file (it does not start with the .npy header). "
                    "Write it with numpy.save, or name a CSV file '.csv'."
                )
            try:
                return np.load(path, allow_pickle=False)
            except ValueError as exc:  # object arrays, a damaged header
                raise UnusableFile(f"cannot read the .npy file {path!r}: {exc}") from None
        with warnings.catch_warnings():  # an empty file is reported below, not as a warning
            warnings.simplefilter("ignore", UserWarning)
            try:
                y = np.loadtxt(path, delimiter=",", ndmin=2)
            except ValueError as exc:
                raise UnusableFile(
                    f"cannot read the CSV file {path!r} (numbers only, comma-separated, no header): {exc}"
                ) from None
    except OSError as exc:
        raise UnusableFile(f"cannot read {path!r}: {exc.strerror or exc}.") from None
    if y.size == 0:
        raise UnusableFile(f"{path!r} holds no numbers (an empty CSV file).")
    return y


def _sparsity(x: Any, group_axes: tuple[int, ...] | None) -> dict[str, Any]:
    import numpy as np

    zero = x == 0
    out: dict[str, Any] = {"zero_fraction": float(zero.mean()) if x.size else 0.0}
    if group_axes is not None and x.ndim:
        reduced = tuple(a for a in range(x.ndim) if a not in group_axes)
        zg = np.all(zero, axis=reduced) if reduced else zero
        out.update(groups=int(zg.size), zero_groups=int(zg.sum()),
                   zero_group_fraction=float(zg.mean()) if zg.size else 0.0)
    return out


def run(args: argparse.Namespace) -> int:
    import ast
    import json
    import os
    import time

    import numpy as np

    from . import norm, project
    from ._core.plan import resolve

    out_ext = _suffix(args.output)
    if out_ext not in (".npy", ".csv"):
        raise UnusableFile(
            f"The output file name must end in .npy or .csv (the format follows the suffix). "
            f"Got {args.output!r}."
        )
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise UsageError(f"the folder of OUTPUT {args.output!r} does not exist.")
    if args.json != "-":
        check_output(args.json, "--json")
    try:
        levels = None if args.levels is None else ast.literal_eval(args.levels)
    except (ValueError, SyntaxError):
        raise UsageError(f"--levels must be a Python literal such as '(1, 0)'. Got {args.levels!r} instead.") from None
    y = read_array(args.input)
    if out_ext == ".csv" and y.ndim > 2:
        raise UnusableFile(
            f"A .csv output holds a 1-D or 2-D array; the input is {y.ndim}-D (shape "
            f"{y.shape}). Name a .npy output instead."
        )
    kw: dict[str, Any] = {} if args.axis is None else {"axis": args.axis[0] if len(args.axis) == 1 else tuple(args.axis)}
    try:
        plan = resolve(args.method, args.ball, np.ndim(y), levels=levels, **kw)
        t0 = time.perf_counter()
        x = project(y, args.radius, args.ball, method=args.method, levels=levels, **kw)
        seconds = time.perf_counter() - t0
        if plan.levels is not None:
            nkw: dict[str, Any] = {"levels": plan.levels}
        else:
            nkw = {"axis": plan.axes} if plan.batched or not plan.ball.is_flat else {}
        before, after = norm(y, plan.ball, **nkw), norm(x, plan.ball, **nkw)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise UsageError(_message(exc, repr(args.input))) from None
    group_axes = None if plan.ball.is_flat else plan.chain()[0][0]
    try:
        if out_ext == ".npy":
            with open(args.output, "wb") as f:  # the name as given (np.save would add .npy)
                np.save(f, x)
        else:
            np.savetxt(args.output, x, delimiter=",")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror or exc}.") from None
    report = {
        "input": args.input, "output": args.output, "shape": list(np.shape(y)), "dtype": str(x.dtype),
        "ball": plan.ball.name, "method": plan.method.name, "radius": args.radius,
        "axis": None if plan.axes is None else list(plan.axes),
        "levels": None if plan.levels is None else [list(lv) for lv in plan.levels],
        **_sparsity(x, group_axes), "seconds": seconds,
    }
    if plan.batched:  # one norm per ball
        report.update(balls=int(np.size(before)), norm_before=np.asarray(before).tolist(),
                      norm_after=np.asarray(after).tolist())
        before, after = np.max(before, initial=0.0), np.max(after, initial=0.0)
        shown = f"max ||y|| = {before:.6g}  ->  max ||x|| = {after:.6g} over {report['balls']} balls"
    else:
        report.update(norm_before=before, norm_after=after)
        shown = f"||y|| = {before:.6g}  ->  ||x|| = {after:.6g}"
    if args.json == "-":
        print(json.dumps(report, indent=1))
    elif args.json is not None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as fh:
                json.dump(report, fh, indent=1)
        except OSError as exc:
            raise UsageError(f"cannot write {args.json!r}: {exc.strerror or exc}.") from None
    if not args.quiet and args.json != "-":
        groups = f", {report['zero_groups']}/{report['groups']} zero groups" if "groups" in report else ""
        print(f"{shown}  ({plan.ball.name}, method {plan.method.name}); "
              f"{report['zero_fraction']:.1%} zero entries{groups}")
    return 0
