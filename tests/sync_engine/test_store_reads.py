"""The store reads the incremental recompute adds: evidence of some pairs, and the pairs
whose evidence starts or expires between two instants (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from comp_adapters.core.evidence import Evidence
from comp_adapters.store import Store, open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'state.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    with open_store(url) as opened:
        yield opened


def item(eid: str, learner: str, competency: str, day: int, expires: int | None = None) -> Evidence:
    return Evidence(
        id=eid,
        learner=learner,
        competency=competency,
        kind="assessment",
        score=2.0,
        observed_at=T0 + timedelta(days=day),
        expires_at=None if expires is None else T0 + timedelta(days=expires),
    )


def fill(store: Store) -> None:
    with store.ingest("s", query_fingerprint="q") as batch:
        batch.add_evidence(
            [
                item("1", "ann", "a", 1),
                item("2", "ann", "b", 2, expires=40),
                item("3", "bob", "a", 3),
                item("4", "bob", "b", 50),
                item("5", "cid", "c", 4),
            ]
        )
        batch.withdraw_evidence(["3"])


def test_evidence_of_some_pairs(store: Store) -> None:
    fill(store)
    table = store.evidence_table(pairs=[("ann", "b"), ("bob", "a"), ("bob", "b"), ("cid", "a")])
    assert sorted(table.ids) == ["2", "4"]  # 3 is withdrawn, cid has no "a"
    assert len(store.evidence_table(pairs=[])) == 0
    with pytest.raises(ValueError, match="not both"):
        store.evidence_table(pairs=[("ann", "a")], learners=["ann"])


def test_pairs_whose_evidence_starts_or_expires_between(store: Store) -> None:
    fill(store)
    found = store.pairs_with_instants_between(T0 + timedelta(days=30), T0 + timedelta(days=60))
    assert found == {("ann", "b"), ("bob", "b")}  # expires on day 40; observed on day 50
    assert (
        store.pairs_with_instants_between(T0 + timedelta(days=60), T0 + timedelta(days=90)) == set()
    )


def test_which_pairs_have_results_and_the_last_run_that_recorded(store: Store) -> None:
    from comp_adapters.core.proficiency import Proficiency  # noqa: PLC0415

    def result(learner: str, competency: str, score: float) -> Proficiency:
        return Proficiency(
            learner=learner,
            competency=competency,
            score=score,
            level=None,
            proficient=False,
            method="latest",
            as_of=T0,
            explanation="test",
        )

    assert store.last_proficiency_run("FW") == 0
    first = store.begin_run()
    store.record_proficiency(
        [result("ann", "a", 1), result("bob", "b", 2)], framework_key="FW", run_id=first
    )
    second = store.begin_run()
    store.record_proficiency(
        [result("ann", "a", 1)], framework_key="FW", run_id=second
    )  # unchanged
    assert store.last_proficiency_run("FW") == first
    store.record_proficiency([result("ann", "a", 3)], framework_key="FW", run_id=second)
    assert store.last_proficiency_run("FW") == second
    assert store.last_proficiency_run("OTHER") == 0
    assert store.current_pairs("FW") == {("ann", "a"), ("bob", "b")}
    assert store.current_pairs("FW", [("ann", "a"), ("ann", "b")]) == {("ann", "a")}
