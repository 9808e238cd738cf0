"""The line-by-line half of :mod:`comp_adapters.evidence_reader`: a file's bytes cut into
numbered lines, and batches of lines into the columns of an
:class:`~comp_adapters.rules.EvidenceTable`.

Each line is parsed by ``orjson`` and checked column-wise
(:mod:`comp_adapters.evidence_columns`); any line those checks are not certain about —
broken JSON, an unknown field, a value pydantic would coerce or refuse — is validated by
``Evidence.model_validate_json`` exactly as ``iter_evidence`` does, giving the same row or
the same problems (file, line, field).

Lines are those of a text file read as UTF-8 with universal newlines (``\\n``, ``\\r\\n``
and a lone ``\\r`` end a line), as ``iter_evidence`` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import compress
from typing import Any, Final

import orjson
import pydantic

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.evidence_columns import Batch, Indexes, columns_of
from comp_adapters.native import evidence_line_problems, evidence_shape_hint
from comp_adapters.rules.columnar import (
    _NEVER,
    _NO_SEQUENCE,
    COLUMNS,
    KINDS,
    EvidenceTable,
    _numpy,
    to_micros,
)

CHUNK: Final = 4 << 20
"""Bytes read at a time."""
BATCH: Final = 1024
"""Lines checked column-wise at a time. Small enough that a batch's dicts (~0.6 KB a
line) stay in the CPU caches across the column passes over them: 1024 read a million
lines ~35% faster than 16384 did (2048 and 512 a little slower than 1024, 256 slower)."""

Progress = Callable[[int, int], None]
"""Called with (bytes read so far, size of the file) after each chunk."""


def line_batches(
    handle: Any, total: int, progress: Progress | None
) -> Iterator[tuple[list[bytes], int, bool]]:
    """Lists of at most :data:`BATCH` lines (without their line break), the number of the
    first, and whether the last has a line break (only the file's last line may not).
    Universal newlines: ``\r\n`` and a lone ``\r`` end a line too."""
    number = 1
    pending = b""
    done = 0
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            break
        done += len(chunk)
        data = pending + chunk
        held = b""
        if b"\r" in data:
            if data.endswith(b"\r"):  # its \n may be in the next chunk
                data, held = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        pending = lines.pop() + held
        for start in range(0, len(lines), BATCH):
            part = lines[start : start + BATCH]
            yield part, number, True
            number += len(part)
        if progress is not None:
            progress(done, total)
    if pending.endswith(b"\r"):
        yield [pending[:-1]], number, True
    elif pending:
        yield [pending], number, False


class TableBuilder:
    """Batches of numbered lines in, one EvidenceTable out."""

    def __init__(self, source: str, problems: list[Problem] | None) -> None:
        self.source = source
        self.problems = problems
        self.indexes = Indexes.new()
        self.ids: list[str] = []
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        self.first_record: int | None = None
        """The line number of the file's first non-blank line, once seen (the line whose
        problems get a hint when the file is clearly not JSON lines)."""
        self.lines = 0
        """The number of the last line added."""

    def add(self, lines: list[bytes], first: int, terminated: bool) -> None:
        """Lines numbered from ``first``; ``terminated``: whether the last ends in a break."""
        self.lines = first + len(lines) - 1
        if self.first_record is None:
            self.first_record = next(
                (first + i for i, raw in enumerate(lines) if raw.strip()), None
            )
        try:
            values = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            values = [_loads_or_none(raw) for raw in lines]
        records = values
        if set(map(type, values)) != {dict}:
            is_record = [type(v) is dict for v in values]
            records = list(compress(values, is_record))
            slow = [i for i, fits in enumerate(is_record) if not fits]
            fast_at = [i for i, fits in enumerate(is_record) if fits]
        else:
            slow, fast_at = [], []
        batch = columns_of(records, self.indexes)
        if fast_at:
            batch.rejected = [fast_at[i] for i in batch.rejected]
            kept = _without(fast_at, batch.rejected)
        else:
            kept = _without(range(len(records)), batch.rejected) if batch.rejected else []
        slow = sorted([*slow, *batch.rejected])
        if not slow:
            self._append(batch)
            return
        evidence: list[Evidence] = []
        positions: list[int] = []
        last = len(lines) - 1
        for i in slow:
            # iter_evidence validates the line with its line break, if it has one.
            raw = lines[i] + b"\n" if terminated or i < last else lines[i]
            item = self._validate(first + i, raw)
            if item is not None:
                evidence.append(item)
                positions.append(i)
        self._append(_merge(batch, kept, self._batch_of(evidence), positions))

    def _validate(self, number: int, raw: bytes) -> Evidence | None:
        """``parse_evidence_lines``'s handling of one line: skip blank, validate, locate."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                [
                    Problem(
                        f"not UTF-8 text (byte {exc.start + 1} of the line)",
                        file=self.source,
                        line=number,
                    )
                ]
            ) from None
        if not text.strip():
            return None
        try:
            return Evidence.model_validate_json(text)
        except pydantic.ValidationError as exc:
            found = evidence_line_problems(exc, source=self.source, line=number)
            if number == self.first_record:
                found = evidence_shape_hint(text, self.source, number) + found
            if self.problems is None:
                raise ValidationError(found) from None
            self.problems.extend(found)
            return None

    def _batch_of(self, evidence: list[Evidence]) -> Batch:
        """Columns of validated Evidence objects (the lines that went the slow way)."""
        np = _numpy()
        indexes = self.indexes
        kind_code = {kind: code for code, kind in enumerate(KINDS)}
        return Batch(
            ids=[e.id for e in evidence],
            columns={
                "learner": indexes.learner.add([e.learner for e in evidence]),
                "competency": indexes.competency.add([e.competency for e in evidence]),
                "kind": np.array([kind_code[e.kind] for e in evidence], dtype=np.int8),
                "score": np.array(
                    [np.nan if e.score is None else e.score for e in evidence], dtype=np.float64
                ),
                "level": _levels(indexes, evidence),
                "success": np.array(
                    [-1 if e.success is None else int(e.success) for e in evidence], dtype=np.int8
                ),
                "observed_at": np.array([to_micros(e.observed_at) for e in evidence], np.int64),
                "recorded_at": np.array(
                    [to_micros(e.recorded_at or e.observed_at) for e in evidence], np.int64
                ),
                "expires_at": np.array(
                    [_NEVER if e.expires_at is None else to_micros(e.expires_at) for e in evidence],
                    np.int64,
                ),
                "voided": np.array([e.voided for e in evidence], dtype=bool),
                "sequence": np.array(
                    [_NO_SEQUENCE if e.sequence is None else e.sequence for e in evidence],
                    np.int64,
                ),
            },
            rejected=[],
        )

    def _append(self, batch: Batch) -> None:
        self.ids.extend(batch.ids)
        for name in COLUMNS:
            self.columns[name].append(batch.columns[name])

    def table(self) -> EvidenceTable:
        return table_of(
            self.ids,
            self.columns,
            learners=list(self.indexes.learner.codes),
            competencies=list(self.indexes.competency.codes),
            levels=list(self.indexes.level.codes),
        )


