"""Mastery out: computed proficiency -> rubric assessments on one aligned assignment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from comp_adapters.canvas import CanvasAdapter
from comp_adapters.canvas.mapping import expected_rollups
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError
from comp_adapters.native import iter_evidence
from comp_adapters.rules import evaluate
from comp_adapters.sync.plan import Action
from comp_adapters.testing import assert_converges_after_crash

from .conftest import EXAMPLE, MakeAdapter, connect, make
from .fake_canvas import FakeCanvas

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
LEARNERS = [
    "amara.okafor",
    "ben.schulz",
    "chloe.martin",
    "diego.ramos",
    "elif.kaya",
    "farah.haddad",
    "george.lee",
    "hana.sato",
    "ivan.petrov",
    "julia.nowak",
]


def _course(
    fake: FakeCanvas,
    make_adapter: MakeAdapter,
    example: Framework,
    *,
    parent_outcomes: bool = False,
) -> CanvasAdapter:
    for number, login in enumerate(LEARNERS, start=100):
        fake.add_user(str(number), login_id=login)
    pusher = make_adapter(context="course:5", strategy="rest", parent_outcomes=parent_outcomes)
    pusher.apply(pusher.plan_framework(example))
    return make_adapter(context="course:5", parent_outcomes=parent_outcomes)


def _proficiencies(example: Framework) -> list[Proficiency]:
    evidence = list(iter_evidence(EXAMPLE.parent / "evidence.jsonl"))
    return evaluate(example, evidence, as_of=AS_OF)


def test_mastery_creates_one_assignment_and_rubric_and_assesses_each_learner(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = _course(fake, make_adapter, example)
    proficiencies = _proficiencies(example)
    plan = adapter.plan_proficiency(proficiencies, framework=example)
    kinds = [c.kind for c in plan.changes]
    assert kinds[:2] == ["assignment", "rubric"]
    assert set(kinds[2:]) == {"rubric_assessment"}
    adapter.apply(plan)
    (assignment,) = fake.assignments.values()
    assert assignment["name"] == "Competency mastery (CS-SUPPORT)"
    rubric = fake.rubrics[assignment["rubric_id"]]
    aligned = {fake.outcomes[c["outcome_id"]]["vendor_guid"] for c in rubric["data"]}
    rated_leaves = {
        f"CS-SUPPORT:{p.competency}"
        for p in proficiencies
        if p.score is not None and not example.children_of(p.competency)
    }
    assert aligned == rated_leaves
    # Each learner's assessment carries the computed points for each outcome.
    by_criterion = {c["id"]: fake.outcomes[c["outcome_id"]]["vendor_guid"] for c in rubric["data"]}
    user_of = {u["login_id"]: uid for uid, u in fake.users.items()}
    for item in proficiencies:
        if item.score is None or example.children_of(item.competency):
            continue
        marks = fake.assessments[(assignment["id"], user_of[item.learner])]
        points = {by_criterion[c]: p for c, p in marks.items()}
        assert points[f"CS-SUPPORT:{item.competency}"] == item.score
    assert adapter.plan_proficiency(proficiencies, framework=example).is_empty


def test_only_changed_proficiency_is_written(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = _course(fake, make_adapter, example)
    proficiencies = _proficiencies(example)
    adapter.apply(adapter.plan_proficiency(proficiencies, framework=example))
    target = next(
        p
        for p in proficiencies
        if p.learner == "ben.schulz"
        and p.score is not None
        and not example.children_of(p.competency)
    )
    changed = [p.model_copy(update={"score": 1.0}) if p is target else p for p in proficiencies]
    plan = adapter.plan_proficiency(changed, framework=example)
    (change,) = plan.writes
    # Every other learner is a no-op with its reason, not a silent skip.
    unchanged = [c for c in plan.changes if not c.writes]
    assert len(unchanged) == len(plan.changes) - 1 >= 1
    assert {(c.kind, c.reason) for c in unchanged} == {
        ("rubric_assessment", "the learner's assessment already shows these points")
    }
    assert "ben.schulz" not in {c.key for c in unchanged}
    assert (change.action, change.kind, change.key) == (
        Action.UPDATE,
        "rubric_assessment",
        "ben.schulz",
    )
    guid = f"CS-SUPPORT:{target.competency}"
    assert change.before["points"][guid] == target.score  # type: ignore[index]
    assert change.fields["points"][guid] == 1.0  # type: ignore[index]
    writes = fake.writes
    adapter.apply(plan)
    assert fake.writes - writes == 1
    assert adapter.plan_proficiency(changed, framework=example).is_empty


def test_canvas_then_shows_our_points_with_latest(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = _course(fake, make_adapter, example)
    proficiencies = _proficiencies(example)
    adapter.apply(adapter.plan_proficiency(proficiencies, framework=example))
    # Canvas turned each assessment into an outcome result; rolled up the way Canvas does,
    # a 'latest' outcome shows exactly our points.
    page = next(connect(context="course:5").outcome_result_pages())
    outcomes = {str(o.id): o for o in page.linked.outcomes}
    rolled = expected_rollups(page.outcome_results, outcomes)
    user_of = {u["login_id"]: uid for uid, u in fake.users.items()}
    id_of = {o["vendor_guid"]: str(o["id"]) for o in fake.outcomes.values()}
    checked = 0
    for item in proficiencies:
        method = example.method_for(item.competency)[0]
        if item.score is None or example.children_of(item.competency) or method != "latest":
            continue
        key = (user_of[item.learner], id_of[f"CS-SUPPORT:{item.competency}"])
        assert rolled[key] == (item.score, 1)
        checked += 1
    assert checked >= 5
    # Our own write-back is not read back in as evidence.
    batches = list(make_adapter(context="course:5", framework_key=example.key).read_evidence())
    assert sum(len(b.evidence) for b in batches) == 0
    assert sum(b.skipped.get("own mastery write-back", 0) for b in batches) == len(fake.results)


def test_points_are_rescaled_to_an_outcome_scale_with_other_points(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    # Under account-level mastery scales the outcomes carry the course's scale (here 0-5
    # against the framework's 1-4): 3 of 4 points are written as 3.75 of 5, the same level.
    fake.mastery_scales = True
    fake.proficiency["courses/5"] = [
        {"description": "Top", "points": 5.0, "mastery": False, "color": "0374B5"},
        {"description": "Meets", "points": 3.75, "mastery": True, "color": "0B874B"},
        {"description": "None", "points": 0.0, "mastery": False, "color": "E0061F"},
    ]
    adapter = _course(fake, make_adapter, example)
    proficiencies = _proficiencies(example)
    adapter.apply(adapter.plan_proficiency(proficiencies, framework=example))
    (assignment,) = fake.assignments.values()
    rubric = fake.rubrics[assignment["rubric_id"]]
    assert {c["points"] for c in rubric["data"]} == {5.0}
    by_criterion = {c["id"]: fake.outcomes[c["outcome_id"]]["vendor_guid"] for c in rubric["data"]}
    user_of = {u["login_id"]: uid for uid, u in fake.users.items()}
    checked = 0
    for item in proficiencies:
        if item.score is None or example.children_of(item.competency):
            continue
        marks = fake.assessments[(assignment["id"], user_of[item.learner])]
        points = {by_criterion[c]: p for c, p in marks.items()}
        assert points[f"CS-SUPPORT:{item.competency}"] == pytest.approx(item.score / 4 * 5)
        checked += 1
    assert checked >= 10
    assert adapter.plan_proficiency(proficiencies, framework=example).is_empty


def test_parent_proficiency_goes_to_the_parent_outcome(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = _course(fake, make_adapter, example, parent_outcomes=True)
    proficiencies = _proficiencies(example)
    plan = adapter.plan_proficiency(proficiencies, framework=example)
    rubric = next(c for c in plan.changes if c.kind == "rubric")
    guids = {item["guid"] for item in rubric.fields["criteria"]}  # type: ignore[union-attr, index]
    parents_rated = {
        p.competency
        for p in proficiencies
        if example.children_of(p.competency) and p.level is not None
    }
    assert {f"CS-SUPPORT:{k}:rollup" for k in parents_rated} <= guids
    adapter.apply(plan)
    assert adapter.plan_proficiency(proficiencies, framework=example).is_empty


def test_unknown_learners_and_missing_outcomes_are_noted(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    adapter = _course(fake, make_adapter, example)
    stranger = Proficiency(
        learner="nobody",
        competency="comm.written",
        score=2.0,
        level="developing",
        proficient=False,
        method="latest",
        as_of=AS_OF,
        explanation="x",
    )
    parent = Proficiency(
        learner="amara.okafor",
        competency="product",
        score=None,
        level="proficient",
        proficient=True,
        method="rule:points",
        as_of=AS_OF,
        explanation="x",
    )
    plan = adapter.plan_proficiency([stranger, parent], framework=example)
    assert "1 result(s) not written: learner not in course" in plan.notes
    assert "1 result(s) not written: outcome not in course" in plan.notes


def test_mastery_needs_a_course(make_adapter: MakeAdapter, example: Framework) -> None:
    with pytest.raises(ConfigurationError, match="course"):
        make_adapter(context="account:1").plan_proficiency([], framework=example)


def test_crash_at_every_request_of_a_mastery_push_converges(
    fake: FakeCanvas, example: Framework
) -> None:
    proficiencies = [p for p in _proficiencies(example) if p.learner in LEARNERS[:3]]

    def setup() -> None:
        fake.reset()
        for number, login in enumerate(LEARNERS, start=100):
            fake.add_user(str(number), login_id=login)
        pusher = make(context="course:5", strategy="rest")
        pusher.apply(pusher.plan_framework(example))

    def run(session: requests.Session) -> None:
        adapter = make(context="course:5", session=session)
        adapter.apply(adapter.plan_proficiency(proficiencies, framework=example))

    def snapshot() -> tuple[object, ...]:
        assignments = sorted(a["name"] for a in fake.assignments.values())
        marks = sorted((uid, tuple(sorted(m.values()))) for (_, uid), m in fake.assessments.items())
        return (tuple(assignments), len(fake.rubrics), tuple(marks))

    checked = assert_converges_after_crash(run=run, snapshot=snapshot, reset=setup)
    assert checked >= 6
    assert len(fake.assignments) == 1
