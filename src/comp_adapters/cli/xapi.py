"""``comp-adapters xapi pull|push``: evidence from an LRS or statement file; proficiency back.

Connection settings come from the ``[xapi]`` table of the config file, then the environment
(``COMP_ADAPTERS_XAPI_ENDPOINT``, ``..._KEY``, ``..._SECRET``, ``..._AUTH``,
``..._TOKEN_URL``, ...), then flags.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import pydantic

from comp_adapters._files import atomic_write, read_json_file
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.evidence_check import unknown_competencies
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.native import load_proficiencies, write_evidence_lines
from comp_adapters.protocols import Cursor, EvidenceBatch
from comp_adapters.settings import load_config
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.xapi.adapter import XapiAdapter
from comp_adapters.xapi.cursor import validate_cursor
from comp_adapters.xapi.ledger import EvidenceFileLedger
from comp_adapters.xapi.mapping import MappingConfig
from comp_adapters.xapi.mapping_file import load_optional_mapping
from comp_adapters.xapi.settings import LRS_FILTERS, XapiSettings, load_settings

SHOWN_PROBLEMS = 20
_CONNECTION_FLAGS = ("endpoint", "key", "auth", "token_url", "version", "allow_http")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    xapi = subparsers.add_parser(
        "xapi",
        help="pull evidence from an xAPI LRS (or statement file); push proficiency back",
        description="Evidence from xAPI statements, and proficiency written back as statements.",
    )
    commands = xapi.add_subparsers(dest="xapi_command", metavar="COMMAND", required=True)

    pull = commands.add_parser(
        "pull",
        help="read statements (incrementally) and write evidence as JSON lines",
        description="Read statements stored since the cursor (or from --file), map them to "
        "evidence with the mapping file, and write evidence JSON lines. Voided statements "
        "are written as withdrawn evidence. The cursor file is updated only after the output "
        "is written; it belongs to one query (endpoint, version, filters) and refuses another.",
    )
    _connection_flags(pull)
    pull.add_argument("--file", type=Path, help="read statements from this file, not an LRS")
    pull.add_argument("--mapping", type=Path, help="mapping config (JSON or TOML)")
    pull.add_argument(
        "--framework",
        type=Path,
        help="check that every competency the mapping names is in this framework first",
    )
    pull.add_argument("--cursor", type=Path, help="cursor file: read on, and updated after")
    pull.add_argument("-o", "--output", type=Path, help="evidence output (JSON lines; required)")
    pull.add_argument("--out", dest="output", type=Path, help=argparse.SUPPRESS)  # deprecated
    pull.add_argument("--json", action="store_true", help="print the summary as JSON")
    pull.add_argument(
        "--append",
        action="store_true",
        help="add to an existing output file (its evidence is the ledger voids withdraw "
        "from, and statements it holds are not read into it again)",
    )
    pull.add_argument(
        "--ledger",
        type=Path,
        action="append",
        default=[],
        metavar="EVIDENCE_FILE",
        help="evidence written by earlier pulls (repeatable): voids withdraw from it, and "
        "statements it holds are skipped as read",
    )
    pull.add_argument(
        "--skip-invalid",
        action="store_true",
        help="file input: report bad statements and skip them instead of stopping",
    )
    for name in LRS_FILTERS:
        pull.add_argument(f"--{name}", help=_help(name))
    pull.set_defaults(handler=cmd_pull)

    push = commands.add_parser(
        "push",
        help="write computed proficiency to the LRS as statements",
        description="Each proficiency becomes a statement with a deterministic id; the ones "
        "the LRS does not show yet are sent with one POST per batch, so a re-send never "
        "duplicates. Prints the plan, then applies it.",
    )
    _connection_flags(push)
    push.add_argument("proficiency", type=Path, help="output of `compute --json` (or JSON lines)")
    push.add_argument("--mapping", type=Path, help="mapping config (identities, competency IRIs)")
    push.add_argument("--framework", type=Path, help="framework file (to scale scores)")
    push.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    push.add_argument("--plan-out", type=Path, metavar="FILE", help="also save the plan as JSON")
    push.add_argument("--plan-json", dest="plan_out", type=Path, help=argparse.SUPPRESS)
    push.add_argument(
        "--json", action="store_true", help="print the plan and what was applied as JSON"
    )
    push.set_defaults(handler=cmd_push)


def _help(name: str) -> str | None:
    """A flag's help: the description of its setting (one text for flag and config)."""
    return XapiSettings.model_fields[name].description


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: comp-adapters.toml)")
    parser.add_argument("--endpoint", help=_help("endpoint"))
    parser.add_argument("--key", help=_help("key"))
    parser.add_argument("--auth", choices=["basic", "oauth2", "none"], help=_help("auth"))
    parser.add_argument("--token-url", help=_help("token_url"))
    parser.add_argument("--xapi-version", dest="version", help=_help("version"))
    parser.add_argument("--allow-http", action="store_const", const=True, help=_help("allow_http"))


