"""The store's evidence ledger copied into the Parquet layout, unit by unit, for Dask.

The sync engine with ``[compute] engine = "dask"`` keeps this dataset beside its store::

    ROOT/dataset.json                                     {"format": 1, "partitions": N}
    ROOT/evidence/part=00007/u000000000041-000000000057.00000.parquet   (a file per chunk)
    ROOT/exports/u000000000041-000000000057.json          the unit's commit marker
    ROOT/results/run=12/part=00007.parquet                one run's results (then removed)

It is the layout of :mod:`comp_adapters.scale.layout` (the same CRC-32 partitions by
learner, the same evidence columns) with one more column, ``changed_in``: the store ingest
that last changed the row. A *unit* ``u<after>-<until>`` holds the ledger rows changed by
ingests after ``after``, exported once ingest ``until`` had committed; its partition files
are written first (each atomically) and its marker last, so a unit without a marker is an
orphan of an interrupted export and readers ignore it.

Why a copy of the ledger and not of the batches a source sent: the store already decides
which copy of an evidence id stands (a later-recorded copy replaces an earlier one, a void
sticks, a withdrawal waits as a tombstone for its target). Rows copied *after* the store
transaction committed carry the outcome of those rules, so the dataset needs one rule of
its own, applied when a partition is read: **per evidence id the row with the highest
``changed_in`` stands, and a voided one counts for nothing.** A batch that never committed
never reaches the dataset, so a run killed between the two is not counted twice: its
evidence is read again from the source, committed, and copied then.

Evidence that moved to another learner (a later copy of the id names someone else) leaves
its old row in another partition; the store records the old pair (``pair_touches``), and a
unit writes, into each partition an old learner hashes to, a voided *marker* row per id of
the unit that now lives elsewhere, with that id's ``changed_in``, so it supersedes the old
row there. The markers are a superset (they cover every id the unit moved, maybe more);
markers of ids that never were in the partition change nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.rules.engine import evaluate_table
from comp_adapters.scale.layout import (
    EVIDENCE,
    EVIDENCE_SCHEMA,
    RESULT_SCHEMA,
    RESULTS,
    evidence_from_arrow,
    partition_dir,
    partition_of,
    results_to_arrow,
)

FORMAT: Final = 1
EXPORTS: Final = "exports"
META: Final = "dataset.json"
LEDGER_SCHEMA: Final = EVIDENCE_SCHEMA.append(pa.field("changed_in", pa.int64()))
ORPHAN_AGE: Final = 3600.0
"""Seconds after which a unit file without a marker is removed (a younger one may belong
to an export still running in another worker)."""
_US_UTC: Final = pa.timestamp("us", tz="UTC")
CHUNK_ROWS: Final = 200_000
"""Ledger rows held in memory at a time while a unit is written (a file per chunk)."""

Pair = tuple[str, str]


def unit_name(after: int, until: int) -> str:
    return f"u{after:012d}-{until:012d}"


def _unit_range(name: str) -> tuple[int, int] | None:
    after, sep, until = name.removeprefix("u").partition("-")
    if not (name.startswith("u") and sep and after.isdigit() and until.isdigit()):
        return None
    return int(after), int(until)


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """What one :meth:`LedgerDataset.export` wrote."""

    unit: str | None
    """The unit written (``None``: the dataset was up to date)."""
    rows: int = 0
    markers: int = 0


class LedgerDataset:
    """A dataset folder laid out as the module docstring says."""

    def __init__(self, root: Path, *, partitions: int) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self.root = root
        self.partitions = partitions

    # -- the folder ---------------------------------------------------------------------

    def check(self) -> None:
        """Create the folder, or check it was laid out with this partition count."""
        meta = self.root / META
        try:
            found = json.loads(meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                _write_atomically(
                    meta, json.dumps({"format": FORMAT, "partitions": self.partitions})
                )
            except OSError as exc:
                raise ConfigurationError(
                    f"[compute] dataset {self.root}: cannot create it: {exc.strerror}"
                ) from None
            return
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{meta}: not a readable dataset description: {exc}") from None
        if not isinstance(found, dict) or found.get("format") != FORMAT:
            raise ConfigurationError(f"{meta}: not a dataset of format {FORMAT}")
        if found.get("partitions") != self.partitions:
            raise ConfigurationError(
                f"{meta}: the dataset has {found.get('partitions')} partitions, "
                f"[compute] partitions = {self.partitions}; it is a copy of the store's "
                "ledger: remove the folder and the next sync writes it again"
            )

    def committed(self) -> list[str]:
        """The units whose export finished (their marker is written), oldest first."""
        folder = self.root / EXPORTS
        if not folder.is_dir():
            return []
        names = (p.stem for p in folder.glob("u*.json"))
        return sorted(name for name in names if _unit_range(name) is not None)

    def partition_paths(self) -> list[Path]:
        """The partitions holding at least one unit file."""
        folder = self.root / EVIDENCE
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("part=*") if any(p.glob("u*.parquet")))

    # -- writing ------------------------------------------------------------------------

    def last_unit(self) -> dict[str, Any] | None:
        """The marker of the committed unit reaching furthest (``None``: no unit)."""
        names = self.committed()
        if not names:
            return None
        name = max(names, key=_until)
        path = self.root / EXPORTS / f"{name}.json"
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{path}: not a readable unit marker: {exc}") from None
        if not isinstance(found, dict):
            raise ConfigurationError(f"{path}: not a unit marker")
        return found

    def export(
        self,
        rows: Iterable[Sequence[Any]],
        moved: Iterable[Pair],
        *,
        after: int,
        until: int,
        store_mark: str,
        chunk_rows: int | None = None,
    ) -> ExportOutcome:
        """Write unit ``(after, until]``, its marker last.

        ``rows`` are the store's changed ledger rows
        (:meth:`~comp_adapters.store.Store.evidence_changes`), read ``chunk_rows`` (default
        :data:`CHUNK_ROWS`) at a time, a file per partition and chunk; ``moved`` the old
        pairs of evidence moved since ``after``; ``store_mark`` tells the store's ingest
        ``until`` from another store's (its commit instant). No rows: nothing is written
        (the next unit starts at the same ``after`` and finds the same nothing).
        """
        name = unit_name(after, until)
        old = sorted(set(moved))
        written = marked = 0
        for number, chunk in enumerate(_chunks(rows, chunk_rows or CHUNK_ROWS)):
            table = _ledger_arrow(chunk)
            markers = _markers(table, old, self.partitions)
            if len(markers):
                table = pa.concat_tables([table, markers])
            self._write_chunk(table, f"{name}.{number:05d}")
            written += len(chunk)
            marked += len(markers)
        if not written:
            return ExportOutcome(unit=None)
        marker = self.root / EXPORTS / f"{name}.json"
        marker.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(
            marker,
            json.dumps(
                {
                    "after": after,
                    "until": until,
                    "store_mark": store_mark,
                    "rows": written,
                    "markers": marked,
                }
            ),
        )
        return ExportOutcome(unit=name, rows=written, markers=marked)

    def _write_chunk(self, table: pa.Table, stem: str) -> None:
        part = pa.array(partition_of(table.column("learner").to_pylist(), self.partitions))
        for number in sorted(set(part.to_pylist())):
            folder = partition_dir(self.root, number)
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{stem}.parquet.tmp"
            pq.write_table(table.filter(pc.equal(part, number)), temporary)
            temporary.replace(folder / f"{stem}.parquet")

    def remove_orphans(self, *, older_than: float = ORPHAN_AGE) -> int:
        """Remove unit files without a marker older than ``older_than`` seconds."""
        committed = set(self.committed())
        limit = time.time() - older_than
        removed = 0
        for folder in self.partition_paths():
            for path in folder.glob("u*.parquet"):
                with contextlib.suppress(OSError):
                    if unit_of(path) not in committed and path.stat().st_mtime < limit:
                        path.unlink()
                        removed += 1
        return removed

    # -- reading ------------------------------------------------------------------------

    def results_dir(self, run_id: int) -> Path:
        return self.root / RESULTS / f"run={run_id}"


def unit_of(path: Path) -> str:
    """The unit a partition file belongs to (``u<after>-<until>.<chunk>.parquet``)."""
    return path.name.split(".", 1)[0]


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _until(name: str) -> int:
    found = _unit_range(name)
    return 0 if found is None else found[1]


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _instants(values: list[Any]) -> pa.Array:
    return pa.array(values, type=pa.int64()).cast(_US_UTC)


def _ledger_arrow(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Ledger rows (the store's column order) as a table of :data:`LEDGER_SCHEMA`."""
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [()] * 12
    ids, learner, competency, kind, score, level, success, observed, recorded, expires = columns[
        :10
    ]
    voided, changed_in = columns[10:]
    return pa.Table.from_arrays(
        [
            pa.array(ids, type=pa.string()),
            pa.array(learner, type=pa.string()),
            pa.array(competency, type=pa.string()),
            pa.array(kind, type=pa.string()),
            pa.array(score, type=pa.float64()),
            pa.array(level, type=pa.string()),
            pa.array([None if v is None else bool(v) for v in success], type=pa.bool_()),
            _instants(list(observed)),
            _instants(list(recorded)),
            _instants(list(expires)),
            pa.array([bool(v) for v in voided], type=pa.bool_()),
            pa.nulls(len(rows), type=pa.int64()),
            pa.array(changed_in, type=pa.int64()),
        ],
        schema=LEDGER_SCHEMA,
    )


