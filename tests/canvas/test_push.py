"""Push: plan -> apply -> plan is empty, crash at every request, both strategies, flags."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from comp_adapters.canvas import MasteryScalesEnabledError, OutcomeImportError
from comp_adapters.canvas.executor import CanvasExecutor, Kind
from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import StalePlanError
from comp_adapters.native import framework_to_data
from comp_adapters.sync.apply import ApplyError, apply_plan
from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.testing import assert_converges_after_crash, assert_replan_is_empty

from .builders import big_framework
from .conftest import MakeAdapter, make
from .fake_canvas import FakeCanvas


def edited(framework: Framework, **changes: dict[str, Any]) -> Framework:
    """The framework with some competencies' fields replaced (``None`` removes one)."""
    data = framework_to_data(framework)
    kept = []
    for item in data["competencies"]:
        update = changes.get(item["key"].replace(".", "_").replace("-", "_"))
        if update is None and item["key"].replace(".", "_").replace("-", "_") in changes:
            continue
        kept.append({**item, **(update or {})})
    data["competencies"] = kept
    data.pop("format")
    return framework_from_data(data)


def active_guids(fake: FakeCanvas) -> list[str]:
    return sorted(str(o["vendor_guid"]) for o in fake.outcomes.values() if o["active"])


# -- plan -> apply -> plan is empty ---------------------------------------------------------


@pytest.mark.parametrize("strategy", ["rest", "csv"])
@pytest.mark.parametrize("context", ["account:1", "course:5"])
def test_plan_apply_then_plan_is_empty_and_writes_nothing(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str, context: str
) -> None:
    adapter = make_adapter(context=context, strategy=strategy)
    first = assert_replan_is_empty(lambda: adapter.plan_framework(example), adapter.apply)
    creates = [c for c in first.changes if c.kind != Kind.IMPORT]
    assert len(creates) == 13  # 1 framework group + 3 parent groups + 9 outcomes
    assert (any(c.kind == Kind.IMPORT for c in first.changes)) == (strategy == "csv")
    leaves = sorted(
        f"CS-SUPPORT:{c.key}" for c in example.competencies if not example.children_of(c.key)
    )
    assert active_guids(fake) == leaves  # no duplicates
    writes = fake.writes
    again = adapter.plan_framework(example)
    assert again.is_empty
    assert adapter.apply(again).writes == 0
    assert fake.writes == writes


def test_pushed_values_are_what_canvas_holds(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="csv")
    adapter.apply(adapter.plan_framework(example))
    catalogue = next(
        o for o in fake.outcomes.values() if o["vendor_guid"] == "CS-SUPPORT:product.catalogue"
    )
    assert catalogue["ratings"] == [
        {"description": "Expert", "points": 4.0},
        {"description": "Proficient", "points": 3.0},
        {"description": "Developing", "points": 2.0},
        {"description": "Beginning", "points": 1.0},
    ]
    assert catalogue["mastery_points"] == 3.0
    assert (catalogue["calculation_method"], catalogue["calculation_int"]) == (
        "decaying_average",
        65,
    )
    product = next(g for g in fake.groups.values() if g["vendor_guid"] == "CS-SUPPORT:product")
    links = [k for k in fake.links.values() if k["outcome_id"] == catalogue["id"] and k["active"]]
    assert [k["group_id"] for k in links] == [product["id"]]


def test_a_saved_plan_applies_the_same(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="csv")
    plan = Plan.from_json(adapter.plan_framework(example).to_json())
    adapter.apply(plan)
    assert adapter.plan_framework(example).is_empty


# -- crash at every request, then a re-run --------------------------------------------------


