"""The audit log in the store (SQLite and PostgreSQL): entries read back exactly as sealed,
appends from concurrent processes never fork the chain, and tampering with the table
directly — a changed field, a deleted row, two swapped rows, a cut tail, a rewritten chain —
is detected and located by entry number."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, delete, text, update
from sqlalchemy.sql.expression import Executable

from comp_adapters.errors import StoreError
from comp_adapters.governance import (
    AuditEntry,
    AuditKind,
    AuditRecord,
    Tampering,
    append_all,
    applied_change_record,
    canonical_json,
    fingerprint,
    ingest_batch_record,
    verify,
)
from comp_adapters.governance.audit import ChainHead
from comp_adapters.store import Store, open_store
from comp_adapters.store.audit_log import entry_row
from comp_adapters.store.schema import audit_log
from comp_adapters.store.url import parse_store_url
from tests.governance.builders import T0, audit_chain

WORKER = "tests.governance.audit_worker"
ROOT = Path(__file__).resolve().parents[2]


def records_of_chain(length: int = 8) -> list[AuditRecord]:
    """The records behind builders.audit_chain (one of every kind, then ingest batches)."""
    return [
        AuditRecord(kind=AuditKind(e.kind), at=e.at, actor=e.actor, payload=e.payload)
        for e in audit_chain(length)
    ]


@pytest.fixture
def raw(store_url: str) -> Iterator[Engine]:
    """A plain engine on the store's database: what someone with write access could do."""
    engine = create_engine(parse_store_url(store_url).url)
    yield engine
    engine.dispose()


@pytest.fixture
def logged(store: Store) -> Store:
    store.append_audit_many(records_of_chain(8))
    return store


def _tamper(raw: Engine, *statements: Executable) -> None:
    with raw.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def test_the_store_seals_the_same_chain_as_the_pure_core(store: Store) -> None:
    one = store.append_audit(records_of_chain(1)[0])
    rest = store.append_audit_many(records_of_chain(8)[1:])
    assert [one, *rest] == audit_chain(8)
    assert store.audit_entries() == audit_chain(8)
    assert list(store.iter_audit(after=5)) == audit_chain(8)[5:]
    assert store.audit_entries(after=2, limit=2) == audit_chain(8)[2:4]
    assert store.audit_head() == ChainHead(seq=8, hash=audit_chain(8)[-1].hash)
    assert store.audit_count() == 8
    assert store.verify_audit().ok


def test_an_empty_log(store: Store) -> None:
    assert store.audit_entries() == []
    assert store.audit_head() is None
    result = store.verify_audit()
    assert result.ok
    assert result.head is None


def test_the_sync_engine_logs_applied_changes_and_ingest_batches(store: Store) -> None:
    """What the engine appends (wired at merge): an applied change, an ingest batch whose
    cursors and counts come from the store's own ingest record."""
    with store.ingest("lrs", query_fingerprint="activity=a") as batch:
        batch.set_cursor({"since": "2026-02-01T10:00:00Z"})
    [ingest] = store.recent_ingests()
    entries = store.append_audit_many(
        [
            ingest_batch_record(
                source=ingest.source,
                cursor_before=ingest.cursor_before,
                cursor_after=ingest.cursor_after,
                counts=ingest.counts,
                actor="sync",
                at=ingest.committed_at,
            ),
            applied_change_record(
                target="moodle-prod",
                key="SUPPORT/comm.written",
                action="update",
                before=fingerprint({"shortname": "Written"}),
                after=fingerprint({"shortname": "Written communication"}),
                actor="sync",
                at=T0,
                plan="a" * 64,
                change_id="c7",
                version="SUPPORT@2.0",
            ),
        ]
    )
    assert [e.kind for e in store.audit_entries()] == ["ingest_batch", "applied_change"]
    assert store.audit_entries()[0].payload["cursor_after"] == {"since": "2026-02-01T10:00:00Z"}
    assert store.audit_entries()[0].payload["counts"] == ingest.counts
    assert store.audit_entries()[1].payload["version"] == "SUPPORT@2.0"
    assert entries[1].prev_hash == entries[0].hash
    assert store.verify_audit(head=entries[-1].head).ok


def test_a_changed_field_is_located(logged: Store, raw: Engine) -> None:
    _tamper(raw, update(audit_log).where(audit_log.c.seq == 3).values(actor="mallory"))
    problem = logged.verify_audit().problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.position) == (Tampering.EDITED, 3, 2)
    assert "entry 3" in str(problem)


def test_a_changed_payload_is_located(logged: Store, raw: Engine) -> None:
    row = logged.audit_entries()[6]
    forged = row.payload | {"counts": {"duplicate": 0, "new": 0}}
    _tamper(
        raw, update(audit_log).where(audit_log.c.seq == 7).values(payload=canonical_json(forged))
    )
    problem = logged.verify_audit().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (Tampering.EDITED, 7)


def test_a_changed_instant_is_located(logged: Store, raw: Engine) -> None:
    _tamper(raw, text("UPDATE audit_log SET at = at + 1 WHERE seq = 2"))  # one microsecond
    problem = logged.verify_audit().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (Tampering.EDITED, 2)


def test_a_deleted_row_is_located(logged: Store, raw: Engine) -> None:
    _tamper(raw, delete(audit_log).where(audit_log.c.seq == 4))
    problem = logged.verify_audit().problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.position) == (Tampering.DELETED, 4, 3)
    assert "entry 4 is missing" in problem.message


