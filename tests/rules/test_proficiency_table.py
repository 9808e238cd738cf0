"""evaluate_table: results as columns, identical to the row engine's objects (issue 17, item 1)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.core import Evidence, Framework, framework_from_data
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.rules import (
    EvidenceTable,
    ProficiencyTable,
    columnar,
    evaluate_detailed,
    evaluate_table,
)
from tests.conftest import FOUR_LEVELS
from tests.rules.test_columnar import BASE, evidence_lists, frameworks


def assert_same(
    table: ProficiencyTable, framework: Framework, evidence: list[Evidence], **kw: Any
) -> None:
    """Everything the table offers equals what the row engine gives for the same input."""
    rows = evaluate_detailed(framework, evidence, **kw)
    expected = rows.proficiencies
    assert len(table) == len(expected)
    made = table.to_proficiencies()
    assert made == expected
    # Made without validation, they are what validation makes: same fields, same types,
    # same serialised form, the same fields set, and they validate to themselves.
    for one, other in zip(made, expected, strict=True):
        assert one.model_dump_json() == other.model_dump_json()
        assert one.model_fields_set == other.model_fields_set
        assert {k: type(v) for k, v in one} == {k: type(v) for k, v in other}
        assert one.as_of.tzinfo is other.as_of.tzinfo
        assert Proficiency.model_validate(one.model_dump()) == one
    assert list(table) == expected
    assert table.to_records() == [p.model_dump() for p in expected]
    assert table.skipped == rows.skipped
    assert table.used == rows.used
    for i, p in enumerate(expected):
        assert table.explain(i) == p.explanation
        assert table[i] == p
        assert table.learners[table.learner[i]] == p.learner
        assert table.competencies[table.competency[i]] == p.competency
        assert table.methods[table.method[i]] == p.method
        assert bool(table.proficient[i]) == p.proficient
        assert bool(table.review_requested[i]) == p.review_requested
        assert (None if table.level[i] < 0 else table.levels[table.level[i]]) == p.level
        assert (None if np.isnan(table.score[i]) else float(table.score[i])) == p.score
        assert table.evidence_of(i) == p.evidence_ids
        assert table.children_of(i) == p.children
    if expected:
        assert table[-1] == expected[-1]
    with pytest.raises(IndexError):
        table[len(expected)]


@settings(max_examples=150, deadline=None)
@given(
    framework=frameworks(),
    evidence=evidence_lists(),
    weights=st.one_of(
        st.none(), st.fixed_dictionaries({"observation": st.sampled_from([0.0, 2.0])})
    ),
    min_evidence=st.integers(1, 3),
    as_of_days=st.integers(0, 250),
)
def test_table_equals_row_engine(
    framework: Framework,
    evidence: list[Evidence],
    weights: dict[str, float] | None,
    min_evidence: int,
    as_of_days: int,
) -> None:
    kw: dict[str, Any] = {
        "as_of": BASE + timedelta(days=as_of_days),
        "kind_weights": weights,
        "min_evidence": min_evidence,
    }
    table = evaluate_table(framework, EvidenceTable.from_evidence(evidence), **kw)
    assert_same(table, framework, evidence, **kw)


NESTED = framework_from_data(
    {
        "key": "N",
        "title": "Nested rules",
        "scale": {**FOUR_LEVELS, "default_level": "developing"},
        "competencies": [
            {"key": "root", "title": "Root", "rollup": {"type": "all_children"}},
            {
                "key": "p1",
                "title": "P1",
                "parent": "root",
                "rollup": {"type": "all_children", "outcome": "complete"},
            },
            {
                "key": "p2",
                "title": "P2",
                "parent": "root",
                "rollup": {
                    "type": "points",
                    "base_points": 2,
                    "outcome": "recommend",
                    "children": [
                        {"key": "b1", "points": 1},
                        {"key": "b2", "points": 1, "required": True},
                        {"key": "b3", "points": 2},
                    ],
                },
            },
            {
                "key": "p3",
                "title": "P3",
                "parent": "root",
                "rollup": {
                    "type": "points",
                    "base_points": 1,
                    "outcome": "evidence",
                    "children": [{"key": "c1", "points": 1}],
                },
            },
            {"key": "a1", "title": "A1", "parent": "p1", "calculation_method": "highest"},
            {
                "key": "a2",
                "title": "A2",
                "parent": "p1",
                "calculation_method": "n_mastery",
                "calculation_int": 2,
            },
            {"key": "b1", "title": "B1", "parent": "p2", "calculation_method": "average"},
            {
                "key": "b2",
                "title": "B2",
                "parent": "p2",
                "calculation_method": "standard_decaying_average",
                "calculation_int": 70,
            },
            {
                "key": "b3",
                "title": "B3",
                "parent": "p2",
                "calculation_method": "decaying_average",
                "calculation_int": 40,
                "scale": {
                    "levels": [
                        {"key": "no", "name": "No", "points": 0},
                        {"key": "yes", "name": "Yes", "points": 5, "proficient": True},
                    ],
                    "default_level": "yes",
                },
            },
            {"key": "c1", "title": "C1", "parent": "p3", "calculation_method": "latest"},
        ],
    }
)


def random_evidence(seed: int, learners: int, longest: int) -> list[Evidence]:
    """Many (learner, competency) segments of very different lengths, ties included."""
    rng = random.Random(seed)
    keys = ["root", "p1", "p2", "a1", "a2", "b1", "b2", "b3", "c1", "p3"]
    items = []
    for n in range(learners):
        for key in keys:
            if rng.random() < 0.2:
                continue
            for _ in range(rng.choice([1, 2, 3, 5, longest])):
                result: dict[str, Any] = rng.choice(
                    [
                        {"score": rng.randrange(0, 130) / 100},
                        {"level": rng.choice(["beginning", "proficient", "yes", "no"])},
                        {"success": rng.random() < 0.6},
                    ]
                )
                items.append(
                    Evidence(
                        id=f"e{len(items)}",
                        learner=f"learner-{rng.randrange(learners * 2)}"
                        if n % 7 == 0
                        else f"l{n:03d}",
                        competency=key,
                        kind=rng.choice(["assessment", "observation"]),
                        observed_at=BASE + timedelta(hours=rng.randrange(0, 48)),
                        sequence=rng.choice([None, rng.randrange(5)]),
                        **result,
                    )
                )
    return items


@pytest.mark.parametrize("tail", [0, 10**9], ids=["arrays-only", "python-tail-only"])
@pytest.mark.parametrize("seed", range(4))
def test_many_segments_both_summation_paths(
    monkeypatch: pytest.MonkeyPatch, seed: int, tail: int
) -> None:
    """Long segments finish in plain floats, others as arrays: both give the row engine's
    numbers to the last bit (Canvas's compensated sums and rounding)."""
    monkeypatch.setattr(columnar, "_SCALAR_TAIL", tail)
    evidence = random_evidence(seed, learners=40, longest=60)
    kw: dict[str, Any] = {"as_of": BASE + timedelta(days=3), "min_evidence": 1 + seed % 2}
    weights = {"observation": 0.5} if seed % 2 else None
    table = evaluate_table(
        NESTED, EvidenceTable.from_evidence(evidence), kind_weights=weights, **kw
    )
    assert_same(table, NESTED, evidence, kind_weights=weights, **kw)
    assert any(p.method.startswith("rule:") for p in table)


def test_empty_table() -> None:
    table = evaluate_table(NESTED, EvidenceTable.from_evidence([]), as_of=BASE)
    assert len(table) == 0
    assert list(table) == []
    assert table.to_records() == []
    assert table.used == 0


def test_evaluate_table_checks_its_arguments() -> None:
    table = EvidenceTable.from_evidence([])
    with pytest.raises(ValueError, match="min_evidence"):
        evaluate_table(NESTED, table, as_of=BASE, min_evidence=0)
    with pytest.raises(ValueError, match="timezone"):
        evaluate_table(NESTED, table, as_of=BASE.replace(tzinfo=None))


@pytest.mark.parametrize("seed", range(2))
def test_json_records_and_summaries(seed: int) -> None:
    evidence = random_evidence(seed, learners=12, longest=8)
    as_of = BASE + timedelta(days=3)
    table = evaluate_table(NESTED, EvidenceTable.from_evidence(evidence), as_of=as_of)
    expected = evaluate_detailed(NESTED, evidence, as_of=as_of).proficiencies
    assert table.to_json_records() == [p.model_dump(mode="json") for p in expected]
    fields = ("learner", "competency", "score", "level", "proficient", "method")
    assert [tuple(s)[:6] for s in table.summaries()] == [
        tuple(getattr(p, f) for f in fields) for p in expected
    ]
    assert [s.review_requested for s in table.summaries()] == [p.review_requested for p in expected]
