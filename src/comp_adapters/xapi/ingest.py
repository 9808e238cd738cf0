"""Statements -> evidence for one read: voids, tombstones and the ledger applied, every
statement counted (:class:`ReadStats`). Shared by the LRS, file and in-memory reads of
:class:`~comp_adapters.xapi.adapter.XapiAdapter`; no I/O of its own (a void's target is
looked up through the ``resolve_void`` callable the adapter passes in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.xapi.ledger import EvidenceLedger
from comp_adapters.xapi.mapping import BAD, EVIDENCE, SKIP, VOID, StatementMapper, voided_copy

MAX_PROBLEMS: Final = 1000
"""Problems kept for the report; more are counted, not kept."""


@dataclass
class ReadStats:
    """What a read did, for the run summary: every statement is counted exactly once."""

    statements: int = 0
    evidence: int = 0
    withdrawn: int = 0
    voids: int = 0
    duplicates: int = 0
    bad: int = 0
    unseen_voided: int = 0
    """Voids whose target this read has not seen (kept as tombstones)."""
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.statements} statements",
            f"{self.evidence} evidence",
            f"{self.withdrawn} withdrawn",
            f"{self.voids} voids",
        ]
        if self.duplicates:
            parts.append(f"{self.duplicates} already read")
        parts.append(f"{sum(self.skipped.values())} unmatched")
        parts.append(f"{self.bad} bad (skipped)")
        if self.unseen_voided:
            parts.append(f"{self.unseen_voided} voided statement(s) not seen (tombstoned)")
        return ", ".join(parts)


class Ingest:
    """Statements -> evidence with voids, tombstones and the ledger applied; counts all.

    ``ledger``: what statements produced (consulted by voids; a statement it already
    holds was read before and is skipped); ``record``: add what this read produces to it
    (files, which can be read twice, need not). ``remember``: keep this read's evidence
    objects too (for in-memory input: a void later in it then yields full copies).
    """

    def __init__(
        self,
        mapper: StatementMapper,
        tombstones: set[str],
        stats: ReadStats,
        *,
        source: str,
        ledger: EvidenceLedger | None = None,
        record: bool = True,
        resolve_void: Callable[[str], dict[str, Any] | None] | None = None,
        remember: bool = False,
    ) -> None:
        self.mapper = mapper
        self.tombstones = tombstones
        self.stats = stats
        self.source = source
        self.ledger = ledger
        self.record = record and ledger is not None
        self.resolve_void = resolve_void
        self.pending: set[str] = set()
        """Voided ids whose target has not been seen (to look for in a second pass)."""
        self.produced: dict[str, list[Evidence]] | None = {} if remember else None
        self.withdrawn: list[str] = []
        """Evidence ids withdrawn since the last :meth:`take_withdrawn`."""

    def take_withdrawn(self) -> tuple[str, ...]:
        ids = tuple(dict.fromkeys(self.withdrawn))
        self.withdrawn.clear()
        return ids

    def withdraw_tombstoned(self) -> None:
        """Withdraw what the ledger holds for statements voided by earlier reads (a ledger
        may know statements the read that saw the void did not)."""
        if self.ledger is None:
            return
        for target in sorted(self.tombstones):
            fresh = self.ledger.withdraw(target)
            self.stats.withdrawn += len(fresh)
            self.withdrawn.extend(fresh)

    def feed(self, statement: Any, line: int | None, out: list[Evidence]) -> None:
        stats = self.stats
        stats.statements += 1
        ledger = self.ledger
        if ledger is not None and type(statement) is dict:
            known = statement.get("id")
            if type(known) is str and ledger.produced(known):
                stats.duplicates += 1  # its evidence is in the ledger already
                return
        kind, value = self.mapper.map(statement)
        if kind is EVIDENCE:
            sid = value[0].source_id
            if sid in self.tombstones:
                self.pending.discard(sid)
                self._withdraw(value, out)
                if self.record:
                    assert ledger is not None  # noqa: S101 - record implies a ledger
                    ledger.record(sid, [e.id for e in value])
                    ledger.withdraw(sid)
            else:
                stats.evidence += len(value)
                out.extend(value)
                if self.produced is not None and sid is not None:
                    self.produced[sid] = value
                if self.record and sid is not None:
                    assert ledger is not None  # noqa: S101 - record implies a ledger
                    ledger.record(sid, [e.id for e in value])
        elif kind is SKIP:
            stats.skipped[value] += 1
        elif kind is VOID:
            self._void(value, out)
        else:
            assert kind is BAD  # noqa: S101 - the mapper's four outcomes
            stats.bad += 1
            message, where = value
            sid = statement.get("id") if type(statement) is dict else None
            if type(sid) is str:
                message = f"statement {sid}: {message}"
            if len(stats.problems) < MAX_PROBLEMS:
                stats.problems.append(Problem(message, file=self.source, line=line, field=where))

    def _void(self, target: str, out: list[Evidence]) -> None:
        self.stats.voids += 1
        self.tombstones.add(target)
        if self.produced is not None:
            made = self.produced.pop(target, None)
            if made is not None:
                self._withdraw(made, out)
                return
        fresh: tuple[str, ...] | None = None
        if self.ledger is not None and self.ledger.produced(target):
            fresh = self.ledger.withdraw(target)
            if not fresh:
                return  # withdrawn by an earlier void
        found = self.resolve_void(target) if self.resolve_void is not None else None
        copies = self._evidence_of(found) if found is not None else []
        if fresh is not None:
            # The ledger decides what is withdrawn; the look-up only supplies copies.
            wanted = set(fresh)
            out.extend(voided_copy(e) for e in copies if e.id in wanted)
            self.stats.withdrawn += len(fresh)
            self.withdrawn.extend(fresh)
            return
        if copies:
            self._withdraw(copies, out)
            if self.record:
                assert self.ledger is not None  # noqa: S101 - record implies a ledger
                self.ledger.record(target, [e.id for e in copies])
                self.ledger.withdraw(target)
            return
        self.pending.add(target)

    def _evidence_of(self, statement: Any) -> list[Evidence]:
        kind, made = self.mapper.map(statement)
        return list(made) if kind is EVIDENCE else []

    def withdraw_statement(self, statement: Any, out: list[Evidence]) -> None:
        """Emit withdrawn copies of the evidence ``statement`` gives (a void's target)."""
        made = self._evidence_of(statement)
        if made:
            self.pending.discard(made[0].source_id or "")
            self._withdraw(made, out)

    def _withdraw(self, evidence: list[Evidence], out: list[Evidence]) -> None:
        self.stats.withdrawn += len(evidence)
        out.extend(voided_copy(item) for item in evidence)
        self.withdrawn.extend(item.id for item in evidence)


def keep_problems(stats: ReadStats, problems: list[Problem]) -> None:
    room = MAX_PROBLEMS - len(stats.problems)
    if room > 0:
        stats.problems.extend(problems[:room])


def is_tincan(item: Any) -> bool:
    return type(item).__module__.split(".", 1)[0] == "tincan"


def from_tincan(statement: Any) -> dict[str, Any]:
    """A TinCanPython ``Statement`` as a statement dict (its own JSON; no tincan import here).

    TinCanPython re-serialises durations (``PT1H`` -> ``PT01H00M00S``) and writes version
    ``1.0.3``; neither matters for evidence.
    """
    try:
        data = orjson.loads(statement.to_json())
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValidationError(
            [Problem(f"not a TinCanPython Statement: {type(statement).__name__} ({exc})")]
        ) from None
    if not isinstance(data, dict):
        raise ValidationError([Problem("a TinCanPython Statement must serialise to an object")])
    return data


__all__ = ["MAX_PROBLEMS", "ReadStats", "from_tincan", "is_tincan", "keep_problems"]
