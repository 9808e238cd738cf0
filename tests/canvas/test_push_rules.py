"""Pushes that respect what Canvas does (issue 11 items 1, 3, 4, 11-14).

Each test names the Canvas behaviour it follows; the fake enforces it
(tests/canvas/test_fake_canvas.py shows the fake does what Canvas's code does).
"""

from __future__ import annotations

from typing import Any

import pytest

from comp_adapters.canvas import CanvasAdapter
from comp_adapters.canvas.csv_format import tree_from_csv_text
from comp_adapters.canvas.executor import Kind
from comp_adapters.canvas.mapping import framework_from_tree
from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError, PlanError
from comp_adapters.native import framework_to_data
from comp_adapters.sync.apply import ApplyError
from comp_adapters.sync.plan import Action

from .conftest import MakeAdapter
from .fake_canvas import FakeCanvas
from .test_canvas_files import CANVAS_FILES
from .test_push import active_guids, edited

STRATEGIES = ["rest", "csv"]


def by_guid(fake: FakeCanvas, guid: str) -> dict[str, Any]:
    (found,) = [o for o in fake.outcomes.values() if o["vendor_guid"] == guid and o["active"]]
    return found


def without(framework: Framework, *keys: str) -> Framework:
    data = framework_to_data(framework)
    data.pop("format")
    data["competencies"] = [
        {k: v for k, v in c.items() if k != "related"}
        for c in data["competencies"]
        if c["key"] not in keys and c.get("parent") not in keys
    ]
    return framework_from_data(data)


# -- item 11: prunes Canvas will carry out, nothing left renamed "deleted" --------------------


