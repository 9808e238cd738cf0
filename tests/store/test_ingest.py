"""Ingest: evidence, withdrawals and cursors in one transaction; the ledger de-duplicates."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from comp_adapters.core import Evidence
from comp_adapters.errors import StoreError
from comp_adapters.protocols import Cursor
from comp_adapters.store import Store
from comp_adapters.store.sql import CHUNK
from tests.conftest import ev
from tests.store.conftest import Clock


def _sorted(items: list[Evidence]) -> list[Evidence]:
    return sorted(items, key=lambda item: item.id)


def _ingest(store: Store, *items: Evidence, source: str = "src") -> None:
    with store.ingest(source, query_fingerprint="q") as batch:
        batch.add_evidence(items)


def test_evidence_reads_back_exactly_as_ingested(store: Store) -> None:
    items = [
        ev("e1", "a", score=0.25, kind="assessment", note="typed in by hand ✓"),
        ev("e2", "b", learner="bob", level="proficient", source_system="moodle", source_id="9"),
        ev(
            "e3",
            "c",
            day=2,
            success=False,
            recorded_at=datetime(2026, 1, 5, tzinfo=UTC),
            expires_at=datetime(2027, 1, 1, tzinfo=UTC),
            visibility="private",
        ),
    ]
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence(items)
    assert batch.counts.added == 3
    assert _sorted(list(store.iter_evidence())) == items
    assert store.evidence_count() == 3


def test_long_ids_and_names_fit(store: Store) -> None:
    item = ev("x" * 3000, "k" * 100, learner="l" * 255, score=1, source_id="s" * 3000)
    _ingest(store, item)
    assert list(store.iter_evidence()) == [item]
    assert store.evidence_of_record("src", "s" * 3000) == ["x" * 3000]


def test_the_same_copy_twice_is_stored_once(store: Store) -> None:
    _ingest(store, ev("e1", "a", score=0.5))
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence([ev("e1", "a", score=0.5), ev("e1", "a", score=0.5)])
    assert (batch.counts.added, batch.counts.unchanged) == (0, 1)
    assert store.evidence_count() == 1


def _copies() -> list[Evidence]:
    return [
        ev("e1", "a", score=0.2, recorded_at=datetime(2026, 1, 2, tzinfo=UTC)),
        ev("e1", "a", score=0.9, recorded_at=datetime(2026, 1, 9, tzinfo=UTC)),  # recorded last
        ev("e1", "b", score=0.4, recorded_at=datetime(2026, 1, 9, tzinfo=UTC)),  # same instant
    ]


def test_the_copy_recorded_last_is_kept_whatever_the_order(store: Store) -> None:
    kept = max(_copies()[1:], key=lambda item: item.model_dump_json(exclude={"voided"}))
    for order in itertools.permutations(_copies()):
        with store.ingest("src", query_fingerprint="q", reset=True) as batch:
            batch.withdraw_evidence([])  # a no-op withdrawal keeps the batch honest
        for item in order:  # one ingest per copy: replacement across ingests
            _ingest(store, item)
        assert list(store.iter_evidence()) == [kept], order
    for order in itertools.permutations(_copies()):  # all copies in one batch
        _ingest(store, *order)
        assert list(store.iter_evidence()) == [kept], order


def test_a_replaced_copy_about_another_pair_touches_both_pairs(store: Store) -> None:
    _ingest(store, ev("e1", "a", recorded_at=datetime(2026, 1, 2, tzinfo=UTC), score=0.5))
    mark = store.last_ingest_id()
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence([ev("e1", "b", recorded_at=datetime(2026, 1, 3, tzinfo=UTC), score=1)])
    assert batch.counts.replaced == 1
    assert store.touched_since(mark) == {("ann", "a"), ("ann", "b")}


def test_a_void_sticks_against_later_copies(store: Store) -> None:
    live = ev("e1", "a", score=0.5, source_id="st1")
    _ingest(store, live.model_copy(update={"voided": True}))
    _ingest(store, live, ev("e2", "a", score=0.1))
    _ingest(store, live.model_copy(update={"recorded_at": datetime(2026, 2, 1, tzinfo=UTC)}))
    assert [item.id for item in store.iter_evidence()] == ["e2"]
    voided = [item for item in store.iter_evidence(include_voided=True) if item.voided]
    assert [item.id for item in voided] == ["e1"]


def test_withdrawing_a_known_record_voids_the_evidence_it_produced(store: Store) -> None:
    _ingest(
        store,
        ev("st1:a", "a", score=0.5, source_id="st1"),
        ev("st1:b", "b", score=0.5, source_id="st1"),
        ev("st2:a", "a", score=0.7, source_id="st2"),
    )
    assert store.evidence_of_record("src", "st1") == ["st1:a", "st1:b"]
    mark = store.last_ingest_id()
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.withdraw(["st1"])
    assert (batch.counts.voided, batch.counts.tombstoned) == (2, 0)
    assert [item.id for item in store.iter_evidence()] == ["st2:a"]
    assert store.touched_since(mark) == {("ann", "a"), ("ann", "b")}
    assert store.tombstone_count() == 0


def test_records_are_per_source(store: Store) -> None:
    _ingest(store, ev("x", "a", score=0.5, source_id="7"), source="moodle-a")
    with store.ingest("moodle-b", query_fingerprint="q") as batch:
        batch.withdraw(["7"])  # record 7 of another source: not ours
    assert batch.counts.tombstoned == 1
    assert [item.id for item in store.iter_evidence()] == ["x"]


def test_a_withdrawal_before_its_target_is_a_tombstone_until_it_arrives(store: Store) -> None:
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.withdraw(["st9"])
        batch.withdraw_evidence(["loose"])
    assert (batch.counts.tombstoned, store.tombstone_count()) == (2, 2)
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence(
            [
                ev("st9:a", "a", score=1, source_id="st9"),
                ev("loose", "b", score=1),
                ev("fine", "c", score=1, source_id="st10"),
            ]
        )
    assert (batch.counts.added, batch.counts.voided) == (3, 2)
    assert [item.id for item in store.iter_evidence()] == ["fine"]
    assert store.tombstone_count() == 0


def test_a_record_split_across_chunks_is_withdrawn_whole(store: Store) -> None:
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.withdraw(["big"])
    many = [ev(f"big:{n}", "a", score=0.5, source_id="big") for n in range(CHUNK + 10)]
    _ingest(store, *many, ev("other", "a", score=0.5))
    assert [item.id for item in store.iter_evidence()] == ["other"]


def test_withdrawal_and_evidence_in_one_batch_in_either_order(store: Store) -> None:
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence([ev("first", "a", score=1, source_id="r1")])
        batch.withdraw(["r1", "r2"])
        batch.add_evidence([ev("second", "a", score=1, source_id="r2")])
        batch.add_evidence([ev("third", "a", score=1, source_id="r1")])
    assert store.evidence_count() == 0
    assert store.evidence_count(include_voided=True) == 3


def test_tombstones_are_compacted_after_the_retention_window(store_url: str, clock: Clock) -> None:
    from comp_adapters.store import open_store  # noqa: PLC0415

    with open_store(store_url, clock=clock, tombstone_retention=timedelta(days=7)) as store:
        with store.ingest("src", query_fingerprint="q") as batch:
            batch.withdraw(["late", "later"])
        clock.advance(days=6)
        with store.ingest("src", query_fingerprint="q") as batch:
            batch.withdraw(["recent"])
        assert batch.counts.compacted == 0
        clock.advance(days=2)
        with store.ingest("src", query_fingerprint="q") as batch:
            batch.add_evidence([ev("x", "a", score=1, source_id="late")])
        assert batch.counts.compacted == 2
        assert store.tombstone_count() == 1
        # Past the window, a target that finally arrives is no longer withdrawn: the bound.
        assert [item.id for item in store.iter_evidence()] == ["x"]
        clock.advance(days=30)
        assert store.compact_tombstones() == 1
        assert store.tombstone_count() == 0


def test_the_cursor_commits_with_its_evidence(store: Store) -> None:
    assert store.source_state("lrs") is None
    cursor = Cursor(adapter="xapi", field="stored", position="2026-01-01T00:00:00Z")
    with store.ingest("lrs", query_fingerprint="q1") as batch:
        assert batch.cursor is None
        batch.add_evidence([ev("e1", "a", score=1)])
        batch.set_cursor(cursor)
    state = store.source_state("lrs")
    assert state is not None
    assert state.cursor == cursor.model_dump(mode="json")
    assert state.query_fingerprint == "q1"
    with store.ingest("lrs", query_fingerprint="q1") as batch:
        assert Cursor.model_validate(batch.cursor) == cursor
    assert [s.source for s in store.sources()] == ["lrs"]


def test_each_ingest_is_recorded_with_its_cursors_and_counts(store: Store, clock: Clock) -> None:
    run_id = store.begin_run()
    with store.ingest("lrs", query_fingerprint="q", run_id=run_id) as batch:
        batch.add_evidence([ev("e1", "a", score=1), ev("e2", "a", score=1)])
        batch.set_cursor({"position": 1})
    clock.advance(minutes=5)
    with store.ingest("lrs", query_fingerprint="q") as batch:
        batch.withdraw_evidence(["e1", "nobody"])
        batch.set_cursor({"position": 2})
    with store.ingest("other", query_fingerprint="q"):
        pass
    latest, first = store.recent_ingests(source="lrs")
    assert (first.run_id, first.cursor_before, first.cursor_after) == (
        run_id,
        None,
        {"position": 1},
    )
    assert first.counts["added"] == 2
    assert (latest.cursor_before, latest.cursor_after) == ({"position": 1}, {"position": 2})
    assert (latest.counts["voided"], latest.counts["tombstoned"]) == (1, 1)
    assert latest.started_at == clock.now
    assert [record.source for record in store.recent_ingests()] == ["other", "lrs", "lrs"]


def test_an_error_in_the_batch_writes_nothing(store: Store) -> None:
    _ingest(store, ev("e0", "a", score=1))
    before = store.last_ingest_id()

    def failing_read() -> None:
        with store.ingest("src", query_fingerprint="q") as batch:
            batch.add_evidence(ev(f"e{n}", "a", score=1) for n in range(1, CHUNK * 2))
            batch.withdraw(["whatever"])
            batch.set_cursor({"position": 99})
            raise RuntimeError("the source failed half-way")

    with pytest.raises(RuntimeError):
        failing_read()
    assert store.evidence_count() == 1
    assert store.tombstone_count() == 0
    state = store.source_state("src")
    assert state is not None
    assert state.cursor is None
    assert store.last_ingest_id() == before


def test_a_changed_query_is_refused_unless_the_source_is_reset(store: Store) -> None:
    with store.ingest("lrs", query_fingerprint="aaaaaaaaaaaaaaaa") as batch:
        batch.set_cursor({"position": 5})
    with (
        pytest.raises(StoreError, match=r"'lrs' was read with another query") as caught,
        store.ingest("lrs", query_fingerprint="bbbbbbbbbbbbbbbb"),
    ):
        pass
    assert "aaaaaaaaaaaa" in str(caught.value)
    assert "reset=True" in str(caught.value)
    with store.ingest("lrs", query_fingerprint="bbbbbbbbbbbbbbbb", reset=True) as batch:
        assert batch.cursor is None
    state = store.source_state("lrs")
    assert state is not None
    assert (state.query_fingerprint, state.cursor) == ("bbbbbbbbbbbbbbbb", None)


def test_touched_since_names_the_pairs_of_later_ingests_only(store: Store) -> None:
    assert store.last_ingest_id() == 0
    _ingest(store, ev("e1", "a", score=1), ev("e2", "b", learner="bob", score=1))
    first = store.last_ingest_id()
    _ingest(store, ev("e3", "c", learner="cy", score=1), ev("e1", "a", score=1))
    assert store.touched_since(first) == {("cy", "c")}  # e1 again changed nothing
    assert store.touched_since(0) == {("ann", "a"), ("bob", "b"), ("cy", "c")}
    assert store.touched_since(store.last_ingest_id()) == set()


def test_evidence_can_be_read_per_learner(store: Store) -> None:
    _ingest(store, *(ev(f"e{n}", "a", learner=f"l{n % 5}", score=1) for n in range(50)))
    mine = list(store.iter_evidence(learners=["l1", "l3"]))
    assert len(mine) == 20
    assert {item.learner for item in mine} == {"l1", "l3"}
    assert len(store.evidence_table(learners=["l2"])) == 10


def test_many_evidence_with_duplicates_across_chunks(store: Store) -> None:
    n = CHUNK * 2 + 17
    items = [ev(f"e{i}", "a", learner=f"l{i % 97}", score=(i % 10) / 10) for i in range(n)]
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence(items)
        batch.add_evidence(items[: CHUNK + 3])  # again, partly in a later chunk
    assert (batch.counts.added, batch.counts.unchanged) == (n, CHUNK + 3)
    assert _sorted(list(store.iter_evidence())) == _sorted(items)


def test_ingests_commit_one_at_a_time_in_id_order(store: Store) -> None:
    """A second ingest waits for the first to commit, so ingest ids commit in order and
    "touched since ingest N" never misses one that committed late."""
    events: list[tuple[str, int]] = []
    first_inside, release_first = threading.Event(), threading.Event()

    def first() -> None:
        with store.ingest("a", query_fingerprint="q") as batch:
            events.append(("first in", batch.ingest_id))
            first_inside.set()
            release_first.wait(60)
            batch.add_evidence([ev("ea", "a", score=1)])
            events.append(("first leaving", batch.ingest_id))

    def second() -> None:
        first_inside.wait(60)
        with store.ingest("b", query_fingerprint="q") as batch:
            events.append(("second in", batch.ingest_id))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_inside.wait(60)
    time.sleep(0.3)  # room for the second to get in, were it not held back
    release_first.set()
    for thread in threads:
        thread.join(120)
    assert [name for name, _ in events] == ["first in", "first leaving", "second in"]
    assert events[2][1] > events[0][1]
