"""Entry point of ``comp-adapters``: builds the parser from the command modules and maps
errors to exit codes, so users see a clear message instead of a traceback.

The exit codes are the table :data:`EXIT_CODES` (shown in ``comp-adapters --help`` and in
the CLI reference). Usage errors are one line, never a traceback. The global options
``-v/--verbose``, ``-q/--quiet`` and ``--debug`` are accepted before the command and
after it (``comp-adapters push moodle FILE -v``): they are added to every command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
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
from comp_adapters.plugins import adapter_names

COMMAND_MODULES = (
    "comp_adapters.cli.core_commands",
    "comp_adapters.cli.xapi",
    "comp_adapters.cli.canvas",
    "comp_adapters.cli.case",
    "comp_adapters.cli.moodle",
    "comp_adapters.cli.reports",
    "comp_adapters.cli.framework",
    "comp_adapters.cli.audit",
    "comp_adapters.cli.generic",
    "comp_adapters.cli.serve",
    "comp_adapters.cli.sync",
)
"""Modules with a ``register(subparsers)`` function, one per command group."""

COMMAND_MODULE_OF: dict[str, str] = {
    **dict.fromkeys(
        ("compute", "validate", "convert", "schema", "formats"), "comp_adapters.cli.core_commands"
    ),
    "xapi": "comp_adapters.cli.xapi",
    "canvas": "comp_adapters.cli.canvas",
    "case": "comp_adapters.cli.case",
    "moodle": "comp_adapters.cli.moodle",
    **dict.fromkeys(("gaps", "report", "roles"), "comp_adapters.cli.reports"),
    "framework": "comp_adapters.cli.framework",
    "audit": "comp_adapters.cli.audit",
    **dict.fromkeys(
        ("adapters", "push", "pull", "evidence", "publish", "apply"), "comp_adapters.cli.generic"
    ),
    "serve": "comp_adapters.cli.serve",
    "sync": "comp_adapters.cli.sync",
}
"""Which module registers each top-level command, so that running one command imports only
its module (importing every adapter's command module costs about a second of start-up);
``tests/cli/test_cli.py`` checks this table against what the modules register."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_FAILED, "invalid input, or the remote refused (validation, a stale plan, HTTP 4xx)"),
    (EXIT_USAGE, "usage or configuration error (flags, settings, config file)"),
    (
        EXIT_UNAVAILABLE,
        "remote unavailable: connection failures, timeouts, 5xx and throttling after retries",
    ),
    (EXIT_INTERNAL, "internal error, a bug: rerun with --debug for the traceback"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
"""Every exit code of ``comp-adapters`` and what it means, documented in the CLI reference."""

GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, object]], ...] = (
    (
        ("-v", "--verbose"),
        {"dest": "verbose", "action": "count", "help": "more logging (-vv: debug)"},
    ),
    (
        ("-q", "--quiet"),
        {"dest": "quiet", "action": "store_true", "help": "only errors on standard error"},
    ),
    (
        ("--debug",),
        {"dest": "debug", "action": "store_true", "help": "show tracebacks of internal errors"},
    ),
)
"""Options every command takes, before or after its name."""


def exit_codes_text() -> str:
    """The exit-code table as text (the ``--help`` epilog)."""
    rows = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES)
    return f"exit codes:\n{rows}"


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_USAGE,
            f"error: {self.prog}: {message}{_adapter_hint(message)} (see {self.prog} --help)\n",
        )


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']+)'")


def _adapter_hint(message: str) -> str:
    """An adapter's name given as a command: say which verbs take it."""
    found = _INVALID_CHOICE.search(message)
    if found is None or found.group(1) not in adapter_names():
        return ""
    name = found.group(1)
    return (
        f"; {name!r} is an adapter: give it after a verb, e.g. "
        f"'comp-adapters push {name} FRAMEWORK_FILE' (verbs: push, pull, evidence, publish)"
    )


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


def _modules_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """The command modules to register for ``argv``: only the one of the command given,
    else (help, a usage error, an unknown command) all of them."""
    for token in argv or ():
        if not token.startswith("-"):
            module = COMMAND_MODULE_OF.get(token)
            return COMMAND_MODULES if module is None else (module,)
    return COMMAND_MODULES


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``argv``, only of the command it runs."""
    parser = _Parser(
        prog="comp-adapters",
        description=(
            "Competency frameworks as data: validate, convert, compute proficiency "
            "and sync it into Moodle, Canvas, IMS CASE and xAPI."
        ),
        epilog=exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for flags, options in GLOBAL_OPTIONS:
        default = 0 if options["action"] == "count" else False
        parser.add_argument(*flags, default=default, **options)  # type: ignore[arg-type]
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _modules_for(argv):
        importlib.import_module(name).register(subparsers)
    for leaf in leaf_parsers(parser):
        _add_global_options(leaf)
    return parser


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of every runnable command (those without subcommands), depth first."""
    found: list[argparse.ArgumentParser] = []
    children = [
        child
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for child in dict.fromkeys(action.choices.values())
    ]
    if not children:
        return [parser]
    for child in children:
        found.extend(leaf_parsers(child))
    return found


def _add_global_options(leaf: argparse.ArgumentParser) -> None:
    """The global options on one command, given after its name; not given, they leave
    what was given before the command alone (``default=SUPPRESS``)."""
    dests = {"verbose", "quiet", "debug"}
    for action in leaf._actions:
        if action.dest in dests:
            action.default = argparse.SUPPRESS  # e.g. compute's own --quiet
    for flags, options in GLOBAL_OPTIONS:
        free = [flag for flag in flags if flag not in leaf._option_string_actions]
        if free:
            leaf.add_argument(*free, default=argparse.SUPPRESS, **options)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)  # usage errors exit 2 with one line (see _Parser)
    level = logging.ERROR if args.quiet else logging.WARNING - 10 * min(args.verbose or 0, 2)
    logging.basicConfig(
        level=level,
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