def settings_of(args: argparse.Namespace, *names: str) -> XapiSettings:
    """Settings from config file < environment < these flags (the secret is never a flag)."""
    flags = {name: getattr(args, name, None) for name in (*_CONNECTION_FLAGS, *names)}
    return load_settings(flags=flags, config=load_config(args.config))


def check_mapping_keys(
    mapping: MappingConfig, framework: Framework, *, source: Path | None
) -> None:
    """Refuse a mapping that names competencies the framework lacks (before any reading:
    their evidence would only be dropped later)."""
    named = [
        (f"activity rule {rule.id or rule.prefix!r}", key)
        for rule in mapping.activities
        for key in rule.competencies
    ]
    named += [(f"competency IRI {iri!r}", key) for iri, key in mapping.competency_iris.items()]
    problems = unknown_competencies(framework, named, file=str(source) if source else None)
    if problems:
        raise ValidationError(problems)


def _read_cursor(path: Path | None) -> Cursor | None:
    """The cursor file's cursor (``None`` when there is none yet); an unreadable one is an
    error naming the file and field, never a silent read from the start."""
    if path is None or not path.exists():
        return None
    data = read_json_file(path)
    try:
        cursor = Cursor.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                Problem(
                    f"not a cursor file: {item['msg']}",
                    file=str(path),
                    field=".".join(str(part) for part in item["loc"]) or None,
                )
                for item in exc.errors(include_url=False)
            ]
        ) from None
    validate_cursor(cursor, source=str(path))
    return cursor


def _pull_adapter(args: argparse.Namespace) -> XapiAdapter:
    """The adapter a pull reads with: over the LRS of the settings, or files only; its
    mapping checked against ``--framework`` before anything is read."""
    mapping_path: Path | None = args.mapping
    if args.file is not None:
        filters = [f"--{name}" for name in LRS_FILTERS if getattr(args, name) is not None]
        if filters:
            raise ConfigurationError(
                f"xapi pull: {', '.join(filters)} filter(s) the LRS query; they do not apply "
                "to --file"
            )
        adapter = XapiAdapter(mapping=load_optional_mapping(mapping_path))
    else:
        settings = settings_of(args, "mapping", *LRS_FILTERS)
        mapping_path = settings.mapping
        adapter = XapiAdapter.from_settings(settings)
    if args.framework is not None:
        check_mapping_keys(adapter.mapping, read_framework(args.framework), source=mapping_path)
    return adapter


