"""What each statement produced: the evidence ledger a void withdraws from.

A voiding statement names only its target's id. The spec's way to learn what the target
said is ``GET statements?voidedStatementId=``, but not every LRS answers it (Ralph ignores
the parameter), so the adapter keeps, per statement id, the ids of the evidence it made
and withdraws those: the look-up then only supplies full copies of the evidence for the
output, it no longer decides what is withdrawn.

:class:`EvidenceLedger` is the small interface the adapter needs; the state store of the
sync engine can implement it persistently. Here: :class:`MemoryLedger` (one read) and
:class:`EvidenceFileLedger`, seeded from evidence JSON-lines files written by earlier
pulls (the output of ``xapi pull --append``, or files named with ``--ledger``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import orjson

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.xapi.mapping import voided_copy

EVIDENCE_PREFIX = "xapi:"
"""Evidence ids made from statements start with this (``xapi:<statement id>:<key>``)."""


@runtime_checkable
class EvidenceLedger(Protocol):
    """Evidence ids produced per statement id, and which of them are withdrawn."""

    def produced(self, statement_id: str) -> tuple[str, ...]:
        """The evidence ids recorded for this statement (withdrawn ones included)."""
        ...

    def record(self, statement_id: str, evidence_ids: Sequence[str]) -> None:
        """Remember that this statement produced these evidence ids."""
        ...

    def withdraw(self, statement_id: str) -> tuple[str, ...]:
        """Mark this statement's evidence withdrawn; return the ids not withdrawn before
        (empty when nothing is recorded for it, or all of it was withdrawn already)."""
        ...


class MemoryLedger:
    """A ledger held in memory (the default for one read: voids later in the read find
    what earlier statements produced). About 280 bytes per statement that gave evidence
    (one evidence id each, measured with tracemalloc)."""

    def __init__(self) -> None:
        self._produced: dict[str, tuple[str, ...]] = {}
        self._withdrawn: set[str] = set()

    def produced(self, statement_id: str) -> tuple[str, ...]:
        return self._produced.get(statement_id, ())

    def record(self, statement_id: str, evidence_ids: Sequence[str]) -> None:
        known = self._produced.get(statement_id, ())
        self._produced[statement_id] = tuple(dict.fromkeys((*known, *evidence_ids)))

    def withdraw(self, statement_id: str) -> tuple[str, ...]:
        fresh = tuple(e for e in self._produced.get(statement_id, ()) if e not in self._withdrawn)
        self._withdrawn.update(fresh)
        return fresh

    def __len__(self) -> int:
        return len(self._produced)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} statements)"


class EvidenceFileLedger(MemoryLedger):
    """A ledger seeded from evidence JSON-lines files (what earlier pulls wrote).

    Every line whose id is an xAPI evidence id is indexed by its ``source_id`` (the
    statement id); a line with ``voided: true`` marks its id withdrawn. Lines are read with
    only the checks the index needs (fast), and a line that is not a JSON object is an
    error naming the file and line. What this run records stays in memory: the run's
    output file is the persistent record for the next run.
    """

    def __init__(self, paths: Iterable[str | Path] = ()) -> None:
        super().__init__()
        self.paths: tuple[Path, ...] = tuple(Path(p) for p in paths)
        for path in self.paths:
            for number, item in _items(path):
                evidence_id, source = item.get("id"), item.get("source_id")
                if type(evidence_id) is not str or not evidence_id.startswith(EVIDENCE_PREFIX):
                    continue
                if type(source) is str:
                    self.record(sys.intern(source), (evidence_id,))
                if item.get("voided") is True:
                    self._withdrawn.add(evidence_id)
                elif type(source) is not str:
                    raise ValidationError(
                        [Problem("xAPI evidence without source_id", file=str(path), line=number)]
                    )

    def copies(
        self, evidence_ids: Iterable[str], *, also: Iterable[tuple[str, Iterable[str]]] = ()
    ) -> Iterator[Evidence]:
        """Withdrawn copies of these evidence ids, found in the ledger's files and in
        ``also`` (``(name, open text stream)`` pairs, read from where they stand): one
        copy per id, from its first active line."""
        wanted = set(evidence_ids)
        sources: list[tuple[str, Iterable[str]]] = [(str(p), _lines(p)) for p in self.paths]
        sources.extend(also)
        for name, lines in sources:
            if not wanted:
                return
            for number, line in enumerate(lines, start=1):
                item = _parse(line, name, number)
                if item is None or item.get("id") not in wanted or item.get("voided") is True:
                    continue
                try:
                    evidence = Evidence.model_validate(item)
                except ValueError as exc:
                    raise ValidationError(
                        [Problem(f"invalid evidence: {exc}", file=name, line=number)]
                    ) from None
                wanted.discard(evidence.id)
                yield voided_copy(evidence)
                if not wanted:
                    return


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        yield from handle


def _items(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    try:
        lines = _lines(path)
        for number, line in enumerate(lines, start=1):
            item = _parse(line, str(path), number)
            if item is not None:
                yield number, item
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=str(path))]) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [Problem(f"not UTF-8 text (byte {exc.start})", file=str(path))]
        ) from None


def _parse(line: str, name: str, number: int) -> dict[str, object] | None:
    if not line.strip():
        return None
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(
            [Problem(f"invalid JSON: {exc.msg}", file=name, line=number)]
        ) from None
    if type(item) is not dict:
        raise ValidationError(
            [Problem("an evidence line must be a JSON object", file=name, line=number)]
        )
    return item
