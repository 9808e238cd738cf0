"""``comp-adapters serve``: run the CASE provider and proficiency API; ``serve keys`` and
``serve load`` prepare what it serves.

Settings come from the ``[serve]`` table of the config file, ``COMP_ADAPTERS_SERVE_*``
variables and the flags (in that order of precedence, flags last). Without ``--framework``
it serves the bundled customer-support example (framework, role profiles, people) from the
store; ``comp-adapters serve load`` fills the store from the example's evidence first.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.timeutil import format_utc, parse_utc
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence
from comp_adapters.reports.policy import Policy, Viewer
from comp_adapters.settings import adapter_settings, load_config

SECTION = "serve"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="config file (default comp-adapters.toml)")
    common.add_argument(
        "--store", help="state store URL (default sqlite:///.comp-adapters/state.db)"
    )

    serve = subparsers.add_parser(
        "serve",
        parents=[common],
        help="serve the released frameworks (CASE 1.1) and proficiency (/api/v1) over HTTP",
        description="A read-only CASE 1.1 provider at /ims/case/v1p1 (and v1p0) and a "
        "proficiency API at /api/v1 (OpenAPI at /openapi.json), for HR and talent systems. "
        "Binds 127.0.0.1 unless --host says otherwise. Default: the bundled example.",
    )
    serve.add_argument("--framework", type=Path, action="append", help="framework file to serve")
    serve.add_argument(
        "--released",
        action="store_true",
        default=None,
        help="serve the framework versions released in the store (framework release)",
    )
    serve.add_argument(
        "--public", action="append", help="framework (key) served without credential"
    )
    serve.add_argument("--roles", type=Path, help="role profile file (gaps, coverage)")
    serve.add_argument("--people", type=Path, help="people file (teams and managers)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--jwt-issuer", help="accept JWTs of this issuer")
    serve.add_argument("--jwt-audience", help="audience JWTs must name")
    serve.add_argument("--jwks-url", help="the issuer's JWKS URL")
    serve.add_argument("--jwks-file", type=Path, help="the issuer's JWKS as a file")
    serve.add_argument("--base-uri", help="base of the URIs of CASE objects that have none")
    serve.add_argument("--case-creator", help="creator of CASE documents that name none")
    serve.add_argument(
        "--count-private",
        action="store_true",
        default=None,
        help="private evidence counted towards results (it is never shown)",
    )
    serve.add_argument("--quiet", action="store_true", help="no access log")
    serve.set_defaults(handler=cmd_serve)
    verbs = serve.add_subparsers(dest="serve_command", metavar="VERB")

    keys = verbs.add_parser("keys", help="static API keys (kept hashed in the store)")
    key_verbs = keys.add_subparsers(dest="keys_command", metavar="VERB", required=True)
    add = key_verbs.add_parser("add", parents=[common], help="make a key (printed once)")
    add.add_argument("--name", required=True, help="who or what the key is for")
    add.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=("case.read", "proficiency.read"),
        help="what it may read (repeat for both)",
    )
    add.add_argument(
        "--viewer",
        default="admin",
        help="whom it reads as: admin (default), auditor, manager:ID or learner:ID",
    )
    add.set_defaults(handler=cmd_keys_add)
    listing = key_verbs.add_parser("list", parents=[common], help="list keys (never the keys)")
    listing.set_defaults(handler=cmd_keys_list)
    revoke = key_verbs.add_parser("revoke", parents=[common], help="revoke a key by name")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(handler=cmd_keys_revoke)

    load = verbs.add_parser(
        "load",
        parents=[common],
        help="ingest an evidence file and record computed proficiency (default: the example)",
    )
    load.add_argument("--framework", type=Path, help="framework file (any known format)")
    load.add_argument("--evidence", type=Path, help="evidence file (JSON lines)")
    load.add_argument("--as-of", type=_instant, help="compute as of this instant (default now)")
    load.add_argument("--source", help="source name in the store (default: the file's name)")
    load.add_argument("--count-private", action="store_true", help="let private evidence count")
    load.set_defaults(handler=cmd_load)


def _instant(text: str) -> datetime:
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _settings(args: argparse.Namespace, **flags: Any) -> Any:
    from comp_adapters.serve.settings import ServeSettings  # noqa: PLC0415 - needs the extra

    return adapter_settings(
        ServeSettings,
        SECTION,
        flags={"store": args.store, **flags},
        config=load_config(args.config),
    )


def _store(args: argparse.Namespace) -> Any:
    from comp_adapters.store import open_store  # noqa: PLC0415

    return open_store(_settings(args).store)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: PLC0415

        from comp_adapters.serve.app import app_from_settings  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            f"serving needs the serve extra ({exc.name} is missing): "
            "pip install 'comp-adapters[serve]'"
        ) from None
    flags: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "frameworks": tuple(args.framework) if args.framework else None,
        "released": args.released,
        "public": tuple(args.public) if args.public else None,
        "roles": args.roles,
        "people": args.people,
        "jwt_issuer": args.jwt_issuer,
        "jwt_audience": args.jwt_audience,
        "jwks_url": args.jwks_url,
        "jwks_file": args.jwks_file,
        "base_uri": args.base_uri,
        "case_creator": args.case_creator,
        "count_private": args.count_private,
    }
    settings = _settings(args, **flags)
    if not settings.frameworks and not settings.released:
        folder = example_dir()
        settings = settings.model_copy(
            update={
                "frameworks": (folder / "framework.json",),
                "roles": settings.roles or folder / "roles.toml",
                "people": settings.people or folder / "people.csv",
            }
        )
        print(f"serving the bundled example ({folder})", file=sys.stderr)
    app = app_from_settings(settings)
    access = logging.getLogger("comp_adapters.serve.access")
    access.setLevel(logging.WARNING if args.quiet else logging.INFO)
    if not args.quiet and not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr)
    print(
        f"comp-adapters serve on http://{settings.host}:{settings.port} "
        f"(CASE at /ims/case/v1p1, API at /api/v1, OpenAPI at /openapi.json)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_level="warning")
    return 0


def cmd_keys_add(args: argparse.Namespace) -> int:
    from comp_adapters.serve.keys import ApiKeys  # noqa: PLC0415

    viewer = Viewer.parse(args.viewer)
    with _store(args) as store:
        text, record = ApiKeys(store).add(args.name, scopes=args.scope, viewer=viewer)
    print(text)
    print(
        f"API key {record.name!r} ({' '.join(sorted(record.scopes))}; reads as {viewer}): "
        "shown this once, only its hash is kept",
        file=sys.stderr,
    )
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from comp_adapters.serve.keys import ApiKeys  # noqa: PLC0415

    with _store(args) as store:
        keys = ApiKeys(store).list()
    for key in keys:
        state = "active" if key.revoked_at is None else f"revoked {format_utc(key.revoked_at)}"
        print(
            f"{key.name}\t{' '.join(sorted(key.scopes))}\t{key.viewer}\t"
            f"created {format_utc(key.created_at)}\t{state}"
        )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from comp_adapters.serve.keys import ApiKeys  # noqa: PLC0415

    with _store(args) as store:
        count = ApiKeys(store).revoke(args.name)
    if count == 0:
        raise ConfigurationError(f"no active API key named {args.name!r}")
    print(f"revoked {count} key(s) named {args.name!r}", file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from comp_adapters.serve.load import load_and_compute  # noqa: PLC0415

    if (args.framework is None) != (args.evidence is None):
        raise ConfigurationError("give --framework and --evidence together, or neither")
    folder = example_dir()
    framework_path = args.framework or folder / "framework.json"
    evidence_path = args.evidence or folder / "evidence.jsonl"
    framework = read_framework(framework_path)
    problems: list[Problem] = []
    evidence = list(iter_evidence(evidence_path, problems=problems))
    if problems:
        raise ValidationError(problems)
    with _store(args) as store:
        report = load_and_compute(
            store,
            framework,
            evidence,
            as_of=args.as_of or datetime.now(UTC),
            source=args.source or f"file:{evidence_path.name}",
            policy=Policy(count_private=args.count_private),
        )
    print(
        f"{report.evidence} evidence read, {report.results} results computed, "
        f"{report.changed} changed and recorded ({framework.key})",
        file=sys.stderr,
    )
    return 0