def test_two_swapped_rows_are_located(logged: Store, raw: Engine) -> None:
    seq = audit_log.c.seq
    _tamper(
        raw,
        update(audit_log).where(seq == 3).values(seq=1000),
        update(audit_log).where(seq == 5).values(seq=3),
        update(audit_log).where(seq == 1000).values(seq=5),
    )
    problem = logged.verify_audit().problem
    assert problem is not None
    assert (problem.kind, problem.seq, problem.position) == (Tampering.REORDERED, 3, 2)
    assert "entry 3" in problem.message
    assert "appears at position 4" in problem.message


def test_a_cut_tail_is_detected_against_a_kept_head(logged: Store, raw: Engine) -> None:
    kept = logged.audit_head()
    assert kept is not None
    _tamper(raw, delete(audit_log).where(audit_log.c.seq > 6))
    assert logged.verify_audit().ok  # a shorter chain is sound in itself: hence the head
    result = logged.verify_audit(head=kept)
    assert result.problem is not None
    assert (result.problem.kind, result.problem.seq) == (Tampering.TRUNCATED, 7)
    assert "entries 7-8 were removed from the end" in result.problem.message
    assert not logged.verify_audit(head=kept.hash).ok  # the bare hash detects it too


def test_a_rewritten_chain_is_detected_against_a_kept_head(logged: Store, raw: Engine) -> None:
    """Edit entry 3 and re-hash everything after it: sound in itself, not the kept head."""
    kept = logged.audit_head()
    assert kept is not None
    entries = logged.audit_entries()
    edited = AuditRecord(
        kind=AuditKind(entries[2].kind),
        at=entries[2].at,
        actor="mallory",
        payload=entries[2].payload,
    )
    rest = [
        AuditRecord(kind=AuditKind(e.kind), at=e.at, actor=e.actor, payload=e.payload)
        for e in entries[3:]
    ]
    forged = append_all(entries[1].head, [edited, *rest])
    with raw.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq >= 3))
        _insert(connection, forged)
    assert logged.verify_audit().ok
    result = logged.verify_audit(head=kept)
    assert result.problem is not None
    assert (result.problem.kind, result.problem.seq) == (Tampering.REWRITTEN, 8)


def _insert(connection: Connection, entries: list[AuditEntry]) -> None:
    connection.execute(audit_log.insert(), [entry_row(e) for e in entries])


def test_the_table_refuses_a_fork(logged: Store, raw: Engine) -> None:
    """Two entries after the same one cannot both be stored, even bypassing the lock."""
    entries = logged.audit_entries()
    fork = append_all(entries[-2].head, records_of_chain(1))[0]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), raw.begin() as connection:
        connection.execute(audit_log.insert(), [{**entry_row(fork), "seq": 100}])
    assert logged.verify_audit().ok


def _run_together(store_url: str, *jobs: tuple[str, str]) -> list[str]:
    """Run audit_worker.py for each (name, what) at once; their outputs after "ready"."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", WORKER, store_url, name, what],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        for name, what in jobs
    ]
    try:
        for process in processes:  # every worker has opened the store
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:  # then all start together
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.close()
        outputs = [process.stdout.read() for process in processes if process.stdout]
        codes = [process.wait(timeout=240) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()
    assert codes == [0] * len(jobs)
    return outputs


def test_concurrent_appends_from_several_processes_keep_one_chain(
    store: Store, store_url: str
) -> None:
    workers, each = 4, 15
    _run_together(store_url, *((f"worker-{n}", str(each)) for n in range(workers)))
    entries = store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, workers * each + 1))
    assert verify(entries).ok
    for n in range(workers):
        mine = [e.payload["n"] for e in entries if e.actor == f"worker-{n}"]
        assert mine == list(range(each))  # each worker's entries, in its own order


def test_concurrent_releases_of_one_label_let_exactly_one_win(store: Store, store_url: str) -> None:
    """Read, check and write hold the lock together: a release never overwrites another."""
    outputs = _run_together(store_url, ("Alpha", "release"), ("Beta", "release"))
    assert sorted(outputs) == ["refused\n", "released\n"]
    [record] = store.framework_versions("SUPPORT")
    winner = "Alpha" if outputs[0] == "released\n" else "Beta"
    assert record.rationale == winner
    stored = store.framework_version("SUPPORT", "1.0")
    assert stored is not None
    assert stored.framework.title == winner
    assert [e.actor for e in store.audit_entries()] == [winner]


def test_the_log_survives_reopening(store_url: str) -> None:
    with open_store(store_url) as first:
        first.append_audit_many(records_of_chain(3))
        head = first.audit_head()
    with open_store(store_url) as second:
        assert second.verify_audit(head=head).ok
        entry = second.append_audit(
            AuditRecord(kind=AuditKind.ATTESTATION, at=T0 + timedelta(days=1), actor="x")
        )
        assert head is not None
        assert (entry.seq, entry.prev_hash) == (head.seq + 1, head.hash)


def test_a_row_that_is_not_an_entry_is_reported_not_a_traceback(logged: Store, raw: Engine) -> None:
    _tamper(raw, update(audit_log).where(audit_log.c.seq == 5).values(payload="not json"))
    with pytest.raises(StoreError, match="entry number 5 cannot be read"):
        logged.verify_audit()


def test_sqlite_text_is_read_back_byte_for_byte(logged: Store, raw: Engine) -> None:
    """Payload text is canonical JSON, so what verify hashes is what was sealed."""
    with raw.connect() as connection:
        payloads = connection.execute(text("SELECT payload FROM audit_log ORDER BY seq")).all()
    assert [p[0] for p in payloads] == [canonical_json(e.payload) for e in audit_chain(8)]
