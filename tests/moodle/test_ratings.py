"""Ratings against the faithful fake: 100 learners rated and read back, answers Moodle
fails after storing, sticky rule ratings, learners without (or with refused) users."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest
import responses

from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.moodle import client as moodle_client
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.moodle.functions import required_functions
from comp_adapters.native import load_framework
from comp_adapters.rules import evaluate
from comp_adapters.sync.journal import MemoryJournal
from comp_adapters.testing import CrashingSession, assert_converges_after_crash
from tests.moodle.conftest import (
    AS_OF,
    EXAMPLE,
    FOUR_LEVEL_SCALE,
    FOUR_LEVELS,
    moodle_adapter,
    proficiency,
)
from tests.moodle.fake_moodle import FakeMoodle
from tests.moodle.generated import evidence_for, text_heavy_framework

LEARNERS = 100


def fake_site(rsps: responses.RequestsMock, **options: Any) -> FakeMoodle:
    fake = FakeMoodle(scales={FOUR_LEVEL_SCALE: list(FOUR_LEVELS)}, **options)
    fake.install(rsps)
    return fake


def pushed(fake: FakeMoodle, framework: Framework) -> None:
    pusher = moodle_adapter(scale_id=FOUR_LEVEL_SCALE)
    pusher.apply(pusher.plan_framework(framework))


def rater(framework: Framework, **options: Any) -> MoodleAdapter:
    session = options.pop("session", None)
    return moodle_adapter(session, framework=framework, **options)


def override_levels(adapter: MoodleAdapter) -> dict[tuple[str, str], str]:
    """The latest rating (override evidence) per pair, read back as evidence."""
    latest: dict[tuple[str, str], tuple[datetime, str]] = {}
    for batch in adapter.read_evidence():
        for item in batch.evidence:
            if (item.source_id or "").startswith("override:"):
                pair = (item.learner, item.competency)
                if pair not in latest or item.observed_at >= latest[pair][0]:
                    latest[pair] = (item.observed_at, item.level or "")
    return {pair: level for pair, (_, level) in latest.items()}


@pytest.mark.parametrize("which", ["example", "generated"])
def test_rate_a_hundred_learners_rerate_writes_nothing_and_reads_back(
    rsps: responses.RequestsMock, which: str
) -> None:
    """Issue 10, done when: rate 100 learners, re-rate with 0 writes, and read back the
    evidence that was written (item 1: rating and reading back work at all). Moodle reads
    ratings one (user, competency) at a time, so on the 703-item framework the first 10
    learners are read back (7,030 reads), on the example all 100."""
    fake = fake_site(rsps)
    framework = load_framework(EXAMPLE) if which == "example" else text_heavy_framework()
    pushed(fake, framework)
    for n in range(LEARNERS):
        fake.add_user(f"learner{n}")
    results = evaluate(framework, evidence_for(framework, LEARNERS, 5), as_of=AS_OF)
    adapter = rater(framework)
    plan = adapter.plan_proficiency(results, framework=framework)
    assert len(plan.writes) >= LEARNERS
    report = adapter.apply(plan)
    assert report.writes == len(plan.writes)
    writes = fake.writes
    again = rater(framework).plan_proficiency(results, framework=framework)
    assert again.is_empty, again.to_table()
    assert fake.writes == writes
    read = [f"learner{n}@example.com" for n in range(LEARNERS if which == "example" else 10)]
    written = {
        (str(c.fields["learner"]), str(c.fields["competency"])): str(c.fields["level"])
        for c in plan.writes
        if c.fields["learner"] in read
    }
    assert override_levels(rater(framework, learners=read)) == written


def test_a_rating_moodle_stored_but_failed_to_answer_counts_as_applied(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10, item 1: in raw mode Moodle stores the rating and answers invalidresponse
    (recording 44). The apply reads it back instead of reporting 0 changes."""
    fake = fake_site(rsps)
    framework = load_framework(EXAMPLE)
    pushed(fake, framework)
    fake.add_user("ann")
    original = moodle_client.Calls.grade_competency

    def raw_grade(*args: Any) -> Any:
        return dataclasses.replace(original(*args), raw=True)  # as the old client did

    monkeypatch.setattr(moodle_client.Calls, "grade_competency", staticmethod(raw_grade))
    results = [
        proficiency("ann@example.com", "product.catalogue", "expert"),
        proficiency("ann@example.com", "comm.written", "developing"),
    ]
    for batch in (True, False):
        fake.reset()
        pushed(fake, framework)
        fake.add_user("ann")
        adapter = rater(framework, batch=batch)
        plan = adapter.plan_proficiency(results, framework=framework)
        report = adapter.apply(plan)
        assert report.writes == 2
        assert all(report.results[c.id].get("confirmed") for c in plan.writes)
        assert rater(framework).plan_proficiency(results, framework=framework).is_empty
        overrides = [e for e in fake.evidence if e["action"] == 3]
        assert len(overrides) == 2  # read back, not sent again


def test_a_resumed_rating_apply_does_not_rate_twice(rsps: responses.RequestsMock) -> None:
    """A crash that lost Moodle's answer, then the same plan with the same journal: the
    ratings Moodle holds are read back, none is sent twice."""
    fake = fake_site(rsps)
    framework = load_framework(EXAMPLE)
    results = [
        proficiency(f"u{n}@example.com", key, "expert")
        for n in range(3)
        for key in ("product.catalogue", "comm.written", "ts.diagnosis")
    ]
    state: dict[str, Any] = {}

    def reset() -> None:
        fake.reset()
        pushed(fake, framework)
        for n in range(3):
            fake.add_user(f"u{n}")
        state.clear()

    def run(session: CrashingSession) -> None:
        adapter = rater(framework, session=session, batch=False)
        if "plan" not in state:
            state["plan"] = adapter.plan_proficiency(results, framework=framework)
            state["journal"] = MemoryJournal()
        adapter.apply(state["plan"], journal=state["journal"])

    def snapshot() -> Any:
        overrides = sorted(
            (e["usercompetencyid"], e["grade"]) for e in fake.evidence if e["action"] == 3
        )
        return fake.snapshot()[4], tuple(overrides)

    assert_converges_after_crash(run=run, snapshot=snapshot, reset=reset)


