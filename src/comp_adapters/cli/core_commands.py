"""Commands on the core model: compute, validate, convert, schema, formats."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from comp_adapters._files import is_stdout, refuse_overwriting_inputs, writable_target
from comp_adapters._gc import gc_paused
from comp_adapters.cli.compute_input import (
    Results,
    add_engine_arguments,
    at_least_one,
    evaluate_evidence_file,
)
from comp_adapters.core.evidence import EvidenceKind
from comp_adapters.core.evidence_check import EvidenceChecker
from comp_adapters.core.framework import Framework
from comp_adapters.core.losses import losses
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.timeutil import format_utc, parse_user_instant
from comp_adapters.core.validation import check_framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError, problem_lines
from comp_adapters.examples import example_dir
from comp_adapters.native import framework_schema, iter_numbered_evidence, proficiencies_to_data
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
        "--as-of",
        type=_instant,
        help="compute as of this instant: ISO 8601 with a zone (2026-11-01T09:00:00Z), or a "
        "date, meaning 00:00 UTC (2026-11-01); default: now",
    )
    compute.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="KIND=W",
        help="weight of an evidence kind in mean-based methods (0 leaves it out); repeatable",
    )
    compute.add_argument(
        "--min-evidence",
        type=at_least_one,
        default=1,
        help="evidence needed before a rating (default 1)",
    )
    compute.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compute.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when evidence names a competency or level the framework lacks, "
        "instead of warning and leaving it out",
    )
    add_engine_arguments(compute)
    compute.set_defaults(handler=cmd_compute)

    validate = subparsers.add_parser(
        "validate",
        help="check a framework or evidence file and report every problem",
        description="Report every problem with its location; exit 1 if there is any error.",
    )
    validate.add_argument("file", type=Path, help="a framework file, or evidence (JSON lines)")
    validate.add_argument("--from", dest="from_format", help="framework format (default: detect)")
    validate.add_argument(
        "--framework",
        type=Path,
        help="FILE is evidence: also check each record's competency and level against this "
        "framework",
    )
    validate.set_defaults(handler=cmd_validate)

    formats = all_formats()  # once: each call scans the entry points
    convert = subparsers.add_parser(
        "convert",
        help="convert a framework between file formats",
        description="Read INPUT in one format and write OUTPUT in another. Bad input writes "
        "nothing. Formats: " + ", ".join(f.name for f in formats) + ".",
    )
    convert.add_argument("input", type=Path)
    convert.add_argument(
        "-o", "--output", type=Path, required=True, help="output file, or - for standard output"
    )
    convert.add_argument("--from", dest="from_format", help="input format (default: detect)")
    convert.add_argument("--to", dest="to_format", help="output format (default: by suffix)")
    convert.add_argument(
        "--force",
        action="store_true",
        help="replace OUTPUT even when the conversion holds less than the file there now",
    )
    convert.add_argument(
        "--excel-safe",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="CSV formats: neutralise cells starting with = + - @, tab or CR (formula "
        "injection) by a leading '; default: on when writing a BOM for Excel, off for files "
        "meant for an LMS import (the prefix would become data)",
    )
    declared: set[str] = {EXCEL_SAFE}
    for fmt in formats:
        for option in fmt.options:
            if option.name in declared:
                continue
            declared.add(option.name)
            convert.add_argument(
                f"--{option.name}",
                dest=f"opt_{option.name.replace('-', '_')}",
                choices=option.choices or None,
                default=option.default,
                help=f"({fmt.name}) {option.help}",
            )
    convert.set_defaults(handler=cmd_convert)

    schema = subparsers.add_parser("schema", help="print the JSON Schema of the native format")
    schema.add_argument(
        "--project", action="store_true", help="the schema of comp-adapters.toml instead"
    )
    schema.set_defaults(handler=cmd_schema)

    listing = subparsers.add_parser("formats", help="list the known file formats")
    listing.set_defaults(handler=cmd_formats)


EXCEL_SAFE = "excel-safe"
"""The writer option of CSV formats that neutralises formula-like cells."""
Result = TypeVar("Result")


def _instant(text: str) -> datetime:
    try:
        return parse_user_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _plugin_call(fmt: FileFormat, operation: str, call: Callable[[], Result]) -> Result:
    """Run a format's reader or writer; one that does not implement it is a usage error
    naming the format and the module it comes from (a plug-in, perhaps)."""
    try:
        return call()
    except NotImplementedError:
        module = getattr(fmt.read if operation == "reading" else fmt.write, "__module__", "?")
        raise ConfigurationError(
            f"format {fmt.name!r} (from {module}) does not implement {operation}"
        ) from None


def read_framework(path: Path, from_format: str | None = None) -> Framework:
    """Read a framework file in a named or detected format."""
    fmt = get_format(from_format) if from_format else detect_format(path)
    return _plugin_call(fmt, "reading", lambda: fmt.read(path))


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
        if not 0 <= weights[EvidenceKind(kind.strip())] < float("inf"):
            raise ConfigurationError(f"--weight {item!r}: a weight is 0 or more (0 leaves it out)")
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
    weights = _parse_weights(args.weight) or None
    # Evaluating and rendering locally make many objects and no cycles: see _gc (a Dask
    # client runs an event loop in this process, so it keeps the collector).
    with gc_paused() if args.engine == "local" else nullcontext():
        result = evaluate_evidence_file(
            framework,
            evidence_path,
            as_of=as_of,
            kind_weights=weights,
            min_evidence=args.min_evidence,
            engine=args.engine,
            scheduler=args.scheduler,
            quiet=args.quiet,
            jobs=args.jobs,
        )
        _report_uncountable(framework, evidence_path, result, strict=args.strict)
        if args.json:
            json.dump(_compute_json(framework, as_of, result), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(render_table(framework, as_of, result))
    return 0


def _report_uncountable(
    framework: Framework, evidence_path: Path, result: Results, *, strict: bool
) -> None:
    """Name the evidence that cannot count (a competency or level the framework lacks).

    The engine counts such evidence as skipped while it computes, column-wise; only when it
    found some is the file read again, line by line, to say where each one is — so the
    usual run pays nothing for the check."""
    if not (result.skipped.get("unknown competency") or result.skipped.get("unknown level")):
        return
    checker = EvidenceChecker(
        framework, source=str(evidence_path), severity="error" if strict else "warning"
    )
    for line, item in iter_numbered_evidence(evidence_path):
        checker.check(line, item)
    if strict:
        raise ValidationError(checker.problems, summary=_cannot_count(checker.problems))
    print(f"warning: {_cannot_count(checker.problems)}, left out:", file=sys.stderr)
    for text in problem_lines(checker.problems):
        print(f"  {text}", file=sys.stderr)


def _cannot_count(problems: list[Problem]) -> str:
    count = len({p.line for p in problems})
    return f"{count} evidence record{'s' if count != 1 else ''} cannot count"


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
    header = f"  {'competency':<{width}}  {'level':<14} {'score':>6}  proficient  method"
    # What does not change from learner to learner is formatted once per competency.
    rows = [
        (
            competency.key,
            f"  {name:<{width}}  ",
            f"  {name:<{width}}  {'-':<14} {'':>6}  {'':<10}  "
            + ("rule not met" if competency.rollup else "no evidence"),
            framework.scale_for(competency.key).by_key,
        )
        for competency, name in zip(order, names, strict=True)
    ]
    flags = {(True, False): "yes", (False, False): "no"}
    flags |= {(True, True): "yes (review)", (False, True): "no (review)"}
    append = lines.append
    for learner in sorted(by_learner):
        append(learner)
        append(header)
        results = by_learner[learner]
        for key, prefix, absent, levels in rows:
            found = results.get(key)
            if found is None:
                append(absent)
                continue
            level = levels[found.level].name if found.level else "-"
            score = f"{found.score:.2f}" if found.score is not None else ""
            flag = flags[bool(found.proficient), bool(found.review_requested)]
            append(f"{prefix}{level:<14} {score:>6}  {flag:<10}  {found.method}")
        append("")
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.skipped.items()))
    lines.append(
        f"{len(by_learner)} learners, {result.used} evidence used"
        + (f"; skipped: {skipped}" if skipped else "")
    )
    return "\n".join(lines) + "\n"


def cmd_validate(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.is_dir():
        raise ConfigurationError(f"{path}: is a folder; give a file")
    if path.suffix.lower() in (".jsonl", ".ndjson") or args.framework is not None:
        return _validate_evidence(path, args.framework)
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


def _validate_evidence(path: Path, framework_path: Path | None) -> int:
    """Every line that is not valid evidence, and (with a framework) every record whose
    competency or level the framework lacks, with file:line and the closest valid key."""
    framework = read_framework(framework_path) if framework_path is not None else None
    problems: list[Problem] = []
    numbered = iter_numbered_evidence(path, problems=problems)
    if framework is None:
        count = sum(1 for _ in numbered)
        checked = ""
    else:
        checker = EvidenceChecker(framework, source=str(path))
        count = sum(1 for _ in checker.watch(numbered))
        problems.extend(checker.problems)
        checked = f" against framework {framework.key!r}"
    if problems:
        raise ValidationError(sorted(problems, key=lambda p: p.line or 0))
    print(f"{path}: {count} evidence records{checked}, no problems")
    return 0


def _format_options(args: argparse.Namespace, fmt: FileFormat) -> dict[str, str]:
    options: dict[str, str] = {}
    for option in fmt.options:
        if option.name == EXCEL_SAFE:
            if args.excel_safe is not None:
                options["excel_safe"] = "yes" if args.excel_safe else "no"
            continue
        value = getattr(args, f"opt_{option.name.replace('-', '_')}", None)
        if value is not None:
            options[option.name.replace("-", "_")] = value
    return options


def print_warnings(problems: list[Problem]) -> None:
    """Print located warnings to stderr, one a line (the output stays clean for pipes)."""
    for problem in problems:
        print(problem, file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    output: Path = args.output
    if is_stdout(output) and not args.to_format:
        raise ConfigurationError("-o - (standard output) needs --to FORMAT")
    source = get_format(args.from_format) if args.from_format else detect_format(args.input)
    # A shared suffix (.json, .csv) resolves to native, never silently to the input's own
    # format: converting means changing format; --to says which when native is not meant.
    target = get_format(args.to_format) if args.to_format else format_for_output(args.output)
    refuse_overwriting_inputs(output, args.input)
    if not is_stdout(output):
        writable_target(output)
    framework, read_warnings = _plugin_call(
        source, "reading", lambda: source.read_reporting(args.input)
    )
    options = _format_options(args, target)
    converted = _converted(framework, target, options, args.output)
    lost = losses(framework, converted) if converted is not None else []
    if not is_stdout(output) and Path(output).exists() and not args.force:
        _refuse_poorer(Path(output), converted, target)
    write_warnings = _plugin_call(
        target, "writing", lambda: target.write_reporting(framework, output, **options)
    )
    print_warnings([*read_warnings, *write_warnings])
    for kind in lost:
        print(f"warning: {target.name} cannot hold {kind}: left out", file=sys.stderr)
    print(
        f"{args.input} ({source.name}) -> {args.output} ({target.name}): "
        f"{len(framework.competencies)} competencies",
        file=sys.stderr if is_stdout(output) else sys.stdout,
    )
    return 0


def _converted(
    framework: Framework, target: FileFormat, options: dict[str, str], output: Path
) -> Framework | None:
    """What the converted file reads back as (``None`` when the format cannot be read)."""
    with tempfile.TemporaryDirectory(prefix="comp-adapters-") as folder:
        trial = Path(folder) / (output.name if not is_stdout(output) else "out")
        _plugin_call(target, "writing", lambda: target.write_reporting(framework, trial, **options))
        try:
            return target.read(trial)
        except (ValidationError, ConfigurationError, NotImplementedError):
            return None


def _refuse_poorer(output: Path, converted: Framework | None, target: FileFormat) -> None:
    """Refuse to replace a file holding more than the conversion does (without --force)."""
    try:
        existing = read_framework(output)
    except (ValidationError, ConfigurationError):
        return  # not a framework we can read: nothing to compare
    poorer = losses(existing, converted) if converted is not None else ["its content"]
    if poorer:
        raise ConfigurationError(
            f"{output}: holds more than the {target.name} conversion would ("
            + "; ".join(poorer)
            + "); choose another output, or give --force to replace it"
        )


def cmd_schema(args: argparse.Namespace) -> int:
    if getattr(args, "project", False):
        from comp_adapters.project import project_schema  # noqa: PLC0415 - only when asked

        json.dump(project_schema(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    json.dump(framework_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_formats(_args: argparse.Namespace) -> int:
    for fmt in all_formats():
        print(f"{fmt.name:<12} {', '.join(fmt.suffixes):<20} {fmt.description}")
    return 0