def _markers(table: pa.Table, old: Sequence[Pair], partitions: int) -> pa.Table:
    """Voided rows superseding, in each partition an old learner hashes to, the unit's
    ids that now live in another partition (see the module docstring)."""
    if not old or not len(table):
        return LEDGER_SCHEMA.empty_table()
    old_part = partition_of([learner for learner, _ in old], partitions).tolist()
    row_part = partition_of(table.column("learner").to_pylist(), partitions).tolist()
    ids = table.column("id").to_pylist()
    changed = table.column("changed_in").to_pylist()
    out: dict[str, list[Any]] = {"id": [], "learner": [], "competency": [], "changed_in": []}
    seen: set[int] = set()
    for (learner, competency), part in zip(old, old_part, strict=True):
        if part in seen:
            continue
        seen.add(part)
        for index, where in enumerate(row_part):
            if where != part:
                out["id"].append(ids[index])
                out["learner"].append(learner)
                out["competency"].append(competency)
                out["changed_in"].append(changed[index])
    n = len(out["id"])
    return pa.Table.from_arrays(
        [
            pa.array(out["id"], type=pa.string()),
            pa.array(out["learner"], type=pa.string()),
            pa.array(out["competency"], type=pa.string()),
            pa.array(["other"] * n, type=pa.string()),
            pa.nulls(n, type=pa.float64()),
            pa.nulls(n, type=pa.string()),
            pa.nulls(n, type=pa.bool_()),
            _instants([0] * n),
            pa.nulls(n, type=_US_UTC),
            pa.nulls(n, type=_US_UTC),
            pa.array([True] * n, type=pa.bool_()),
            pa.nulls(n, type=pa.int64()),
            pa.array(out["changed_in"], type=pa.int64()),
        ],
        schema=LEDGER_SCHEMA,
    )


