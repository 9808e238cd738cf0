"""Proficiency history: kept when a result changes; latest, as of a time, per pair."""

from __future__ import annotations

from datetime import UTC, datetime

from comp_adapters.core import Proficiency
from comp_adapters.store import Store
from comp_adapters.store.history import _FEW


def result(
    learner: str = "ann",
    competency: str = "a",
    *,
    month: int = 1,
    level: str | None = "developing",
    score: float | None = 2.0,
    proficient: bool = False,
    evidence: tuple[str, ...] = ("e1",),
) -> Proficiency:
    return Proficiency(
        learner=learner,
        competency=competency,
        score=score,
        level=level,
        proficient=proficient,
        method="latest",
        evidence_ids=evidence,
        as_of=datetime(2026, month, 1, tzinfo=UTC),
        explanation=f"computed in month {month}",
    )


def test_only_changes_are_kept_and_returned(store: Store) -> None:
    first = store.record_proficiency([result(), result("bob")], framework_key="FW")
    assert first.changed == [result(), result("bob")]
    again = store.record_proficiency([result(month=2), result("bob", month=2)], framework_key="FW")
    assert (again.changed, again.unchanged) == ([], 2)
    better = result(month=3, level="proficient", score=3.0, proficient=True, evidence=("e1", "e2"))
    third = store.record_proficiency([better, result("bob", month=3)], framework_key="FW")
    assert (third.changed, third.unchanged) == ([better], 1)
    history = store.proficiency_history("FW", "ann", "a")
    assert [record.result for record in history] == [result(), better]


def test_each_deciding_field_counts_as_a_change(store: Store) -> None:
    store.record_proficiency([result()], framework_key="FW")
    variants = [
        result(month=2, level="beginning"),
        result(month=3, level="beginning", score=1.5),
        result(month=4, level="beginning", score=1.5, proficient=True),
        result(month=5, level="beginning", score=1.5, proficient=True, evidence=("e9",)),
    ]
    for variant in variants:
        assert store.record_proficiency([variant], framework_key="FW").changed == [variant]
    same = result(month=6, level="beginning", score=1.5, proficient=True, evidence=("e9",))
    assert store.record_proficiency([same], framework_key="FW").changed == []
    bumped = store.record_proficiency([same], framework_key="FW", framework_version="2")
    assert bumped.changed == [same]
    assert store.proficiency_history("FW", "ann", "a")[-1].framework_version == "2"


def test_latest_per_pair_and_per_framework(store: Store) -> None:
    store.record_proficiency([result(), result(competency="b")], framework_key="FW", run_id=7)
    newer = result(month=2, score=3.0)
    store.record_proficiency([newer], framework_key="FW")
    store.record_proficiency([result(learner="zed")], framework_key="OTHER")
    latest = list(store.latest_proficiency("FW"))
    assert [record.result for record in latest] == [newer, result(competency="b")]
    assert latest[1].run_id == 7
    assert [r.result.learner for r in store.latest_proficiency("OTHER")] == ["zed"]
    assert list(store.latest_proficiency("FW", learners=["nobody"])) == []


def test_what_was_known_as_of_a_time(store: Store) -> None:
    store.record_proficiency([result(month=1, score=1.0)], framework_key="FW")
    store.record_proficiency([result(month=3, score=2.0)], framework_key="FW")
    store.record_proficiency([result(month=5, score=3.0, proficient=True)], framework_key="FW")
    store.record_proficiency([result("bob", month=4)], framework_key="FW")

    def scores(month: int, day: int = 1) -> dict[str, float | None]:
        at = datetime(2026, month, day, tzinfo=UTC)
        return {r.result.learner: r.result.score for r in store.proficiency_as_of("FW", at)}

    assert scores(1, 1) == {"ann": 1.0}
    assert scores(4, 15) == {"ann": 2.0, "bob": 2.0}
    assert scores(12) == {"ann": 3.0, "bob": 2.0}
    assert store.proficiency_as_of("FW", datetime(2025, 1, 1, tzinfo=UTC)) == []
    only = store.proficiency_as_of("FW", datetime(2026, 12, 1, tzinfo=UTC), learner="bob")
    assert [r.result.learner for r in only] == ["bob"]
    first_proficient = next(
        r for r in store.proficiency_history("FW", "ann", "a") if r.result.proficient
    )
    assert first_proficient.result.as_of == datetime(2026, 5, 1, tzinfo=UTC)


def test_a_result_computed_for_an_earlier_time_is_compared_with_the_one_then(
    store: Store,
) -> None:
    store.record_proficiency([result(month=1, score=1.0)], framework_key="FW")
    store.record_proficiency([result(month=6, score=3.0)], framework_key="FW")
    same_as_then = store.record_proficiency([result(month=3, score=1.0)], framework_key="FW")
    assert same_as_then.changed == []
    new_then = store.record_proficiency([result(month=4, score=2.0)], framework_key="FW")
    assert new_then.changed == [result(month=4, score=2.0)]
    assert [r.result.score for r in store.latest_proficiency("FW")] == [3.0]  # still current
    at = datetime(2026, 5, 1, tzinfo=UTC)
    assert [r.result.score for r in store.proficiency_as_of("FW", at)] == [2.0]


def test_many_results_in_one_call(store: Store) -> None:
    results = [result(f"l{n}", month=1) for n in range(_FEW + 50)]
    assert len(store.record_proficiency(results, framework_key="FW").changed) == len(results)
    changed = [result(f"l{n}", month=2, score=4.0) for n in range(0, _FEW + 50, 100)]
    again = [result(f"l{n}", month=2) for n in range(_FEW + 50)]
    again[::100] = changed
    update = store.record_proficiency(again, framework_key="FW")
    assert update.changed == changed
    assert update.unchanged == len(results) - len(changed)
