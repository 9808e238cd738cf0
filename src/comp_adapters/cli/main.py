"""Entry point of ``comp-adapters``: builds the parser from the command modules and maps
errors to exit codes, so users see a clear message instead of a traceback.

Exit codes: 0 success, 1 invalid input or a remote failure, 2 usage or configuration
error, 70 internal error (a bug: rerun with ``--debug`` for the traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from comp_adapters import __version__
from comp_adapters.errors import (
    CompAdaptersError,
    ConfigurationError,
    RemoteError,
    ValidationError,
)

COMMAND_MODULES = (
    "comp_adapters.cli.core_commands",
    "comp_adapters.cli.xapi",
    "comp_adapters.cli.canvas",
    "comp_adapters.cli.case",
    "comp_adapters.cli.moodle",
    "comp_adapters.cli.framework",
)
"""Modules with a ``register(subparsers)`` function, one per command group."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RemoteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except CompAdaptersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
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