def read_live(partition: Path, units: Collection[str], learners: Collection[str] | None) -> Any:
    """The live evidence of one partition as an EvidenceTable: the files of committed
    ``units`` only, per id the row of the highest ``changed_in``, voided rows dropped
    (and only ``learners``' rows when given)."""
    wanted = set(units)
    files = sorted(p for p in partition.glob("u*.parquet") if unit_of(p) in wanted)
    if not files:
        return evidence_from_arrow(EVIDENCE_SCHEMA.empty_table())
    table = pa.concat_tables([pq.read_table(f, schema=LEDGER_SCHEMA) for f in files])
    if learners is not None:
        table = table.filter(pc.is_in(table.column("learner"), pa.array(sorted(learners))))
    order = pc.sort_indices(table, sort_keys=[("id", "ascending"), ("changed_in", "ascending")])
    table = table.take(order)
    ids = table.column("id").combine_chunks()
    n = len(table)
    if n > 1:
        # The last row of each id (sorted by id, then changed_in) stands.
        nexts = pc.not_equal(ids.slice(0, n - 1), ids.slice(1))
        table = table.filter(pa.concat_arrays([nexts, pa.array([True])]))
    table = table.filter(pc.invert(table.column("voided")))
    return evidence_from_arrow(table.drop_columns(["changed_in"]))


