"""Past one machine: evidence as Parquet partitioned by learner, evaluated on Dask.

Needs the ``scale`` extra (pyarrow, dask.distributed): ``pip install 'comp-adapters[scale]'``.

- :func:`write_evidence` appends an :class:`~comp_adapters.rules.EvidenceTable` to a dataset
  folder, each row in the partition its learner hashes to (:mod:`.layout`);
- :func:`evaluate_dataset` evaluates every partition on a Dask cluster (or
  :func:`evaluate_dataset_here` in this process) and writes the results as Parquet;
- :func:`read_results` reads them back as one Arrow table;
- :func:`evaluate_file_on_dask` is ``comp-adapters compute --engine dask``: a JSON-lines file
  through a temporary dataset.

See docs/scaling.md for how a deployment of millions of learners uses this.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from comp_adapters.core.evidence import EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import Problem
from comp_adapters.evidence_reader import Progress, read_evidence_table
from comp_adapters.rules.engine import Evaluation
from comp_adapters.scale.dask_engine import (
    DatasetOutcome,
    PartitionOutcome,
    evaluate_dataset,
    evaluate_dataset_here,
)
from comp_adapters.scale.layout import read_evidence, read_results, write_evidence

__all__ = [
    "DatasetOutcome",
    "PartitionOutcome",
    "evaluate_dataset",
    "evaluate_dataset_here",
    "evaluate_file_on_dask",
    "read_evidence",
    "read_results",
    "write_evidence",
]


def evaluate_file_on_dask(
    framework: Framework,
    path: Path,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
    scheduler: str | None = None,
    problems: list[Problem] | None = None,
    progress: Progress | None = None,
    partitions: int = 16,
) -> Evaluation:
    """Read a JSON-lines file, lay it out as a temporary partitioned dataset, evaluate it
    on Dask (``scheduler``, else a local cluster) and return the results in
    :func:`~comp_adapters.rules.evaluate`'s order. Bad lines go to ``problems`` (or raise)
    as with :func:`~comp_adapters.evidence_reader.read_evidence_table`; with problems
    found nothing is evaluated."""
    table = read_evidence_table(path, problems=problems, progress=progress)
    if problems:
        return Evaluation(proficiencies=[])
    with tempfile.TemporaryDirectory(prefix="comp-adapters-") as folder:
        write_evidence(table, folder, partitions=partitions)
        outcome = evaluate_dataset(
            framework,
            folder,
            as_of=as_of,
            kind_weights=kind_weights,
            min_evidence=min_evidence,
            scheduler=scheduler,
        )
        records = read_results(folder).to_pylist()
    order = {competency.key: n for n, competency in enumerate(framework.walk())}
    records.sort(key=lambda r: (r["learner"], order[r["competency"]]))
    return Evaluation(
        proficiencies=[Proficiency.model_validate(r) for r in records],
        skipped=outcome.skipped,
        used=outcome.used,
    )
