"""The Parquet layout of evidence and results, partitioned by a hash of the learner.

::

    ROOT/evidence/part=00007/<batch>.parquet   evidence rows of the learners hashed to 7
    ROOT/results/part=00007.parquet            their proficiency results

Every row of a learner lands in the same partition (the hash of the learner key, CRC-32,
modulo the partition count, is the same on every machine and in every run), so a partition
holds all of a learner's competencies and its rollups can be computed alone. Writers append
new batch files to a partition; nothing is rewritten in place.

Evidence columns keep every field the engine reads (:class:`~comp_adapters.rules.EvidenceTable`);
instants are ``timestamp[us, UTC]``, absent values are nulls.
"""

from __future__ import annotations

import uuid
import zlib
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from comp_adapters.rules.columnar import _NEVER, _NO_SEQUENCE, KINDS, EvidenceTable, _numpy
from comp_adapters.rules.proficiency_table import ProficiencyTable

EVIDENCE: Final = "evidence"
RESULTS: Final = "results"
_US_UTC: Final = pa.timestamp("us", tz="UTC")
EVIDENCE_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("learner", pa.string()),
        ("competency", pa.string()),
        ("kind", pa.string()),
        ("score", pa.float64()),
        ("level", pa.string()),
        ("success", pa.bool_()),
        ("observed_at", _US_UTC),
        ("recorded_at", _US_UTC),
        ("expires_at", _US_UTC),
        ("voided", pa.bool_()),
        ("sequence", pa.int64()),
    ]
)
RESULT_SCHEMA: Final = pa.schema(
    [
        ("learner", pa.string()),
        ("competency", pa.string()),
        ("score", pa.float64()),
        ("level", pa.string()),
        ("proficient", pa.bool_()),
        ("method", pa.string()),
        ("evidence_ids", pa.list_(pa.string())),
        ("children", pa.list_(pa.string())),
        ("as_of", _US_UTC),
        ("explanation", pa.string()),
        ("review_requested", pa.bool_()),
    ]
)


def partition_of(learners: list[str], partitions: int) -> Any:
    """The partition of each learner key: CRC-32 of its UTF-8 bytes, modulo ``partitions``."""
    np = _numpy()
    return np.array(
        [zlib.crc32(key.encode()) % partitions for key in learners], dtype=np.int64
    ).reshape(-1)


def partition_dir(root: Path, part: int) -> Path:
    return root / EVIDENCE / f"part={part:05d}"


def evidence_partitions(root: Path) -> list[Path]:
    """The evidence partitions under ``root`` that hold at least one file, in order."""
    folder = root / EVIDENCE
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("part=*") if any(p.glob("*.parquet")))


def result_path(root: Path, partition: Path) -> Path:
    return root / RESULTS / f"{partition.name}.parquet"


def write_evidence(table: EvidenceTable, root: str | Path, *, partitions: int) -> int:
    """Append ``table``'s rows to the partitions they hash to; returns the rows written."""
    np = _numpy()
    base = Path(root)
    if not len(table):
        return 0
    part_of_learner = partition_of(table.learners, partitions)
    part = part_of_learner[table.learner]
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    arrow = evidence_to_arrow(table)
    batch = uuid.uuid4().hex
    for number in range(partitions):
        lo, hi = int(bounds[number]), int(bounds[number + 1])
        if lo == hi:
            continue
        folder = partition_dir(base, number)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{batch}.parquet"
        temporary = folder / f".{batch}.parquet.tmp"
        pq.write_table(arrow.take(pa.array(order[lo:hi])), temporary)
        temporary.replace(target)  # readers never see half a file
    return len(table)


def evidence_to_arrow(table: EvidenceTable) -> pa.Table:
    """The rows of an EvidenceTable as an Arrow table of :data:`EVIDENCE_SCHEMA`."""
    np = _numpy()

    def strings(values: list[str], codes: Any) -> pa.Array:
        return pa.DictionaryArray.from_arrays(
            pa.array(codes.astype(np.int32)), pa.array(values, type=pa.string())
        ).cast(pa.string())

    def instants(values: Any, absent: Any) -> pa.Array:
        return pa.array(values, type=pa.int64(), mask=absent).cast(_US_UTC)

    level_codes = np.where(table.level < 0, 0, table.level)
    levels = table.levels or [""]
    return pa.Table.from_arrays(
        [
            pa.array(table.ids, type=pa.string()),
            strings(table.learners, table.learner),
            strings(table.competencies, table.competency),
            strings(list(KINDS), table.kind),
            pa.array(table.score, mask=np.isnan(table.score)),
            pa.array(
                np.array(levels, dtype=object)[level_codes], type=pa.string(), mask=table.level < 0
            ),
            pa.array(table.success == 1, mask=table.success < 0),
            instants(table.observed_at, None),
            instants(table.recorded_at, table.recorded_at == table.observed_at),
            instants(table.expires_at, table.expires_at == _NEVER),
            pa.array(table.voided),
            pa.array(table.sequence, mask=table.sequence == _NO_SEQUENCE),
        ],
        schema=EVIDENCE_SCHEMA,
    )


