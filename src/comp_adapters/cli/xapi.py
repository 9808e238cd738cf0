"""``comp-adapters xapi pull|push``: evidence from an LRS or statement file; proficiency back.

Connection settings come from the ``[xapi]`` table of the config file, then the environment
(``COMP_ADAPTERS_XAPI_ENDPOINT``, ``..._KEY``, ``..._SECRET``, ``..._AUTH``,
``..._TOKEN_URL``, ...), then flags.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from comp_adapters._files import atomic_write, read_json_file
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.evidence_check import unknown_competencies
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.http import HttpTransport, make_session
from comp_adapters.native import load_proficiencies, write_evidence_lines
from comp_adapters.protocols import Cursor, EvidenceBatch
from comp_adapters.settings import build_settings, gather, load_config
from comp_adapters.xapi.adapter import NAME, XapiAdapter
from comp_adapters.xapi.client import OAuth2Credentials, XapiClient
from comp_adapters.xapi.cursor import validate_cursor
from comp_adapters.xapi.ledger import EvidenceFileLedger
from comp_adapters.xapi.mapping import MappingConfig, load_mapping
from comp_adapters.xapi.wire import StatementQuery

SHOWN_PROBLEMS = 20
_LRS_FILTERS = ("agent", "verb", "activity", "registration")


class XapiSettings(BaseModel):
    """Connection settings of the xAPI adapter."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint: str = Field(min_length=1)
    key: str | None = None
    secret: SecretStr | None = None
    auth: Literal["basic", "oauth2", "none"] = "basic"
    token_url: str | None = None
    scope: str | None = None
    version: str | None = None
    allow_http: bool = False
    page_size: int = Field(default=500, ge=1)
    overlap_seconds: float = Field(default=60.0, ge=0)
    ca_bundle: str | None = None
    """PEM file of private CA certificates to trust (docs/security.md)."""


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
    pull.add_argument("-o", "--out", type=Path, required=True, help="evidence output (JSON lines)")
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
    for name in _LRS_FILTERS:
        pull.add_argument(f"--{name}", help=f"LRS filter: only statements with this {name}")
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
    push.add_argument("--plan-json", type=Path, help="also save the plan as JSON")
    push.set_defaults(handler=cmd_push)


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: comp-adapters.toml)")
    parser.add_argument("--endpoint", help="LRS endpoint, e.g. https://lrs.example.org/xAPI/")
    parser.add_argument("--key", help="LRS key (OAuth 2.0: client id)")
    parser.add_argument("--auth", choices=["basic", "oauth2", "none"], help="default: basic")
    parser.add_argument("--token-url", help="OAuth 2.0 token URL")
    parser.add_argument("--xapi-version", dest="version", help="skip negotiation: 1.0.3 or 2.0.0")
    parser.add_argument(
        "--allow-http",
        action="store_const",
        const=True,
        help="allow a plain http endpoint (trusted networks only)",
    )


def load_settings(args: argparse.Namespace) -> XapiSettings:
    """Settings from config file < environment < flags (the secret is never a flag)."""
    flags = {
        name: getattr(args, name, None)
        for name in ("endpoint", "key", "auth", "token_url", "version", "allow_http")
    }
    values = gather(NAME, flags=flags, config=load_config(args.config))
    return build_settings(XapiSettings, NAME, values)


def build_client(settings: XapiSettings) -> XapiClient:
    """The LRS client for these settings."""
    transport = HttpTransport(
        adapter=NAME,
        base_url=settings.endpoint,
        allow_http=settings.allow_http,
        session=make_session(ca_bundle=settings.ca_bundle),
    )
    if settings.auth == "oauth2":
        if not (settings.token_url and settings.key and settings.secret):
            raise ConfigurationError(
                "xapi: OAuth 2.0 needs token_url, key and secret "
                "(COMP_ADAPTERS_XAPI_TOKEN_URL, ..._KEY, ..._SECRET)"
            )
        return XapiClient(
            transport,
            oauth2=OAuth2Credentials(
                token_url=settings.token_url,
                client_id=settings.key,
                client_secret=settings.secret,
                scope=settings.scope,
            ),
            version=settings.version,
        )
    if settings.auth == "basic" and (settings.key is None or settings.secret is None):
        raise ConfigurationError(
            "xapi: basic auth needs key and secret (COMP_ADAPTERS_XAPI_KEY and "
            "COMP_ADAPTERS_XAPI_SECRET, or [xapi] key / secret_env in the config file)"
        )
    if settings.auth == "none":
        return XapiClient(transport, version=settings.version)
    return XapiClient(transport, key=settings.key, secret=settings.secret, version=settings.version)


def _mapping(path: Path | None) -> MappingConfig:
    return load_mapping(path) if path is not None else MappingConfig()


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


def cmd_pull(args: argparse.Namespace) -> int:
    mapping = _mapping(args.mapping)
    if args.framework is not None:
        check_mapping_keys(mapping, read_framework(args.framework), source=args.mapping)
    cursor = _read_cursor(args.cursor)
    out: Path = args.out
    previous = out if args.append and out.exists() else None
    ledger = EvidenceFileLedger([*args.ledger, *([previous] if previous else [])])
    if args.file is not None:
        filters = [f"--{name}" for name in _LRS_FILTERS if getattr(args, name) is not None]
        if filters:
            raise ConfigurationError(
                f"xapi pull: {', '.join(filters)} filter(s) the LRS query; they do not apply "
                "to --file"
            )
        adapter = XapiAdapter(mapping=mapping)
        batches = adapter.read_file(
            args.file, cursor=cursor, strict=not args.skip_invalid, ledger=ledger
        )
    else:
        settings = load_settings(args)
        query = StatementQuery(
            agent=_agent_filter(args.agent),
            verb=args.verb,
            activity=args.activity,
            registration=args.registration,
        )
        adapter = XapiAdapter(
            build_client(settings),
            mapping=mapping,
            query=query,
            page_size=settings.page_size,
            overlap=timedelta(seconds=settings.overlap_seconds),
        )
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


def _agent_filter(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    if text.startswith("{"):
        import json  # noqa: PLC0415 - only for this rare flag

        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"--agent: invalid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise ConfigurationError("--agent: give an Agent object or an email address")
        return value
    return {"mbox": text if text.startswith("mailto:") else f"mailto:{text}"}


def cmd_push(args: argparse.Namespace) -> int:
    proficiencies = load_proficiencies(args.proficiency)
    framework = read_framework(args.framework) if args.framework is not None else None
    adapter = XapiAdapter(
        build_client(load_settings(args)), mapping=_mapping(args.mapping), framework=framework
    )
    plan = adapter.plan_proficiency(proficiencies)
    print(plan.to_table())
    if args.plan_json is not None:
        with atomic_write(args.plan_json) as handle:
            handle.write(plan.to_json())
    if args.dry_run or plan.is_empty:
        return 0
    report = adapter.apply(plan)
    found = sum(1 for c in report.applied if report.results[c].get("confirmed") == "found")
    print(
        f"xapi push: {report.writes} statement(s) confirmed by the LRS "
        f"({report.writes - found} posted, {found} it held already)"
    )
    return 0
