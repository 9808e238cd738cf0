"""A real framework's text against the faithful fake: the generated 703-item framework
(``generated.py``) and the example push, re-push with nothing to write, read back as
sent, survive a crash at every request, and what cannot be sent is refused up front."""

from __future__ import annotations

import pytest
import responses

from comp_adapters.core.framework import Framework
from comp_adapters.errors import MappingError
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.moodle.mapping import format_code
from comp_adapters.moodle.text import moodle_description, moodle_name
from comp_adapters.native import load_framework
from comp_adapters.testing import CrashingSession, assert_converges_after_crash
from tests.moodle.conftest import EXAMPLE, FOUR_LEVEL_SCALE, FOUR_LEVELS, moodle_adapter
from tests.moodle.fake_cleaning import clean_html_param, clean_text_param
from tests.moodle.fake_moodle import FakeMoodle
from tests.moodle.generated import KEY, text_heavy_framework


def site(rsps: responses.RequestsMock) -> FakeMoodle:
    fake = FakeMoodle(scales={FOUR_LEVEL_SCALE: list(FOUR_LEVELS)})
    fake.install(rsps)
    return fake


def adapter(session: CrashingSession | None = None, **client: object) -> MoodleAdapter:
    return moodle_adapter(session, scale_id=FOUR_LEVEL_SCALE, **client)


def stored_texts(fake: FakeMoodle, key: str) -> dict[str, tuple[str, str, int]]:
    fw = next(f for f in fake.frameworks.values() if f["idnumber"] == key)
    return {
        c["idnumber"]: (c["shortname"], c["description"], c["descriptionformat"])
        for c in fake.competencies.values()
        if c["competencyframeworkid"] == fw["id"]
    }


@pytest.mark.parametrize("batch", [True, False])
def test_the_generated_framework_pushes_and_a_second_push_writes_nothing(
    rsps: responses.RequestsMock, batch: bool
) -> None:
    """Issue 10, item 4: the texts that stopped the Common Core push at item 184 go in."""
    fake = site(rsps)
    framework = text_heavy_framework()
    assert len(framework.competencies) == 703
    first = adapter(batch=batch).plan_framework(framework)
    assert any("HTML tags" in note for note in first.notes)
    assert any("plain-text description(s)" in note for note in first.notes)
    adapter(batch=batch).apply(first)
    pushed = fake.http_requests
    assert fake.writes == len(first.writes) == 703 + 19 + 76 + 1
    if batch:
        assert pushed <= 703 // 50 + 10
    again = adapter(batch=batch).plan_framework(framework)
    assert again.is_empty, again.to_table()
    stored = stored_texts(fake, KEY)
    for competency in framework.competencies:
        name, description, code = stored[competency.key]
        sent = moodle_description(
            competency.description, format_code(competency.description_format)
        )
        assert (name, description, code) == (
            moodle_name(competency.title).text,
            sent.text,
            sent.format,
        )
        assert clean_text_param(name) == name  # what Moodle validated is what it keeps
        assert clean_html_param(description) == description
    assert stored["G0.C0"][0] == "Work with radicals and integer exponents: x² = 9"
    assert stored["G0.C1"][0] == "Sequences aₙ and aₙ₊₁"
    assert stored["G0.C0.S0"][1:] == ("Use R&amp;D methods to solve problems.", 1)
    assert stored["G0.C0.S1"][1:] == ("Know that a &lt; b when b &gt; a.", 1)


def test_rules_and_renames_keep_every_description_format(rsps: responses.RequestsMock) -> None:
    """Issue 10, item 3: Moodle resets an omitted format to HTML (recordings 42/43); the
    parents (rules) and a renamed framework keep plain text as format 2."""
    fake = site(rsps)
    example = load_framework(EXAMPLE)
    adapter().apply(adapter().plan_framework(example))
    formats = {c["idnumber"]: c["descriptionformat"] for c in fake.competencies.values()}
    assert set(formats.values()) == {2}  # the example's descriptions are plain
    fw = next(iter(fake.frameworks.values()))
    assert fw["descriptionformat"] == 2
    assert adapter().plan_framework(example).is_empty
    renamed = example.model_copy(update={"title": "Customer support (renamed)"})
    plan = adapter().plan_framework(renamed)
    assert [(c.id, c.before) for c in plan.writes] == [
        ("framework:CS-SUPPORT", {"shortname": "Customer support fundamentals"})
    ]
    adapter().apply(plan)
    assert next(iter(fake.frameworks.values()))["descriptionformat"] == 2
    assert adapter().plan_framework(renamed).is_empty


def test_the_pulled_framework_holds_what_was_sent(rsps: responses.RequestsMock) -> None:
    site(rsps)
    framework = text_heavy_framework()
    adapter().apply(adapter().plan_framework(framework))
    pulled = adapter().read_framework(KEY)
    assert len(pulled.competencies) == 703
    assert [lv.key for lv in pulled.scale.levels] == [lv.key for lv in framework.scale.levels]
    assert pulled.get("G0.C0").title == "Work with radicals and integer exponents: x² = 9"
    # pushing the pulled framework back changes nothing
    assert adapter().plan_framework(pulled).is_empty


def test_what_cannot_be_sent_is_refused_before_any_write(rsps: responses.RequestsMock) -> None:
    fake = site(rsps)
    framework = text_heavy_framework()
    data = framework.model_dump(mode="json", exclude_defaults=True)
    for competency in data["competencies"][:3]:
        competency.update(description="<script>x()</script>", description_format="html")
    data["competencies"][5].update(description="a & b\n> quoted", description_format="markdown")
    with pytest.raises(MappingError) as caught:
        adapter().plan_framework(Framework.model_validate(data))
    message = str(caught.value)
    assert "4 text(s)" in message
    assert "competency 'G0', description: <script> is removed" in message
    assert "nothing was written" in message
    assert fake.writes == 0


def test_a_crash_at_every_request_of_the_generated_push_converges(
    rsps: responses.RequestsMock,
) -> None:
    """Issue 10, done when: kill -9 at every request of the 703-item push (batched), then a
    re-run, gives what a clean run gives, with no duplicate idnumbers."""
    fake = site(rsps)
    framework = text_heavy_framework()

    def run(session: CrashingSession) -> None:
        pusher = adapter(session, batch=True)
        pusher.apply(pusher.plan_framework(framework))

    checked = assert_converges_after_crash(run=run, snapshot=fake.snapshot, reset=fake.reset)
    assert checked >= 703 // 50
    _, competencies, _, _, _ = fake.snapshot()
    assert len({c[1] for c in competencies}) == len(competencies) == 703
