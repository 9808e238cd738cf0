"""``comp-adapters framework``: versions of a framework, kept in the state store.

``draft FILE`` stores a draft (for approval and staging targets), ``approve KEY@VERSION``
adds an approval by someone other than its author, ``release FILE|KEY@VERSION`` records an
immutable released version (idempotent for the same content, refused for other content
under a released label), ``history KEY`` lists versions, ``show KEY@VERSION`` prints or
writes one, and ``diff OLD NEW`` compares two versions, files or stored. Every step that
changes the store appends an entry to the audit log (``comp-adapters audit``). Which store,
who acts and the approval policy: see :mod:`comp_adapters.cli.governance_common`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from comp_adapters.cli.core_commands import read_framework
from comp_adapters.cli.governance_common import (
    actor,
    add_actor_option,
    add_config_option,
    add_store_option,
    looks_like_reference,
    open_cli_store,
    policy,
    split_reference,
    user_instant,
)
from comp_adapters.core.framework import Framework
from comp_adapters.core.timeutil import format_utc
from comp_adapters.errors import ConfigurationError, GovernanceError
from comp_adapters.governance.diff import diff_frameworks
from comp_adapters.governance.versions import FrameworkVersion
from comp_adapters.native import dump_framework, framework_to_data

if TYPE_CHECKING:
    from comp_adapters.store import Store, VersionOutcome


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    framework = subparsers.add_parser(
        "framework",
        help="versions of a framework: draft, approve, release, history, show, diff",
        description="Work with versions of a framework, kept in the state store.",
    )
    commands = framework.add_subparsers(dest="framework_command", metavar="COMMAND", required=True)
    _register_release(commands)
    _register_draft(commands)
    _register_approve(commands)
    _register_history(commands)
    _register_show(commands)
    _register_diff(commands)


def _add_version_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--effective-from",
        metavar="DATE",
        help="when the version takes effect: 2026-07-01 (00:00 UTC) or an ISO date-time with "
        "offset (default: the framework's effective_from, else now)",
    )
    parser.add_argument(
        "--label",
        help="the version label (default: the framework's version, else the next after the "
        "latest stored one)",
    )
    parser.add_argument("--from", dest="from_format", help="format of FILE (default: detect)")


def _register_release(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    release = commands.add_parser(
        "release",
        help="record an immutable released version",
        description="Release a framework file, or a stored draft named KEY@VERSION, as an "
        "immutable version: content hash, label, effective date, rationale, who. The same "
        "content released again changes nothing; other content under a released label is "
        "refused. When the project's [governance] required_approvals is above 0, only a "
        "draft approved by that many other identities can be released.",
    )
    release.add_argument("source", metavar="FILE|KEY@VERSION", help="framework file or draft")
    release.add_argument("--rationale", help="why this version is made (required for a file)")
    _add_version_options(release)
    add_actor_option(release, what="who releases")
    add_store_option(release)
    add_config_option(release)
    release.set_defaults(handler=cmd_release)


def _register_draft(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    draft = commands.add_parser(
        "draft",
        help="store a draft version (for approval and staging targets)",
        description="Store a draft of a framework file: it goes to targets marked "
        "staging = true, and is released once approved. A draft of other content under the "
        "same label replaces the earlier draft (whose approvals lapse).",
    )
    draft.add_argument("file", metavar="FILE", type=Path, help="framework file")
    draft.add_argument("--rationale", required=True, help="why this version is made")
    _add_version_options(draft)
    add_actor_option(draft, what="who drafts")
    add_store_option(draft)
    add_config_option(draft)
    draft.set_defaults(handler=cmd_draft)


def _register_approve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    approve = commands.add_parser(
        "approve",
        help="approve a stored draft (as someone other than its author)",
        description="Add your approval to a stored draft. The author cannot approve their "
        "own draft (identities compare ignoring case), nobody approves twice.",
    )
    approve.add_argument("reference", metavar="KEY@VERSION", help="the stored draft")
    approve.add_argument("--note", help="a remark kept with the approval")
    add_actor_option(approve, what="who approves")
    add_store_option(approve)
    add_config_option(approve)
    approve.set_defaults(handler=cmd_approve)


def _register_history(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser(
        "history",
        help="list the stored versions of a framework",
        description="Every stored version of a framework, oldest first: label, status, "
        "effective date, content hash, author, approvers, release.",
    )
    history.add_argument("key", metavar="KEY", help="the framework's key")
    history.add_argument("--json", action="store_true", help="print JSON records")
    add_store_option(history)
    history.set_defaults(handler=cmd_history)


def _register_show(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show = commands.add_parser(
        "show",
        help="print one stored version, or write its framework to a file",
        description="Print a stored version's record; --json adds its framework document; "
        "-o writes the framework (native JSON, or YAML for .yaml) to a file.",
    )
    show.add_argument("reference", metavar="KEY@VERSION", help="the stored version")
    show.add_argument("-o", "--output", help="write the framework document here ('-': stdout)")
    show.add_argument("--json", action="store_true", help="print the record and document as JSON")
    add_store_option(show)
    show.set_defaults(handler=cmd_show)


def _register_diff(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = commands.add_parser(
        "diff",
        help="what changed between two versions of a framework",
        description="Competencies added, removed, renamed, replaced, moved, retitled and "
        "re-described; rule, scale, calculation-method and relation changes; framework "
        "fields. OLD and NEW are framework files in any known format, or stored versions "
        "KEY@VERSION. A competency whose key changed is recognised by a shared external "
        "id, else by the same title and description under the same parent (see "
        "docs/governance.md).",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier version (a file or KEY@VERSION)")
    diff.add_argument("new", metavar="NEW", help="the later version (a file or KEY@VERSION)")
    diff.add_argument("--from", dest="from_format", help="format of both files (default: detect)")
    diff.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_store_option(diff)
    diff.set_defaults(handler=cmd_diff)


# -- references ----------------------------------------------------------------------------


def stored_framework(store: Store, reference: str) -> tuple[Framework, FrameworkVersion]:
    """The stored version ``KEY@VERSION`` names, or a GovernanceError saying what is held."""
    key, label = split_reference(reference)
    found = store.framework_version(key, label)
    if found is None:
        held = [v.version for v in store.framework_versions(key)]
        raise GovernanceError(
            f"{reference}: no version {label!r} of framework {key!r} in store "
            f"{store.url.redacted}"
            + (f" (it holds {', '.join(held)})" if held else " (it holds none of it)")
        )
    return found.framework, found.version


def resolve_framework(
    reference: str, *, from_format: str | None = None, args: argparse.Namespace | None = None
) -> Framework:
    """The framework a command-line reference names: an existing file (in a named or
    detected format), else a stored version ``KEY@VERSION``; a missing file that is not
    such a reference is reported as a missing file."""
    path = Path(reference)
    if not path.exists() and looks_like_reference(reference):
        with open_cli_store(args or argparse.Namespace(), create=False, reading=reference) as store:
            return stored_framework(store, reference)[0]
    return read_framework(path, from_format)


# -- commands ------------------------------------------------------------------------------


def _short(digest: str) -> str:
    return digest[:12]


def _entries_text(outcome: VersionOutcome) -> str:
    seqs = [entry.seq for entry in outcome.entries]
    if not seqs:
        return ""
    return f" (audit entry {seqs[0]})" if len(seqs) == 1 else f" (audit entries {seqs})"


def _approval_status(version: FrameworkVersion, required: int) -> str:
    have = len(version.approvers())
    return f"{have} of {required} approval{'s' if required != 1 else ''}"


def cmd_release(args: argparse.Namespace) -> int:
    who = actor(args)
    rules = policy(args)
    effective = user_instant(args.effective_from, option="--effective-from")
    source = Path(args.source)
    with open_cli_store(args, create=True) as store:
        if not source.exists() and looks_like_reference(args.source):
            if args.effective_from or args.label or args.rationale:
                raise ConfigurationError(
                    f"{args.source} names a stored draft: it is released as drafted (its label, "
                    "effective date and rationale); --effective-from, --label and --rationale "
                    "apply to files"
                )
            key, label = split_reference(args.source)
            outcome = store.release_draft_version(key, label, actor=who, policy=rules)
        else:
            framework = read_framework(source, args.from_format)
            outcome = store.release_version(
                framework,
                rationale=args.rationale,
                actor=who,
                effective_from=effective,
                version=args.label,
                policy=rules,
            )
    version = outcome.version
    if not outcome.changed:
        print(
            f"{version.ref} [{_short(version.content_hash)}] is released already with this "
            f"content (on {format_utc(version.released_at or version.created_at)} by "
            f"{version.released_by}): nothing changed"
        )
        return 0
    approvals = f", approved by {', '.join(version.approvers())}" if version.approvers() else ""
    print(
        f"released {version.ref} [{_short(version.content_hash)}], effective "
        f"{format_utc(version.effective_from)}, by {version.released_by}{approvals}"
        f"{_entries_text(outcome)}"
    )
    return 0


def cmd_draft(args: argparse.Namespace) -> int:
    who = actor(args)
    rules = policy(args)
    effective = user_instant(args.effective_from, option="--effective-from")
    framework = read_framework(args.file, args.from_format)
    with open_cli_store(args, create=True) as store:
        outcome = store.draft_version(
            framework,
            rationale=args.rationale,
            actor=who,
            effective_from=effective,
            version=args.label,
        )
    version = outcome.version
    if not outcome.changed:
        print(
            f"{version.ref} [{_short(version.content_hash)}] is drafted already with this "
            f"content ({_approval_status(version, rules.required_approvals)}): nothing changed"
        )
        return 0
    needs = (
        f"it needs {rules.required_approvals} approval(s) by others before release"
        if rules.required_approvals
        else f"release it with comp-adapters framework release {version.ref}"
    )
    print(
        f"drafted {version.ref} [{_short(version.content_hash)}], effective "
        f"{format_utc(version.effective_from)}, by {version.author}: staging targets receive "
        f"it; {needs}{_entries_text(outcome)}"
    )
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    who = actor(args)
    rules = policy(args)
    key, label = split_reference(args.reference)
    with open_cli_store(args, create=False) as store:
        outcome = store.approve_version(key, label, actor=who, note=args.note)
    version = outcome.version
    ready = len(version.approvers()) >= rules.required_approvals
    then = (
        f"release it with comp-adapters framework release {version.ref}"
        if ready
        else "it needs more approvals before release"
    )
    print(
        f"approved {version.ref} [{_short(version.content_hash)}] as {who}: "
        f"{_approval_status(version, rules.required_approvals)}; {then}{_entries_text(outcome)}"
    )
    return 0


_HISTORY_COLUMNS = ("VERSION", "STATUS", "EFFECTIVE FROM", "HASH", "AUTHOR", "APPROVED BY")


def cmd_history(args: argparse.Namespace) -> int:
    with open_cli_store(args, create=False) as store:
        versions = store.framework_versions(args.key)
        if not versions:
            held = store.versioned_frameworks()
            raise GovernanceError(
                f"framework {args.key!r} has no stored versions in {store.url.redacted}"
                + (f" (it holds versions of {', '.join(held)})" if held else "")
            )
    if args.json:
        data = [version.model_dump(mode="json") for version in versions]
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(history_table(versions))
    return 0


def history_table(versions: Sequence[FrameworkVersion]) -> str:
    """A framework's versions as aligned columns, with each release and rationale below."""
    rows = [
        (
            v.version,
            v.status.value,
            format_utc(v.effective_from),
            _short(v.content_hash),
            v.author,
            ", ".join(v.approvers()) or "-",
        )
        for v in versions
    ]
    widths = [max(len(row[i]) for row in [_HISTORY_COLUMNS, *rows]) for i in range(6)]
    lines = [f"Framework {versions[0].framework}: {len(versions)} version(s)"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(_HISTORY_COLUMNS, widths, strict=True)))
    for version, row in zip(versions, rows, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if version.released_at is not None:
            lines.append(f"    released {format_utc(version.released_at)} by {version.released_by}")
        lines.append(f"    rationale: {version.rationale}")
    return "\n".join(lines) + "\n"


def cmd_show(args: argparse.Namespace) -> int:
    with open_cli_store(args, create=False) as store:
        framework, version = stored_framework(store, args.reference)
    if args.output:
        dump_framework(framework, args.output)
        if args.output != "-":
            print(f"wrote {version.ref} to {args.output}", file=sys.stderr)
        return 0
    if args.json:
        data = {
            "version": version.model_dump(mode="json"),
            "framework": framework_to_data(framework),
        }
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(version_text(version, framework))
    return 0


def version_text(version: FrameworkVersion, framework: Framework) -> str:
    """One version's record for people."""
    lines = [
        f"{version.ref}  {version.status.value}",
        f"  title           {framework.title}",
        f"  content hash    {version.content_hash}",
        f"  effective from  {format_utc(version.effective_from)}",
    ]
    if version.effective_until is not None:
        lines.append(f"  effective until {format_utc(version.effective_until)}")
    lines += [
        f"  rationale       {version.rationale}",
        f"  drafted         {format_utc(version.created_at)} by {version.author}",
    ]
    lines += [
        f"  approved        {format_utc(a.at)} by {a.actor}" + (f" ({a.note})" if a.note else "")
        for a in version.approvals
        if a.content_hash == version.content_hash
    ]
    if version.released_at is not None:
        lines.append(
            f"  released        {format_utc(version.released_at)} by {version.released_by}"
        )
    lines.append(f"  competencies    {len(framework.competencies)}")
    return "\n".join(lines) + "\n"


def cmd_diff(args: argparse.Namespace) -> int:
    old = resolve_framework(args.old, from_format=args.from_format, args=args)
    new = resolve_framework(args.new, from_format=args.from_format, args=args)
    result = diff_frameworks(old, new)
    sys.stdout.write(result.to_json() if args.json else result.to_table())
    return 0
