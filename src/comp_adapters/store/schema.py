"""The store's tables (SQLAlchemy Core), as the latest migration leaves them.

Instants are integers: microseconds since the Unix epoch, UTC (exact, sortable, the same on
SQLite and PostgreSQL, and the encoding of :class:`~comp_adapters.rules.EvidenceTable`).
JSON is held as text (canonical: sorted keys), so it reads back byte for byte.

The migrations in ``migrations/versions`` create these tables; they are written out there on
purpose (a migration is a frozen step), and a test checks the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from comp_adapters.core.timeutil import to_utc
from comp_adapters.rules.columnar import from_micros, to_micros

VERSION_TABLE = "comp_adapters_schema"
"""Where Alembic keeps the store's schema revision."""

KEY = 255
"""Length of names and keys: learner (``Evidence.learner``'s bound), competency and framework
keys (100 at most), source and target names. Ids and fingerprints (evidence, records, remote
objects, changes) have no bound in the core model, so they are unbounded text (PostgreSQL's
index entries bound the key columns to about 2,700 bytes)."""
BigId = BigInteger().with_variant(Integer, "sqlite")
"""A 64-bit row id (SQLite's INTEGER PRIMARY KEY is 64-bit already, and only that spelling
makes it the rowid)."""


class Instant(TypeDecorator[datetime]):
    """An aware datetime stored as microseconds since the epoch (UTC)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> int | None:
        return None if value is None else to_micros(to_utc(value))

    def process_result_value(self, value: Any, _dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(50), nullable=False),
    Column("status", String(20), nullable=False),
    Column("owner", String(KEY), nullable=False),
    Column("started_at", Instant, nullable=False),
    Column("finished_at", Instant),
    Column("summary", Text),
    Column("error", Text),
    Index("ix_runs_started_at", "started_at"),
)

journal = Table(
    "journal",
    metadata,
    Column("plan_fingerprint", String(64), nullable=False),
    Column("change_id", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("recorded_at", Instant, nullable=False),
    Column("run_id", Integer),
    PrimaryKeyConstraint("plan_fingerprint", "change_id", name="pk_journal"),
)

ingests = Table(
    "ingests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(KEY), nullable=False),
    Column("run_id", Integer),
    Column("started_at", Instant, nullable=False),
    Column("committed_at", Instant),
    Column("cursor_before", Text),
    Column("cursor_after", Text),
    Column("counts", Text),
    Index("ix_ingests_source", "source", "id"),
)

source_cursors = Table(
    "source_cursors",
    metadata,
    Column("source", String(KEY), primary_key=True),
    Column("query_fingerprint", Text, nullable=False),
    Column("cursor", Text),
    Column("updated_at", Instant, nullable=False),
    Column("ingest_id", Integer, nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", String(KEY), nullable=False),
    Column("source_id", Text),
    Column("learner", String(KEY), nullable=False),
    Column("competency", String(KEY), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("score", Float),
    Column("level", String(KEY)),
    Column("success", Boolean),
    Column("observed_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger),
    Column("expires_at", BigInteger),
    Column("voided", Boolean, nullable=False),
    Column("visibility", String(32), nullable=False),
    Column("source_system", Text),
    Column("body", Text, nullable=False),
    Column("changed_in", Integer, nullable=False),
    Index("ix_evidence_pair", "learner", "competency"),
    Index("ix_evidence_record", "source", "source_id"),
    Index("ix_evidence_changed_in", "changed_in"),
)
"""The evidence ledger: one row per evidence id, ``body`` its JSON (without ``voided``,
which is the column), ``changed_in`` the ingest that last added, replaced or voided it."""

pair_touches = Table(
    "pair_touches",
    metadata,
    Column("ingest_id", Integer, nullable=False),
    Column("learner", String(KEY), nullable=False),
    Column("competency", String(KEY), nullable=False),
    PrimaryKeyConstraint("ingest_id", "learner", "competency", name="pk_pair_touches"),
)
"""Pairs an ingest touched that the evidence rows no longer show: the old (learner,
competency) of evidence replaced by a copy about another pair."""

tombstones = Table(
    "tombstones",
    metadata,
    Column("kind", String(16), nullable=False),
    Column("source", String(KEY), nullable=False),
    Column("ref", Text, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("ingest_id", Integer, nullable=False),
    PrimaryKeyConstraint("kind", "source", "ref", name="pk_tombstones"),
    Index("ix_tombstones_created_at", "created_at"),
)
"""Withdrawals whose target has not arrived yet: a source record (``kind="record"``) or an
evidence id (``kind="evidence"``); kept for the retention window, then compacted."""

id_mappings = Table(
    "id_mappings",
    metadata,
    Column("target", String(KEY), nullable=False),
    Column("key", Text, nullable=False),
    Column("remote_id", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("updated_at", Instant, nullable=False),
    Column("run_id", Integer),
    PrimaryKeyConstraint("target", "key", name="pk_id_mappings"),
    Index("ix_id_mappings_remote", "target", "remote_id"),
)

proficiency_history = Table(
    "proficiency_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("framework_key", String(KEY), nullable=False),
    Column("framework_version", String(KEY)),
    Column("learner", String(KEY), nullable=False),
    Column("competency", String(KEY), nullable=False),
    Column("level", String(KEY)),
    Column("score", Float),
    Column("proficient", Boolean, nullable=False),
    Column("as_of", BigInteger, nullable=False),
    Column("evidence_ids", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("recorded_at", Instant, nullable=False),
    Column("run_id", Integer),
    Index("ix_proficiency_history_pair", "framework_key", "learner", "competency", "as_of"),
)

proficiency_current = Table(
    "proficiency_current",
    metadata,
    Column("framework_key", String(KEY), nullable=False),
    Column("learner", String(KEY), nullable=False),
    Column("competency", String(KEY), nullable=False),
    Column("history_id", BigId, nullable=False),
    Column("as_of", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
    PrimaryKeyConstraint("framework_key", "learner", "competency", name="pk_proficiency_current"),
)
"""The latest history row per (framework, learner, competency) and a digest of what decides
whether a new result differs from it."""

leases = Table(
    "leases",
    metadata,
    Column("target", String(KEY), primary_key=True),
    Column("owner", String(KEY), nullable=False),
    Column("acquired_at", Instant, nullable=False),
)
"""Who holds (or last held) each target's lease; the lock itself is the database's."""

framework_versions = Table(
    "framework_versions",
    metadata,
    Column("framework_key", String(KEY), nullable=False),
    Column("version", String(KEY), nullable=False),
    Column("status", String(16), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("effective_from", Instant, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("released_at", Instant),
    Column("record", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("updated_at", Instant, nullable=False),
    PrimaryKeyConstraint("framework_key", "version", name="pk_framework_versions"),
)
"""Governance: one row per version of a framework. ``record`` is the
:class:`~comp_adapters.governance.FrameworkVersion` as JSON (the columns beside it repeat
what queries filter on), ``document`` the version's canonical framework document, whose
hash must be the record's ``content_hash``. A draft's row is replaced as it is approved or
released; a released row never changes."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("at", Instant, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(KEY), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("prev_hash", name="uq_audit_log_prev_hash"),
)
"""Governance: the hash-chained audit log, append-only. ``seq`` numbers entries from 1,
``payload`` is canonical JSON; one entry per ``prev_hash`` (and per ``seq``), so the
chain cannot fork even if two writers raced."""

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(KEY), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("viewer", String(KEY), nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("revoked_at", Instant),
    Index("ix_api_keys_name", "name"),
)
"""Static API keys of ``comp-adapters serve``: the key's public id, the SHA-256 of its secret
part (never the key), its scopes (space-separated) and the viewer it reads as."""
