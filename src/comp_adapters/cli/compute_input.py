"""How ``compute`` reads its evidence: streamed into columns, never a list of objects.

With NumPy (the ``fast`` extra) the file is read straight into an
:class:`~comp_adapters.rules.EvidenceTable` and evaluated column-wise (about 100 bytes of
memory per line); without it, evidence objects stream one at a time through the row engine,
which keeps only each piece's scale points. ``--engine dask`` runs the evaluation on a Dask
cluster instead (:mod:`comp_adapters.scale`). Long reads show their progress on standard
error unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from comp_adapters.cli.progress import ProgressReporter
from comp_adapters.core.evidence import EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.native import iter_evidence
from comp_adapters.rules.engine import Evaluation, evaluate_detailed, evaluate_table
from comp_adapters.rules.proficiency_table import ProficiencyTable

Results = Evaluation | ProficiencyTable
"""What ``compute`` renders: the row engine's objects or the columnar engine's table."""


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="where to evaluate: this process (default) or a Dask cluster",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler to use with --engine dask (default: start a local cluster)",
    )
    parser.add_argument(
        "--jobs",
        type=at_least_one,
        metavar="N",
        help="processes reading a large evidence file with --engine local (default: the "
        "usable cores; 1: this process only)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress on standard error for long runs"
    )


def at_least_one(text: str) -> int:
    """An argparse type: a whole number of at least 1 (``--min-evidence``, ``--jobs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def evaluate_evidence_file(
    framework: Framework,
    path: Path,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None,
    min_evidence: int,
    engine: str = "local",
    scheduler: str | None = None,
    quiet: bool = False,
    jobs: int | None = None,
) -> Results:
    """Evaluate the evidence of a JSON-lines file; every bad line is reported at once."""
    if scheduler is not None and engine != "dask":
        raise ConfigurationError("--scheduler needs --engine dask")
    if jobs is not None and engine != "local":
        raise ConfigurationError("--jobs is for --engine local (a Dask cluster has its workers)")
    progress = None if quiet else ProgressReporter(f"reading {path.name}")
    problems: list[Problem] = []
    try:
        if engine == "dask":
            from comp_adapters.scale import evaluate_file_on_dask  # noqa: PLC0415 - [scale]

            evaluation = evaluate_file_on_dask(
                framework,
                path,
                as_of=as_of,
                kind_weights=kind_weights,
                min_evidence=min_evidence,
                scheduler=scheduler,
                problems=problems,
                progress=progress,
            )
            if problems:
                raise ValidationError(problems)
            return evaluation
        if importlib.util.find_spec("numpy") is not None:
            from comp_adapters.evidence_reader import read_evidence_table  # noqa: PLC0415

            evidence = read_evidence_table(path, problems=problems, progress=progress, workers=jobs)
            if problems:
                raise ValidationError(problems)
            return evaluate_table(
                framework,
                evidence,
                as_of=as_of,
                kind_weights=kind_weights,
                min_evidence=min_evidence,
            )
        result = evaluate_detailed(
            framework,
            iter_evidence(path, problems=problems),
            as_of=as_of,
            kind_weights=kind_weights,
            min_evidence=min_evidence,
        )
        if problems:
            raise ValidationError(problems)
        return result
    finally:
        if progress is not None:
            progress.close()