def _sticky_site(rsps: responses.RequestsMock) -> tuple[FakeMoodle, Framework, int]:
    """The example, with ann's communication skills rated proficient: Moodle's
    all-children rule (outcome complete) then rated 'communication' itself."""
    fake = fake_site(rsps)
    framework = load_framework(EXAMPLE)
    pushed(fake, framework)
    ann = fake.add_user("ann")
    children = [c.key for c in framework.children_of("communication")]
    first = [proficiency("ann@example.com", key, "expert") for key in children]
    first += [proficiency("ann@example.com", "communication", "proficient", why="rule matched")]
    rater(framework).apply(rater(framework).plan_proficiency(first, framework=framework))
    communication = fake.competency_by_idnumber("communication")["id"]
    assert fake.user_competencies[(ann, communication)]["grade"] == 3
    return fake, framework, communication


def test_a_rating_moodle_keeps_from_its_rule_is_shown_not_silently_left(
    rsps: responses.RequestsMock,
) -> None:
    """Issue 10, item 11: a child drops, the engine no longer rates the parent, Moodle
    keeps it proficient: the plan says so (a no-op with the reason)."""
    fake, framework, communication = _sticky_site(rsps)
    dropped = [proficiency("ann@example.com", "comm.listening", "beginning")]
    plan = rater(framework).plan_proficiency(dropped, framework=framework)
    assert [(c.key, c.fields["grade"]) for c in plan.writes] == [
        ("ann@example.com / comm.listening", 1)
    ]
    noop = next(c for c in plan.changes if c.key == "ann@example.com / communication")
    assert not noop.writes
    assert "Moodle rates it Proficient" in (noop.reason or "")
    assert "never takes back" in (noop.reason or "")
    assert "--revoke-rule-ratings" in (noop.reason or "")
    assert any("keeps from a rule" in note for note in plan.notes)
    rater(framework).apply(plan)
    assert (
        rater(framework).plan_proficiency(dropped, framework=framework).is_empty
    )  # left alone, as said
    # when asked, the lower rating is written
    lowering = rater(framework, revoke_rule_ratings=True).plan_proficiency(
        dropped, framework=framework
    )
    assert [(c.key, c.fields["grade"], c.fields["level"]) for c in lowering.writes] == [
        ("ann@example.com / communication", 1, "beginning")
    ]
    rater(framework, revoke_rule_ratings=True).apply(lowering)
    ann = next(uid for uid, u in fake.users.items() if u["username"] == "ann")
    assert fake.user_competencies[(ann, communication)]["grade"] == 1
    assert (
        rater(framework, revoke_rule_ratings=True)
        .plan_proficiency(dropped, framework=framework)
        .is_empty
    )


def test_learners_without_a_user_or_with_keys_moodle_refuses_are_no_ops(
    rsps: responses.RequestsMock,
) -> None:
    """Issue 10, item 9. A key Moodle's lookup refuses (not an e-mail address) would fail
    the whole lookup (user/externallib.php): the lookup is split until it is found."""
    fake = fake_site(rsps)
    framework = load_framework(EXAMPLE)
    pushed(fake, framework)
    fake.add_user("ann")
    fake.add_user("ben")
    results = [
        proficiency("ann@example.com", "comm.written", "expert"),
        proficiency("Ben@Example.com", "comm.written", "expert"),  # stored in lower case
        proficiency("zoe@example.com", "comm.written", "expert"),
        proficiency("not an address", "comm.written", "expert"),
    ]
    plan = rater(framework).plan_proficiency(results, framework=framework)
    assert sorted(c.key for c in plan.writes) == [
        "Ben@Example.com / comm.written",
        "ann@example.com / comm.written",
    ]
    reasons = {c.key: c.reason or "" for c in plan.changes if not c.writes}
    assert (
        "no Moodle user with email 'zoe@example.com'" in reasons["zoe@example.com / comm.written"]
    )
    assert "users must exist in Moodle" in reasons["zoe@example.com / comm.written"]
    assert "Moodle refuses 'not an address'" in reasons["not an address / comm.written"]
    assert any("1 learner(s) have no Moodle user" in note for note in plan.notes)
    by_username = rater(framework, user_field="username").user_ids(["ANN", "ben", "x y"])
    assert set(by_username) == {"ANN", "ben"}


def test_rate_names_every_function_it_needs(rsps: responses.RequestsMock) -> None:
    """Issue 10, item 2: without core_user_get_users_by_field the plan says what to add,
    before any call that would fail with a raw access exception."""
    fake = fake_site(rsps)
    framework = load_framework(EXAMPLE)
    pushed(fake, framework)
    fake.functions.discard("core_user_get_users_by_field")
    fake.functions.discard("core_competency_grade_competency")
    with pytest.raises(ConfigurationError) as caught:
        rater(framework).plan_proficiency(
            [proficiency("a@b.cd", "comm.written", "expert")], framework=framework
        )
    message = str(caught.value)
    assert "core_competency_grade_competency, core_user_get_users_by_field" in message
    assert "Add them to the service" in message
    assert "core_user_get_users_by_field" in required_functions("rate")
    assert "tool_lp_data_for_user_competency_summary" in required_functions("pull-evidence")
