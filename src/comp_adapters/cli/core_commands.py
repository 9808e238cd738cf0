"""Commands on the core model: compute, validate, convert, schema, formats."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comp_adapters.cli.compute_input import Results, add_engine_arguments, evaluate_evidence_file
from comp_adapters.core.evidence import EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.timeutil import format_utc, parse_utc
from comp_adapters.core.validation import check_framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.native import framework_schema, iter_evidence, proficiencies_to_data
from comp_adapters.plugins import (
    FileFormat,
    all_formats,
    detect_format,
    format_for_output,
    get_format,
)
from comp_adapters.rules.engine import Evaluation
from comp_adapters.rules.proficiency_table import Summary


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compute = subparsers.add_parser(
        "compute",
        help="compute each learner's proficiency from evidence (default: the bundled example)",
        description="Compute proficiency per learner and competency. Without --framework and "
        "--evidence it runs on the bundled customer-support example.",
    )
    compute.add_argument("--framework", type=Path, help="framework file (any known format)")
    compute.add_argument("--evidence", type=Path, help="evidence file (JSON lines)")
    compute.add_argument(
        "--as-of", type=_instant, help="compute as of this instant (ISO 8601); default: now"
    )
    compute.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="KIND=W",
        help="weight of an evidence kind in mean-based methods (0 leaves it out); repeatable",
    )
    compute.add_argument(
        "--min-evidence", type=int, default=1, help="evidence needed before a rating (default 1)"
    )
    compute.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_engine_arguments(compute)
    compute.set_defaults(handler=cmd_compute)

    validate = subparsers.add_parser(
        "validate",
        help="check a framework or evidence file and report every problem",
        description="Report every problem with its location; exit 1 if there is any error.",
    )
    validate.add_argument("file", type=Path)
    validate.add_argument("--from", dest="from_format", help="framework format (default: detect)")
    validate.set_defaults(handler=cmd_validate)

    convert = subparsers.add_parser(
        "convert",
        help="convert a framework between file formats",
        description="Read INPUT in one format and write OUTPUT in another. Bad input writes "
        "nothing. Formats: " + ", ".join(f.name for f in all_formats()) + ".",
    )
    convert.add_argument("input", type=Path)
    convert.add_argument("-o", "--output", type=Path, required=True)
    convert.add_argument("--from", dest="from_format", help="input format (default: detect)")
    convert.add_argument("--to", dest="to_format", help="output format (default: by suffix)")
    for fmt in all_formats():
        for option in fmt.options:
            convert.add_argument(
                f"--{option.name}",
                dest=f"opt_{option.name.replace('-', '_')}",
                choices=option.choices or None,
                default=option.default,
                help=f"({fmt.name}) {option.help}",
            )
    convert.set_defaults(handler=cmd_convert)

    schema = subparsers.add_parser("schema", help="print the JSON Schema of the native format")
    schema.set_defaults(handler=cmd_schema)

    formats = subparsers.add_parser("formats", help="list the known file formats")
    formats.set_defaults(handler=cmd_formats)


def _instant(text: str) -> datetime:
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def read_framework(path: Path, from_format: str | None = None) -> Framework:
    """Read a framework file in a named or detected format."""
    fmt = get_format(from_format) if from_format else detect_format(path)
    return fmt.read(path)


def _parse_weights(items: list[str]) -> dict[EvidenceKind | str, float]:
    weights: dict[EvidenceKind | str, float] = {}
    for item in items:
        kind, sep, value = item.partition("=")
        try:
            weights[EvidenceKind(kind.strip())] = float(value)
        except ValueError:
            kinds = ", ".join(k.value for k in EvidenceKind)
            raise ConfigurationError(
                f"--weight {item!r}: expected KIND=NUMBER with KIND one of {kinds}"
            ) from None
        if not sep:
            raise ConfigurationError(f"--weight {item!r}: expected KIND=NUMBER")
    return weights


def cmd_compute(args: argparse.Namespace) -> int:
    if (args.framework is None) != (args.evidence is None):
        raise ConfigurationError("give both --framework and --evidence, or neither")
    if args.framework is None:
        folder = example_dir()
        framework_path, evidence_path = folder / "framework.json", folder / "evidence.jsonl"
    else:
        framework_path, evidence_path = args.framework, args.evidence
    framework = read_framework(framework_path)
    as_of = args.as_of or datetime.now(UTC)
    result = evaluate_evidence_file(
        framework,
        evidence_path,
        as_of=as_of,
        kind_weights=_parse_weights(args.weight) or None,
        min_evidence=args.min_evidence,
        engine=args.engine,
        scheduler=args.scheduler,
        quiet=args.quiet,
    )
    if args.json:
        json.dump(_compute_json(framework, as_of, result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_table(framework, as_of, result))
    return 0


def _compute_json(framework: Framework, as_of: datetime, result: Results) -> dict[str, Any]:
    return {
        "framework": framework.key,
        "version": framework.version,
        "as_of": format_utc(as_of),
        "evidence_used": result.used,
        "skipped": dict(sorted(result.skipped.items())),
        "proficiencies": (
            proficiencies_to_data(result.proficiencies)
            if isinstance(result, Evaluation)
            else result.to_json_records()
        ),
    }


def render_table(framework: Framework, as_of: datetime, result: Results) -> str:
    """Each learner's proficiency per competency, indented by the hierarchy."""
    version = f" v{framework.version}" if framework.version else ""
    lines = [f"{framework.title} ({framework.key}{version}) as of {format_utc(as_of)}", ""]
    by_learner: dict[str, dict[str, Proficiency | Summary]] = {}
    items = result.proficiencies if isinstance(result, Evaluation) else result.summaries()
    for item in items:
        by_learner.setdefault(item.learner, {})[item.competency] = item
    order = list(framework.walk())
    names = [("  " * (framework.depth(c.key) - 1)) + c.title for c in order]
    width = max([len(n) for n in names] + [10])
    level_names = {c.key: framework.scale_for(c.key).by_key for c in order}
    header = f"  {'competency':<{width}}  {'level':<14} {'score':>6}  proficient  method"
    for learner in sorted(by_learner):
        lines.append(f"{learner}")
        lines.append(header)
        for competency, name in zip(order, names, strict=True):
            found = by_learner[learner].get(competency.key)
            if found is None:
                why = "rule not met" if competency.rollup else "no evidence"
                lines.append(f"  {name:<{width}}  {'-':<14} {'':>6}  {'':<10}  {why}")
                continue
            level = level_names[competency.key][found.level].name if found.level else "-"
            score = f"{found.score:.2f}" if found.score is not None else ""
            flag = "yes" if found.proficient else "no"
            if found.review_requested:
                flag += " (review)"
            lines.append(f"  {name:<{width}}  {level:<14} {score:>6}  {flag:<10}  {found.method}")
        lines.append("")
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.skipped.items()))
    lines.append(
        f"{len(by_learner)} learners, {result.used} evidence used"
        + (f"; skipped: {skipped}" if skipped else "")
    )
    return "\n".join(lines) + "\n"