@pytest.mark.parametrize(("strategy", "import_ticks"), [("rest", 2), ("csv", 2), ("csv", 6)])
def test_crash_at_every_request_then_a_rerun_converges(
    fake: FakeCanvas, example: Framework, strategy: str, import_ticks: int
) -> None:
    fake.import_ticks = import_ticks

    def run(session: requests.Session) -> None:
        adapter = make(session=session, strategy=strategy)
        adapter.apply(adapter.plan_framework(example))

    checked = assert_converges_after_crash(run=run, snapshot=fake.snapshot, reset=fake.reset)
    assert checked >= (16 if strategy == "rest" else 9)
    groups, outcomes = fake.snapshot()
    assert len(outcomes) == 9
    assert len(groups) == 4


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_crash_before_sending_converges_too(
    fake: FakeCanvas, example: Framework, strategy: str
) -> None:
    def run(session: requests.Session) -> None:
        adapter = make(session=session, strategy=strategy)
        adapter.apply(adapter.plan_framework(example))

    assert_converges_after_crash(
        run=run, snapshot=fake.snapshot, reset=fake.reset, after_send=False
    )


def test_a_stale_rest_plan_is_refused_because_canvas_would_duplicate(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="rest")
    plan = adapter.plan_framework(example)
    assert plan.state_fingerprint is not None
    adapter.apply(plan)
    with pytest.raises(StalePlanError, match="plan again"):
        adapter.apply(plan)  # a new journal: nothing of it recorded
    assert len(active_guids(fake)) == 9
    # What the check prevents: Canvas's REST creation does not de-duplicate by vendor_guid.
    apply_plan(plan, CanvasExecutor(adapter.client, adapter.readback, plan))
    guids = active_guids(fake)
    assert len(guids) == 18
    assert len(set(guids)) == 9
    again = adapter.plan_framework(example)
    assert any("more than one outcome" in note for note in again.notes)


# -- updates, moves, prune --------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_only_what_differs_is_written(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(example))
    changed = edited(
        example,
        product_pricing={"title": "Pricing, billing and refunds"},
        communication={"description": "Talks well."},
    )
    plan = adapter.plan_framework(changed)
    tree_changes = [(c.action, c.kind, c.key) for c in plan.changes if c.kind != Kind.IMPORT]
    assert tree_changes == [
        (Action.UPDATE, "outcome_group", "CS-SUPPORT:communication"),
        (Action.UPDATE, "outcome", "CS-SUPPORT:product.pricing"),
    ]
    update = next(c for c in plan.changes if c.key == "CS-SUPPORT:product.pricing")
    assert update.fields == {"title": "Pricing, billing and refunds"}
    assert update.before["title"] == "Pricing and billing"
    writes = fake.writes
    adapter.apply(plan)
    assert fake.writes - writes == 2  # rest: 2 PUTs; csv: POST import + POST export report
    assert adapter.plan_framework(changed).is_empty


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_a_moved_competency_is_relinked_not_recreated(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(example))
    before = {o["vendor_guid"]: o["id"] for o in fake.outcomes.values()}
    moved = edited(example, comm_written={"parent": "troubleshooting"})
    plan = adapter.plan_framework(moved)
    (link,) = [c for c in plan.changes if c.kind == "outcome_link"]
    assert link.fields["group"] == "CS-SUPPORT:troubleshooting"
    assert link.fields["move_from"] == "CS-SUPPORT:communication"
    adapter.apply(plan)
    assert adapter.plan_framework(moved).is_empty
    after = {o["vendor_guid"]: o["id"] for o in fake.outcomes.values() if o["active"]}
    assert after == before
    written = next(
        o for o in fake.outcomes.values() if o["vendor_guid"] == "CS-SUPPORT:comm.written"
    )
    groups = {fake.groups[k["group_id"]]["vendor_guid"] for k in fake._links_of(written["id"])}
    assert groups == {"CS-SUPPORT:troubleshooting"}


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_prune_removes_what_left_the_framework(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(example))
    smaller = edited(example, ts_knowledge_base=None)
    kept = adapter.plan_framework(smaller)
    assert kept.is_empty  # without prune nothing is removed
    plan = adapter.plan_framework(smaller, prune=True)
    assert [(c.action, c.key) for c in plan.changes if c.kind != Kind.IMPORT] == [
        (Action.UNLINK, "CS-SUPPORT:ts.knowledge-base")
    ]
    adapter.apply(plan)
    assert "CS-SUPPORT:ts.knowledge-base" not in active_guids(fake)
    assert adapter.plan_framework(smaller, prune=True).is_empty


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_prune_deletes_groups_that_left(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(example))
    data = framework_to_data(example)
    data.pop("format")
    data["competencies"] = [
        {k: v for k, v in c.items() if k != "related"}
        for c in data["competencies"]
        if c["key"] not in ("troubleshooting",) and c.get("parent") != "troubleshooting"
    ]
    smaller = framework_from_data(data)
    plan = adapter.plan_framework(smaller, prune=True)
    assert [(c.action, c.key) for c in plan.changes if c.kind != Kind.IMPORT] == [
        (Action.DELETE, "CS-SUPPORT:troubleshooting")
    ]
    adapter.apply(plan)
    assert len(active_guids(fake)) == 6
    assert adapter.plan_framework(smaller, prune=True).is_empty


