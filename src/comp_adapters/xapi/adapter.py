"""The xAPI adapter: evidence from an LRS (incremental, voids honoured) or from files, and
computed proficiency written back as statements.

Incremental reads (``read_evidence``)
    Statements are read by ``stored``, oldest first (``since`` + ``ascending=true``),
    following ``more`` links. The cursor never moves past the LRS's
    ``X-Experience-API-Consistent-Through``: a page's statements stored after it are left for
    the next read. Each read starts a little before the cursor (``overlap``) and skips the
    statement ids the cursor remembers from that window, so statements that got an earlier
    ``stored`` on another LRS node are not lost and none is read twice. A batch is yielded
    per page, with the cursor that covers exactly the statements yielded so far: persist it
    only after storing the batch's evidence.

Voids
    A voiding statement withdraws the evidence of its target. The target's id goes into the
    tombstones (kept in the cursor, ``cursor.extra["voided"]``), and the target is fetched
    with ``voidedStatementId`` to withdraw exactly the evidence it gave (``Evidence`` copies
    with ``voided=True``; the rules engine then drops every copy of those ids, also ones
    stored by earlier runs). A target that arrives after its void (forwarded statements) is
    withdrawn on arrival because of the tombstone. In files, a target read before its void is
    found again by a second pass over the file.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.sync.apply import ApplyReport, apply_plan
from comp_adapters.sync.journal import Journal, Result
from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.xapi import wire
from comp_adapters.xapi.client import XapiClient
from comp_adapters.xapi.files import iter_statement_file
from comp_adapters.xapi.mapping import (
    BAD,
    EVIDENCE,
    SKIP,
    VOID,
    IdentityMap,
    MappingConfig,
    StatementMapper,
    parse_instant,
    proficiency_statement,
    voided_copy,
)

log = logging.getLogger("comp_adapters.xapi")

NAME: Final = "xapi"
CURSOR_FIELD: Final = "stored"
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
        return ", ".join(parts)


class _Ingest:
    """Statements -> evidence with voids and tombstones applied; counts everything."""

    def __init__(
        self,
        mapper: StatementMapper,
        tombstones: set[str],
        stats: ReadStats,
        *,
        source: str,
        resolve_void: Callable[[str], Any] | None = None,
        remember: bool = False,
    ) -> None:
        self.mapper = mapper
        self.tombstones = tombstones
        self.stats = stats
        self.source = source
        self.resolve_void = resolve_void
        self.pending: set[str] = set()
        """Voided ids whose target has not been seen (to look for in a second pass)."""
        self.produced: dict[str, list[Evidence]] | None = {} if remember else None
        """With ``remember``: the evidence of each statement read, so that a void later in
        the same read withdraws it at once (for input that cannot be read twice)."""

    def feed(self, statement: Any, line: int | None, out: list[Evidence]) -> None:
        stats = self.stats
        stats.statements += 1
        kind, value = self.mapper.map(statement)
        if kind is EVIDENCE:
            sid = value[0].source_id
            if sid in self.tombstones:
                self.pending.discard(sid)
                self._withdraw(value, out)
            else:
                stats.evidence += len(value)
                out.extend(value)
                if self.produced is not None and sid is not None:
                    self.produced[sid] = value
        elif kind is SKIP:
            stats.skipped[value] += 1
        elif kind is VOID:
            stats.voids += 1
            self.tombstones.add(value)
            made = self.produced.pop(value, None) if self.produced is not None else None
            if made is not None:
                self._withdraw(made, out)
                return
            target = self.resolve_void(value) if self.resolve_void is not None else None
            if target is None:
                self.pending.add(value)
                return
            self.withdraw_statement(target, out)
        else:
            assert kind is BAD  # noqa: S101 - the mapper's four outcomes
            stats.bad += 1
            message, where = value
            sid = statement.get("id") if type(statement) is dict else None
            if type(sid) is str:
                message = f"statement {sid}: {message}"
            if len(stats.problems) < MAX_PROBLEMS:
                stats.problems.append(Problem(message, file=self.source, line=line, field=where))

    def withdraw_statement(self, statement: Any, out: list[Evidence]) -> None:
        """Emit withdrawn copies of the evidence ``statement`` gives (a void's target)."""
        kind, made = self.mapper.map(statement)
        if kind is EVIDENCE:
            self._withdraw(made, out)

    def _withdraw(self, evidence: list[Evidence], out: list[Evidence]) -> None:
        self.stats.withdrawn += len(evidence)
        out.extend(voided_copy(item) for item in evidence)


def _tombstones_of(cursor: Cursor | None) -> set[str]:
    if cursor is None:
        return set()
    voided = cursor.extra.get("voided", [])
    return {str(item) for item in voided} if isinstance(voided, list) else set()


class XapiAdapter:
    """Reads evidence from an LRS or statement files; writes proficiency as statements."""

    name = NAME
    capabilities = frozenset({Capability.READS_EVIDENCE, Capability.WRITES_PROFICIENCY})

    def __init__(
        self,
        client: XapiClient | None = None,
        *,
        mapping: MappingConfig | None = None,
        framework: Framework | None = None,
        query: wire.StatementQuery | None = None,
        page_size: int = 500,
        overlap: timedelta = timedelta(minutes=1),
        batch_size: int = 10_000,
    ) -> None:
        if page_size < 1 or batch_size < 1:
            raise ConfigurationError("xapi: page_size and batch_size must be >= 1")
        if overlap < timedelta(0):
            raise ConfigurationError("xapi: overlap must not be negative")
        if query is not None and (
            query.since is not None or query.until is not None or query.ascending is not None
        ):
            raise ConfigurationError(
                "xapi: since, until and ascending are set by the incremental read; "
                "filter with agent, verb, activity, registration instead"
            )
        self.client = client
        self.mapping = mapping or MappingConfig()
        self.mapper = StatementMapper(self.mapping)
        self.framework = framework
        self.query = query or wire.StatementQuery()
        self.page_size = page_size
        self.overlap = overlap
        self.batch_size = batch_size
        self.stats = ReadStats()

    def _need_client(self) -> XapiClient:
        if self.client is None:
            raise ConfigurationError("xapi: this needs an LRS endpoint (no client configured)")
        return self.client

    # -- reading: LRS --------------------------------------------------------------------

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Evidence stored after ``cursor``, one batch per page (see the module docstring)."""
        client = self._need_client()
        if cursor is not None and (cursor.adapter != NAME or cursor.field != CURSOR_FIELD):
            raise ConfigurationError(
                f"xapi: cursor of {cursor.adapter}/{cursor.field} cannot resume an xAPI read"
            )
        self.stats = stats = ReadStats()
        tombstones = _tombstones_of(cursor)
        ingest = _Ingest(
            self.mapper,
            tombstones,
            stats,
            source="LRS",
            resolve_void=client.get_voided_statement,
        )
        position = parse_instant(cursor.position) if cursor and cursor.position else None
        window = _Window(self.overlap)
        if cursor is not None and position is not None:
            window.seed(position, cursor.seen_ids)
        since = position - self.overlap if position is not None else None
        query = self.query.model_copy(
            update={
                "since": since,
                "ascending": True,
                "limit": self.page_size,
                "format": self.query.format or "exact",
            }
        )
        page = client.get_statements(query)
        while True:
            out: list[Evidence] = []
            stop = False
            through = page.consistent_through
            for statement in page.statements:
                stored = parse_instant(statement.get("stored")) if type(statement) is dict else None
                if stored is None:
                    # A conformant LRS always sets stored; without it we cannot cursor.
                    ingest.feed(statement, None, out)
                    continue
                if through is not None and stored > through:
                    stop = True  # not yet reliably visible: the next read gets it
                    break
                sid = statement.get("id")
                if window.is_duplicate(stored, sid):
                    stats.duplicates += 1
                    continue
                ingest.feed(statement, None, out)
                window.add(stored, sid)
            yield EvidenceBatch(
                evidence=tuple(out),
                cursor=self._cursor(window, tombstones, position),
                withdrawn=tuple(e.id for e in out if e.voided),
                skipped=dict(stats.skipped),
            )
            if stop or page.more is None:
                return
            page = client.get_more(page.more)

    def _cursor(self, window: _Window, tombstones: set[str], fallback: datetime | None) -> Cursor:
        position = window.position or fallback
        return Cursor(
            adapter=NAME,
            field=CURSOR_FIELD,
            position=wire.format_timestamp(position) if position is not None else None,
            seen_ids=window.ids(),
            extra={"voided": list[JsonValue](sorted(tombstones))},
        )

    # -- reading: files and objects ------------------------------------------------------

    def read_file(
        self,
        path: str | Path,
        *,
        cursor: Cursor | None = None,
        strict: bool = True,
    ) -> Iterator[EvidenceBatch]:
        """Evidence from a statement file (array, StatementResult, statement or JSON lines).

        ``strict``: the first bad statement raises :class:`ValidationError` naming the file
        and line (or the statement id); otherwise bad statements are counted in
        :attr:`stats`, reported there with their location, and skipped. ``cursor`` carries
        the tombstones of earlier reads (only ``extra["voided"]`` is used).
        """
        source = str(path)
        self.stats = stats = ReadStats()
        tombstones = _tombstones_of(cursor)
        ingest = _Ingest(self.mapper, tombstones, stats, source=source)
        problems: list[Problem] | None = None if strict else []
        out: list[Evidence] = []
        for line, statement in iter_statement_file(path, problems=problems):
            ingest.feed(statement, line, out)
            if strict and stats.problems:
                raise ValidationError(stats.problems)
            if problems:
                stats.bad += len(problems)
                _keep(stats, problems)
                problems.clear()
            if len(out) >= self.batch_size:
                yield self._file_batch(out, tombstones)
                out = []
        if problems:
            stats.bad += len(problems)
            _keep(stats, problems)
        if ingest.pending:
            # Voids whose target came earlier in the file: withdraw those targets now.
            targets = set(ingest.pending)
            for _, statement in iter_statement_file(path, problems=[]):
                if type(statement) is dict and statement.get("id") in targets:
                    ingest.withdraw_statement(statement, out)
        yield self._file_batch(out, tombstones)

    def read_statements(
        self, statements: Iterable[Any], *, cursor: Cursor | None = None
    ) -> Iterator[EvidenceBatch]:
        """Evidence from statements already in memory: parsed JSON dicts, or TinCanPython
        ``Statement`` objects (with the ``tincan`` extra). Bad ones are counted and skipped.

        ``statements`` is read once (it may be a generator): the evidence made so far is
        remembered, so a void withdraws its target whether it comes before or after it.
        """
        self.stats = stats = ReadStats()
        tombstones = _tombstones_of(cursor)
        ingest = _Ingest(self.mapper, tombstones, stats, source="statements", remember=True)
        out: list[Evidence] = []
        for index, item in enumerate(statements, start=1):
            statement = from_tincan(item) if _is_tincan(item) else item
            ingest.feed(statement, index, out)
            if len(out) >= self.batch_size:
                yield self._file_batch(out, tombstones)
                out = []
        yield self._file_batch(out, tombstones)

    def _file_batch(self, out: list[Evidence], tombstones: set[str]) -> EvidenceBatch:
        return EvidenceBatch(
            evidence=tuple(out),
            cursor=Cursor(
                adapter=NAME,
                field=CURSOR_FIELD,
                extra={"voided": list[JsonValue](sorted(tombstones))},
            ),
            withdrawn=tuple(e.id for e in out if e.voided),
            skipped=dict(self.stats.skipped),
        )

    # -- writing proficiency -------------------------------------------------------------

    def proficiency_statements(
        self, proficiencies: Sequence[Proficiency]
    ) -> list[wire.OutStatement]:
        """The statements that report these results (pure; see ``proficiency_statement``)."""
        identities = IdentityMap(self.mapping.identity)
        return [
            proficiency_statement(
                p, config=self.mapping, framework=self.framework, identities=identities
            )
            for p in proficiencies
        ]

    def plan_proficiency(self, proficiencies: Sequence[Proficiency]) -> Plan:
        """One ``create`` per statement the LRS does not hold yet (looked up by id)."""
        client = self._need_client()
        changes: list[Change] = []
        seen: set[str] = set()
        for statement in self.proficiency_statements(proficiencies):
            if statement.id in seen:
                continue
            seen.add(statement.id)
            data = statement.to_json()
            result = data.get("result", {})
            fields: dict[str, Any] = {
                "learner": statement.actor.to_json(),
                "competency": statement.object.id,
                "success": result.get("success"),
                "statement": data,
            }
            if client.get_statement(statement.id) is not None:
                continue
            changes.append(
                Change(
                    id=f"statement:{statement.id}",
                    action=Action.CREATE,
                    kind="statement",
                    key=statement.id,
                    fields=fields,
                )
            )
        return Plan(
            adapter=NAME,
            target=client.transport.base_url,
            changes=tuple(changes),
            notes=("statements are sent with PUT ?statementId=: a re-send never duplicates",),
        )

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """PUT each planned statement; 204 (stored) and 409 (already there) both mean done."""
        client = self._need_client()

        def execute(change: Change, _done: object) -> Result:
            statement = change.fields["statement"]
            if not isinstance(statement, dict):
                raise ConfigurationError(f"xapi: change {change.id} holds no statement")
            stored = client.put_statement(change.key, statement)
            return {"stored": stored}

        return apply_plan(plan, execute, journal=journal)


def _keep(stats: ReadStats, problems: list[Problem]) -> None:
    room = MAX_PROBLEMS - len(stats.problems)
    if room > 0:
        stats.problems.extend(problems[:room])


class _Window:
    """Statement ids read within ``overlap`` of the newest ``stored``: what the next read,
    which starts ``overlap`` earlier, must skip. Seeded with the previous cursor's ids."""

    def __init__(self, overlap: timedelta) -> None:
        self.overlap = overlap
        self.position: datetime | None = None
        self._recent: deque[tuple[datetime, str]] = deque()
        self._ids: set[str] = set()
        self._seed_ids: frozenset[str] = frozenset()
        self._seed_position: datetime | None = None

    def seed(self, position: datetime, ids: Iterable[str]) -> None:
        self.position = self._seed_position = position
        self._seed_ids = frozenset(ids)

    def is_duplicate(self, stored: datetime, sid: Any) -> bool:
        """Whether ``sid`` was read already (this run, or by the read that made the cursor)."""
        if sid in self._ids:
            return True
        if sid in self._seed_ids:
            self.add(stored, sid)  # now with its time, so it leaves the window in time
            return True
        return False

    def add(self, stored: datetime, sid: Any) -> None:
        if type(sid) is not str:
            return
        if self.position is None or stored > self.position:
            self.position = stored
        self._recent.append((stored, sid))
        self._ids.add(sid)
        floor = self.position - self.overlap
        while self._recent and self._recent[0][0] <= floor:
            _, old = self._recent.popleft()
            self._ids.discard(old)

    def ids(self) -> tuple[str, ...]:
        """Ids stored within ``overlap`` before the position (seeded ones while they may be)."""
        if self.position is None:
            return ()
        floor = self.position - self.overlap
        keep = {sid for stored, sid in self._recent if stored > floor}
        if self._seed_position is not None and self._seed_position > floor:
            keep.update(self._seed_ids)
        return tuple(sorted(keep))


def _is_tincan(item: Any) -> bool:
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
