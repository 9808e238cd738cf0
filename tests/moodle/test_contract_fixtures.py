"""The contract fixtures work: the checks the kit will run, with today's helpers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

import pytest

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import CompAdaptersError
from comp_adapters.testing import (
    CrashingSession,
    assert_converges_after_crash,
    assert_replan_is_empty,
)
from tests.moodle.contract_fixtures import *  # noqa: F403
from tests.moodle.contract_fixtures import Build
from tests.moodle.fake_moodle import FakeMoodle


def test_framework_round_trip_and_empty_replan(
    contract_adapter: Build, contract_framework: Framework
) -> None:
    adapter = contract_adapter()
    assert_replan_is_empty(lambda: adapter.plan_framework(contract_framework), adapter.apply)
    pulled = adapter.read_framework(contract_framework.key)
    assert {c.key for c in pulled.competencies} == {c.key for c in contract_framework.competencies}
    assert adapter.plan_framework(pulled).is_empty


def test_republishing_writes_nothing(
    contract_adapter: Build,
    contract_framework: Framework,
    contract_proficiencies: list[Proficiency],
) -> None:
    adapter = contract_adapter()
    adapter.apply(adapter.plan_framework(contract_framework))
    first = assert_replan_is_empty(
        lambda: adapter.plan_proficiency(contract_proficiencies, framework=contract_framework),
        adapter.apply,
    )
    assert first.writes


def test_publishing_converges_after_a_crash_at_every_request(
    contract_adapter: Build,
    contract_framework: Framework,
    contract_proficiencies: list[Proficiency],
    contract_snapshot: Callable[[], Hashable],
    contract_reset: Callable[[], None],
) -> None:
    def run(session: CrashingSession) -> None:
        adapter = contract_adapter(session)
        adapter.apply(adapter.plan_framework(contract_framework))
        adapter.apply(
            adapter.plan_proficiency(contract_proficiencies, framework=contract_framework)
        )

    assert assert_converges_after_crash(run=run, snapshot=contract_snapshot, reset=contract_reset)


def test_evidence_cursor_never_goes_back(
    contract_adapter: Build,
    contract_evidence_adapter: Build,
    contract_framework: Framework,
    contract_proficiencies: list[Proficiency],
) -> None:
    writer = contract_adapter()
    writer.apply(writer.plan_framework(contract_framework))
    writer.apply(writer.plan_proficiency(contract_proficiencies, framework=contract_framework))
    reader = contract_evidence_adapter()
    batches = list(reader.read_evidence())
    read = [e for b in batches for e in b.evidence]
    assert read
    cursor = batches[-1].cursor
    assert [e for b in reader.read_evidence(cursor=cursor) for e in b.evidence] == []
    assert list(reader.read_evidence(cursor=cursor))[-1].cursor.position == cursor.position


def test_the_secret_shows_nowhere(
    contract_adapter: Build,
    contract_framework: Framework,
    contract_secret: str,
    contract_remote: FakeMoodle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = contract_adapter()
    plan = adapter.plan_framework(contract_framework)
    seen = [repr(adapter), adapter.target, plan.to_json(), plan.to_table(), str(adapter.settings)]
    seen.append(repr(adapter.settings))
    contract_remote.functions.discard("core_competency_list_competencies")
    with pytest.raises(CompAdaptersError) as caught:
        contract_adapter().read_framework(contract_framework.key)
    seen.append(str(caught.value))
    seen.append(caplog.text)
    assert all(contract_secret not in text for text in seen)