# -- strategies --------------------------------------------------------------------------------


def test_auto_strategy_uses_csv_for_many_writes_and_rest_for_few(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="auto", csv_threshold=10)
    plan = adapter.plan_framework(example)
    assert plan.changes[0].kind == Kind.IMPORT
    adapter.apply(plan)
    small = adapter.plan_framework(edited(example, comm_written={"title": "Writing"}))
    assert all(c.kind != Kind.IMPORT for c in small.changes)


def test_csv_push_of_1000_outcomes_takes_at_most_10_requests(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    framework = big_framework()
    adapter = make_adapter(strategy="csv")
    plan = adapter.plan_framework(framework)
    adapter.apply(plan)
    assert len(fake.log) <= 10, fake.log
    assert len(active_guids(fake)) == 1000
    writes = fake.writes
    again = adapter.plan_framework(framework)
    assert again.is_empty
    adapter.apply(again)
    assert fake.writes == writes


def test_import_row_errors_fail_the_apply_even_when_canvas_says_succeeded(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    # The same vendor_guids already live in an unrelated account: Canvas refuses the rows.
    other = make_adapter(context="account:2", strategy="rest")
    other.apply(other.plan_framework(example))
    adapter = make_adapter(strategy="csv")
    with pytest.raises(ApplyError) as caught:
        adapter.apply(adapter.plan_framework(example))
    cause = caught.value.__cause__
    assert isinstance(cause, OutcomeImportError)
    assert len(cause.row_errors) == 9
    assert "another unrelated course or account" in str(cause)
    (job,) = [j for j in fake.jobs.values() if j.kind == "import"]
    assert job.state == "succeeded"


def test_csv_push_confirms_in_an_account_holding_outcomes_our_files_refuse(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    # Canvas's REST API lets other tools make guids with spaces and the same guid twice;
    # the account's export then holds them, and the read-back must not trip over them.
    root = fake.root_id("accounts/1")
    for guid in ("other tool 1", "dup", "dup"):
        outcome = fake._new_outcome("accounts/1", {"title": guid, "vendor_guid": guid})
        fake._link_outcome("accounts/1", root, outcome["id"])
    adapter = make_adapter(strategy="csv")
    adapter.apply(adapter.plan_framework(example))
    assert adapter.plan_framework(example).is_empty
    assert len(active_guids(fake)) == 9 + 3


def test_csv_push_into_a_course_links_the_accounts_outcomes_instead_of_copying(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    # Canvas matches an import's outcomes by vendor_guid across the instance: in a course
    # of the account that owns them they are linked, not copied, and cannot be changed there.
    account = make_adapter(context="account:1", strategy="rest")
    account.apply(account.plan_framework(example))
    course = make_adapter(context="course:5", strategy="csv")
    course.apply(course.plan_framework(example))
    assert course.plan_framework(example).is_empty
    assert len(active_guids(fake)) == 9  # no copies
    owners = {fake.outcomes[k["outcome_id"]]["context"] for k in fake.links.values()}
    assert owners == {"accounts/1"}
    renamed = edited(example, comm_written={"title": "Writing"})
    plan = course.plan_framework(renamed)
    assert not [c for c in plan.changes if c.kind != Kind.IMPORT]
    assert any("belong to another account" in note for note in plan.notes)
    # Written anyway (a hand-made CSV), Canvas refuses the row; the apply says so.
    rows = "vendor_guid,object_type,title\nCS-SUPPORT:comm.written,outcome,Writing\n"
    forced = Plan(
        adapter="canvas",
        target="t",
        changes=(
            Change(
                id="import:x", action=Action.CREATE, kind=Kind.IMPORT, key="1", fields={"csv": rows}
            ),
        ),
    )
    with pytest.raises(ApplyError) as caught:
        course.apply(forced)
    assert isinstance(caught.value.__cause__, OutcomeImportError)
    assert "Cannot modify outcome from another context" in str(caught.value.__cause__)


def test_a_failed_import_is_reported(fake: FakeCanvas, make_adapter: MakeAdapter) -> None:
    adapter = make_adapter()
    plan = Plan(
        adapter="canvas",
        target="t",
        changes=(
            Change(
                id="import:x",
                action=Action.CREATE,
                kind=Kind.IMPORT,
                key="1 rows",
                fields={"csv": "bogus,header\n1,2\n"},
            ),
        ),
    )
    with pytest.raises(ApplyError, match="failed") as caught:
        adapter.apply(plan)
    assert isinstance(caught.value.__cause__, OutcomeImportError)
    assert caught.value.__cause__.row_errors[0][0] == 1


def test_throttling_during_a_push_is_absorbed(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="rest")
    plan = adapter.plan_framework(example)
    fake.throttle(403, 429)
    adapter.apply(plan)
    assert adapter.plan_framework(example).is_empty
    assert len(active_guids(fake)) == 9


# -- feature flags -----------------------------------------------------------------------------


def test_new_decay_flag_keeps_standard_decaying_average(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    fake.new_decay = True
    adapter = make_adapter(strategy="rest")
    plan = adapter.plan_framework(example)
    assert not any("outcomes_new_decaying_average_calculation" in n for n in plan.notes)
    adapter.apply(plan)
    methods = {o["calculation_method"] for o in fake.outcomes.values()}
    assert "standard_decaying_average" in methods
    assert adapter.plan_framework(example).is_empty


@pytest.mark.parametrize("new_decay", [False, True])
def test_weighted_average_stored_by_canvas_converges(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, new_decay: bool
) -> None:
    # Canvas keeps "weighted_average" as written without the new-decay flag (legacy maths,
    # the same as our decaying_average); the adapter rewrites it once, then plans nothing.
    fake.new_decay = new_decay
    adapter = make_adapter(strategy="rest")
    adapter.apply(adapter.plan_framework(example))
    catalogue = next(
        o for o in fake.outcomes.values() if o["vendor_guid"] == "CS-SUPPORT:product.catalogue"
    )
    fake._apply_outcome_fields(catalogue, {"calculation_method": "weighted_average"})
    assert catalogue["calculation_method"] == (
        "decaying_average" if new_decay else "weighted_average"
    )
    plan = adapter.plan_framework(example)
    assert [c.key for c in plan.changes] == ([] if new_decay else [catalogue["vendor_guid"]])
    adapter.apply(plan)
    assert catalogue["calculation_method"] == "decaying_average"
    assert adapter.plan_framework(example).is_empty


@pytest.mark.parametrize("strategy", ["rest", "csv"])
@pytest.mark.parametrize("change", ["level name", "mastery points"])
def test_a_scale_change_sends_ratings_and_mastery_together(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str, change: str
) -> None:
    # Canvas resets mastery to the top rating when ratings come alone (the fake does too).
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(example))
    data = framework_to_data(example)
    data.pop("format")
    if change == "level name":
        data["scale"]["levels"][0]["name"] = "Starting"
    else:
        data["scale"]["mastery_points"] = 2.5
    changed = framework_from_data(data)
    plan = adapter.plan_framework(changed)
    updates = [c for c in plan.changes if c.kind == "outcome"]
    assert updates
    assert all({"ratings", "mastery_points"} <= set(c.fields) for c in updates)
    adapter.apply(plan)
    assert adapter.plan_framework(changed).is_empty
    mastery = {o["mastery_points"] for o in fake.outcomes.values() if o["active"]}
    ratings = {json.dumps(o["ratings"]) for o in fake.outcomes.values() if o["active"]}
    expected_mastery = 2.5 if change == "mastery points" else 3.0
    assert mastery == {expected_mastery}
    assert len(ratings) == 1


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_mastery_scales_on_writes_no_per_outcome_scale(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    fake.mastery_scales = True
    adapter = make_adapter(strategy=strategy)
    plan = adapter.plan_framework(example)
    assert any("account-level mastery scales are ON" in n for n in plan.notes)
    assert any("--set-mastery-scale" in n for n in plan.notes)
    assert all("ratings" not in c.fields for c in plan.changes)
    adapter.apply(plan)
    assert adapter.plan_framework(example).is_empty


def test_mastery_scales_on_can_set_the_context_scale_instead(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    fake.mastery_scales = True
    adapter = make_adapter(strategy="rest", set_mastery_scale=True)
    plan = adapter.plan_framework(example)
    kinds = [c.kind for c in plan.changes]
    assert kinds[-2:] == ["mastery_scale", "calculation_method"]
    adapter.apply(plan)
    assert fake.proficiency["accounts/1"] == [
        {"description": "Expert", "points": 4.0, "mastery": False, "color": "0374B5"},
        {"description": "Proficient", "points": 3.0, "mastery": True, "color": "0B874B"},
        {"description": "Developing", "points": 2.0, "mastery": False, "color": "FAB901"},
        {"description": "Beginning", "points": 1.0, "mastery": False, "color": "D97900"},
    ]
    assert fake.calc_method["accounts/1"] == ("latest", None)
    assert adapter.plan_framework(example).is_empty


def test_under_mastery_scales_only_an_outcome_update_is_refused(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    # Issue 11 item 14: OutcomesApiController#update answers 403 for ratings, mastery or a
    # method under account_level_mastery_scales; OutcomeGroupsApiController#link (create)
    # checks nothing, so a first push into an empty context whose flags cannot be read works.
    fake.mastery_scales = True
    fake.features_forbidden = True  # a non-admin token cannot read the flags
    adapter = make_adapter(strategy="rest")
    plan = adapter.plan_framework(example)
    assert any("could not read the feature flags" in n for n in plan.notes)
    adapter.apply(plan)
    assert len(active_guids(fake)) == 9
    forced = make_adapter(strategy="rest", mastery_scales="off")
    with pytest.raises(ApplyError) as caught:
        forced.apply(forced.plan_framework(example))
    assert isinstance(caught.value.__cause__, MasteryScalesEnabledError)
    assert "Individual outcome mastery points cannot be modified." in str(caught.value.__cause__)
    fixed = make_adapter(strategy="rest")  # GET /outcomes/:id now tells the flag is on
    again = fixed.plan_framework(example)
    assert any("mastery scales are on" in n for n in again.notes)
    assert again.is_empty


@pytest.mark.parametrize("mastery_scales", [False, True])
def test_without_the_flags_canvas_behaviour_tells_mastery_scales(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, mastery_scales: bool
) -> None:
    # A non-admin token cannot read the flags. Off: the context has no mastery scale (404).
    # On: GET /outcomes/:id of an outcome already there leaves mastery_points out.
    fake.mastery_scales = mastery_scales
    fake.features_forbidden = True
    first = make_adapter(strategy="rest", mastery_scales="on" if mastery_scales else "off")
    first.apply(first.plan_framework(edited(example, comm_written=None)))
    adapter = make_adapter(strategy="rest")
    plan = adapter.plan_framework(example)
    state = "on" if mastery_scales else "off"
    assert f"Canvas's answers show account-level mastery scales are {state}" in " ".join(plan.notes)
    (create,) = [c for c in plan.changes if c.action is Action.CREATE]
    assert ("ratings" in create.fields) is not mastery_scales
    adapter.apply(plan)  # no 403: the scale fields were left out under mastery scales
    again = adapter.plan_framework(example)
    assert again.is_empty
    if not mastery_scales:  # Canvas stored standard_decaying_average as the legacy method
        assert any("new decaying average flag is off" in note for note in again.notes)


def test_parent_outcomes_are_pushed_into_their_groups(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="csv", parent_outcomes=True)
    adapter.apply(adapter.plan_framework(example))
    assert "CS-SUPPORT:product:rollup" in active_guids(fake)
    assert adapter.plan_framework(example).is_empty
