"""Command-line interface: ``multiproj <command> ...`` (also ``python -m multiproj``).

Each sub-command lives in its own module that provides ``add_parser(subparsers)``, which
calls :func:`add_command`; the parser it adds sets ``func`` (called with the parsed
namespace, returns an exit code).  Modules are imported only to build the parser, and heavy
imports happen inside ``func``.

Exit codes, the same for every command:

* 0: success (and ``--help``, ``--version``);
* 2: usage and data errors: a bad option or option value (argparse's own errors included),
  an unreadable or malformed file, data the computation rejects (a TypeError or ValueError
  of the library, reported on one line that names the option), a missing optional
  dependency (reported with the extra to install);
* 1: internal failures: any other exception, reported with its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

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

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """A usage or data error found by a command: ``main`` prints it on one line and exits 2."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: ...)`` to every option's help, except where there is no default
    to state (None, a flag that is off, an empty list) or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
            or (not action.option_strings and action.nargs not in ("?", "*"))
        ):
            return text
        return text + " (default: %(default)s)"


def add_command(
    sub: Any,
    name: str,
    *,
    help: str,
    description: str,
    func: Callable[[argparse.Namespace], int],
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` to the subparsers ``sub``: one help line for
    ``multiproj --help``, a description for ``multiproj NAME --help`` and the function run
    with the parsed arguments.  Options' help texts show their defaults
    (:class:`HelpFormatter`)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=HelpFormatter
    )
    parser.set_defaults(func=func)
    return parser


def error(command: str, message: object) -> int:
    """Print ``multiproj COMMAND: error: MESSAGE`` on stderr; return the usage exit code 2."""
    print(f"multiproj {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="multiproj",
        description="Fast exact, bi-level and multi-level structured-sparsity projections.",
        epilog="Exit status: 0 success, 2 usage or data error, 1 internal failure.",
    )
    parser.add_argument("--version", action="version", version=f"multiproj {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``multiproj`` with the arguments ``argv`` (default ``sys.argv[1:]``) and return
    the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help / --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        return error(args.command, exc)
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root not in EXTRAS:
            return _internal(args.command)
        return error(
            args.command,
            f"this command needs the optional package {root!r}; install it with: "
            f'pip install "multiproj[{EXTRAS[root]}]"',
        )
    except KeyboardInterrupt:
        print(f"multiproj {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - anything else is a bug: traceback and exit 1
        return _internal(args.command)


def _internal(command: str) -> int:
    traceback.print_exc()
    print(
        f"multiproj {command}: internal error (the traceback above); please report it.",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