def cmd_validate(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        problems: list[Problem] = []
        count = sum(1 for _ in iter_evidence(path, problems=problems))
        if problems:
            raise ValidationError(problems)
        print(f"{path}: {count} evidence records, no problems")
        return 0
    fmt = get_format(args.from_format) if args.from_format else detect_format(path)
    framework, read_warnings = fmt.read_reporting(path)
    warnings = [p.with_file(str(path)) for p in [*read_warnings, *check_framework(framework)]]
    for warning in warnings:
        print(warning)
    print(
        f"{path}: framework {framework.key!r} with {len(framework.competencies)} "
        f"competencies, no errors"
    )
    return 0


def _format_options(args: argparse.Namespace, fmt: FileFormat) -> dict[str, str]:
    options: dict[str, str] = {}
    for option in fmt.options:
        value = getattr(args, f"opt_{option.name.replace('-', '_')}", None)
        if value is not None:
            options[option.name.replace("-", "_")] = value
    return options


def print_warnings(problems: list[Problem]) -> None:
    """Print located warnings to stderr, one a line (the output stays clean for pipes)."""
    for problem in problems:
        print(problem, file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    source = get_format(args.from_format) if args.from_format else detect_format(args.input)
    # A shared suffix (.json, .csv) resolves to native, never silently to the input's own
    # format: converting means changing format; --to says which when native is not meant.
    target = get_format(args.to_format) if args.to_format else format_for_output(args.output)
    if args.output.resolve() == args.input.resolve():
        raise ConfigurationError("output would overwrite the input; choose another -o")
    framework, read_warnings = source.read_reporting(args.input)
    write_warnings = target.write_reporting(framework, args.output, **_format_options(args, target))
    print_warnings([*read_warnings, *write_warnings])
    print(
        f"{args.input} ({source.name}) -> {args.output} ({target.name}): "
        f"{len(framework.competencies)} competencies"
    )
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    json.dump(framework_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_formats(_args: argparse.Namespace) -> int:
    for fmt in all_formats():
        print(f"{fmt.name:<12} {', '.join(fmt.suffixes):<20} {fmt.description}")
    return 0
