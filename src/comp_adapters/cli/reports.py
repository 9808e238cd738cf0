"""Commands of the gap analysis: ``gaps``, ``report`` and ``roles validate|schema``.

Without ``--roles``, ``--people``, ``--framework`` and ``--evidence`` they run on the bundled
customer-support example.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comp_adapters._files import atomic_write
from comp_adapters.cli.core_commands import read_framework
from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.timeutil import format_utc, parse_utc
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence
from comp_adapters.reports.analysis import Analysis, Filters, analyse_evidence
from comp_adapters.reports.files import (
    load_checked_profiles,
    load_people,
    load_previous,
    load_profiles,
)
from comp_adapters.reports.policy import Policy, Viewer
from comp_adapters.reports.profiles import profiles_schema

CSV_COLUMNS = (
    "person",
    "name",
    "team",
    "manager",
    "role",
    "competency",
    "competency_title",
    "target",
    "current",
    "current_points",
    "target_points",
    "gap",
    "priority",
    "met",
    "last_evidence",
    "due",
    "overdue",
    "first_proficient",
    "evidence",
    "recommended",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gaps = subparsers.add_parser(
        "gaps",
        help="skill gaps of each person against their roles, by priority",
        description="Compare role requirements with computed proficiency and list the gaps "
        "by risk-weighted priority (impact x criticality x gap). Default: the bundled example.",
    )
    _inputs(gaps)
    out = gaps.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON records")
    out.add_argument("--csv", action="store_true", help="print CSV rows")
    gaps.add_argument("--all", action="store_true", help="list met requirements too")
    gaps.set_defaults(handler=cmd_gaps)

    report = subparsers.add_parser(
        "report",
        help="write the skill-gap report: one self-contained HTML file",
        description="KPI tiles, a heat map of coverage, the coverage trend and per-learner "
        "learning plans, for one viewer. Default: the bundled example.",
    )
    _inputs(report)
    report.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    report.add_argument("--data", type=Path, help="also write the report's data (JSON) here")
    report.add_argument(
        "--previous", type=Path, help="a previous report's data file: show the change since"
    )
    report.add_argument(
        "--learners", type=int, default=200, help="learner plans listed (most at stake first)"
    )
    report.add_argument("--heatmap", choices=("team", "role"), default="team")
    report.set_defaults(handler=cmd_report)

    roles = subparsers.add_parser("roles", help="role profile files: validate, schema")
    verbs = roles.add_subparsers(dest="roles_command", metavar="VERB", required=True)
    validate = verbs.add_parser("validate", help="check a role profile file")
    validate.add_argument("file", type=Path)
    validate.add_argument("--framework", type=Path, help="also check it against this framework")
    validate.set_defaults(handler=cmd_roles_validate)
    schema = verbs.add_parser("schema", help="print the JSON Schema of role profile files")
    schema.set_defaults(handler=cmd_roles_schema)


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roles", type=Path, help="role profile file (TOML or JSON)")
    parser.add_argument("--people", type=Path, help="people file (CSV, as HR exports it)")
    parser.add_argument("--framework", type=Path, help="framework file (any known format)")
    parser.add_argument("--evidence", type=Path, help="evidence file (JSON lines)")
    parser.add_argument(
        "--project",
        type=Path,
        help="a sync project (comp-adapters.toml): its framework (the released version when "
        "the store holds versions) and every evidence its sources brought into the store, "
        "instead of --framework and --evidence; give --roles and --people with it",
    )
    parser.add_argument("--as-of", type=_instant, help="as of this instant; default: now")
    parser.add_argument(
        "--viewer",
        default="admin",
        help="whom the output is for: learner:ID, manager:ID, admin (default) or auditor",
    )
    parser.add_argument(
        "--count-private", action="store_true", help="let private evidence count (never shown)"
    )
    parser.add_argument("--team", help="only this team")
    parser.add_argument("--role", help="only this role (key)")
    parser.add_argument("--manager", help="only the people this manager manages")


def _instant(text: str) -> datetime:
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _project_inputs(args: argparse.Namespace) -> tuple[Framework, list[Evidence]]:
    """The framework targets of the project receive and the evidence in its store."""
    from comp_adapters.project import load_project  # noqa: PLC0415 - store extra
    from comp_adapters.store import open_store  # noqa: PLC0415
    from comp_adapters.sync.engine import SyncEngine  # noqa: PLC0415

    if args.framework is not None or args.evidence is not None:
        raise ConfigurationError("--project replaces --framework and --evidence: give one way")
    if args.roles is None or args.people is None:
        raise ConfigurationError("--project needs --roles and --people")
    project = load_project(args.project)
    with open_store(project.store_url) as store:
        engine = SyncEngine(project, store)
        governed = engine.governed(
            engine.read_framework(), staging=False, at=args.as_of or datetime.now(UTC)
        )
        if governed.error is not None:
            raise ConfigurationError(governed.error)
        return governed.framework, list(store.iter_evidence())


def _analysis(args: argparse.Namespace) -> Analysis:
    if getattr(args, "project", None) is not None:
        framework, evidence = _project_inputs(args)
        return _analyse(args, args.roles, args.people, framework, evidence)
    given = [args.roles, args.people, args.framework, args.evidence]
    if any(given) and not all(given):
        raise ConfigurationError(
            "give --roles, --people, --framework and --evidence together, or none of them "
            "(the bundled example)"
        )
    if args.roles is None:
        folder = example_dir()
        roles, people = folder / "roles.toml", folder / "people.csv"
        framework_path, evidence_path = folder / "framework.json", folder / "evidence.jsonl"
    else:
        roles, people, framework_path, evidence_path = given
    framework = read_framework(framework_path)
    problems: list[Problem] = []
    evidence = list(iter_evidence(evidence_path, problems=problems))
    if problems:
        raise ValidationError(problems)
    return _analyse(args, roles, people, framework, evidence)


def _analyse(
    args: argparse.Namespace,
    roles: Path,
    people: Path,
    framework: Framework,
    evidence: list[Evidence],
) -> Analysis:
    viewer = Viewer.parse(args.viewer)
    profiles = load_checked_profiles(roles, framework)
    if args.role is not None and args.role not in profiles.by_key:
        raise ConfigurationError(
            f"--role {args.role!r}: no such role ({', '.join(profiles.by_key)})"
        )
    assignments = load_people(people, profiles)
    analysis = analyse_evidence(
        framework,
        profiles,
        assignments,
        evidence,
        as_of=args.as_of or datetime.now(UTC),
        viewer=viewer,
        policy=Policy(count_private=args.count_private),
        filters=Filters(team=args.team, role=args.role, manager=args.manager),
        heatmap_by=getattr(args, "heatmap", "team"),
    )
    for note in analysis.notes:
        print(f"note: {note}", file=sys.stderr)
    return analysis


def cmd_gaps(args: argparse.Namespace) -> int:
    analysis = _analysis(args)
    records = analysis.gap_records(include_met=args.all)
    if args.json:
        json.dump(
            {
                "as_of": format_utc(analysis.as_of),
                "viewer": str(analysis.viewer),
                "filters": analysis.filters.to_data(),
                "gaps": records,
            },
            sys.stdout,
            indent=2,
            ensure_ascii=False,
        )
        sys.stdout.write("\n")
    elif args.csv:
        write_gaps_csv(records, sys.stdout)
    else:
        sys.stdout.write(render_gaps_table(analysis, records))
    return 0


def write_gaps_csv(records: Sequence[dict[str, Any]], handle: Any) -> None:
    """Gap records as CSV: evidence ids and resource URLs joined by spaces."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        row = dict(record)
        row["evidence"] = " ".join(item["id"] for item in record["evidence"])
        row["recommended"] = " ".join(item["url"] for item in record["recommended"])
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])


