"""The ledger feeds the rules engine: its evidence (streamed or as columns) gives the results
the engine gives on the raw input, voids and duplicates included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from comp_adapters.core import Evidence, Framework
from comp_adapters.rules import EvidenceTable, evaluate
from comp_adapters.store import Store
from tests.conftest import AS_OF

LEAVES = ("a", "b", "c", "solo")
LEVELS = ("beginning", "developing", "proficient", "expert")


def _random_evidence(seed: int, count: int) -> list[Evidence]:
    """Evidence with re-sent copies (recorded later), voided copies and expired rows."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    items: list[Evidence] = []
    for n in range(count):
        observed = base + timedelta(hours=rng.randrange(0, 24 * 120))
        result = rng.choice(["score", "level", "success"])
        fields: dict[str, object] = {
            "score": round(rng.random(), 3) if result == "score" else None,
            "level": rng.choice(LEVELS) if result == "level" else None,
            "success": rng.random() < 0.6 if result == "success" else None,
        }
        if rng.random() < 0.1:
            fields["expires_at"] = observed + timedelta(days=rng.randrange(1, 200))
        items.append(
            Evidence(
                id=f"ev{n}",
                learner=f"learner{rng.randrange(12)}",
                competency=rng.choice(LEAVES),
                kind=rng.choice(["assessment", "observation", "lms_rating"]),
                observed_at=observed,
                recorded_at=observed + timedelta(minutes=1),
                source_id=f"rec{n}",
                **fields,
            )
        )
    resent = [
        item.model_copy(
            update={
                "score": round(rng.random(), 3),
                "level": None,
                "success": None,
                "recorded_at": item.observed_at + timedelta(days=3),
            }
        )
        for item in rng.sample(items, count // 10)
    ]
    voided = [item.model_copy(update={"voided": True}) for item in rng.sample(items, count // 15)]
    items.extend(resent + voided)
    rng.shuffle(items)
    return items


def test_the_ledger_gives_the_engine_the_same_results_as_the_raw_input(
    store: Store, framework: Framework
) -> None:
    raw = _random_evidence(seed=14, count=600)
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence(raw[:300])
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence(raw[300:])
    expected = evaluate(framework, raw, as_of=AS_OF)
    streamed = list(store.iter_evidence())
    assert len({item.id for item in streamed}) == len(streamed)  # de-duplicated by id
    assert not any(item.voided for item in streamed)
    assert evaluate(framework, streamed, as_of=AS_OF) == expected
    table = store.evidence_table()
    assert isinstance(table, EvidenceTable)
    assert evaluate(framework, table, as_of=AS_OF) == expected


def test_withdrawing_records_changes_the_results_as_voided_copies_would(
    store: Store, framework: Framework
) -> None:
    raw = _random_evidence(seed=15, count=200)
    live = [item for item in raw if not item.voided]
    withdrawn = sorted({item.source_id for item in live[::7] if item.source_id})
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.add_evidence(live)
    with store.ingest("src", query_fingerprint="q") as batch:
        batch.withdraw(withdrawn)
    voids = [
        item.model_copy(update={"voided": True}) for item in live if item.source_id in withdrawn
    ]
    expected = evaluate(framework, [*live, *voids], as_of=AS_OF)
    assert evaluate(framework, store.evidence_table(), as_of=AS_OF) == expected
