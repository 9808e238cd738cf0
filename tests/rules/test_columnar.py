"""The columnar engine gives exactly what the row engine gives, on any evidence."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.core import Evidence, Framework, framework_from_data
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.rules import EvidenceTable, evaluate, evaluate_detailed
from comp_adapters.rules.calculate import ruby_round
from comp_adapters.rules.columnar import ruby_round_array
from tests.conftest import AS_OF, FOUR_LEVELS

METHODS: list[tuple[str, int | None]] = [
    ("latest", None),
    ("highest", None),
    ("average", None),
    ("decaying_average", 65),
    ("decaying_average", 10),
    ("standard_decaying_average", 50),
    ("standard_decaying_average", 83),
    ("n_mastery", 1),
    ("n_mastery", 3),
]


@st.composite
def frameworks(draw: st.DrawFn) -> Framework:
    leaves = []
    for i in range(4):
        method, n = draw(st.sampled_from(METHODS))
        leaves.append(
            {
                "key": f"c{i}",
                "title": f"C{i}",
                "parent": "p",
                "calculation_method": method,
                **({"calculation_int": n} if n is not None else {}),
            }
        )
    rule = draw(
        st.sampled_from(
            [
                {"type": "all_children"},
                {"type": "all_children", "outcome": "recommend"},
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
        )
    )
    default = draw(st.sampled_from(["beginning", "proficient"]))
    return framework_from_data(
        {
            "key": "FW",
            "title": "F",
            "scale": {**FOUR_LEVELS, "default_level": default},
            "competencies": [{"key": "p", "title": "P", "rollup": rule}, *leaves],
        }
    )


BASE = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def evidence_lists(draw: st.DrawFn) -> list[Evidence]:
    items = []
    for _ in range(draw(st.integers(0, 60))):
        result = draw(
            st.one_of(
                st.builds(lambda s: {"score": s}, st.floats(0, 1.6)),
                st.builds(
                    lambda level: {"level": level},
                    st.sampled_from(["beginning", "developing", "proficient", "expert", "odd"]),
                ),
                st.builds(lambda ok: {"success": ok}, st.booleans()),
            )
        )
        observed = BASE + timedelta(days=draw(st.integers(0, 200)), seconds=draw(st.integers(0, 2)))
        extra: dict[str, Any] = {}
        if draw(st.integers(0, 9)) == 0:
            extra["expires_at"] = observed + timedelta(days=draw(st.integers(1, 300)))
        if draw(st.integers(0, 6)) == 0:
            extra["recorded_at"] = observed + timedelta(hours=draw(st.integers(0, 5)))
        if draw(st.integers(0, 2)) == 0:
            extra["sequence"] = draw(st.integers(-3, 12))
        items.append(
            Evidence(
                id=f"e{draw(st.integers(0, 70))}",
                learner=draw(st.sampled_from(["ann", "bo", "cy"])),
                competency=draw(st.sampled_from(["c0", "c1", "c2", "c3", "p", "zz"])),
                kind=draw(st.sampled_from(["assessment", "observation", "attestation"])),
                observed_at=observed,
                voided=draw(st.integers(0, 12)) == 0,
                **result,
                **extra,
            )
        )
    return items


@settings(max_examples=200, deadline=None)
@given(
    framework=frameworks(),
    evidence=evidence_lists(),
    weights=st.one_of(
        st.none(),
        st.fixed_dictionaries({"observation": st.sampled_from([0.0, 0.5, 2.0])}),
    ),
    min_evidence=st.integers(1, 3),
    as_of_days=st.integers(0, 250),
)
def test_columnar_equals_rows(
    framework: Framework,
    evidence: list[Evidence],
    weights: dict[str, float] | None,
    min_evidence: int,
    as_of_days: int,
) -> None:
    as_of = BASE + timedelta(days=as_of_days)
    kwargs: dict[str, Any] = {"as_of": as_of, "kind_weights": weights, "min_evidence": min_evidence}
    rows = evaluate_detailed(framework, evidence, **kwargs)
    columns = evaluate_detailed(framework, EvidenceTable.from_evidence(evidence), **kwargs)
    assert columns.proficiencies == rows.proficiencies
    assert columns.skipped == rows.skipped
    assert columns.used == rows.used


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=50))
def test_vector_rounding_equals_scalar_rounding(values: list[float]) -> None:
    values += [4.125, 2.675, 1.005, -2.675, 0.0, 1e20, 1e-20, 0.285, 1234.565]
    values += [-0.001, -0.004, -1e-20]
    expected = [ruby_round(v) for v in values]
    got = ruby_round_array(np, np.array(values)).tolist()
    assert got == expected
    assert [math.copysign(1.0, v) for v in got] == [math.copysign(1.0, v) for v in expected]


def test_table_checks_its_columns() -> None:
    for bad in (-0.5, float("inf")):
        with pytest.raises(ValueError, match=r"finite fractions >= 0"):
            EvidenceTable.from_columns(
                ids=["a"],
                learners=["l"],
                learner=[0],
                competencies=["c"],
                competency=[0],
                kind=[0],
                score=[bad],
                observed_at=[0],
            )
    with pytest.raises(ValueError, match="needs a result"):
        EvidenceTable.from_columns(
            ids=["a"],
            learners=["l"],
            learner=[0],
            competencies=["c"],
            competency=[0],
            kind=[0],
            score=[float("nan")],
            observed_at=[0],
        )
    with pytest.raises(ValueError, match="every column needs 1 values"):
        EvidenceTable.from_columns(
            ids=["a"],
            learners=["l"],
            learner=[0, 0],
            competencies=["c"],
            competency=[0],
            kind=[0],
            score=[0.5],
            observed_at=[0],
        )


def test_example_gives_the_same_with_either_engine() -> None:
    folder = example_dir()
    framework = load_framework(folder / "framework.json")
    evidence = list(iter_evidence(folder / "evidence.jsonl"))
    as_of = AS_OF + timedelta(days=150)
    assert evaluate(framework, EvidenceTable.from_evidence(evidence), as_of=as_of) == evaluate(
        framework, evidence, as_of=as_of
    )