def read_evidence(partition: Path) -> EvidenceTable:
    """All evidence files of one partition as one EvidenceTable."""
    return evidence_from_arrow(pq.read_table(partition, schema=EVIDENCE_SCHEMA))


def evidence_from_arrow(arrow: pa.Table) -> EvidenceTable:
    np = _numpy()

    def encoded(name: str) -> tuple[list[str], Any]:
        column = arrow.column(name).combine_chunks().dictionary_encode()
        return column.dictionary.to_pylist(), column.indices.to_numpy(zero_copy_only=False)

    def filled(name: str, fill: Any, dtype: Any) -> Any:
        column = arrow.column(name)
        if column.type == _US_UTC:
            column = column.cast(pa.int64())
        return column.fill_null(fill).to_numpy().astype(dtype)

    learners, learner = encoded("learner")
    competencies, competency = encoded("competency")
    kinds, kind = encoded("kind")
    kind_code = np.array([KINDS.index(k) for k in kinds] or [0], dtype=np.int8)
    level_column = arrow.column("level").combine_chunks().dictionary_encode()
    level = level_column.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    success = arrow.column("success").cast(pa.int8()).fill_null(-1).to_numpy()
    observed = filled("observed_at", 0, np.int64)
    recorded = arrow.column("recorded_at").cast(pa.int64())
    return EvidenceTable.from_columns(
        ids=arrow.column("id").to_pylist(),
        learners=learners,
        learner=learner,
        competencies=competencies,
        competency=competency,
        kind=kind_code[kind] if len(kind) else kind,
        score=filled("score", np.nan, np.float64),
        levels=level_column.dictionary.to_pylist(),
        level=level,
        success=success,
        observed_at=observed,
        recorded_at=np.where(
            recorded.is_null().to_numpy(), observed, recorded.fill_null(0).to_numpy()
        ),
        expires_at=filled("expires_at", _NEVER, np.int64),
        voided=arrow.column("voided").to_numpy(),
        sequence=filled("sequence", _NO_SEQUENCE, np.int64),
    )


def results_to_arrow(results: ProficiencyTable) -> pa.Table:
    """A ProficiencyTable as an Arrow table of :data:`RESULT_SCHEMA` (explanations made)."""
    np = _numpy()

    def strings(values: list[str] | tuple[str, ...], codes: Any, absent: Any = None) -> pa.Array:
        safe = np.where(codes < 0, 0, codes).astype(np.int32)
        return pa.DictionaryArray.from_arrays(
            pa.array(safe, mask=absent), pa.array(list(values) or [""], type=pa.string())
        ).cast(pa.string())

    def lists(values: list[str], offsets: Any, index: Any) -> pa.Array:
        flat = (
            pa.array(values, type=pa.string()).take(pa.array(index))
            if len(index)
            else pa.array([], pa.string())
        )
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), flat)

    return pa.Table.from_arrays(
        [
            strings(results.learners, results.learner),
            strings(results.competencies, results.competency),
            pa.array(results.score, mask=np.isnan(results.score)),
            strings(results.levels, results.level, results.level < 0),
            pa.array(results.proficient),
            strings(results.methods, results.method),
            lists(results.evidence_ids, results.evidence_offsets, results.evidence_index),
            lists(results.competencies, results.children_offsets, results.children_index),
            pa.array(np.full(len(results), _micros(results.as_of)), type=pa.int64()).cast(_US_UTC),
            pa.array(results.explanations(), type=pa.string()),
            pa.array(results.review_requested),
        ],
        schema=RESULT_SCHEMA,
    )


def _micros(value: Any) -> int:
    from comp_adapters.rules.columnar import to_micros  # noqa: PLC0415

    return to_micros(value)


def read_results(root: str | Path) -> pa.Table:
    """Every partition's results under ``root``, one after the other (empty if none)."""
    folder = Path(root) / RESULTS
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return RESULT_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=RESULT_SCHEMA) for f in files])
