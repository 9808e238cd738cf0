"""The contract fixtures of xAPI work: what the kit's mixins will check, checked here with
the helpers ``comp_adapters.testing`` has today (re-plan empty, crash convergence), and the
evidence guarantees (cursor never goes back, overlap de-duplicated, voids withdrawn)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import FatalRemoteError
from comp_adapters.protocols import Cursor
from comp_adapters.testing import (
    CrashingSession,
    assert_converges_after_crash,
    assert_replan_is_empty,
)
from comp_adapters.xapi.adapter import XapiAdapter
from tests.xapi.contract_fixtures import *  # noqa: F403 - the fixtures, found by name
from tests.xapi.fake_lrs import FakeLrs


def _read_all(adapter: XapiAdapter, cursor: Cursor | None = None) -> tuple[list[str], Cursor]:
    ids: list[str] = []
    last = cursor
    for batch in adapter.read_evidence(cursor=cursor):
        ids.extend(e.id for e in batch.evidence if not e.voided)
        last = batch.cursor
    assert last is not None
    return ids, last


def test_republish_writes_nothing(
    adapter: XapiAdapter, proficiencies: list[Proficiency], framework: Framework
) -> None:
    plan = assert_replan_is_empty(
        lambda: adapter.plan_proficiency(proficiencies, framework=framework), adapter.apply
    )
    assert len(plan.writes) == len(proficiencies)


def test_a_crash_at_every_request_converges(
    make_adapter: Callable[..., XapiAdapter],
    xapi_lrs: FakeLrs,
    proficiencies: list[Proficiency],
    framework: Framework,
) -> None:
    def run(session: CrashingSession) -> None:
        adapter = make_adapter(session)
        adapter.apply(adapter.plan_proficiency(proficiencies, framework=framework))

    checked = assert_converges_after_crash(
        run=run,
        snapshot=lambda: tuple(sorted(xapi_lrs.ids())),
        reset=xapi_lrs.rows.clear,
    )
    assert checked >= 2


def test_the_cursor_never_goes_back_and_nothing_is_read_twice(
    adapter: XapiAdapter, add_evidence: Callable[[int], list[str]]
) -> None:
    first = add_evidence(3)
    read, cursor = _read_all(adapter)
    assert read == first
    again, same = _read_all(adapter, cursor)
    assert again == []
    assert same.position is not None
    assert cursor.position is not None
    assert same.position >= cursor.position
    later = add_evidence(2)
    more, after = _read_all(adapter, same)
    assert more == later
    assert after.position is not None
    assert after.position > cursor.position


def test_a_void_withdraws_what_was_read(
    adapter: XapiAdapter,
    add_evidence: Callable[[int], list[str]],
    void_evidence: Callable[[str], None],
) -> None:
    ids = add_evidence(2)
    _, cursor = _read_all(adapter)
    void_evidence(ids[0].split(":")[1])
    withdrawn = [i for batch in adapter.read_evidence(cursor=cursor) for i in batch.withdrawn]
    assert withdrawn == [ids[0]]


def test_no_secret_in_repr_plan_or_logs(
    adapter: XapiAdapter,
    proficiencies: list[Proficiency],
    framework: Framework,
    secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plan = adapter.plan_proficiency(proficiencies, framework=framework)
    adapter.apply(plan)
    for text in (repr(adapter), repr(adapter.client), adapter.target, plan.to_json(), caplog.text):
        assert secret not in text


def test_a_foreign_link_is_refused(adapter: XapiAdapter, foreign_link: str) -> None:
    assert adapter.client is not None
    with pytest.raises(FatalRemoteError, match="another server"):
        adapter.client.get_more(foreign_link)
