"""``comp-adapters framework``: work with versions of a framework.

``framework diff OLD NEW`` compares two versions. OLD and NEW are framework references:
today a file in any known format; stored versions (``KEY@VERSION``) and the commands
``release``, ``history``, ``show`` and ``approve`` come with the state store.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.governance.diff import diff_frameworks

_STORED_REFERENCE = re.compile(r"^[^@/\\\s]+@[^@/\\\s]+$")
"""``KEY@VERSION``: how a stored version is named (no path separators)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    framework = subparsers.add_parser(
        "framework",
        help="versions of a framework: compare two (diff)",
        description="Work with versions of a framework.",
    )
    commands = framework.add_subparsers(dest="framework_command", metavar="COMMAND", required=True)

    diff = commands.add_parser(
        "diff",
        help="what changed between two versions of a framework",
        description="Competencies added, removed, renamed, replaced, moved, retitled and "
        "re-described; rule, scale, calculation-method and relation changes; framework "
        "fields. OLD and NEW are framework files in any known format. A competency whose "
        "key changed is recognised by a shared external id, else by the same title and "
        "description under the same parent (see docs/governance.md).",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier version (a framework file)")
    diff.add_argument("new", metavar="NEW", help="the later version (a framework file)")
    diff.add_argument("--from", dest="from_format", help="format of both files (default: detect)")
    diff.add_argument("--json", action="store_true", help="print JSON instead of a table")
    diff.set_defaults(handler=cmd_diff)


def resolve_framework(reference: str, *, from_format: str | None = None) -> Framework:
    """The framework a command-line reference names: an existing file, in a named or
    detected format. ``KEY@VERSION`` (a stored version) is refused clearly until the
    state store holds versions; a missing file is reported as such."""
    path = Path(reference)
    if not path.exists() and _STORED_REFERENCE.match(reference):
        raise ConfigurationError(
            f"{reference}: stored versions (KEY@VERSION) need the state store, which does "
            "not hold framework versions yet; give framework files"
        )
    return read_framework(path, from_format)


def cmd_diff(args: argparse.Namespace) -> int:
    old = resolve_framework(args.old, from_format=args.from_format)
    new = resolve_framework(args.new, from_format=args.from_format)
    result = diff_frameworks(old, new)
    sys.stdout.write(result.to_json() if args.json else result.to_table())
    return 0
