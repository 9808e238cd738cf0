"""First time proficient: the row and columnar replays agree, and both agree with the engine
evaluated as of every instant of the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.core import Evidence, Framework, framework_from_data
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.rules import EvidenceTable, evaluate
from comp_adapters.rules.first_proficient import (
    NO_LEVEL,
    first_proficient,
    proficiency_timeline,
)
from tests.conftest import FOUR_LEVELS, framework_data
from tests.rules.test_columnar import METHODS

BASE = datetime(2026, 1, 1, tzinfo=UTC)
RULES: list[dict[str, Any]] = [
    {"type": "all_children"},
    {"type": "all_children", "outcome": "recommend"},
    {"type": "all_children", "outcome": "none"},
    {
        "type": "points",
        "base_points": 2,
        "children": [
            {"key": "c0", "points": 1, "required": True},
            {"key": "c1", "points": 1},
            {"key": "c2", "points": 1},
        ],
    },
]


@st.composite
def frameworks(draw: st.DrawFn) -> Framework:
    """Two levels of rollups: top over (p, c3), p over (c0, c1, c2)."""
    leaves = []
    for i, parent in enumerate(["p", "p", "p", "top"]):
        method, n = draw(st.sampled_from(METHODS))
        leaves.append(
            {
                "key": f"c{i}",
                "title": f"C{i}",
                "parent": parent,
                "calculation_method": method,
                **({"calculation_int": n} if n is not None else {}),
            }
        )
    default = draw(st.sampled_from(["beginning", "proficient"]))
    return framework_from_data(
        {
            "key": "FW",
            "title": "F",
            "scale": {**FOUR_LEVELS, "default_level": default},
            "competencies": [
                {"key": "top", "title": "Top", "rollup": draw(st.sampled_from(RULES[:3]))},
                {"key": "p", "title": "P", "parent": "top", "rollup": draw(st.sampled_from(RULES))},
                *leaves,
            ],
        }
    )


@st.composite
def evidence_lists(draw: st.DrawFn, *, unique_ids: bool = False) -> list[Evidence]:
    items = []
    for number in range(draw(st.integers(0, 50))):
        result = draw(
            st.one_of(
                st.builds(lambda s: {"score": s}, st.floats(0, 1)),
                st.builds(
                    lambda level: {"level": level},
                    st.sampled_from(["beginning", "developing", "proficient", "expert", "odd"]),
                ),
                st.builds(lambda ok: {"success": ok}, st.booleans()),
            )
        )
        observed = BASE + timedelta(days=draw(st.integers(0, 120)), seconds=draw(st.integers(0, 1)))
        extra: dict[str, Any] = {}
        if draw(st.integers(0, 5)) == 0:
            extra["expires_at"] = observed + timedelta(days=draw(st.integers(1, 90)))
        if draw(st.integers(0, 6)) == 0:
            extra["recorded_at"] = observed + timedelta(hours=draw(st.integers(0, 5)))
        items.append(
            Evidence(
                id=f"e{number}" if unique_ids else f"e{draw(st.integers(0, 60))}",
                learner=draw(st.sampled_from(["ann", "bo", "cy"])),
                competency=draw(st.sampled_from(["c0", "c1", "c2", "c3", "p", "top", "zz"])),
                kind=draw(st.sampled_from(["assessment", "observation", "attestation"])),
                observed_at=observed,
                voided=draw(st.integers(0, 12)) == 0,
                **result,
                **extra,
            )
        )
    return items


WEIGHTS = st.one_of(
    st.none(), st.fixed_dictionaries({"observation": st.sampled_from([0.0, 0.5, 2.0])})
)


@settings(max_examples=250, deadline=None)
@given(
    framework=frameworks(),
    evidence=evidence_lists(),
    weights=WEIGHTS,
    min_evidence=st.integers(1, 3),
    as_of_days=st.integers(0, 150),
)
def test_columnar_replay_equals_row_replay(
    framework: Framework,
    evidence: list[Evidence],
    weights: dict[str, float] | None,
    min_evidence: int,
    as_of_days: int,
) -> None:
    kwargs: dict[str, Any] = {
        "as_of": BASE + timedelta(days=as_of_days),
        "kind_weights": weights,
        "min_evidence": min_evidence,
    }
    rows = proficiency_timeline(framework, evidence, **kwargs)
    columns = proficiency_timeline(framework, EvidenceTable.from_evidence(evidence), **kwargs)
    assert columns.changes() == rows.changes()
    assert columns.seen() == rows.seen()
    assert first_proficient(framework, evidence, **kwargs) == columns.first_proficient_map()


def _levels(results: list[Any]) -> dict[tuple[str, str], str | None]:
    return {(p.learner, p.competency): p.level for p in results}


@settings(max_examples=150, deadline=None)
@given(
    framework=frameworks(),
    evidence=evidence_lists(unique_ids=True),
    weights=WEIGHTS,
    min_evidence=st.integers(1, 3),
    as_of_days=st.integers(0, 150),
    columnar=st.booleans(),
)
def test_timeline_is_the_engine_as_of_every_instant(
    framework: Framework,
    evidence: list[Evidence],
    weights: dict[str, float] | None,
    min_evidence: int,
    as_of_days: int,
    columnar: bool,
) -> None:
    """At every instant where anything happens, and between them, the timeline's level of
    every pair is the level the engine gives it as of that instant."""
    as_of = BASE + timedelta(days=as_of_days)
    kwargs: dict[str, Any] = {"kind_weights": weights, "min_evidence": min_evidence}
    source = EvidenceTable.from_evidence(evidence) if columnar else evidence
    timeline = proficiency_timeline(framework, source, as_of=as_of, **kwargs)
    changes = timeline.changes()
    instants = {as_of, BASE - timedelta(days=1)}
    for item in evidence:
        for t in (item.observed_at, item.expires_at):
            if t is not None and t <= as_of:
                instants |= {t, t - timedelta(microseconds=1)}
    for instant in sorted(instants):
        expected = {
            pair: level
            for pair, level in _levels(
                evaluate(framework, evidence, as_of=instant, **kwargs)
            ).items()
            if level is not None
        }
        found = {}
        for pair, track in changes.items():
            current = [level for at, level in track if at <= instant]
            if current and current[-1] is not None:
                found[pair] = current[-1]
        assert found == expected, instant
    for (learner, key), at in timeline.first_proficient_map().items():
        scale = framework.scale_for(key).by_key
        now = _levels(evaluate(framework, evidence, as_of=at, **kwargs)).get((learner, key))
        just_before = _levels(
            evaluate(framework, evidence, as_of=at - timedelta(microseconds=1), **kwargs)
        ).get((learner, key))
        assert now is not None
        assert scale[now].proficient
        assert just_before is None or not scale[just_before].proficient
        assert not any(
            level is not None and scale[level].proficient
            for t, level in changes[(learner, key)]
            if t < at
        )


def test_first_proficient_of_a_simple_history(framework: Framework) -> None:
    """latest: developing, then proficient, then a lapse; first proficient is the 2nd day."""

    def ev(i: int, day: int, level: str) -> Evidence:
        return Evidence(
            id=f"e{i}",
            learner="ann",
            competency="a",
            level=level,
            observed_at=BASE + timedelta(days=day),
        )

    evidence = [ev(1, 1, "developing"), ev(2, 2, "proficient"), ev(3, 5, "beginning")]
    as_of = BASE + timedelta(days=10)
    timeline = proficiency_timeline(framework, evidence, as_of=as_of)
    assert timeline.changes()[("ann", "a")] == (
        (BASE + timedelta(days=1), "developing"),
        (BASE + timedelta(days=2), "proficient"),
        (BASE + timedelta(days=5), "beginning"),
    )
    assert first_proficient(framework, evidence, as_of=as_of) == {
        ("ann", "a"): BASE + timedelta(days=2)
    }
    learners, competencies, levels = timeline.levels_at(
        int((BASE + timedelta(days=3) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)
    )
    assert [timeline.level_keys[c][v] for c, v in zip(competencies, levels, strict=True)] == [
        "proficient"
    ]
    assert learners.tolist() == [0]
    assert NO_LEVEL == -1


def test_expiry_can_make_a_result_proficient() -> None:
    """average of a low, expiring score and a high one: proficient once the low one lapses."""
    evidence = [
        Evidence(
            id="low",
            learner="ann",
            competency="a",
            score=0.25,
            observed_at=BASE,
            expires_at=BASE + timedelta(days=30),
        ),
        Evidence(id="high", learner="ann", competency="a", score=1.0, observed_at=BASE),
    ]
    fw = framework_from_data(framework_data(calculation_method="average"))
    as_of = BASE + timedelta(days=60)
    for source in (evidence, EvidenceTable.from_evidence(evidence)):
        assert first_proficient(fw, source, as_of=as_of) == {
            ("ann", "a"): BASE + timedelta(days=30)
        }


@pytest.mark.parametrize("columnar", [False, True])
def test_example_first_proficient(columnar: bool) -> None:
    folder = example_dir()
    framework = load_framework(folder / "framework.json")
    evidence = list(iter_evidence(folder / "evidence.jsonl"))
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    source = EvidenceTable.from_evidence(evidence) if columnar else evidence
    first = first_proficient(framework, source, as_of=as_of)
    now = {(p.learner, p.competency): p for p in evaluate(framework, evidence, as_of=as_of)}
    # Whatever is proficient now became proficient at some instant up to now.
    for pair, result in now.items():
        if result.proficient:
            assert first[pair] <= as_of
    assert len(first) >= sum(1 for p in now.values() if p.proficient)
