"""The HTTP clauses of the kit: a crash at any request converges for an adapter that looks
up before it creates, and is caught for one that does not; a foreign link must be refused.

The remote is a ``responses`` fake of a tiny item store whose POST is not idempotent (each
POST adds an item), the behaviour that turns a careless re-run into duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests
import responses

from comp_adapters.core import Framework, framework_from_data
from comp_adapters.errors import CompAdaptersError
from comp_adapters.sync import Action, ApplyReport, Change, Journal, Plan, apply_plan
from comp_adapters.sync.journal import Result
from comp_adapters.testing import ForeignLinkContract, HttpCrashContract
from tests.conftest import framework_data

URL = "https://items.example/items"
FAILS = (AssertionError, pytest.fail.Exception)


class Items:
    def __init__(self) -> None:
        self.items: list[str] = []

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, URL, callback=self._create)
        mock.add_callback(responses.GET, URL, callback=self._list)

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.items.append(
            request.body.decode() if isinstance(request.body, bytes) else request.body
        )
        return 201, {}, ""

    def _list(self, _request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, ",".join(self.items)


class ItemsAdapter:
    """Writes each competency key as an item; looks up what exists before planning."""

    name = "items"

    def __init__(self, session: requests.Session) -> None:
        self.session = session

    def _have(self) -> set[str]:
        return set(filter(None, self.session.get(URL, timeout=5).text.split(",")))

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        have = self._have()
        changes = [
            Change(id=c.key, action=Action.CREATE, kind="item", key=c.key)
            if c.key not in have
            else Change(id=c.key, action=Action.NOOP, kind="item", key=c.key, reason="exists")
            for c in framework.competencies
        ]
        return Plan(adapter=self.name, target=URL, changes=tuple(changes))

    def _post(self, change: Change, _done: Mapping[str, Result]) -> Result:
        self.session.post(URL, data=change.key, timeout=5)
        return {}

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return apply_plan(plan, self._post, journal=journal)


class CarelessItemsAdapter(ItemsAdapter):
    """Plans as if the remote were empty: a re-run after a crash posts again."""

    def _have(self) -> set[str]:
        return set()


@pytest.fixture
def items() -> Iterator[Items]:
    store = Items()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        store.install(mock)
        yield store


def values(cls: type[ItemsAdapter], items: Items) -> dict[str, Any]:
    return {
        "contract_connect_http": cls,
        "contract_framework": framework_from_data(framework_data()),
        "contract_snapshot": lambda: tuple(sorted(items.items)),
        "contract_reset": items.items.clear,
    }


def test_a_lookup_first_adapter_passes_the_request_crash_clause(items: Items) -> None:
    HttpCrashContract().test_crash_at_any_request_converges(**values(ItemsAdapter, items))
    assert sorted(items.items) == sorted(
        c.key for c in framework_from_data(framework_data()).competencies
    )


def test_a_careless_adapter_fails_the_request_crash_clause(items: Items) -> None:
    with pytest.raises(FAILS, match="after a crash at request 1 of 5"):
        HttpCrashContract().test_crash_at_any_request_converges(
            **values(CarelessItemsAdapter, items)
        )


def test_the_foreign_link_clause_needs_a_refusal() -> None:
    def refuses() -> None:
        raise CompAdaptersError("refusing to follow a link to https://elsewhere.example")

    def follows() -> None:
        return None

    ForeignLinkContract().test_a_foreign_link_is_refused(contract_foreign_link=refuses)
    with pytest.raises(FAILS):
        ForeignLinkContract().test_a_foreign_link_is_refused(contract_foreign_link=follows)
