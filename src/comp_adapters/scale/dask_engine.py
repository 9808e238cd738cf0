"""Evaluate a partitioned evidence dataset on a Dask cluster, one task per partition.

Each task reads one partition's Parquet files into an
:class:`~comp_adapters.rules.EvidenceTable`, runs the columnar engine
(:func:`~comp_adapters.rules.evaluate_table`) and writes that partition's results as
Parquet. Partitions hash by learner, so each holds all of a learner's evidence and the
results are exactly those of one process evaluating everything (the test suite checks this
on a two-worker cluster). Workers must be able to read and write the dataset's folder: the
same machine, or storage every worker mounts.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from comp_adapters.core.evidence import EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.rules.engine import evaluate_table
from comp_adapters.scale.layout import (
    evidence_partitions,
    read_evidence,
    result_path,
    results_to_arrow,
)


@dataclass(frozen=True, slots=True)
class PartitionOutcome:
    """What one task did: rows read, results written, evidence used and skipped."""

    partition: str
    rows: int
    results: int
    used: int
    skipped: dict[str, int]
    peak_mb: float
    """Peak resident memory of the process that ran the task, so far."""


@dataclass(frozen=True, slots=True)
class DatasetOutcome:
    """What :func:`evaluate_dataset` did, summed over the partitions."""

    root: Path
    partitions: int
    rows: int
    results: int
    used: int
    skipped: Counter[str] = field(default_factory=Counter)
    peak_worker_mb: float = 0.0


def evaluate_partition(
    framework: Framework,
    partition: str,
    root: str,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None,
    min_evidence: int,
) -> PartitionOutcome:
    """Evaluate one partition and write its results (atomically); runs on a worker."""
    table = read_evidence(Path(partition))
    results = evaluate_table(
        framework, table, as_of=as_of, kind_weights=kind_weights, min_evidence=min_evidence
    )
    target = result_path(Path(root), Path(partition))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    pq.write_table(results_to_arrow(results), temporary)
    temporary.replace(target)
    return PartitionOutcome(
        partition=Path(partition).name,
        rows=len(table),
        results=len(results),
        used=results.used,
        skipped=dict(results.skipped),
        peak_mb=_peak_mb(),
    )


def _peak_mb() -> float:
    """Peak resident memory of this process, in MB: Linux's VmHWM (the high-water mark of
    this program's own memory; ``ru_maxrss`` would also count the parent's memory at the
    fork that started a spawned worker), else ``ru_maxrss``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def evaluate_dataset(
    framework: Framework,
    root: str | Path,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
    client: Any = None,
    scheduler: str | None = None,
    workers: int = 2,
) -> DatasetOutcome:
    """Evaluate every evidence partition under ``root`` on Dask; results go to
    ``root/results``. Uses ``client`` (a ``distributed.Client``) if given, else connects to
    ``scheduler``, else starts a local cluster of ``workers`` processes on 127.0.0.1.

    This is what the sync engine calls for a project whose ``[compute] engine`` is
    ``"dask"``.
    """
    base = Path(root)
    partitions = evidence_partitions(base)
    with _client(client, scheduler, workers) as dask:
        futures = dask.map(
            evaluate_partition,
            [framework] * len(partitions),
            [str(p) for p in partitions],
            [str(base)] * len(partitions),
            [as_of] * len(partitions),
            [kind_weights] * len(partitions),
            [min_evidence] * len(partitions),
            pure=False,
        )
        outcomes: list[PartitionOutcome] = dask.gather(futures)
    return summarize(base, outcomes)


def evaluate_dataset_here(
    framework: Framework,
    root: str | Path,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> DatasetOutcome:
    """:func:`evaluate_dataset` in this process, partition after partition (no Dask)."""
    base = Path(root)
    outcomes = [
        evaluate_partition(framework, str(p), str(base), as_of, kind_weights, min_evidence)
        for p in evidence_partitions(base)
    ]
    return summarize(base, outcomes)


def summarize(root: Path, outcomes: Sequence[PartitionOutcome]) -> DatasetOutcome:
    skipped: Counter[str] = Counter()
    for outcome in outcomes:
        skipped.update(outcome.skipped)
    return DatasetOutcome(
        root=root,
        partitions=len(outcomes),
        rows=sum(o.rows for o in outcomes),
        results=sum(o.results for o in outcomes),
        used=sum(o.used for o in outcomes),
        skipped=skipped,
        peak_worker_mb=max((o.peak_mb for o in outcomes), default=0.0),
    )


@contextlib.contextmanager
def _client(client: Any, scheduler: str | None, workers: int) -> Iterator[Any]:
    """The client to use; a cluster or connection started here is closed afterwards."""
    if client is not None:
        yield client
        return
    try:
        from distributed import Client  # noqa: PLC0415 - the [scale] extra
    except ImportError:
        raise ConfigurationError(
            "the dask engine needs the scale extra: pip install 'comp-adapters[scale]'"
        ) from None
    if scheduler is not None:
        try:
            connected = Client(scheduler, timeout=10)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot reach the Dask scheduler {scheduler}: {exc}"
            ) from None
        with connected:
            yield connected
        return
    with local_client(workers) as local:
        yield local


@contextlib.contextmanager
def local_client(workers: int = 2) -> Iterator[Any]:
    """A client of a new local cluster: ``workers`` processes of one thread, on 127.0.0.1,
    no dashboard (the scheduler's HTTP routes on a free loopback port, not 8787, so local
    clusters of several runs at once do not collide); closed on exit."""
    from distributed import Client, LocalCluster  # noqa: PLC0415 - the [scale] extra

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
