"""Command-line interface: ``multiproj <command> ...`` (also ``python -m multiproj``).

Each sub-command lives in its own module that provides ``add_parser(subparsers)``; the
parser it adds sets ``func`` (called with the parsed namespace, returns an exit code).
Modules are imported only to build the parser, and heavy imports happen inside ``func``.

Exit codes: 0 success, 2 usage or data errors (including a missing optional dependency,
reported with the extra to install), 1 internal failures.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: optional dependency (top-level import name) -> the extra that installs it
EXTRAS = {
    "torch": "torch",
    "sklearn": "sae",
    "pandas": "sae",
    "matplotlib": "bench",
    "rich": "bench",
    "dask": "dask",
}

# name -> module providing add_parser(subparsers)
COMMANDS = {
    "project": "multiproj._cli_project",
    "bench": "multiproj.bench.cli",
    "demo": "multiproj.bench.demo",
    "sae": "multiproj.sae.cli",
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="multiproj",
        description="Fast exact, bi-level and multi-level structured-sparsity projections.",
    )
    parser.add_argument("--version", action="version", version=f"multiproj {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root not in EXTRAS:
            raise
        print(
            f"multiproj {args.command}: error: this command needs the optional package "
            f"{root!r}; install it with: pip install \"multiproj[{EXTRAS[root]}]\"",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
