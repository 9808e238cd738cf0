"""What a copy of the ledger kept elsewhere reads to catch up: changed rows, moved pairs,
and when an ingest committed."""

from __future__ import annotations

from datetime import UTC, datetime

from comp_adapters.store import Store
from tests.conftest import ev
from tests.store.conftest import START, Clock


def test_changed_rows_moved_pairs_and_commit_instants(store: Store, clock: Clock) -> None:
    assert list(store.evidence_changes(0)) == []
    assert store.ingest_committed_at(1) is None
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence([ev("e1", "a", score=0.5), ev("e2", "b", level="proficient")])
    first = store.last_ingest_id()
    assert store.ingest_committed_at(first) == START
    rows = sorted(store.evidence_changes(0))
    assert [tuple(row) for row in rows] == [
        ("e1", "ann", "a", "other", 0.5, None, None, rows[0][7], None, None, False, first),
        ("e2", "ann", "b", "other", None, "proficient", None, rows[1][7], None, None, False, first),
    ]
    assert rows[0][7] == int(datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp() * 1_000_000)
    assert list(store.evidence_changes(first)) == []
    assert store.moved_since(0) == set()
    clock.advance(minutes=1)
    with store.ingest("src", query_fingerprint="q") as batch:
        # e1 again, recorded later, about bob: it moves; e2 is withdrawn.
        batch.add_evidence(
            [ev("e1", "a", learner="bob", score=0.9, recorded_at=datetime(2026, 2, 1, tzinfo=UTC))]
        )
        batch.withdraw_evidence(["e2"])
    second = store.last_ingest_id()
    assert store.ingest_committed_at(second) == START.replace(minute=1)
    changed = {row[0]: row for row in store.evidence_changes(first)}
    assert set(changed) == {"e1", "e2"}
    assert changed["e1"][1] == "bob"
    assert changed["e1"][-1] == second
    assert changed["e2"][-2] is True  # voided rows are changes too
    assert store.moved_since(first) == {("ann", "a")}
    assert store.moved_since(second) == set()
