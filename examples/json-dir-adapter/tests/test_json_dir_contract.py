"""The json-dir adapter passes the comp_adapters contract kit: the kit's mixins, fed with
this package's fixtures (a fresh folder per test)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from comp_json_dir import JsonDirAdapter, JsonDirSettings
from comp_json_dir.adapter import snapshot_of
from comp_json_dir.executor import Executor

from comp_adapters.core import Framework, framework_from_data
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import PlanError
from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.testing import (
    ReadsFrameworkContract,
    WritesFrameworkContract,
    WritesProficiencyContract,
)

FRAMEWORK = {
    "key": "CS/support",  # a slash: keys become safe file names
    "title": "Customer support",
    "scale": {
        "levels": [
            {"key": "novice", "name": "Novice", "points": 1},
            {"key": "able", "name": "Able", "points": 2, "proficient": True},
        ],
        "default_level": "able",
    },
    "competencies": [
        {"key": "listen", "title": "Listening", "rollup": {"type": "all_children"}},
        {"key": "ask", "title": "Asking", "parent": "listen", "description": "Open questions"},
        {"key": "calm", "title": "Staying calm", "parent": "listen", "tags": ["soft"]},
        {"key": "tools", "title": "Tools"},
    ],
}


class JsonDirFixtures:
    @pytest.fixture
    def contract_settings(self, tmp_path: Path) -> JsonDirSettings:
        return JsonDirSettings(dir=tmp_path / "target")

    @pytest.fixture
    def contract_adapter(self, contract_settings: JsonDirSettings) -> JsonDirAdapter:
        return JsonDirAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_connect(self, contract_settings: JsonDirSettings) -> Callable[[], JsonDirAdapter]:
        return lambda: JsonDirAdapter.from_settings(contract_settings)

    @pytest.fixture
    def contract_framework(self) -> Framework:
        return framework_from_data(FRAMEWORK)

    @pytest.fixture
    def contract_snapshot(self, contract_adapter: JsonDirAdapter) -> Callable[[], Hashable]:
        return lambda: snapshot_of(contract_adapter.folder)

    @pytest.fixture
    def contract_reset(self, contract_adapter: JsonDirAdapter) -> Callable[[], None]:
        def reset() -> None:
            for path in sorted(contract_adapter.folder.root.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()

        return reset


class TestJsonDirFrameworks(JsonDirFixtures, WritesFrameworkContract):
    pass


class TestJsonDirReads(JsonDirFixtures, ReadsFrameworkContract):
    @pytest.fixture
    def contract_adapter(self, contract_settings: JsonDirSettings) -> JsonDirAdapter:
        adapter = JsonDirAdapter.from_settings(contract_settings)
        adapter.apply(adapter.plan_framework(framework_from_data(FRAMEWORK)))
        return adapter


class TestJsonDirResults(JsonDirFixtures, WritesProficiencyContract):
    @pytest.fixture
    def contract_proficiencies(self) -> list[Proficiency]:
        return [
            Proficiency(
                learner=learner,
                competency=key,
                score=2.0,
                level="able",
                proficient=True,
                method="latest",
                as_of=datetime(2026, 6, 1, tzinfo=UTC),
                explanation="latest rating: able",
            )
            for learner in ("ann@example.org", "bob")
            for key in ("ask", "calm")
        ]


def test_prune_deletes_and_otherwise_keeps_with_a_reason(tmp_path: Path) -> None:
    adapter = JsonDirAdapter.from_settings(JsonDirSettings(dir=tmp_path))
    adapter.apply(adapter.plan_framework(framework_from_data(FRAMEWORK)))
    smaller = dict(FRAMEWORK, competencies=FRAMEWORK["competencies"][:3])  # type: ignore[index]
    kept = adapter.plan_framework(framework_from_data(smaller))
    (noop,) = [c for c in kept.changes if c.key.endswith("/tools")]
    assert noop.action is Action.NOOP
    assert "prune" in (noop.reason or "")
    pruned = adapter.plan_framework(framework_from_data(smaller), prune=True)
    assert [c.action for c in pruned.writes] == [Action.DELETE]
    adapter.apply(pruned)
    assert {c.key for c in adapter.read_framework("CS/support").competencies} == {
        "listen",
        "ask",
        "calm",
    }


def test_a_result_for_an_unknown_competency_is_a_noop_with_its_reason(tmp_path: Path) -> None:
    adapter = JsonDirAdapter.from_settings(JsonDirSettings(dir=tmp_path))
    result = Proficiency(
        learner="ann",
        competency="juggling",
        score=None,
        level=None,
        proficient=False,
        method="latest",
        as_of=datetime(2026, 6, 1, tzinfo=UTC),
        explanation="-",
    )
    plan = adapter.plan_proficiency([result], framework=framework_from_data(FRAMEWORK))
    assert plan.is_empty
    assert "'juggling' is not in 'CS/support'" in (plan.changes[0].reason or "")


def test_the_executor_refuses_unknown_kinds_and_bad_keys(tmp_path: Path) -> None:
    adapter = JsonDirAdapter.from_settings(JsonDirSettings(dir=tmp_path))
    execute = Executor(adapter.folder)
    with pytest.raises(PlanError, match="kind 'badge'"):
        execute(Change(id="x", action=Action.CREATE, kind="badge", key="k"), {})
    with pytest.raises(PlanError, match="not the key of a competency"):
        execute(Change(id="x", action=Action.CREATE, kind="competency", key="only"), {})
    foreign = Plan(adapter="json-dir", target="json-dir /elsewhere")
    with pytest.raises(PlanError, match="not 'json-dir"):
        adapter.apply(foreign)
