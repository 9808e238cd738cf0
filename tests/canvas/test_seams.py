"""The seams every adapter has (issue 13): settings, connect, planner, executor, adapter."""

from __future__ import annotations

import ast
import dataclasses
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from comp_adapters.canvas import CanvasAdapter, CanvasSettings, Kind, connect, load_settings
from comp_adapters.canvas import planner as canvas_planner
from comp_adapters.canvas.csv_format import tree_to_csv
from comp_adapters.canvas.executor import CanvasExecutor
from comp_adapters.canvas.features import Flags
from comp_adapters.canvas.mapping import OutcomeTree, desired_tree
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, PlanError
from comp_adapters.http import HttpTransport
from comp_adapters.plugins import BUILTIN_ADAPTERS
from comp_adapters.protocols import (
    PROTOCOLS,
    REQUIRED_METHODS,
    Adapter,
    ReadsEvidence,
    ReadsFramework,
    WritesFramework,
    WritesProficiency,
)
from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.testing import CrashingSession, SimulatedCrash

from .conftest import MakeAdapter, make, settings_for
from .fake_canvas import BASE, TOKEN, FakeCanvas
from .test_push import edited

PACKAGE = Path(__file__).parents[2] / "src" / "comp_adapters" / "canvas"
ENV = {"COMP_ADAPTERS_CANVAS_TOKEN": TOKEN}

# -- settings -------------------------------------------------------------------------------


def test_a_misspelt_setting_key_is_an_error_naming_it() -> None:
    config = {"canvas": {"url": BASE, "account": "1", "stratgy": "csv"}}
    with pytest.raises(ConfigurationError, match="'stratgy'") as raised:
        load_settings(config=config, environ=ENV)
    assert TOKEN not in str(raised.value)
    with pytest.raises(ConfigurationError, match="'pol_interval'"):
        load_settings(
            config={"canvas": {"url": BASE, "account": "1"}},
            environ={**ENV, "COMP_ADAPTERS_CANVAS_POL_INTERVAL": "0"},
        )


def test_settings_merge_config_then_environment_then_flags() -> None:
    config = {"canvas": {"url": BASE, "account": "1", "strategy": "rest", "locale": "de"}}
    environ = {**ENV, "COMP_ADAPTERS_CANVAS_STRATEGY": "csv", "COMP_ADAPTERS_CANVAS_LOCALE": "fr"}
    settings = load_settings(flags={"locale": "en-GB"}, config=config, environ=environ)
    assert (settings.strategy, settings.locale) == ("csv", "en-GB")
    assert settings.token.get_secret_value() == TOKEN
    # A context flag replaces the configured context instead of adding a second one.
    moved = load_settings(flags={"course": "5"}, config=config, environ=environ)
    assert (moved.account, moved.course) == (None, "5")


def test_settings_are_frozen_and_every_field_is_described() -> None:
    settings = settings_for()
    with pytest.raises(ValueError, match="frozen"):
        settings.strategy = "csv"  # type: ignore[misc]
    undescribed = [n for n, f in CanvasSettings.model_fields.items() if not f.description]
    assert undescribed == []
    assert CanvasSettings.model_fields["token"].annotation is SecretStr


def test_the_context_must_be_exactly_one() -> None:
    with pytest.raises(ConfigurationError, match="exactly one context"):
        connect(CanvasSettings(url=BASE, token=TOKEN))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="exactly one context"):
        connect(CanvasSettings(url=BASE, token=TOKEN, account="1", course="2"))  # type: ignore[arg-type]


# -- the adapter's contract -----------------------------------------------------------------


def test_the_adapter_satisfies_the_protocols_of_its_capabilities(fake: FakeCanvas) -> None:
    adapter = make()
    assert isinstance(adapter, Adapter)
    for protocol in (ReadsFramework, WritesFramework, ReadsEvidence, WritesProficiency):
        assert isinstance(adapter, protocol)
    for capability in CanvasAdapter.capabilities:
        assert isinstance(adapter, PROTOCOLS[capability])
        for method in REQUIRED_METHODS[capability]:
            assert callable(getattr(adapter, method))
    assert CanvasAdapter.settings_model is CanvasSettings
    assert BUILTIN_ADAPTERS["canvas"] == "comp_adapters.canvas.adapter:CanvasAdapter"


