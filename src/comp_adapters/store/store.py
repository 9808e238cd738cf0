"""The state store: everything the sync engine must remember between runs, in one database.

:func:`open_store` opens (creating and migrating on first use) a SQLite file or a PostgreSQL
database; :class:`Store` is the one object the engine talks to. What each part keeps and
why is in ``docs/store.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from pydantic import JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import StoreError
from comp_adapters.governance.approvals import ApprovalPolicy
from comp_adapters.governance.audit import AuditEntry, AuditRecord, ChainHead, VerifyResult
from comp_adapters.governance.versions import FrameworkVersion, VersionedFramework
from comp_adapters.rules.columnar import EvidenceTable, to_micros
from comp_adapters.store import audit_log, history, ledger, runs, versions
from comp_adapters.store.engine import Database, create_store_engine, store_errors
from comp_adapters.store.ingest import (
    IngestBatch,
    IngestRecord,
    SourceState,
    commit_batch,
    compact_tombstones,
    open_batch,
    read_ingests,
    read_source_state,
)
from comp_adapters.store.journal import StoreJournal
from comp_adapters.store.lease import Lease, LeaseInfo, hold_lease, lease_holder
from comp_adapters.store.mappings import TargetMappings
from comp_adapters.store.migrate import upgrade
from comp_adapters.store.runs import RunRecord, RunStatus, process_owner
from comp_adapters.store.url import DEFAULT_URL, StoreUrl, parse_store_url

DEFAULT_TOMBSTONE_RETENTION = timedelta(days=30)
"""How long a withdrawal waits for its target to arrive before it is compacted."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(
    url: str = DEFAULT_URL,
    *,
    tombstone_retention: timedelta = DEFAULT_TOMBSTONE_RETENTION,
    clock: Callable[[], datetime] = _utc_now,
) -> Store:
    """Open the store at ``url``, creating it (and a SQLite file's folder) on first use and
    migrating it to this version's schema; a store written by a newer version is refused.

    ``sqlite:///path`` (relative to the working folder; ``sqlite:////abs/path``) or
    ``postgresql://user:password@host:port/database`` (psycopg 3). ``clock`` gives the
    instants the store records (injectable for tests).
    """
    store_url = parse_store_url(url)
    if tombstone_retention < timedelta(0):
        raise ValueError("tombstone_retention must not be negative")
    if store_url.path is not None:
        try:
            store_url.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"store {store_url.redacted}: cannot create its folder: {exc.strerror}"
            ) from exc
    engine = create_store_engine(store_url)
    db = Database(engine, store_url, clock)
    try:
        with store_errors(store_url, "opening the store"):
            revision = upgrade(engine, shown_as=store_url.redacted)
    except BaseException:
        engine.dispose()
        raise
    return Store(db, revision=revision, tombstone_retention=tombstone_retention)