def table_of(
    ids: list[str],
    columns: dict[str, list[Any]],
    *,
    learners: list[str],
    competencies: list[str],
    levels: list[str],
    ids_unique_known: bool | None = None,
) -> EvidenceTable:
    """The table of ``ids`` and each column's parts (arrays, in row order)."""
    np = _numpy()
    dtypes = {"score": np.float64, "voided": bool}
    return EvidenceTable.from_columns(
        ids=ids,
        learners=learners,
        competencies=competencies,
        levels=levels,
        ids_unique_known=ids_unique_known,
        **{
            name: np.concatenate(parts) if parts else np.zeros(0, dtype=dtypes.get(name, np.int64))
            for name, parts in columns.items()
        },
    )


def _levels(indexes: Indexes, evidence: list[Evidence]) -> Any:
    np = _numpy()
    level = np.full(len(evidence), -1, dtype=np.int32)
    rated = [i for i, e in enumerate(evidence) if e.level is not None]
    level[rated] = indexes.level.add([evidence[i].level or "" for i in rated])
    return level


def _loads_or_none(raw: bytes) -> Any:
    """The parsed line, or ``None`` (not a record: the slow path will say why)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _without(positions: Any, rejected: list[int]) -> list[int]:
    refused = set(rejected)
    return [i for i in positions if i not in refused]


def _merge(fast: Batch, fast_at: list[int], slow: Batch, slow_at: list[int]) -> Batch:
    """One batch of both, rows in the order of the lines they came from."""
    np = _numpy()
    where = np.argsort(np.array([*fast_at, *slow_at], dtype=np.int64), kind="stable")
    ids = [*fast.ids, *slow.ids]
    return Batch(
        ids=[ids[i] for i in where.tolist()],
        columns={
            name: np.concatenate([fast.columns[name], slow.columns[name]])[where]
            for name in COLUMNS
        },
        rejected=[],
    )