@dataclass(frozen=True, slots=True)
class UnitTask:
    """What one Dask task evaluates: a partition, the committed units, and for an
    incremental run the pairs wanted there (``None``: every pair)."""

    partition: str
    units: tuple[str, ...]
    pairs: tuple[Pair, ...] | None
    results: str


def evaluate_live_partition(
    framework: Framework, task: UnitTask, as_of: datetime, min_evidence: int
) -> int:
    """Evaluate one partition's live evidence and write its results as Parquet (only the
    wanted pairs when given); runs on a worker. Returns the results written."""
    wanted = None if task.pairs is None else set(task.pairs)
    learners = None if wanted is None else {learner for learner, _ in wanted}
    table = read_live(Path(task.partition), task.units, learners)
    results = (
        results_to_arrow(evaluate_table(framework, table, as_of=as_of, min_evidence=min_evidence))
        if len(table)
        else RESULT_SCHEMA.empty_table()
    )
    if wanted is not None:
        keep = [
            (learner, competency) in wanted
            for learner, competency in zip(
                results.column("learner").to_pylist(),
                results.column("competency").to_pylist(),
                strict=True,
            )
        ]
        results = results.filter(pa.array(keep, type=pa.bool_()))
    target = Path(task.results) / f"{Path(task.partition).name}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    pq.write_table(results, temporary)
    temporary.replace(target)
    return len(results)


def tasks_for(
    dataset: LedgerDataset, run_id: int, pairs: Collection[Pair] | None
) -> list[UnitTask]:
    """One task per partition to evaluate: every partition, or those holding ``pairs``'
    learners (each with its pairs)."""
    units = tuple(dataset.committed())
    results = str(dataset.results_dir(run_id))
    if pairs is None:
        return [UnitTask(str(p), units, None, results) for p in dataset.partition_paths()]
    by_part: dict[int, list[Pair]] = {}
    ordered = sorted(pairs)
    for pair, part in zip(
        ordered,
        partition_of([learner for learner, _ in ordered], dataset.partitions).tolist(),
        strict=True,
    ):
        by_part.setdefault(part, []).append(pair)
    return [
        UnitTask(str(partition_dir(dataset.root, part)), units, tuple(found), results)
        for part, found in sorted(by_part.items())
        if partition_dir(dataset.root, part).is_dir()
    ]


def read_run_results(folder: Path) -> list[dict[str, Any]]:
    """Every result file one run's tasks wrote, as records."""
    files = sorted(folder.glob("part=*.parquet")) if folder.is_dir() else []
    return [record for f in files for record in pq.read_table(f).to_pylist()]


def evaluate_units(
    framework: Framework,
    tasks: Sequence[UnitTask],
    *,
    as_of: datetime,
    min_evidence: int,
    scheduler: str | None,
    workers: int = 2,
    client: Any = None,
) -> list[int]:
    """Run ``tasks`` on Dask (``client``, else ``scheduler``, else a local cluster)."""
    from comp_adapters.scale.dask_engine import _client  # noqa: PLC0415

    if not tasks:
        return []
    with _client(client, scheduler, workers) as dask:
        futures = dask.map(
            evaluate_live_partition,
            [framework] * len(tasks),
            list(tasks),
            [as_of] * len(tasks),
            [min_evidence] * len(tasks),
            pure=False,
        )
        counts: list[int] = dask.gather(futures)
    return counts