def cmd_pull(args: argparse.Namespace) -> int:
    if args.output is None:
        raise ConfigurationError("xapi pull: -o/--output FILE is required")
    out: Path = args.output
    adapter = _pull_adapter(args)
    cursor = _read_cursor(args.cursor)
    previous = out if args.append and out.exists() else None
    ledger = EvidenceFileLedger([*args.ledger, *([previous] if previous else [])])
    if args.file is not None:
        batches = adapter.read_file(
            args.file, cursor=cursor, strict=not args.skip_invalid, ledger=ledger
        )
    else:
        batches = adapter.read_evidence(
            cursor=cursor, ledger=ledger, cursor_source=str(args.cursor)
        )
    last: EvidenceBatch | None = None
    written = 0
    with (
        atomic_write(out) as handle,
        tempfile.TemporaryFile("w+", encoding="utf-8", dir=out.parent) as spool,
    ):
        if previous is not None:
            with previous.open(encoding="utf-8") as old:
                shutil.copyfileobj(old, handle)
        copied: set[str] = set()
        withdrawn: dict[str, None] = {}
        for batch in batches:
            written += write_evidence_lines(batch.evidence, spool)
            copied.update(e.id for e in batch.evidence if e.voided)
            withdrawn.update(dict.fromkeys(batch.withdrawn))
            last = batch
        spool.seek(0)
        shutil.copyfileobj(spool, handle)
        missing = [i for i in withdrawn if i not in copied]
        if missing:
            written += _write_copies(ledger, missing, out, spool, handle)
    if last is not None and args.cursor is not None:
        with atomic_write(args.cursor) as handle:
            handle.write(last.cursor.model_dump_json(indent=2) + "\n")
    stats = adapter.stats
    if args.json:
        print(json.dumps(_pull_summary(adapter, written, out)))
    else:
        print(f"xapi pull: {stats.summary()}; {written} evidence lines written to {out}")
        for reason, count in stats.skipped.most_common():
            print(f"  unmatched: {count} {reason}")
    if stats.problems:
        print(f"{stats.bad} bad statement(s) skipped:", file=sys.stderr)
        for problem in stats.problems[:SHOWN_PROBLEMS]:
            print(f"  {problem}", file=sys.stderr)
        if stats.bad > SHOWN_PROBLEMS:
            print(f"  ... and {stats.bad - SHOWN_PROBLEMS} more", file=sys.stderr)
    return 0


def _write_copies(
    ledger: EvidenceFileLedger, missing: list[str], out: Path, spool: IO[str], handle: IO[str]
) -> int:
    """Withdrawn copies of evidence the ledger withdrew but the read held no copy of (the
    LRS could not look the voided statement up): taken from the ledger's files and from
    this run's evidence."""
    spool.seek(0)
    found = list(ledger.copies(missing, also=[(f"{out} (this run)", spool)]))
    lost = len(missing) - len(found)
    if lost:
        raise ValidationError(
            [
                Problem(
                    f"{lost} withdrawn evidence id(s) are in no evidence file, e.g. "
                    f"{sorted(set(missing) - {e.id for e in found})[0]}: cannot write their "
                    "withdrawal",
                    file=str(out),
                )
            ]
        )
    return write_evidence_lines(found, handle)


def _pull_summary(adapter: XapiAdapter, written: int, out: Path) -> dict[str, Any]:
    stats = adapter.stats
    return {
        "statements": stats.statements,
        "evidence": stats.evidence,
        "withdrawn": stats.withdrawn,
        "voids": stats.voids,
        "duplicates": stats.duplicates,
        "unmatched": dict(stats.skipped.most_common()),
        "bad": stats.bad,
        "unseen_voided": stats.unseen_voided,
        "written": written,
        "output": str(out),
    }


def cmd_push(args: argparse.Namespace) -> int:
    proficiencies = load_proficiencies(args.proficiency)
    framework = read_framework(args.framework) if args.framework is not None else None
    adapter = XapiAdapter.from_settings(settings_of(args, "mapping"))
    plan = adapter.plan_proficiency(proficiencies, framework=framework)
    if args.plan_out is not None:
        with atomic_write(args.plan_out) as handle:
            handle.write(plan.to_json())
    report = None if args.dry_run or plan.is_empty else adapter.apply(plan)
    if args.json:
        print(json.dumps({"plan": json.loads(plan.to_json()), "applied": _push_summary(report)}))
        return 0
    print(plan.to_table())
    summary = _push_summary(report)
    if summary is not None:
        print(
            f"xapi push: {summary['confirmed']} statement(s) confirmed by the LRS "
            f"({summary['posted']} posted, {summary['found']} it held already)"
        )
    return 0


def _push_summary(report: ApplyReport | None) -> dict[str, int] | None:
    """What an apply confirmed: posted now, or found held by the LRS (None: not applied)."""
    if report is None:
        return None
    found = sum(1 for c in report.applied if report.results[c].get("confirmed") == "found")
    return {"confirmed": report.writes, "posted": report.writes - found, "found": found}
