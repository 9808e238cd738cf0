"""The xAPI adapter: evidence from an LRS (incremental, voids honoured) or from files, and
computed proficiency written back as statements.

Incremental reads (``read_evidence``)
    Statements are read by ``stored``, oldest first (``since`` + ``ascending=true``),
    following ``more`` links. The cursor never moves past the LRS's
    ``X-Experience-API-Consistent-Through``: a page's statements stored after it are left for
    the next read. Each read starts a little before the cursor (``overlap``) and skips the
    statement ids the cursor remembers from that window, so statements that got an earlier
    ``stored`` on another LRS node are not lost and none is read twice. ``stored`` is kept
    exactly as precise as the LRS gives it (:mod:`comp_adapters.xapi.instant`). A batch is
    yielded per page, with the cursor that covers exactly the statements yielded so far:
    persist it only after storing the batch's evidence. The cursor records the query it
    belongs to (endpoint, version, filters) and refuses to resume another one
    (:mod:`comp_adapters.xapi.cursor`).

Voids
    A voiding statement withdraws the evidence of its target. What each statement produced
    is kept in an :class:`~comp_adapters.xapi.ledger.EvidenceLedger` (in memory for the read,
    or one seeded from earlier output), so a void withdraws exactly those evidence ids even
    when the LRS cannot look the target up (Ralph ignores ``voidedStatementId``). The target
    is still fetched with ``voidedStatementId`` (its id checked) to emit full withdrawn
    copies (``Evidence`` with ``voided=True``); ``EvidenceBatch.withdrawn`` lists every
    evidence id withdrawn, also those the adapter holds no copy of. The target's id goes
    into the tombstones (``cursor.extra["voided"]``): a target that arrives after its void
    (forwarded statements) is withdrawn on arrival. In files, a target read before its void
    is found again by a second pass over the file.

Proficiency out (``plan_proficiency`` / ``apply``)
    The plan reads which of our deterministic ids the LRS already shows (one paged query of
    proficiency statements stored since shortly before the earliest ``as_of``, ids only) and
    diffs purely (:mod:`comp_adapters.xapi.planner`); apply sends the rest with one POST per
    batch and confirms each id from the answer, falling back to looking ids up one by one
    only when the LRS answers 409 or leaves ids out of its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Final, Self

import requests
from pydantic import JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.http import redact_url
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync.apply import ApplyReport, apply_plan
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan
from comp_adapters.xapi import wire
from comp_adapters.xapi.client import XapiClient
from comp_adapters.xapi.cursor import (
    CURSOR_FIELD,
    NAME,
    OverlapWindow,
    check_query,
    fingerprint_of,
    make_cursor,
    position_of,
    tombstones_of,
    validate_cursor,
)
from comp_adapters.xapi.executor import StatementExecutor
from comp_adapters.xapi.files import iter_statement_file
from comp_adapters.xapi.ingest import (
    Ingest,
    ReadStats,
    from_tincan,
    is_tincan,
    keep_problems,
)
from comp_adapters.xapi.instant import Instant
from comp_adapters.xapi.ledger import EvidenceLedger, MemoryLedger
from comp_adapters.xapi.mapping import (
    IdentityMap,
    MappingConfig,
    StatementMapper,
    mapping_digest,
    proficiency_statement,
)
from comp_adapters.xapi.mapping_file import load_optional_mapping
from comp_adapters.xapi.planner import HeldStatements, PushOptions, plan_proficiency
from comp_adapters.xapi.settings import XapiSettings, connect

log = logging.getLogger("comp_adapters.xapi")

__all__ = ["CURSOR_FIELD", "NAME", "ReadStats", "XapiAdapter", "from_tincan"]

HELD_MARGIN: Final = timedelta(days=1)
"""The plan looks for statements stored since this long before the earliest ``as_of``
(our statements are stored after their results are computed; the margin allows for
clocks that differ). One stored earlier is sent again, which the LRS ignores."""


class XapiAdapter:
    """Reads evidence from an LRS or statement files; writes proficiency as statements."""

    name: ClassVar[str] = NAME
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READS_EVIDENCE, Capability.WRITES_PROFICIENCY}
    )
    settings_model: ClassVar[type[AdapterSettings]] = XapiSettings

    def __init__(
        self,
        client: XapiClient | None = None,
        *,
        mapping: MappingConfig | None = None,
        query: wire.StatementQuery | None = None,
        page_size: int = 500,
        overlap: timedelta = timedelta(minutes=1),
        batch_size: int = 10_000,
        push_batch_size: int = 200,
    ) -> None:
        if page_size < 1 or batch_size < 1 or push_batch_size < 1:
            raise ConfigurationError("xapi: page_size, batch_size and push_batch_size must be >= 1")
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
        self.query = query or wire.StatementQuery()
        self.page_size = page_size
        self.overlap = overlap
        self.batch_size = batch_size
        self.push_batch_size = push_batch_size
        self.stats = ReadStats()

    @classmethod
    def from_settings(
        cls, settings: AdapterSettings, *, session: requests.Session | None = None
    ) -> Self:
        """The adapter for ``settings`` (an :class:`XapiSettings`): its LRS client from
        :func:`~comp_adapters.xapi.settings.connect`, its mapping read from the mapping file."""
        if not isinstance(settings, XapiSettings):
            raise ConfigurationError(f"xapi: expected XapiSettings, got {type(settings).__name__}")
        return cls(
            connect(settings, session=session),
            mapping=load_optional_mapping(settings.mapping),
            query=settings.statement_query(),
            page_size=settings.page_size,
            overlap=timedelta(seconds=settings.overlap_seconds),
            push_batch_size=settings.push_batch_size,
        )

    @property
    def target(self) -> str:
        """``xapi <endpoint>`` (credentials in the URL redacted), or ``xapi (files)``."""
        if self.client is None:
            return f"{NAME} (files)"
        return f"{NAME} {redact_url(self.client.transport.base_url)}"

    def _need_client(self) -> XapiClient:
        if self.client is None:
            raise ConfigurationError("xapi: this needs an LRS endpoint (no client configured)")
        return self.client

    # -- reading: LRS --------------------------------------------------------------------

    def query_record(self) -> dict[str, JsonValue]:
        """What an incremental read asks the LRS, as recorded in its cursor: endpoint,
        xAPI version (negotiated now if needed) and every filter."""
        client = self._need_client()
        params = self.query.model_copy(update={"format": self.query.format or "exact"})
        filters: dict[str, JsonValue] = dict(params.to_params())
        for name in ("since", "until", "ascending", "limit"):
            filters.pop(name, None)
        return {
            "endpoint": redact_url(client.transport.base_url),
            "version": client.version,
            "filters": filters,
        }

    def evidence_query(self) -> dict[str, JsonValue]:
        """What :meth:`read_evidence` selects: the LRS endpoint, xAPI version and filters
        (:meth:`query_record`, as its cursors record it) and the digest of the mapping that
        turns statements into evidence."""
        return {
            "adapter": NAME,
            **self.query_record(),
            "mapping": mapping_digest(self.mapping),
        }

    def query_fingerprint(self) -> str:
        """SHA-256 of :meth:`query_record` (what a state store keys a cursor's query by)."""
        return fingerprint_of(self.query_record())

    def check_cursor(self, cursor: Cursor, *, source: str | None = None) -> None:
        """Refuse a cursor that is unreadable or belongs to another query (naming
        ``source``, e.g. the cursor file)."""
        validate_cursor(cursor, source=source)
        if not check_query(cursor, self.query_record(), source=source):
            log.warning(
                "xapi: %sthe cursor records no query (made by an older version); it is taken "
                "to belong to this one, and the next cursor records it",
                f"{source}: " if source else "",
            )

    def read_evidence(
        self,
        *,
        cursor: Cursor | None = None,
        ledger: EvidenceLedger | None = None,
        cursor_source: str | None = None,
    ) -> Iterator[EvidenceBatch]:
        """Evidence stored after ``cursor``, one batch per page (see the module docstring).

        ``ledger``: what earlier reads produced (default: a fresh :class:`MemoryLedger`,
        which covers voids within this read); statements it holds are skipped as read.
        ``cursor_source`` names where the cursor came from in errors (e.g. its file). A
        cursor of another query is refused (:meth:`check_cursor`) before any statement
        is read.
        """
        client = self._need_client()
        record = self.query_record()
        if cursor is not None:
            self.check_cursor(cursor, source=cursor_source)
        self.stats = stats = ReadStats()
        tombstones = tombstones_of(cursor)
        ingest = Ingest(
            self.mapper,
            tombstones,
            stats,
            source="LRS",
            ledger=ledger if ledger is not None else MemoryLedger(),
            resolve_void=client.get_voided_statement,
        )
        ingest.withdraw_tombstoned()
        position = position_of(cursor)
        window = OverlapWindow(self.overlap)
        if cursor is not None and position is not None:
            window.seed(position, cursor.seen_ids)
        since = window.since()
        query = self.query.model_copy(
            update={
                "since": since.text() if since is not None else None,
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
                stored = Instant.parse(statement.get("stored")) if type(statement) is dict else None
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
            last = stop or page.more is None
            if last:
                stats.unseen_voided = len(ingest.pending)
            yield EvidenceBatch(
                evidence=tuple(out),
                cursor=make_cursor(window.position or position, window.ids(), tombstones, record),
                withdrawn=ingest.take_withdrawn(),
                skipped=dict(stats.skipped),
            )
            if last:
                return
            assert page.more is not None  # noqa: S101 - not the last page
            page = client.get_more(page.more)

    # -- reading: files and objects ------------------------------------------------------

    def read_file(
        self,
        path: str | Path,
        *,
        cursor: Cursor | None = None,
        strict: bool = True,
        ledger: EvidenceLedger | None = None,
    ) -> Iterator[EvidenceBatch]:
        """Evidence from a statement file (array, StatementResult, statement or JSON lines).

        ``strict``: the first bad statement raises :class:`ValidationError` naming the file
        and line (or the statement id); otherwise bad statements are counted in
        :attr:`stats`, reported there with their location, and skipped. ``cursor`` carries
        the tombstones of earlier reads (only ``extra["voided"]`` is used). ``ledger``:
        what earlier reads produced (voids withdraw from it; statements it holds are
        skipped as read). A file can be read twice, so this read adds nothing to it:
        voids of targets earlier in the file are found by a second pass.
        """
        source = str(path)
        if cursor is not None:
            validate_cursor(cursor)
        self.stats = stats = ReadStats()
        tombstones = tombstones_of(cursor)
        ingest = Ingest(self.mapper, tombstones, stats, source=source, ledger=ledger, record=False)
        ingest.withdraw_tombstoned()
        problems: list[Problem] | None = None if strict else []
        out: list[Evidence] = []
        for line, statement in iter_statement_file(path, problems=problems):
            ingest.feed(statement, line, out)
            if strict and stats.problems:
                raise ValidationError(stats.problems)
            if problems:
                stats.bad += len(problems)
                keep_problems(stats, problems)
                problems.clear()
            if len(out) >= self.batch_size:
                yield self._file_batch(out, tombstones, ingest)
                out = []
        if problems:
            stats.bad += len(problems)
            keep_problems(stats, problems)
        if ingest.pending:
            # Voids whose target came earlier in the file: withdraw those targets now.
            targets = set(ingest.pending)
            for _, statement in iter_statement_file(path, problems=[]):
                if type(statement) is dict and statement.get("id") in targets:
                    ingest.withdraw_statement(statement, out)
        stats.unseen_voided = len(ingest.pending)
        yield self._file_batch(out, tombstones, ingest)

    def read_statements(
        self, statements: Iterable[Any], *, cursor: Cursor | None = None
    ) -> Iterator[EvidenceBatch]:
        """Evidence from statements already in memory: parsed JSON dicts, or TinCanPython
        ``Statement`` objects (with the ``tincan`` extra). Bad ones are counted and skipped.

        ``statements`` is read once (it may be a generator): the evidence made so far is
        remembered, so a void withdraws its target whether it comes before or after it.
        """
        if cursor is not None:
            validate_cursor(cursor)
        self.stats = stats = ReadStats()
        tombstones = tombstones_of(cursor)
        ingest = Ingest(self.mapper, tombstones, stats, source="statements", remember=True)
        out: list[Evidence] = []
        for index, item in enumerate(statements, start=1):
            statement = from_tincan(item) if is_tincan(item) else item
            ingest.feed(statement, index, out)
            if len(out) >= self.batch_size:
                yield self._file_batch(out, tombstones, ingest)
                out = []
        stats.unseen_voided = len(ingest.pending)
        yield self._file_batch(out, tombstones, ingest)

    def _file_batch(
        self, out: list[Evidence], tombstones: set[str], ingest: Ingest
    ) -> EvidenceBatch:
        return EvidenceBatch(
            evidence=tuple(out),
            cursor=make_cursor(None, (), tombstones, None),
            withdrawn=ingest.take_withdrawn(),
            skipped=dict(self.stats.skipped),
        )

    # -- writing proficiency -------------------------------------------------------------

    def proficiency_statements(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework | None = None
    ) -> list[wire.OutStatement]:
        """The statements that report these results (pure; see ``proficiency_statement``);
        ``framework`` scales scores and names competency IRIs."""
        identities = IdentityMap(self.mapping.identity)
        return [
            proficiency_statement(
                p, config=self.mapping, framework=framework, identities=identities
            )
            for p in proficiencies
        ]

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework | None = None
    ) -> Plan:
        """One ``create`` per statement the LRS does not show yet, a NOOP per one it does.

        What it shows is read in one paged query (verb achieved, ids only, stored since
        :data:`HELD_MARGIN` before the earliest ``as_of``), not one request per statement;
        the diff is :func:`~comp_adapters.xapi.planner.plan_proficiency`.
        """
        client = self._need_client()
        statements = self.proficiency_statements(proficiencies, framework=framework)
        held = self._held_ids(client, proficiencies) if statements else frozenset()
        return plan_proficiency(
            statements,
            HeldStatements(target=client.transport.base_url, ids=held),
            PushOptions(batch_size=self.push_batch_size),
        )

    def _held_ids(self, client: XapiClient, proficiencies: Sequence[Proficiency]) -> frozenset[str]:
        earliest = min(p.as_of for p in proficiencies)
        query = wire.StatementQuery(
            verb=wire.VERB_ACHIEVED,
            since=Instant.of(earliest - HELD_MARGIN).text(),
            format="ids",
            limit=self.page_size,
        )
        held: set[str] = set()
        page = client.get_statements(query)
        while True:
            held.update(
                s["id"] for s in page.statements if type(s) is dict and type(s.get("id")) is str
            )
            if page.more is None:
                return frozenset(held)
            page = client.get_more(page.more)

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Send the planned statements, one POST per batch of :attr:`push_batch_size`, through
        the one apply engine with :class:`~comp_adapters.xapi.executor.StatementExecutor`.

        Each change is journaled once the LRS confirmed its id: listed in the POST answer
        (``{"confirmed": "posted"}``), or found by id (``"found"``) when the answer left it
        out or the LRS refused the batch with 409; the statements not found are then posted
        again.
        """
        executor = StatementExecutor(self._need_client(), plan, batch_size=self.push_batch_size)
        return apply_plan(plan, executor, journal=journal)