def test_from_settings_refuses_other_settings() -> None:
    class Other(CanvasSettings.__base__):  # type: ignore[name-defined,misc]
        pass

    with pytest.raises(ConfigurationError, match="CanvasSettings"):
        CanvasAdapter.from_settings(Other())


def test_the_session_is_the_one_way_the_transport_is_customised(fake: FakeCanvas) -> None:
    adapter = make(session=CrashingSession(crash_at=1))
    with pytest.raises(SimulatedCrash):
        adapter.read_tree()
    plain = make()
    assert plain.client.transport.session is not None
    assert plain.client.transport.retry.backoff == 0  # from the settings
    assert not hasattr(type(plain.client), "connect")
    # Canvas's ways are the transport's callables, not a subclass of it.
    assert type(plain.client.transport) is HttpTransport


def test_target_and_reprs_hold_no_secret(
    fake: FakeCanvas, example: Framework, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = make(strategy="rest")
    assert adapter.target == f"canvas {BASE}/api/v1/ account:1"
    plan = adapter.plan_framework(example)
    adapter.apply(plan)
    query = adapter.evidence_query()
    for text in (
        adapter.target,
        repr(adapter),
        repr(adapter.settings),
        repr(adapter.client),
        plan.to_json(),
        str(query),
        caplog.text,
    ):
        assert TOKEN not in text


def test_evidence_query_describes_the_read(fake: FakeCanvas) -> None:
    query = make(context="course:5", framework_key="RX", learner_field="email").evidence_query()
    assert query["source"] == "outcome_results"
    assert query["learner_field"] == "email"
    assert query["framework_key"] == "RX"
    assert query["excluded_assignment"] == "Competency mastery (RX)"
    other = make(context="course:5", framework_key="RX", learner_field="login_id")
    assert other.evidence_query() != query


# -- plans: no-ops carry their reason ---------------------------------------------------------


def test_every_noop_change_carries_its_reason(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="rest")
    adapter.apply(adapter.plan_framework(example))
    # An aligned outcome's last link that --prune would remove is kept, with its reason.
    outcome = next(
        o for o in fake.outcomes.values() if o["vendor_guid"] == "CS-SUPPORT:ts.knowledge-base"
    )
    fake.align(outcome["id"], "accounts/1")
    plan = adapter.plan_framework(edited(example, ts_knowledge_base=None), prune=True)
    noops = [c for c in plan.changes if c.action is Action.NOOP]
    assert noops
    assert all(c.reason for c in noops)


# -- the executor ---------------------------------------------------------------------------


def test_every_kind_has_one_handler() -> None:
    assert set(CanvasExecutor.HANDLERS) == set(Kind)


def test_the_kinds_keep_the_strings_of_saved_plans() -> None:
    assert {k.value for k in Kind} == {
        "outcome_group",
        "outcome",
        "outcome_calculation_int",
        "outcome_link",
        "outcome_import",
        "mastery_scale",
        "calculation_method",
        "assignment",
        "rubric",
        "rubric_assessment",
    }


def test_the_executor_refuses_an_unknown_kind(fake: FakeCanvas) -> None:
    adapter = make()
    change = Change(id="x:1", action=Action.CREATE, kind="outcome_widget", key="k")
    plan = Plan(adapter="canvas", target=adapter.target, changes=(change,))
    writes = fake.writes
    with pytest.raises(PlanError, match="outcome_widget"):
        adapter.apply(plan)
    assert fake.writes == writes


# -- the planner is pure -----------------------------------------------------------------------

IO_MODULES = ("requests", "urllib3", "http", "socket", "time", "os", "pathlib", "tempfile")
IO_OURS = (
    "comp_adapters.http",
    "comp_adapters._http",
    "comp_adapters.store",
    "comp_adapters._files",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", ["planner", "mapping", "executor", "features", "numbers"])
def test_pure_modules_import_no_http_store_file_or_clock_module(module: str) -> None:
    path = PACKAGE / f"{module}.py"
    imported = _imports(path)
    bad = {n for n in imported if n.split(".")[0] in IO_MODULES or n.startswith(IO_OURS)}
    assert bad == set()
    text = path.read_text()
    assert ".now(" not in text
    assert ".today(" not in text


def _snapshot(tree: OutcomeTree, flags: Flags | None = None) -> canvas_planner.FrameworkSnapshot:
    return canvas_planner.FrameworkSnapshot(
        target="canvas https://canvas.test/api/v1/ account:1",
        context="account:1",
        context_kind="account",
        tree=tree,
        flags=flags or Flags(mastery_scales=False, new_decay=True),
    )


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_the_planner_plans_from_a_snapshot_alone(example: Framework, strategy: str) -> None:
    options = canvas_planner.FrameworkOptions(render_csv=tree_to_csv, strategy=strategy)  # type: ignore[arg-type]
    plan = canvas_planner.plan_framework(example, _snapshot(OutcomeTree(root_id=1)), options)
    creates = [c for c in plan.changes if c.kind != Kind.IMPORT]
    assert len(creates) == 13
    assert all(c.action is Action.CREATE for c in creates)
    assert (plan.changes[0].kind == Kind.IMPORT) == (strategy == "csv")
    again = canvas_planner.plan_framework(example, _snapshot(OutcomeTree(root_id=1)), options)
    assert again.to_json() == plan.to_json()  # the same inputs give the same plan


def test_the_planner_reads_the_flags_from_the_snapshot(example: Framework) -> None:
    options = canvas_planner.FrameworkOptions(render_csv=tree_to_csv, strategy="rest")
    unread = Flags(mastery_scales=None, new_decay=None)
    plan = canvas_planner.plan_framework(
        example, _snapshot(OutcomeTree(root_id=1), unread), options
    )
    assert any("could not read the feature flags" in n for n in plan.notes)
    on = Flags(mastery_scales=True, new_decay=True)
    scaled = canvas_planner.plan_framework(example, _snapshot(OutcomeTree(root_id=1), on), options)
    assert all("ratings" not in c.fields for c in scaled.changes)
    assert any("ratings" in c.fields for c in plan.changes)


def test_snapshots_and_options_are_frozen(example: Framework) -> None:
    snapshot = _snapshot(OutcomeTree())
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.context = "course:2"  # type: ignore[misc]
    options = canvas_planner.ProficiencyOptions(assignment_name="A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.assignment_name = "B"  # type: ignore[misc]


def test_the_injected_session_carries_every_request(fake: FakeCanvas, example: Framework) -> None:
    session = CrashingSession()  # never crashes, only counts
    adapter = make(session=session, strategy="csv")
    adapter.apply(adapter.plan_framework(example))
    assert session.count == adapter.client.requests_sent > 0


def _results(framework: Framework) -> list[Proficiency]:
    leaves = [c.key for c in framework.competencies if not framework.children_of(c.key)][:2]
    return [
        Proficiency(
            learner=learner,
            competency=key,
            score=3.0,
            level="proficient",
            proficient=True,
            method="latest",
            as_of=datetime(2026, 3, 1, tzinfo=UTC),
            explanation="seams",
        )
        for learner in ("ann", "bob")
        for key in leaves
    ]


def test_the_mastery_planner_plans_from_a_snapshot_alone(example: Framework) -> None:
    desired = desired_tree(example)
    tree = dataclasses.replace(
        desired,
        outcomes=tuple(
            dataclasses.replace(o, canvas_id=100 + i) for i, o in enumerate(desired.outcomes)
        ),
    )
    wanted = canvas_planner.MasteryWanted(proficiencies=_results(example), framework=example)
    options = canvas_planner.ProficiencyOptions(assignment_name="Mastery")
    fresh = canvas_planner.ProficiencySnapshot(
        target="t", tree=tree, users={"ann": "1"}, assignment=None, marks={}
    )
    plan = canvas_planner.plan_proficiency(wanted, fresh, options)
    assert [c.kind for c in plan.changes] == ["assignment", "rubric", "rubric_assessment"]
    assert "1 result(s) not written: learner not in course" in plan.notes  # bob
    (assessment,) = [c for c in plan.changes if c.kind == Kind.ASSESSMENT]
    points = assessment.fields["points"]
    assert isinstance(points, dict)
    assert sorted(points.values()) == [3.0, 3.0]
    # The same results against an assignment that already shows them: no-ops, with reasons.
    criteria = {guid: f"c{n}" for n, guid in enumerate(sorted(points))}
    shown = canvas_planner.ProficiencySnapshot(
        target="t",
        tree=tree,
        users={"ann": "1"},
        assignment=canvas_planner.AssignmentState(id=7, criteria=criteria),
        marks={"1": dict(points)},
    )
    again = canvas_planner.plan_proficiency(wanted, shown, options)
    assert again.is_empty
    assert [(c.action, c.key) for c in again.changes] == [(Action.NOOP, "ann")]
    assert all(c.reason for c in again.changes)
