from __future__ import annotations

import json
from collections.abc import Mapping

import pydantic
import pytest

from comp_adapters.errors import StalePlanError
from comp_adapters.sync import (
    Action,
    ApplyError,
    Change,
    MemoryJournal,
    Plan,
    apply_plan,
)
from comp_adapters.sync.journal import Result


def make_plan(**overrides: object) -> Plan:
    changes = (
        Change(id="fw", action=Action.CREATE, kind="framework", key="FW", fields={"title": "F"}),
        Change(id="a", action=Action.CREATE, kind="competency", key="a", depends_on=("fw",)),
        Change(
            id="b",
            action=Action.UPDATE,
            kind="competency",
            key="b",
            fields={"title": "New"},
            before={"title": "Old"},
        ),
        Change(id="c", action=Action.NOOP, kind="competency", key="c", reason="up to date"),
    )
    data: dict[str, object] = {
        "adapter": "fake",
        "target": "https://lms.example",
        "changes": changes,
    }
    data.update(overrides)
    return Plan.model_validate(data)


def test_plan_counts_table_and_emptiness() -> None:
    plan = make_plan()
    assert plan.counts() == {"create": 2, "update": 1, "noop": 1}
    assert not plan.is_empty
    table = plan.to_table()
    assert "update  competency  b  title: 'Old' -> 'New'" in table
    assert not any(line.startswith("  noop") for line in table.splitlines())
    assert "(up to date)" in plan.to_table(show_noops=True)
    empty = Plan(adapter="fake", target="t", changes=(plan.changes[3],))
    assert empty.is_empty
    assert "nothing to do" in empty.to_table()


def test_updates_show_only_what_changes_and_the_changed_part_of_long_text() -> None:
    """Fields sent along unchanged (an id, a value kept) are not shown, and two long texts
    that differ in the middle do not look the same after cutting."""
    old = "Knows what the product does, what it costs and how it connects to the rest."
    new = old.replace("connects", "links")
    change = Change(
        id="u",
        action=Action.UPDATE,
        kind="competency",
        key="a",
        fields={"id": 5, "title": "New", "format": 2, "description": new},
        before={"title": "Old", "description": old, "format": 2},
    )
    line = Plan(adapter="fake", target="t", changes=(change,)).to_table().splitlines()[1]
    assert "id:" not in line
    assert "format" not in line
    assert "title: 'Old' -> 'New'" in line
    assert "how it connects to the" in line
    assert "how it links to the" in line


def test_fingerprint_is_stable_and_json_round_trips() -> None:
    plan = make_plan()
    assert plan.fingerprint == make_plan().fingerprint
    assert plan.fingerprint != make_plan(target="https://other.example").fingerprint
    text = plan.to_json()
    assert json.loads(text)["fingerprint"] == plan.fingerprint
    assert Plan.from_json(text) == plan
    tampered = text.replace('"New"', '"Evil"')
    with pytest.raises(ValueError, match="edited"):
        Plan.from_json(tampered)


def test_dependencies_must_come_first() -> None:
    with pytest.raises(pydantic.ValidationError, match="must come earlier"):
        Plan(
            adapter="x",
            target="t",
            changes=(Change(id="a", action=Action.CREATE, kind="k", key="a", depends_on=("b",)),),
        )


class FlakyTarget:
    """Records writes; fails once at a chosen change."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.writes: list[str] = []
        self.fail_at = fail_at

    def execute(self, change: Change, done: Mapping[str, Result]) -> Result:
        if change.id == self.fail_at:
            self.fail_at = None
            raise ConnectionError("network down")
        if change.depends_on:
            assert all(dep in done for dep in change.depends_on)
        self.writes.append(change.id)
        return {"remote_id": len(self.writes)}


def test_apply_journals_and_resumes_without_repeating() -> None:
    plan = make_plan()
    target = FlakyTarget(fail_at="b")
    journal = MemoryJournal()
    with pytest.raises(ApplyError) as caught:
        apply_plan(plan, target.execute, journal=journal)
    assert caught.value.report.applied == ["fw", "a"]
    assert not caught.value.retriable
    report = apply_plan(plan, target.execute, journal=journal)
    assert target.writes == ["fw", "a", "b"]  # nothing written twice, no-op never executed
    assert report.resumed == ["fw", "a"]
    assert report.applied == ["b"]
    assert report.results["fw"] == {"remote_id": 1}


def test_stale_plan_is_refused_only_before_anything_was_applied() -> None:
    plan = make_plan(state_fingerprint="state-1")
    target = FlakyTarget(fail_at="a")
    journal = MemoryJournal()
    with pytest.raises(StalePlanError):
        apply_plan(plan, target.execute, journal=journal, current_state=lambda: "state-2")
    with pytest.raises(ApplyError):
        apply_plan(plan, target.execute, journal=journal, current_state=lambda: "state-1")
    # Resuming: our own partial apply changed the state; that is not staleness.
    report = apply_plan(plan, target.execute, journal=journal, current_state=lambda: "state-2")
    assert report.applied == ["a", "b"]
