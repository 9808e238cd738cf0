"""Merging rows into a results file by binary search gives the bytes a full rewrite gives,
and a file not in order is noticed and rewritten, never merged into."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.examples import example_dir
from comp_adapters.files import ResultsFileAdapter, ResultsFileSettings
from comp_adapters.files.sorted_lines import merge_rows, render_lines, sorted_lines
from comp_adapters.native import load_framework

FRAMEWORK = example_dir() / "framework.json"
# Learner and competency keys that sort differently as strings and as JSON bytes, hold
# quotes, backslashes, commas, newlines, non-ASCII, or extend one another.
NAMES = st.sampled_from(
    ["a", "a b", "ab", "a!", 'a"', "a\\", "a,", "a\n", "é", "zoë", "", "b", "a\u0000"]
)
VALUES = st.integers(min_value=0, max_value=3)


def line(learner: str, competency: str, value: int) -> tuple[bytes, bytes]:
    """(key prefix, line) as the results file writes them."""
    row = {"learner": learner, "competency": competency, "value": value}
    prefix = orjson.dumps({"learner": learner, "competency": competency})[:-1]
    return prefix, orjson.dumps(row)


def full_rewrite(rows: dict[tuple[str, str], int]) -> list[bytes]:
    return sorted(line(learner, competency, v)[1] for (learner, competency), v in rows.items())


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.tuples(NAMES, NAMES), VALUES, max_size=30),
    st.lists(st.tuples(NAMES, NAMES, VALUES), max_size=15),
)
def test_a_merge_equals_a_full_rewrite(
    existing: dict[tuple[str, str], int], changes: list[tuple[str, str, int]]
) -> None:
    raw = render_lines(full_rewrite(existing))
    lines = sorted_lines(raw)
    assert lines is not None
    merged = merge_rows(lines, [line(*change) for change in changes])
    expected = dict(existing)
    expected.update({(learner, competency): v for learner, competency, v in changes})
    assert merged == full_rewrite(expected)
    rows = orjson.loads(render_lines(merged))
    assert len({(r["learner"], r["competency"]) for r in rows}) == len(rows) == len(expected)


def test_lines_out_of_order_or_in_another_layout_are_not_merged_into() -> None:
    one, two = line("a", "x", 1)[1], line("b", "x", 1)[1]
    assert sorted_lines(render_lines([one, two])) == [one, two]
    assert sorted_lines(render_lines([two, one])) is None
    assert sorted_lines(b"[" + one + b"]") is None
    assert sorted_lines(render_lines([])) == []


def result(learner: str, competency: str, level: str | None) -> Proficiency:
    return Proficiency(
        learner=learner,
        competency=competency,
        score=None,
        level=level,
        proficient=level == "expert",
        method="latest",
        as_of=datetime(2026, 5, 1, tzinfo=UTC),
        explanation="test",
    )


def test_a_results_file_in_another_order_is_rewritten_in_order_without_duplicates(
    tmp_path: Path,
) -> None:
    """A file in this layout but another order (the framework's, as earlier versions wrote
    it) is read whole: the changed row replaces its old one, nothing is inserted twice."""
    path = tmp_path / "results.json"
    framework = load_framework(FRAMEWORK)
    keys = [c.key for c in framework.competencies][:3]
    old = [result("ann", key, None) for key in sorted(keys, reverse=True)]
    path.write_bytes(render_lines(orjson.dumps(r.model_dump(mode="json")) for r in old))
    adapter = ResultsFileAdapter.from_settings(ResultsFileSettings(path=path))
    adapter.apply(adapter.plan_proficiency([result("ann", keys[0], "expert")], framework=framework))
    rows = json.loads(path.read_text())
    assert [r["competency"] for r in rows] == sorted(keys)
    assert [r["level"] for r in rows if r["competency"] == keys[0]] == ["expert"]
    again = adapter.plan_proficiency([result("ann", keys[0], "expert")], framework=framework)
    assert again.is_empty


def test_a_foreign_list_with_other_field_orders_is_merged_by_key(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    framework = load_framework(FRAMEWORK)
    key = framework.competencies[0].key
    row = result("ann", key, None).model_dump(mode="json")
    path.write_text(json.dumps([dict(reversed(list(row.items())))]))
    adapter = ResultsFileAdapter.from_settings(ResultsFileSettings(path=path))
    adapter.apply(adapter.plan_proficiency([result("ann", key, "expert")], framework=framework))
    rows = json.loads(path.read_text())
    assert [(r["learner"], r["level"]) for r in rows] == [("ann", "expert")]
