"""The state store of the sync engine (SQLAlchemy Core + Alembic; SQLite or PostgreSQL).

    from comp_adapters.store import open_store

    store = open_store("sqlite:///.comp-adapters/state.db")   # or postgresql://…
    with store.ingest("lrs", query_fingerprint=fp) as batch:
        batch.add_evidence(evidence)
        batch.set_cursor(cursor)
    report = apply_plan(plan, execute, journal=store.journal())

Needs the ``store`` extra: ``pip install 'comp-adapters[store]'``. See ``docs/store.md``.
"""

from comp_adapters.store.history import HistoryUpdate, ProficiencyRecord
from comp_adapters.store.ingest import IngestBatch, IngestCounts, IngestRecord, SourceState
from comp_adapters.store.journal import StoreJournal
from comp_adapters.store.lease import Lease, LeaseInfo
from comp_adapters.store.mappings import IdMapping, Ownership, TargetMappings
from comp_adapters.store.runs import RunRecord, RunStatus
from comp_adapters.store.store import DEFAULT_TOMBSTONE_RETENTION, Store, open_store
from comp_adapters.store.url import DEFAULT_URL, StoreUrl, redact_store_url
from comp_adapters.store.versions import VersionOutcome, framework_for_target

__all__ = [
    "DEFAULT_TOMBSTONE_RETENTION",
    "DEFAULT_URL",
    "HistoryUpdate",
    "IdMapping",
    "IngestBatch",
    "IngestCounts",
    "IngestRecord",
    "Lease",
    "LeaseInfo",
    "Ownership",
    "ProficiencyRecord",
    "RunRecord",
    "RunStatus",
    "SourceState",
    "Store",
    "StoreJournal",
    "StoreUrl",
    "TargetMappings",
    "VersionOutcome",
    "framework_for_target",
    "open_store",
    "redact_store_url",
]
