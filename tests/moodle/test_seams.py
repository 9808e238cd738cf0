"""The seams every adapter has (issue 13): settings, ``from_settings``, ``target``, the pure
planner, the executor's kinds, and no-ops that say why."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import requests

from comp_adapters.core.framework import Framework, RuleOutcome
from comp_adapters.errors import ConfigurationError, PlanError, StalePlanError
from comp_adapters.moodle import planner as planner_module
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.moodle.evidence_cursor import EvidenceProgress
from comp_adapters.moodle.executor import (
    SUPPORTED,
    Kind,
    MoodleExecutor,
    check_changes,
    group_key,
)
from comp_adapters.moodle.planner import (
    DesiredRatings,
    RatingSnapshot,
    plan_ratings,
    ratings_to_read,
)
from comp_adapters.moodle.rating_planner import RatingOptions, RatingSite
from comp_adapters.moodle.settings import MoodleSettings, load_settings
from comp_adapters.native import load_framework
from comp_adapters.protocols import (
    PROTOCOLS,
    REQUIRED_METHODS,
    Cursor,
    ReadsEvidence,
    ReadsFramework,
    WritesFramework,
    WritesProficiency,
)
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync.plan import Action, Change, Plan
from tests.moodle.conftest import (
    EXAMPLE,
    FOUR_LEVEL_SCALE,
    moodle_adapter,
    proficiency,
    settings_for,
)
from tests.moodle.fake_moodle import TOKEN, URL, FakeMoodle

SRC = Path(__file__).resolve().parents[2] / "src" / "comp_adapters" / "moodle"
ENV = {"COMP_ADAPTERS_MOODLE_TOKEN": TOKEN}

# -- settings ----------------------------------------------------------------------------


def test_a_misspelt_setting_is_refused_by_name() -> None:
    config = {"moodle": {"url": URL, "scale_ids": 3}}
    with pytest.raises(ConfigurationError, match="'scale_ids'") as caught:
        load_settings(config=config, environ=ENV)
    assert TOKEN not in str(caught.value)
    with pytest.raises(ConfigurationError, match="'user_feild'"):
        load_settings(flags={"url": URL}, environ={**ENV, "COMP_ADAPTERS_MOODLE_USER_FEILD": "id"})


def test_settings_merge_config_then_environment_then_flags() -> None:
    config = {"moodle": {"url": "https://config.example", "scale_id": 3, "batch_size": 9}}
    environ = {**ENV, "COMP_ADAPTERS_MOODLE_SCALE_ID": "4", "COMP_ADAPTERS_MOODLE_LEARNERS": "a, b"}
    settings = load_settings(flags={"scale_id": 5}, config=config, environ=environ)
    assert (settings.url, settings.scale_id, settings.batch_size) == (
        "https://config.example",
        5,
        9,
    )
    assert settings.learners == ("a", "b")
    assert settings.token.get_secret_value() == TOKEN
    assert isinstance(settings, AdapterSettings)
    with pytest.raises(Exception, match="frozen"):
        settings.scale_id = 6  # type: ignore[misc]


def test_every_setting_is_described() -> None:
    for name, info in MoodleSettings.model_fields.items():
        assert info.description, f"{name} has no description (it is the flag help)"


# -- construction and target ---------------------------------------------------------------


def test_from_settings_is_the_way_in_and_the_session_is_the_injected_one() -> None:
    session = requests.Session()
    adapter = MoodleAdapter.from_settings(settings_for(batch_size=7), session=session)
    assert adapter.client.transport.session is session
    assert adapter.client.batch_size == 7
    assert MoodleAdapter.settings_model is MoodleSettings
    for capability in MoodleAdapter.capabilities:
        assert isinstance(adapter, PROTOCOLS[capability])
        for method in REQUIRED_METHODS[capability]:
            assert callable(getattr(adapter, method))
    for protocol in (ReadsFramework, WritesFramework, ReadsEvidence, WritesProficiency):
        assert isinstance(adapter, protocol)


def test_from_settings_refuses_other_settings() -> None:
    class Other(AdapterSettings):
        url: str = "x"

    with pytest.raises(ConfigurationError, match="MoodleSettings"):
        MoodleAdapter.from_settings(Other())


def test_target_is_one_line_without_secrets() -> None:
    adapter = moodle_adapter(url="https://someone:pa55word@moodle.test/")
    assert adapter.target.startswith("moodle https://")
    assert "moodle.test" in adapter.target
    for secret in (TOKEN, "pa55word", "someone"):
        assert secret not in adapter.target
        assert secret not in repr(adapter)
    assert "\n" not in adapter.target


def test_evidence_query_says_what_is_read(example: Framework) -> None:
    base = moodle_adapter(learners=["b", "a"], framework_key="CS-SUPPORT")
    query = base.evidence_query()
    assert query["framework"] == "CS-SUPPORT"
    assert query["learners"] == ["a", "b"]
    assert query["levels"] == "from moodle"
    assert TOKEN not in str(query)
    assert moodle_adapter(learners=["a", "b"], framework_key="CS-SUPPORT").evidence_query() == (
        query
    )
    with_levels = base.with_framework(example).evidence_query()
    assert with_levels["levels"] != "from moodle"
    assert moodle_adapter(learners=["a"], framework_key="CS-SUPPORT").evidence_query() != query


# -- no-ops carry their reason ---------------------------------------------------------------


@pytest.fixture
def rated_site(fake: FakeMoodle, example: Framework) -> dict[str, Any]:
    """The example pushed, and users ann and ben."""
    pusher = moodle_adapter(scale_id=FOUR_LEVEL_SCALE)
    pusher.apply(pusher.plan_framework(example))
    return {"users": {name: fake.add_user(name) for name in ("ann", "ben")}}


def test_every_change_that_writes_nothing_says_why(
    fake: FakeMoodle, example: Framework, rated_site: dict[str, Any]
) -> None:
    adapter = moodle_adapter(scale_id=FOUR_LEVEL_SCALE)
    wanted = [
        proficiency("ann@example.com", "product.pricing", "expert"),
        proficiency("ann@example.com", "comm.written", None),
        proficiency("zoe@example.com", "comm.written", "expert"),
    ]
    adapter.apply(adapter.plan_proficiency(wanted, framework=example))
    again = adapter.plan_proficiency(wanted, framework=example)
    assert again.is_empty
    noops = {c.key: c.reason for c in again.changes if c.action is Action.NOOP}
    assert noops["ann@example.com / product.pricing"] == "Moodle already rates it Expert"
    assert "no level computed" in (noops["ann@example.com / comm.written"] or "")
    assert "no Moodle user" in (noops["zoe@example.com / comm.written"] or "")
    for plan in (again, adapter.plan_framework(example)):
        assert all(c.reason for c in plan.changes if not c.writes)


def test_rating_planner_is_a_pure_function_of_its_snapshot(example: Framework) -> None:
    desired = DesiredRatings(
        example.canonical(),
        (
            proficiency("ann", "product.pricing", "expert"),
            proficiency("ann", "product.catalogue", "developing"),
        ),
    )
    competencies = {c.key: n for n, c in enumerate(example.competencies, start=100)}
    site = RatingSite(users={"ann": 7}, competencies=competencies)
    options = RatingOptions(target="moodle test", user_field="username")
    pairs = ratings_to_read(desired, site, options)
    assert (7, competencies["product.pricing"]) in pairs
    current = dict.fromkeys(pairs) | {(7, competencies["product.pricing"]): 4}
    plan = plan_ratings(desired, RatingSnapshot(site, current=current), options)
    assert plan == plan_ratings(desired, RatingSnapshot(site, current=current), options)
    assert [c.key for c in plan.writes] == ["ann / product.catalogue"]
    assert [c.reason for c in plan.changes if not c.writes] == ["Moodle already rates it Expert"]
    assert any("tool_lp_data_for_user_competency_summary" in note for note in plan.notes)
    assert plan.target == "moodle test"


# -- the executor ------------------------------------------------------------------------------


def test_planned_kinds_are_the_executors_kinds(
    fake: FakeMoodle, example: Framework, rated_site: dict[str, Any]
) -> None:
    adapter = moodle_adapter(scale_id=FOUR_LEVEL_SCALE)
    plans = [
        adapter.plan_framework(example, prune=True),
        adapter.plan_proficiency(
            [proficiency("ann@example.com", "product", "expert")], framework=example
        ),
    ]
    kinds = {c.kind for plan in plans for c in plan.changes}
    assert kinds
    assert kinds <= {k.value for k in Kind}
    for plan in plans:
        check_changes(plan.changes)  # every planned (kind, action) is carried out
        assert all((Kind(c.kind), c.action) in SUPPORTED for c in plan.writes)


def test_the_executor_refuses_a_kind_or_action_it_does_not_know(fake: FakeMoodle) -> None:
    executor = MoodleExecutor(moodle_adapter().client)
    requests_before = fake.http_requests
    unknown = Change(id="badge:x", action=Action.CREATE, kind="badge", key="x")
    with pytest.raises(PlanError, match="unknown kind 'badge'"):
        executor([unknown], {})
    with pytest.raises(PlanError, match="unknown kind"):
        group_key(unknown)
    wrong = Change(id="rating:x", action=Action.DELETE, kind=Kind.RATING.value, key="x")
    with pytest.raises(PlanError, match="no delete of a rating"):
        executor([wrong], {})
    linked = Change(id="framework:x", action=Action.LINK, kind=Kind.FRAMEWORK.value, key="x")
    with pytest.raises(PlanError, match="no link of a framework"):
        executor([linked], {})
    assert fake.http_requests - requests_before <= 1  # at most the site info, no call
    known = Change(
        id="delete:1", action=Action.DELETE, kind="competency", key="a", fields={"id": 1}
    )
    plan = Plan(adapter="moodle", target="x", changes=(known, unknown, wrong))
    writes = fake.writes
    with pytest.raises(PlanError, match="'badge:x' \\(create badge\\), 'rating:x'"):
        moodle_adapter().apply(plan)
    assert fake.writes == writes  # refused before anything was written


def test_the_executor_dispatches_through_tables_not_change_ids() -> None:
    """Change ids are names, not instructions: no prefix parsing in the executor."""
    source = (SRC / "executor.py").read_text(encoding="utf-8")
    assert "change.id.split" not in source
    assert "id.startswith" not in source


# -- the planner's purity --------------------------------------------------------------------

PURE = ("planner.py", "rating_planner.py", "mapping.py", "text.py", "wire.py", "evidence_cursor.py")
FORBIDDEN = (
    "requests",
    "urllib3",
    "httpx",
    "http",
    "socket",
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "time",
    "logging",
    "sqlalchemy",
    "comp_adapters.http",
    "comp_adapters._http",
    "comp_adapters._files",
    "comp_adapters.store",
    "comp_adapters.moodle.client",
    "comp_adapters.moodle.reader",
    "comp_adapters.moodle.executor",
    "comp_adapters.moodle.adapter",
    "comp_adapters.moodle.settings",
)
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_no_io_and_read_no_clock(name: str) -> None:
    tree = ast.parse((SRC / name).read_text(encoding="utf-8"))
    bad = {
        module
        for module in _imports(tree)
        if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{name} imports {sorted(bad)}"
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & CLOCK_CALLS, f"{name} reads the clock"
    names = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert "open" not in names


def test_the_purity_check_catches_an_import() -> None:
    tree = ast.parse("import requests\nfrom comp_adapters.store.db import x\n")
    assert _imports(tree) == {"requests", "comp_adapters.store.db"}
    assert planner_module.plan_framework.__module__ == "comp_adapters.moodle.planner"


def test_a_rule_parents_result_outside_any_plan_is_not_dropped(example: Framework) -> None:
    framework = example.canonical()
    parent = next(
        c.key
        for c in framework.competencies
        if c.rollup is not None and c.rollup.outcome is RuleOutcome.COMPLETE
    )
    desired = DesiredRatings(framework, (proficiency("ann", parent, None),))
    competencies = {c.key: n for n, c in enumerate(framework.competencies, start=100)}
    site = RatingSite(users={"ann": 7}, competencies=competencies)
    options = RatingOptions(rate_in="plan", user_field="username")
    assert ratings_to_read(desired, site, options) == [(7, competencies[parent])]
    plan = plan_ratings(desired, RatingSnapshot(site), options)
    assert [(c.key, c.action) for c in plan.changes] == [(f"ann / {parent}", Action.NOOP)]
    assert "not in an active plan" in (plan.changes[0].reason or "")


def test_an_evidence_read_resumed_mid_pass_skips_nothing_and_repeats_nothing(
    fake: FakeMoodle, example: Framework, rated_site: dict[str, Any]
) -> None:
    writer = moodle_adapter()
    wanted = [
        proficiency("ann@example.com", "product.pricing", "expert"),
        proficiency("ben@example.com", "comm.listening", "developing"),
    ]
    writer.apply(writer.plan_proficiency(wanted, framework=example))
    reader = moodle_adapter(
        framework=example,
        framework_key=example.key,
        learners=["ann@example.com", "nobody@example.com", "ben@example.com"],
    )
    batches = list(reader.read_evidence())
    assert len(batches) == 2
    assert [len(b.evidence) for b in batches] == [1, 1]
    middle = batches[0].cursor
    assert middle.extra["done"] == ["ann@example.com"]
    resumed = list(reader.read_evidence(cursor=middle))
    assert [e.id for b in resumed for e in b.evidence] == [e.id for e in batches[1].evidence]
    assert resumed[-1].cursor == batches[-1].cursor
    assert resumed[-1].skipped == {"learner without a Moodle user": 1}
    nobody = moodle_adapter(framework=example, learners=["nobody@example.com"])
    (only,) = list(nobody.read_evidence())
    assert only.evidence == ()
    assert only.skipped == {"learner without a Moodle user": 1}


def test_a_damaged_evidence_cursor_is_refused() -> None:
    bad = Cursor(adapter="moodle", field="evidence.timecreated", position="soon")
    with pytest.raises(ConfigurationError, match="not a time"):
        EvidenceProgress.starting_at(bad)
    damaged = Cursor(adapter="moodle", field="evidence.timecreated", extra={"done": "ann"})
    with pytest.raises(ConfigurationError, match="damaged"):
        EvidenceProgress.starting_at(damaged)
    with pytest.raises(ConfigurationError, match="'xapi' cursor"):
        EvidenceProgress.starting_at(Cursor(adapter="xapi", field="stored"))


# -- saved plans: stale once the site changed ---------------------------------------------------


def test_a_saved_framework_plan_is_refused_once_the_site_changed(
    fake: FakeMoodle, example: Framework
) -> None:
    saved = Plan.from_json(
        moodle_adapter(scale_id=FOUR_LEVEL_SCALE).plan_framework(example).to_json()
    )
    assert saved.state_fingerprint
    # unchanged site: a fresh adapter applies the saved plan
    report = moodle_adapter(scale_id=FOUR_LEVEL_SCALE).apply(saved)
    assert report.writes == len(saved.writes)
    # a plan made against the pushed site, then the site changes under it
    later = moodle_adapter(scale_id=FOUR_LEVEL_SCALE).plan_framework(example, prune=True)
    assert later.is_empty
    assert later.changes[0].reason == "already up to date"
    edited = load_framework(EXAMPLE)
    edited = edited.model_copy(update={"title": "Renamed"})
    rename = moodle_adapter(scale_id=FOUR_LEVEL_SCALE).plan_framework(edited)
    someone = fake.competency_by_idnumber("product")
    fake.dispatch(
        "core_competency_update_competency",
        {"competency": {"id": someone["id"], "shortname": "Changed in Moodle"}},
    )
    writes = fake.writes
    with pytest.raises(StalePlanError, match="changed since the plan was made"):
        moodle_adapter(scale_id=FOUR_LEVEL_SCALE).apply(rename)
    assert fake.writes == writes


def test_a_saved_rating_plan_is_refused_once_a_grade_changed(
    fake: FakeMoodle, example: Framework, rated_site: dict[str, Any]
) -> None:
    wanted = [proficiency("ann@example.com", "product.pricing", "expert")]
    saved = moodle_adapter().plan_proficiency(wanted, framework=example)
    ann = rated_site["users"]["ann"]
    pricing = fake.competency_by_idnumber("product.pricing")["id"]
    fake.dispatch(
        "core_competency_grade_competency", {"userid": ann, "competencyid": pricing, "grade": 2}
    )
    with pytest.raises(StalePlanError):
        moodle_adapter().apply(saved)
    fresh = moodle_adapter()
    fresh.apply(fresh.plan_proficiency(wanted, framework=example))  # made here: no check
    assert fake.user_competencies[(ann, pricing)]["grade"] == 4