def pushed_with_one_aligned(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str, where: str
) -> tuple[CanvasAdapter, dict[str, Any]]:
    """The example pushed, its knowledge-base outcome aligned to content in ``where``."""
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(example))
    aligned = by_guid(fake, "CS-SUPPORT:ts.knowledge-base")
    fake.align(aligned["id"], where)
    return adapter, aligned


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_prune_keeps_and_names_an_aligned_outcome_and_renames_nothing(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    # Deleting a group that holds the last link of an aligned outcome fails a whole import
    # (LearningOutcomeGroup#destroy -> ContentTag::LastLinkToOutcomeNotDestroyed) and a
    # 'deleted' row renames the outcome it keeps (Outcomes::Import#import_outcome). The
    # plan removes by REST what Canvas will remove and keeps, naming it, what it will not.
    adapter, aligned = pushed_with_one_aligned(fake, make_adapter, example, strategy, "accounts/1")
    smaller = without(example, "troubleshooting")
    plan = adapter.plan_framework(smaller, prune=True)
    kept = [c for c in plan.changes if c.action is Action.NOOP]
    assert [c.key for c in kept] == ["CS-SUPPORT:troubleshooting"]
    assert "'Knowledge base'" in str(kept[0].reason)
    assert any("keeps 1 link(s) or group(s)" in n for n in plan.notes)
    imported = [c for c in plan.changes if c.kind == Kind.IMPORT]
    assert not imported  # nothing to import: removals are REST calls
    adapter.apply(plan)
    assert aligned["active"]
    assert aligned["title"] == "Knowledge base"
    assert not [o for o in fake.outcomes.values() if o["title"] == "deleted"]
    left = set(active_guids(fake))
    assert "CS-SUPPORT:ts.knowledge-base" in left
    assert not left & {"CS-SUPPORT:ts.escalation", "CS-SUPPORT:ts.diagnosis"}
    assert adapter.plan_framework(smaller, prune=True).is_empty


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_prune_of_one_aligned_outcome_is_refused_with_its_name(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    # OutcomeGroupsApiController#unlink answers 400 for the last link of an aligned
    # outcome; the link reports can_unlink false, and the plan does not try.
    adapter, aligned = pushed_with_one_aligned(fake, make_adapter, example, strategy, "courses/5")
    smaller = edited(example, ts_knowledge_base=None)
    plan = adapter.plan_framework(smaller, prune=True)
    assert plan.is_empty
    (kept,) = plan.changes
    assert (kept.action, kept.key) == (Action.NOOP, "CS-SUPPORT:ts.knowledge-base")
    assert "aligned" in str(kept.reason)
    adapter.apply(plan)
    assert aligned["active"]


def test_a_csv_push_with_prune_deletes_through_rest_after_the_import(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="csv")
    adapter.apply(adapter.plan_framework(example))
    changed = edited(without(example, "troubleshooting"), comm_written={"title": "Writing"})
    plan = adapter.plan_framework(changed, prune=True)
    (head,) = [c for c in plan.changes if c.kind == Kind.IMPORT]
    assert ",deleted" not in str(head.fields["csv"])
    removal = next(c for c in plan.changes if c.action is Action.DELETE)
    assert head.id in removal.depends_on
    adapter.apply(plan)
    assert adapter.plan_framework(changed, prune=True).is_empty
    assert fake.log[-1][0] == "GET"


# -- item 12: deleted outcomes still match by vendor_guid --------------------------------------


def test_a_csv_create_of_a_guid_deleted_here_revives_that_outcome(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = make_adapter(strategy="csv")
    adapter.apply(adapter.plan_framework(example))
    gone = by_guid(fake, "CS-SUPPORT:comm.written")
    fake.destroy_outcome(gone)
    plan = adapter.plan_framework(example)
    assert any("revived (same id" in n for n in plan.notes)
    adapter.apply(plan)
    assert by_guid(fake, "CS-SUPPORT:comm.written")["id"] == gone["id"]
    assert adapter.plan_framework(example).is_empty


def test_a_guid_deleted_in_another_account_fails_the_row_and_rest_creates_it(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    other = make_adapter(context="account:2", strategy="rest")
    other.apply(other.plan_framework(example))
    for record in list(fake.outcomes.values()):
        fake.destroy_outcome(record)
    csv = make_adapter(strategy="csv")
    with pytest.raises(ApplyError) as caught:
        csv.apply(csv.plan_framework(example))
    assert "another unrelated course or account" in str(caught.value.__cause__)
    assert "--strategy rest" in str(caught.value.__cause__)
    rest = make_adapter(strategy="rest")
    rest.apply(rest.plan_framework(example))
    assert rest.plan_framework(example).is_empty
    assert len(active_guids(fake)) == 9


# -- item 13: guids Canvas reads as ids --------------------------------------------------------


def test_a_framework_key_that_would_make_id_references_is_refused(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    renamed = example.model_copy(update={"key": "legacy_canvas_outcome"})
    with pytest.raises(MappingError, match="canvas_outcome:<number>"):
        make_adapter().plan_framework(renamed)


def test_known_guids_an_import_would_misread_go_by_rest(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    # Canvas's REST API stores any vendor_guid; another tool's guids with a space or with
    # 'canvas_outcome:<id>' inside cannot go through an import (check_object refuses the
    # one, find_prior_outcome binds the other to outcome <id>).
    tree = tree_from_csv_text(
        "vendor_guid,object_type,title,parent_guids\n"
        "g,group,G,\n"
        "ours-canvas_outcome:1,outcome,Bound,g\n",
        lenient=True,
    )
    framework = framework_from_tree(tree, fallback_key="T")
    auto = make_adapter(strategy="auto", csv_threshold=1)
    plan = auto.plan_framework(framework)
    assert any("strategy auto chose rest" in n for n in plan.notes)
    assert not [c for c in plan.changes if c.kind == Kind.IMPORT]
    auto.apply(plan)
    assert by_guid(fake, "ours-canvas_outcome:1")["title"] == "Bound"
    with pytest.raises(PlanError, match="cannot go through an outcomes CSV import"):
        make_adapter(context="account:3", strategy="csv").plan_framework(framework)


# -- items 1 and 2 for pushes: the guids and links a framework was read with ------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_framework_read_from_a_canvas_file_is_pushed_with_its_guids_and_links(
    fake: FakeCanvas, make_adapter: MakeAdapter, strategy: str
) -> None:
    # demo.csv: outcome c is linked in groups a and b.
    framework = framework_from_tree(tree_from_csv_text((CANVAS_FILES / "demo.csv").read_text()))
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(framework))
    c = by_guid(fake, "c")
    linked = {fake.groups[k["group_id"]]["vendor_guid"] for k in fake._links_of(c["id"])}
    assert linked == {"a", "b"}
    assert {g["vendor_guid"] for g in fake.groups.values() if g["vendor_guid"]} == {"a", "b"}
    assert adapter.plan_framework(framework).is_empty
    pulled = adapter.read_framework("a")
    assert adapter.plan_framework(pulled).is_empty  # pulled and pushed back: no change


# -- item 3: friendly descriptions ------------------------------------------------------------


def _friendly(example: Framework, text: str) -> Framework:
    return edited(example, comm_written={"properties": {"canvas.friendly_description": text}})


def test_friendly_descriptions_are_written_compared_and_kept(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    # Only an import writes them (OutcomesApiController#update permits none); Canvas's
    # REST lists never carry them, the account's export does.
    adapter = make_adapter(strategy="auto")
    framework = _friendly(example, "Writes clear replies")
    plan = adapter.plan_framework(framework)
    assert any(c.kind == Kind.IMPORT for c in plan.changes)
    adapter.apply(plan)
    written = by_guid(fake, "CS-SUPPORT:comm.written")
    assert fake.friendly[("accounts/1", written["id"])]["description"] == "Writes clear replies"
    assert adapter.plan_framework(framework).is_empty
    changed = _friendly(example, "Writes kind replies")
    update = next(c for c in adapter.plan_framework(changed).changes if c.kind == "outcome")
    assert update.fields == {"friendly_description": "Writes kind replies"}
    pulled = adapter.read_framework("CS-SUPPORT")
    kept = next(c for c in pulled.competencies if c.key == "comm.written")
    assert kept.properties["canvas.friendly_description"] == "Writes clear replies"


def test_rest_says_it_cannot_write_friendly_descriptions(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    plan = make_adapter(strategy="rest").plan_framework(_friendly(example, "Kind"))
    assert any("friendly description(s) are not written" in n for n in plan.notes)


# -- item 4: numbers in the account's locale ---------------------------------------------------


def _fractional(example: Framework) -> Framework:
    data = framework_to_data(example)
    data.pop("format")
    data["scale"]["mastery_points"] = 2.5
    return framework_from_data(data)


@pytest.mark.parametrize("locale", [None, "de"])
def test_fractional_points_reach_a_german_account_unchanged(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, locale: str | None
) -> None:
    # Under de Canvas reads "2.5" as 25 (CSVImporter#normalize_i18n); the writer uses the
    # account's format when it is given, else the exponent form every locale reads alike.
    fake.locale = "de"
    adapter = make_adapter(strategy="csv", locale=locale)
    plan = adapter.plan_framework(_fractional(example))
    (head,) = [c for c in plan.changes if c.kind == Kind.IMPORT]
    assert (",25e-1," if locale is None else ',"2,5",') in str(head.fields["csv"])
    assert any("exponent form" in n for n in plan.notes) == (locale is None)
    adapter.apply(plan)  # the read-back (German export numbers) confirms every change
    assert {o["mastery_points"] for o in fake.outcomes.values() if o["active"]} == {2.5}
    assert adapter.plan_framework(_fractional(example)).is_empty


# -- a method change Canvas resets the int of ---------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_method_change_keeping_the_int_is_followed_by_an_int_write(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, strategy: str
) -> None:
    # As LearningOutcome#adjust_calculation_int does, a new method with the same int gets the
    # method's default int; a second write (the int alone) sets it.
    first = edited(example, comm_written={"calculation_method": "n_mastery", "calculation_int": 3})
    adapter = make_adapter(strategy=strategy)
    adapter.apply(adapter.plan_framework(first))
    second = edited(
        example, comm_written={"calculation_method": "decaying_average", "calculation_int": 3}
    )
    plan = adapter.plan_framework(second)
    assert [c.kind for c in plan.changes if c.kind == Kind.OUTCOME_INT] == [Kind.OUTCOME_INT]
    adapter.apply(plan)
    written = by_guid(fake, "CS-SUPPORT:comm.written")
    assert (written["calculation_method"], written["calculation_int"]) == ("decaying_average", 3)
    assert adapter.plan_framework(second).is_empty