def render_gaps_table(analysis: Analysis, records: Sequence[dict[str, Any]]) -> str:
    """The gaps by priority, one line each, then the coverage."""
    header = (
        f"{'priority':>8}  {'person':<16} {'role':<12} {'competency':<22} "
        f"{'now -> target':<26} {'due':<10}"
    )
    lines = [header.rstrip()]
    for record in records:
        now = record["current"] or "none"
        due = record["due"][:10] + (" overdue" if record["overdue"] else "")
        lines.append(
            f"{record['priority']:>8.2f}  {record['person']:<16} {record['role']:<12} "
            f"{record['competency_title'][:22]:<22} {now + ' -> ' + record['target']:<26} {due}"
        )
    kpis = analysis.kpis
    coverage = "-" if kpis["coverage"] is None else f"{kpis['coverage'] * 100:.0f}%"
    summary = (
        f"{len(records)} rows; {kpis['open_gaps']} open gaps of {kpis['requirements']} "
        f"requirements, {kpis['people']} people, coverage {coverage} "
        f"(viewer {analysis.viewer})"
    )
    lines += ["", summary]
    return "\n".join(lines) + "\n"


def cmd_report(args: argparse.Namespace) -> int:
    from comp_adapters.reports.render import render_html  # noqa: PLC0415 - needs Jinja2

    if args.learners < 0:
        raise ConfigurationError("--learners must be >= 0")
    previous = load_previous(args.previous) if args.previous else None
    analysis = _analysis(args)
    if previous is not None and previous.get("viewer") != str(analysis.viewer):
        raise ConfigurationError(
            f"--previous was made for viewer {previous.get('viewer')!r}, not {analysis.viewer}"
        )
    data = analysis.data(previous=previous, learners=args.learners)
    html = render_html(data)
    if args.data is not None:
        with atomic_write(args.data) as handle:
            json.dump(data, handle, indent=1, ensure_ascii=False)
            handle.write("\n")
    with atomic_write(args.output) as handle:
        handle.write(html)
    kpis = data["kpis"]
    coverage = "-" if kpis["coverage"] is None else f"{kpis['coverage'] * 100:.0f}%"
    print(
        f"{args.output}: report for {analysis.viewer}, {kpis['people']} people, coverage "
        f"{coverage}, {kpis['open_gaps']} open gaps ({len(html.encode()):,} bytes)"
    )
    return 0


def cmd_roles_validate(args: argparse.Namespace) -> int:
    if args.framework is not None:
        profiles = load_checked_profiles(args.file, read_framework(args.framework))
    else:
        profiles, _ = load_profiles(args.file)
    count = sum(len(role.requirements) for role in profiles.roles)
    print(
        f"{args.file}: {len(profiles.roles)} roles, {count} requirements, "
        f"{len(profiles.resources)} resources, no problems"
    )
    return 0


def cmd_roles_schema(_args: argparse.Namespace) -> int:
    json.dump(profiles_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
