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
import contextlib
import importlib
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

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
EXIT_STATUS = "Exit status: 0 success, 2 usage or data error, 1 internal failure."


class UsageError(ValueError):
    """A usage or data error found by a command: ``main`` prints it on one line and exits 2."""


class Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, ``PROG: error: MESSAGE (see PROG
    --help)``, with exit status 2 (argparse's own message names the option)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        # unknown options are reported by the sub-command's parser (its name and --help)
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            subs = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
            command = getattr(ns, "command", None)
            target = subs[0].choices.get(command, self) if subs and command else self
            target.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns


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

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # descriptions and epilogs: each paragraph (blank-line separated) wrapped on its own
        return "\n\n".join(super(HelpFormatter, self)._fill_text(p, width, indent) for p in text.split("\n\n"))


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
    (:class:`HelpFormatter`); the exit status convention closes the help."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=EXIT_STATUS if epilog is None else f"{epilog}\n\n{EXIT_STATUS}",
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def flag_message(exc: BaseException, flags: Mapping[str, str], *, bare: bool = True) -> str:
    """The message of ``exc`` with the parameter names of the library replaced by the
    options that set them, ``flags`` = {parameter: option}: ``The 'radius' parameter of
    project must be ...`` -> ``--radius must be ...``, ``radius=`` -> ``--radius=``, and,
    when ``bare``, any other quoted ``'radius'`` (leave it off when a parameter's name is
    also a value, such as ``'lr'``)."""
    text = str(exc)
    for name, flag in flags.items():
        text = re.sub(rf"[Tt]he '{name}' parameter( of \w+)?", flag, text)
        if bare:
            text = re.sub(rf"'{name}'", flag, text)
        text = re.sub(rf"\b{name}=", f"{flag}=", text)
    return " ".join(text.split())  # one line


def check_output(path: str | None, flag: str, *, folder: bool = False) -> None:
    """Raise :class:`UsageError` naming ``flag`` when ``path`` (a file, or a folder when
    ``folder``) cannot be written: checked before a command computes anything."""
    if path is None:
        return
    full = os.path.abspath(path)
    if folder and os.path.exists(full) and not os.path.isdir(full):
        raise UsageError(f"{flag} {path!r} exists and is not a folder.")
    if not folder and os.path.isdir(full):
        raise UsageError(f"{flag} {path!r} is a folder; name a file.")
    parent = full if folder else os.path.dirname(full)
    while not os.path.exists(parent):  # missing folders are created: their first existing parent
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"{flag} {path!r}: {parent!r} is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path!r}: the folder {parent!r} is not writable.")


def error(command: str, message: object) -> int:
    """Print ``multiproj COMMAND: error: MESSAGE`` on stderr; return the usage exit code 2."""
    print(f"multiproj {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


class CompileStatus(logging.Handler):
    """Prints one status line on stderr when the library logs (logger ``multiproj``, see
    :func:`multiproj.kernels.compile.log_compilations`) that its kernels compile: at most once per run."""

    def __init__(self, command: str) -> None:
        super().__init__(logging.INFO)
        self.command = command
        self.shown = False

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "multiproj_compile", None) != "start" or self.shown:
            return
        self.shown = True
        print(
            f"multiproj {self.command}: compiling the Numba kernels on first use (seconds to a "
            "minute or two; the machine code is cached for later runs)...",
            file=sys.stderr,
            flush=True,
        )


@contextlib.contextmanager
def compile_status(command: str, enabled: bool = True) -> Iterator[CompileStatus | None]:
    """While the body runs, show :class:`CompileStatus` lines (when ``enabled``)."""
    if not enabled:
        yield None
        return
    logger = logging.getLogger("multiproj")
    handler = CompileStatus(command)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = Parser(
        prog="multiproj",
        description="Fast exact, bi-level and multi-level structured-sparsity projections.",
        epilog=EXIT_STATUS,
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
        with compile_status(args.command, enabled=not getattr(args, "quiet", False)):
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
