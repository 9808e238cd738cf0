"""Entry point of ``comp-adapters``: builds the parser from the command modules and maps
errors to exit codes, so users see a clear message instead of a traceback.

Exit codes: 0 success, 1 invalid input or a remote refusal, 2 usage or configuration
error, 3 remote unavailable (connection failures, timeouts, 5xx and throttling after the
retries), 70 internal error (a bug: rerun with ``--debug`` for the traceback), 130
interrupted. Usage errors are one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from comp_adapters import __version__
from comp_adapters._http.redaction import install_log_redaction
from comp_adapters.errors import (
    CompAdaptersError,
    ConfigurationError,
    RemoteError,
    RetriableRemoteError,
    ValidationError,
)

COMMAND_MODULES = (
    "comp_adapters.cli.core_commands",
    "comp_adapters.cli.xapi",
    "comp_adapters.cli.canvas",
    "comp_adapters.cli.case",
    "comp_adapters.cli.moodle",
    "comp_adapters.cli.reports",
    "comp_adapters.cli.framework",
    "comp_adapters.cli.sync",
)
"""Modules with a ``register(subparsers)`` function, one per command group."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


_EXIT_CODES: tuple[tuple[type[CompAdaptersError], int], ...] = (
    (ValidationError, EXIT_FAILED),
    (ConfigurationError, EXIT_USAGE),
    (RetriableRemoteError, EXIT_UNAVAILABLE),
    (RemoteError, EXIT_FAILED),
)
"""The exit code of each error branch (first match wins; anything else of ours: 1)."""
_OS_MESSAGES: dict[type[OSError], str] = {
    IsADirectoryError: "is a folder; give a file",
    NotADirectoryError: "a part of the path is not a folder",
    PermissionError: "permission denied",
}


def _exit_code(error: CompAdaptersError) -> int:
    return next((code for kind, code in _EXIT_CODES if isinstance(error, kind)), EXIT_FAILED)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="comp-adapters",
        description=(
            "Competency frameworks as data: validate, convert, compute proficiency "
            "and sync it into Moodle, Canvas, IMS CASE and xAPI."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 with one line (see _Parser)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_redaction()
    try:
        code: int = args.handler(args)
    except CompAdaptersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"error: {exc.filename}: {_OS_MESSAGES[type(exc)]}", file=sys.stderr)
        return EXIT_USAGE
    except RecursionError:
        print("error: the input is nested too deeply to read", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in comp-adapters; rerun with --debug for the traceback and "
            "report it.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
