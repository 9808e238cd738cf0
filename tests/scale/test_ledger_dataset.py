"""The ledger copied into the Parquet layout: after any sequence of ingests (copies that
replace, move to another learner, void, withdrawals), the dataset's readers see exactly the
store's live evidence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comp_adapters.core import Evidence
from comp_adapters.scale import ledger_dataset
from comp_adapters.scale.ledger_dataset import LedgerDataset, read_live
from comp_adapters.store import Store, open_store
from comp_adapters.sync.dataset_compute import DatasetCompute
from tests.test_evidence_reader import table_rows

LEARNERS = [f"learner-{n}" for n in range(12)]
COMPETENCIES = ["a", "b", "c"]


def live_rows(dataset: LedgerDataset) -> list[tuple[object, ...]]:
    units = dataset.committed()
    found = [r for p in dataset.partition_paths() for r in table_rows(read_live(p, units, None))]
    return sorted(found, key=repr)


def store_rows(store: Store) -> list[tuple[object, ...]]:
    return sorted(table_rows(store.evidence_table()), key=repr)


def random_copy(rng: random.Random, ids: int, when: datetime) -> Evidence:
    return Evidence(
        id=f"e{rng.randrange(ids)}",
        learner=rng.choice(LEARNERS),
        competency=rng.choice(COMPETENCIES),
        score=round(rng.random(), 3),
        observed_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(100)),
        recorded_at=when,
        voided=rng.random() < 0.1,
        source_id=f"r{rng.randrange(ids)}",
    )


@pytest.mark.parametrize(("seed", "chunk_rows"), [(1, None), (2, 7), (3, 1)])
def test_the_dataset_follows_the_ledger_through_random_ingests(
    tmp_path: Path, seed: int, chunk_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chunk_rows is not None:  # units written in several chunks
        monkeypatch.setattr(ledger_dataset, "CHUNK_ROWS", chunk_rows)
    rng = random.Random(seed)
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        copy = DatasetCompute(store, tmp_path / "dataset", partitions=3, scheduler=None)
        start = datetime(2026, 2, 1, tzinfo=UTC)
        for round_ in range(8):
            with store.ingest("src", query_fingerprint="q") as batch:
                when = start + timedelta(days=round_)
                batch.add_evidence(random_copy(rng, 40, when) for _ in range(rng.randrange(1, 25)))
                if rng.random() < 0.5:
                    batch.withdraw([f"r{rng.randrange(40)}" for _ in range(3)])
            if rng.random() < 0.7:  # sometimes several ingests go into one unit
                copy.catch_up()
                assert live_rows(copy.dataset) == store_rows(store)
        copy.catch_up()
        assert live_rows(copy.dataset) == store_rows(store)
        assert store.moved_since(0)  # the seeds do move evidence between learners


def test_overlapping_units_of_two_workers_count_once(tmp_path: Path) -> None:
    """Two workers exporting from the same point write overlapping units: rows are kept
    once (the latest ``changed_in`` per id)."""
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        rng = random.Random(7)
        one = DatasetCompute(store, tmp_path / "dataset", partitions=2, scheduler=None)
        two = DatasetCompute(store, tmp_path / "dataset", partitions=2, scheduler=None)
        with store.ingest("src", query_fingerprint="q") as batch:
            batch.add_evidence(
                random_copy(rng, 30, datetime(2026, 2, 1, tzinfo=UTC)) for _ in "x" * 20
            )
        watermark = store.last_ingest_id()
        with store.ingest("src", query_fingerprint="q") as batch:
            batch.add_evidence(
                random_copy(rng, 30, datetime(2026, 3, 1, tzinfo=UTC)) for _ in "x" * 20
            )
        # worker one saw the first ingest only, worker two both; neither saw the other's unit
        rows = list(store.evidence_changes(0))
        one.dataset.export(
            [r for r in rows if r[-1] <= watermark],
            store.moved_since(0),
            after=0,
            until=watermark,
            store_mark=one._mark(watermark),
        )
        two.dataset.export(
            rows,
            store.moved_since(0),
            after=0,
            until=store.last_ingest_id(),
            store_mark=two._mark(store.last_ingest_id()),
        )
        assert len(one.dataset.committed()) == 2
        assert live_rows(one.dataset) == store_rows(store)
        assert one.catch_up().unit is None  # up to date
