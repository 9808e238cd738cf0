"""The shared contract helpers catch what they claim to catch."""

from __future__ import annotations

import pytest
import responses

from comp_adapters.sync import Action, Change, Plan
from comp_adapters.testing import (
    CrashingSession,
    SimulatedCrash,
    assert_converges_after_crash,
    assert_replan_is_empty,
)

URL = "https://store.example/items"


class Store:
    """A tiny remote: POST creates an item (not idempotent!), GET lists them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, URL, callback=self._create)
        mock.add_callback(responses.GET, URL, callback=self._list)

    def _create(self, request: object) -> tuple[int, dict[str, str], str]:
        body = request.body  # type: ignore[attr-defined]
        self.items.append(body.decode() if isinstance(body, bytes) else body)
        return 201, {}, ""

    def _list(self, _request: object) -> tuple[int, dict[str, str], str]:
        return 200, {}, ",".join(self.items)


WANTED = ("a", "b", "c")


def careful_sync(session: CrashingSession) -> None:
    have = set(filter(None, session.get(URL).text.split(",")))
    for name in WANTED:
        if name not in have:
            session.post(URL, data=name)


def careless_sync(session: CrashingSession) -> None:
    for name in WANTED:
        session.post(URL, data=name)


@pytest.mark.parametrize("after_send", [True, False])
def test_a_lookup_first_sync_converges_after_any_crash(after_send: bool) -> None:
    store = Store()
    with responses.RequestsMock() as mock:
        store.install(mock)
        checked = assert_converges_after_crash(
            run=careful_sync,
            snapshot=lambda: tuple(sorted(store.items)),
            reset=store.items.clear,
            after_send=after_send,
        )
    assert checked == 4


def test_a_careless_sync_is_caught() -> None:
    store = Store()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        store.install(mock)
        with pytest.raises(AssertionError, match="after a crash at request 1"):
            assert_converges_after_crash(
                run=careless_sync,
                snapshot=lambda: tuple(sorted(store.items)),
                reset=store.items.clear,
            )


def test_crashing_session_crashes_where_asked() -> None:
    with responses.RequestsMock() as mock:
        mock.get(URL, body="")
        session = CrashingSession(crash_at=2)
        session.get(URL)
        with pytest.raises(SimulatedCrash):
            session.get(URL)
        assert session.count == 2


def test_replan_check() -> None:
    state: set[str] = set()

    def plan() -> Plan:
        changes = tuple(
            Change(id=k, action=Action.CREATE, kind="item", key=k) for k in WANTED if k not in state
        )
        return Plan(adapter="t", target="t", changes=changes)

    assert_replan_is_empty(plan, lambda p: state.update(c.key for c in p.changes))
    state.clear()
    with pytest.raises(AssertionError, match="not empty"):
        assert_replan_is_empty(plan, lambda _plan: None)