class Store:
    """Runs, journal, cursors, evidence ledger, id mappings, proficiency history, leases,
    framework versions and the audit log."""

    def __init__(self, db: Database, *, revision: str, tombstone_retention: timedelta) -> None:
        self._db = db
        self.revision = revision
        """The schema revision the store is at."""
        self.tombstone_retention = tombstone_retention

    @property
    def url(self) -> StoreUrl:
        return self._db.url

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.backend

    def close(self) -> None:
        """Close every pooled connection (the store can be opened again)."""
        self._db.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url.redacted!r})"

    # -- runs and journal ---------------------------------------------------------------

    def begin_run(self, *, kind: str = "sync", owner: str | None = None) -> int:
        """Record that a run started; returns its id."""
        return runs.begin_run(self._db, kind=kind, owner=owner)

    def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        summary: JsonValue = None,
        error: str | None = None,
    ) -> None:
        runs.finish_run(self._db, run_id, status=status, summary=summary, error=error)

    def get_run(self, run_id: int) -> RunRecord | None:
        return runs.get_run(self._db, run_id)

    def recent_runs(self, *, limit: int = 20, kind: str | None = None) -> list[RunRecord]:
        return runs.recent_runs(self._db, limit=limit, kind=kind)

    def journal(self, *, run_id: int | None = None) -> StoreJournal:
        """The persistent journal, for ``apply_plan(..., journal=store.journal())``."""
        return StoreJournal(self._db, run_id=run_id)

    # -- evidence -----------------------------------------------------------------------

    @contextmanager
    def ingest(
        self,
        source: str,
        *,
        query_fingerprint: str,
        reset: bool = False,
        run_id: int | None = None,
    ) -> Iterator[IngestBatch]:
        """One ingest transaction for ``source``: its evidence, withdrawals and cursor
        commit together when the block ends, or not at all.

        Refused (StoreError) when ``source`` was read with another ``query_fingerprint``,
        unless ``reset``: then its cursor is dropped and reading starts over (the evidence
        already in the ledger stays, de-duplicated by id as the source is read again).
        """
        db = self._db
        with (
            store_errors(db.url, f"ingesting evidence from {source!r}"),
            db.engine.connect() as connection,
            connection.begin(),
        ):
            batch = open_batch(
                db,
                connection,
                source=source,
                query_fingerprint=query_fingerprint,
                reset=reset,
                run_id=run_id,
                retention=self.tombstone_retention,
            )
            yield batch
            commit_batch(batch, query_fingerprint)

    def source_state(self, source: str) -> SourceState | None:
        """The stored cursor and query fingerprint of ``source`` (None before its first ingest)."""
        with self._db.read("reading a source's cursor") as connection:
            found = read_source_state(connection, source)
        return found[0] if found else None

    def sources(self) -> list[SourceState]:
        with self._db.read("listing evidence sources") as connection:
            return read_source_state(connection)

    def recent_ingests(self, *, source: str | None = None, limit: int = 20) -> list[IngestRecord]:
        """The latest ingests (of ``source``), newest first: cursors before and after, counts."""
        with self._db.read("listing ingests") as connection:
            return read_ingests(connection, source=source, limit=limit)

    def iter_evidence(
        self, *, learners: Iterable[str] | None = None, include_voided: bool = False
    ) -> Iterator[Evidence]:
        """Live evidence (all, or of ``learners``), streamed from the ledger."""
        return ledger.iter_evidence(self._db, learners=learners, include_voided=include_voided)

    def evidence_table(
        self,
        *,
        learners: Iterable[str] | None = None,
        pairs: Iterable[tuple[str, str]] | None = None,
    ) -> EvidenceTable:
        """Live evidence as columns for the rules engine (needs NumPy): all, of
        ``learners``, or of (learner, competency) ``pairs``."""
        return ledger.evidence_table(self._db, learners=learners, pairs=pairs)

    def pairs_with_instants_between(self, after: datetime, until: datetime) -> set[tuple[str, str]]:
        """Pairs with live evidence observed or expiring in (``after``, ``until``]: the
        pairs whose results may change when ``as_of`` moves from one to the other."""
        return ledger.pairs_with_instants_between(self._db, to_micros(after), to_micros(until))

    def evidence_count(self, *, include_voided: bool = False) -> int:
        return ledger.evidence_count(self._db, include_voided=include_voided)

    def evidence_of_record(self, source: str, record_id: str) -> list[str]:
        """The evidence ids source record ``record_id`` of ``source`` produced."""
        return ledger.evidence_of_record(self._db, source, record_id)

    def last_ingest_id(self) -> int:
        """The latest committed ingest's id (0 before any): remember it to ask later what
        changed since."""
        return ledger.last_ingest_id(self._db)

    def touched_since(self, ingest_id: int) -> set[tuple[str, str]]:
        """(learner, competency) pairs whose evidence changed after ingest ``ingest_id``."""
        return ledger.touched_since(self._db, ingest_id)

    def evidence_changes(self, after: int) -> Iterator[Any]:
        """Ledger rows (voided too) last changed by an ingest after ``after``: id, learner,
        competency, kind, score, level, success, observed_at, recorded_at, expires_at (as
        :meth:`evidence_table` reads them), voided, changed_in; streamed."""
        return ledger.evidence_changes(self._db, after)

    def ingest_committed_at(self, ingest_id: int) -> datetime | None:
        """When ingest ``ingest_id`` committed (``None``: no such committed ingest): with
        its id, what tells this store's ingest from another store's of the same number."""
        return ledger.ingest_committed_at(self._db, ingest_id)

    def moved_since(self, after: int) -> set[tuple[str, str]]:
        """The old pairs of evidence that ingests after ``after`` moved to another pair."""
        return ledger.moved_since(self._db, after)

    def tombstone_count(self, *, source: str | None = None) -> int:
        """Withdrawals still waiting for their target."""
        return ledger.tombstone_count(self._db, source=source)

    def compact_tombstones(self) -> int:
        """Drop tombstones older than the retention window (each ingest does this too)."""
        with self._db.write("compacting tombstones") as connection:
            return compact_tombstones(connection, before=self._db.now() - self.tombstone_retention)

    # -- targets ------------------------------------------------------------------------

    def mappings(self, target: str) -> TargetMappings:
        """The id mappings of ``target``."""
        return TargetMappings(self._db, target)

    @contextmanager
    def lease(
        self,
        target: str,
        *,
        wait: bool = False,
        timeout: float | None = None,
        owner: str | None = None,
    ) -> Iterator[Lease]:
        """Hold ``target``'s lease for the block: no other worker (process, machine) holds
        it meanwhile. Busy: :class:`~comp_adapters.errors.TargetBusyError` at once, or with
        ``wait`` after ``timeout`` seconds (``None``: wait as long as it takes)."""
        with hold_lease(
            self._db, target, owner=owner or process_owner(), wait=wait, timeout=timeout
        ) as held:
            yield held

    def lease_holder(self, target: str) -> LeaseInfo | None:
        return lease_holder(self._db, target)

    # -- proficiency --------------------------------------------------------------------

    def record_proficiency(
        self,
        results: Iterable[Proficiency],
        *,
        framework_key: str,
        framework_version: str | None = None,
        run_id: int | None = None,
        clear: history.Clear | None = None,
        scope: Collection[tuple[str, str]] | None = None,
    ) -> history.HistoryUpdate:
        """Keep each result that changed; returns those (the ones to write to targets).

        ``clear`` and ``scope``: the results are all of ``scope`` (of every pair when
        ``None``), and a pair of it with a current result but none given gets the one
        ``clear`` makes (see :func:`~comp_adapters.store.history.record_results`)."""
        return history.record_results(
            self._db,
            results,
            framework_key=framework_key,
            framework_version=framework_version,
            run_id=run_id,
            clear=clear,
            scope=scope,
        )

    def current_pairs(
        self, framework_key: str, pairs: Collection[tuple[str, str]] | None = None
    ) -> set[tuple[str, str]]:
        """The pairs (all, or of ``pairs``) with a current result of ``framework_key``."""
        return history.current_pairs(self._db, framework_key, pairs)

    def last_proficiency_run(self, framework_key: str) -> int:
        """The latest run that recorded a changed result of ``framework_key`` (0: none)."""
        return history.last_recording_run(self._db, framework_key)

    def latest_proficiency(
        self, framework_key: str, *, learners: Iterable[str] | None = None
    ) -> Iterator[history.ProficiencyRecord]:
        return history.latest_results(self._db, framework_key, learners=learners)

    def proficiency_as_of(
        self,
        framework_key: str,
        at: datetime,
        *,
        learner: str | None = None,
        competency: str | None = None,
    ) -> list[history.ProficiencyRecord]:
        return history.results_as_of(
            self._db, framework_key, at, learner=learner, competency=competency
        )

    def proficiency_history(
        self, framework_key: str, learner: str, competency: str
    ) -> list[history.ProficiencyRecord]:
        return history.pair_history(self._db, framework_key, learner, competency)

    # -- governance: framework versions ---------------------------------------------------

    def framework_versions(self, key: str) -> list[FrameworkVersion]:
        """The version records of framework ``key`` (drafts and releases), oldest first."""
        return versions.history(self._db, key)

    def framework_version(self, key: str, label: str) -> VersionedFramework | None:
        """Version ``label`` of ``key`` with its document; a document changed in the
        database since is a StoreError."""
        return versions.versioned(self._db, key, label)

    def versioned_frameworks(self) -> list[str]:
        """The keys of the frameworks the store holds versions of."""
        return versions.framework_keys(self._db)

    def release_version(
        self,
        framework: Framework,
        *,
        rationale: str | None,
        actor: str,
        effective_from: datetime | None = None,
        version: str | None = None,
        policy: ApprovalPolicy | None = None,
        at: datetime | None = None,
    ) -> versions.VersionOutcome:
        """Release ``framework`` as an immutable version, logged in the audit chain;
        the same content again changes nothing (``changed=False``)."""
        return versions.release_framework(
            self._db,
            framework,
            rationale=rationale,
            actor=actor,
            at=at,
            effective_from=effective_from,
            version=version,
            policy=policy,
        )

    def release_draft_version(
        self,
        key: str,
        label: str,
        *,
        actor: str,
        policy: ApprovalPolicy | None = None,
        at: datetime | None = None,
    ) -> versions.VersionOutcome:
        """Release the stored draft ``key@label`` once ``policy``'s approvals are in."""
        return versions.release_stored_draft(
            self._db, key, label, actor=actor, at=at, policy=policy
        )

    def draft_version(
        self,
        framework: Framework,
        *,
        rationale: str,
        actor: str,
        effective_from: datetime | None = None,
        version: str | None = None,
        at: datetime | None = None,
    ) -> versions.VersionOutcome:
        """Store a draft of ``framework`` (for approval and staging targets), logged."""
        return versions.draft_framework(
            self._db,
            framework,
            rationale=rationale,
            actor=actor,
            at=at,
            effective_from=effective_from,
            version=version,
        )

    def approve_version(
        self,
        key: str,
        label: str,
        *,
        actor: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> versions.VersionOutcome:
        """Add ``actor``'s approval to the stored draft ``key@label``, logged."""
        return versions.approve_stored(self._db, key, label, actor=actor, at=at, note=note)

    # -- governance: the audit log ----------------------------------------------------------

    def append_audit(self, record: AuditRecord) -> AuditEntry:
        """Seal ``record`` onto the audit chain (appends are serialised: one head)."""
        return audit_log.append_records(self._db, [record])[0]

    def append_audit_many(self, records: Iterable[AuditRecord]) -> list[AuditEntry]:
        """Seal several records in order, in one transaction."""
        return audit_log.append_records(self._db, records)

    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Entries numbered above ``after`` (at most ``limit``), in chain order."""
        return audit_log.entries(self._db, after=after, limit=limit)

    def iter_audit(self, *, after: int = 0) -> Iterator[AuditEntry]:
        """Every entry numbered above ``after``, in chain order, read page by page."""
        return audit_log.iter_entries(self._db, after=after)

    def audit_head(self) -> ChainHead | None:
        """The last entry's ``SEQ:HASH`` as stored (``None``: an empty log)."""
        return audit_log.head(self._db)

    def audit_count(self) -> int:
        return audit_log.count(self._db)

    def verify_audit(self, *, head: ChainHead | str | None = None) -> VerifyResult:
        """Recompute the stored chain; against ``head`` (kept elsewhere) a cut tail or a
        rewritten chain is found too."""
        return audit_log.verify_log(self._db, head=head)
