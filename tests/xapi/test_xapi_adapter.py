"""The adapter against the stateful fake LRS (``tests/xapi/fake_lrs.py``, a real HTTP
server on 127.0.0.1) in its conformant mode: ``stored`` ordering, ``since`` strictly after,
opaque ``more`` links, voided statements hidden except by ``voidedStatementId``, POST by id
(200/409), and an ``X-Experience-API-Consistent-Through`` we can hold back. The quirks of
real LRSs are tested in ``test_xapi_quirks.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses
import tincan  # the [tincan] extra: installed by the dev setup, never skipped
from pydantic import SecretStr

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, ConflictError, FatalRemoteError
from comp_adapters.http import HttpTransport
from comp_adapters.protocols import Capability, Cursor, ReadsEvidence, WritesProficiency
from comp_adapters.sync.apply import ApplyError
from comp_adapters.sync.journal import MemoryJournal
from comp_adapters.testing import assert_converges_after_crash, assert_replan_is_empty
from comp_adapters.testing.faults import CrashingSession
from comp_adapters.xapi import (
    ActivityRule,
    IdentityConfig,
    MappingConfig,
    StatementQuery,
    XapiAdapter,
    XapiClient,
)
from comp_adapters.xapi.planner import HeldStatements, PushOptions, plan_proficiency
from tests.xapi.conftest import account, results, statement, void
from tests.xapi.fake_lrs import FakeLrs

HOME = "https://lms.example.org"
MAPPING = MappingConfig(
    identity=IdentityConfig(account_home_pages=(HOME,), push_home_page=HOME),
    activities=(ActivityRule(prefix="https://courses.example.org/", competencies=("q",)),),
    competency_iri_base="https://competencies.example.org/",
)
BASE = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def lrs(fake_lrs: Callable[..., FakeLrs]) -> FakeLrs:
    return fake_lrs()


def adapter(lrs: FakeLrs, session: requests.Session | None = None, **options: Any) -> XapiAdapter:
    client = lrs.client(session=session, version="1.0.3")
    options.setdefault("mapping", MAPPING)
    return XapiAdapter(client, **options)


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


def learn(n: int, **kw: Any) -> dict[str, Any]:
    return statement(actor=account(f"l{n}", HOME), scaled=0.5, **kw)


def pull(xapi: XapiAdapter, cursor: Cursor | None) -> tuple[list[Evidence], Cursor | None]:
    found: list[Evidence] = []
    for batch in xapi.read_evidence(cursor=cursor):
        found.extend(batch.evidence)
        cursor = batch.cursor
    return found, cursor


def lists(lrs: FakeLrs) -> list[dict[str, str]]:
    """The parameters of every statement list the LRS was asked for."""
    return [
        q
        for method, path, q in lrs.requests
        if method == "GET"
        and path.endswith("/statements")
        and "statementId" not in q
        and "voidedStatementId" not in q
    ]


def test_protocols() -> None:
    xapi = XapiAdapter(mapping=MAPPING)
    assert isinstance(xapi, ReadsEvidence)
    assert isinstance(xapi, WritesProficiency)
    assert xapi.capabilities == {Capability.READS_EVIDENCE, Capability.WRITES_PROFICIENCY}


def test_consistent_through_lagging_behind(lrs: FakeLrs) -> None:
    items = [learn(i) for i in range(6)]
    for i, item in enumerate(items):
        lrs.store(item, at(i))
    lrs.through = at(2.5)  # statements 3, 4, 5 are not reliably visible yet
    xapi = adapter(lrs, page_size=2)
    first, cursor = pull(xapi, None)
    assert [e.source_id for e in first] == [i["id"] for i in items[:3]]
    assert cursor is not None
    assert cursor.position == "2026-03-01T00:02:00.000Z"
    lrs.through = None
    second, cursor = pull(xapi, cursor)
    assert [e.source_id for e in second] == [i["id"] for i in items[3:]]


def test_overlap_catches_late_stored_and_never_duplicates(lrs: FakeLrs) -> None:
    first_items = [learn(i) for i in range(4)]
    for i, item in enumerate(first_items):
        lrs.store(item, at(10 + i))
    xapi = adapter(lrs, page_size=3, overlap=timedelta(minutes=5))
    found, cursor = pull(xapi, None)
    assert len(found) == 4
    # Another LRS node stored one 2 minutes before the cursor; a normal one after it.
    late, normal = learn(7), learn(8)
    lrs.store(late, at(11))
    lrs.store(normal, at(20))
    more, cursor = pull(xapi, cursor)
    assert sorted(e.source_id for e in more) == sorted([late["id"], normal["id"]])
    assert xapi.stats.duplicates >= 3
    again, _ = pull(xapi, cursor)
    assert again == []


def test_cursor_covers_only_what_was_yielded(lrs: FakeLrs) -> None:
    items = [learn(i) for i in range(7)]
    for i, item in enumerate(items):
        lrs.store(item, at(i))
    xapi = adapter(lrs, page_size=3, overlap=timedelta(0))
    batches = xapi.read_evidence()
    first = next(batches)
    batches.close()  # the caller stops (or crashes) after storing one batch
    assert [e.source_id for e in first.evidence] == [i["id"] for i in items[:3]]
    rest, _ = pull(xapi, first.cursor)
    assert [e.source_id for e in rest] == [i["id"] for i in items[3:]]


def test_late_void_withdraws_and_tombstones_catch_forwarded_targets(lrs: FakeLrs) -> None:
    a, b = learn(1), learn(2)
    lrs.store(a, at(0))
    lrs.store(b, at(1))
    xapi = adapter(lrs)
    found, cursor = pull(xapi, None)
    assert {e.source_id for e in found} == {a["id"], b["id"]}
    # Run 2: a is voided (late); a void arrives for c, which a forwarder delivers later.
    c = learn(3)
    lrs.store(void(a["id"]), at(2))
    lrs.store(void(c["id"]), at(3))
    second, cursor = pull(xapi, cursor)
    assert [(e.source_id, e.voided) for e in second] == [(a["id"], True)]
    # Run 3: c shows up (a void marks only statements the LRS holds, so c is not hidden).
    lrs.store(c, at(4))
    third, cursor = pull(xapi, cursor)
    assert [(e.source_id, e.voided) for e in third] == [(c["id"], True)]
    assert cursor is not None
    assert set(cursor.extra["voided"]) == {a["id"], c["id"]}  # type: ignore[arg-type]


def test_filters_reach_the_lrs(lrs: FakeLrs) -> None:
    for i in range(3):
        lrs.store(learn(i), at(i))
    verb = "http://adlnet.gov/expapi/verbs/passed"
    xapi = adapter(lrs, query=StatementQuery(verb=verb), page_size=2)
    with pytest.raises(ConfigurationError, match="since"):
        adapter(lrs, query=StatementQuery(since=BASE))
    found, cursor = pull(xapi, None)
    assert len(found) == 3
    _, _ = pull(xapi, cursor)
    queries = lists(lrs)
    assert len(queries) == 3  # two pages, then one page from the cursor
    for query in queries:
        assert query["verb"] == verb
        assert (query["ascending"], query["format"]) == ("true", "exact")
    assert "since" not in queries[0]
    # cursor (00:02) - overlap (1 min) - the guard for statements stored at the same instant
    assert queries[2]["since"] == "2026-03-01T00:00:59.999Z"


def _proficiencies() -> list[Proficiency]:
    return results(4, as_of=BASE)


def test_plan_apply_replan_is_empty(lrs: FakeLrs) -> None:
    xapi = adapter(lrs)
    plan = assert_replan_is_empty(lambda: xapi.plan_proficiency(_proficiencies()), xapi.apply)
    assert len(plan.writes) == 4
    assert lrs.count("POST") == 1  # one batch
    assert lrs.count("PUT") == 0
    assert "statement" in plan.to_table()


def test_crash_at_every_request_then_rerun_converges(lrs: FakeLrs) -> None:
    def run(session: CrashingSession) -> None:
        xapi = adapter(lrs, session)
        xapi.apply(xapi.plan_proficiency(_proficiencies()))

    def snapshot() -> tuple[str, ...]:
        return tuple(sorted(lrs.ids()))

    def reset() -> None:
        lrs.rows.clear()

    checked = assert_converges_after_crash(run=run, snapshot=snapshot, reset=reset)
    assert checked == 2  # one query of what the LRS holds, one POST of the batch


def test_tincan_statements_are_accepted() -> None:
    item = tincan.Statement(
        id="d9e8f7a6-0000-4000-8000-000000000001",
        actor=tincan.Agent(account=tincan.AgentAccount(name="l1", home_page=HOME)),
        verb=tincan.Verb(id="http://adlnet.gov/expapi/verbs/passed"),
        object=tincan.Activity(id="https://courses.example.org/x"),
        result=tincan.Result(score=tincan.Score(scaled=0.75), success=True),
        timestamp="2026-03-01T10:00:00Z",
    )
    xapi = XapiAdapter(mapping=MAPPING)
    batches = list(xapi.read_statements([item, {"not": "a statement"}]))
    evidence = [e for b in batches for e in b.evidence]
    assert [(e.learner, e.competency, e.score, e.success) for e in evidence] == [
        ("l1", "q", 0.75, True)
    ]
    assert xapi.stats.bad == 1


def test_in_memory_voids_withdraw_targets_before_and_after_them() -> None:
    early, late, kept = learn(1), learn(2), learn(3)
    items = iter([early, void(late["id"]), void(early["id"]), late, kept])  # read once
    xapi = XapiAdapter(mapping=MAPPING)
    evidence = [e for b in xapi.read_statements(items) for e in b.evidence]
    withdrawn = {e.source_id for e in evidence if e.voided}
    active = {e.source_id for e in evidence if not e.voided} - withdrawn
    assert withdrawn == {early["id"], late["id"]}
    assert active == {kept["id"]}
    assert (xapi.stats.voids, xapi.stats.withdrawn, xapi.stats.evidence) == (2, 2, 2)


def test_a_statement_the_lrs_neither_lists_nor_holds_fails_the_apply() -> None:
    """An LRS answering 200 without our id, and not holding it, did not store it: the
    change is not journaled as done (and a re-run sends it again)."""
    endpoint = "https://lrs.example.org/xAPI/"
    with responses.RequestsMock() as mock:
        mock.get(endpoint + "statements", json={"statements": [], "more": ""})
        mock.post(endpoint + "statements", json=[])
        mock.get(endpoint + "statements", status=404, json={"message": "no"})
        transport = HttpTransport(adapter="xapi", base_url=endpoint)
        client = XapiClient(transport, key="k", secret=SecretStr("s"), version="1.0.3")
        xapi = XapiAdapter(client, mapping=MAPPING)
        journal = MemoryJournal()
        with pytest.raises(ApplyError, match="did not store it") as caught:
            xapi.apply(xapi.plan_proficiency(_proficiencies()[:1]), journal=journal)
    assert isinstance(caught.value.__cause__, FatalRemoteError)
    assert caught.value.report.applied == []


def test_a_second_409_after_the_look_ups_is_an_error(lrs: FakeLrs) -> None:
    """Other content under our id that the LRS hides from statementId (it is voided):
    found by nobody, refused again: reported, not taken as done."""
    xapi = adapter(lrs)
    wanted = xapi.proficiency_statements(_proficiencies()[:1])[0].to_json()
    lrs.store({**wanted, "result": {"success": False}})
    lrs.store(void(wanted["id"]))
    plan = plan_proficiency(
        xapi.proficiency_statements(_proficiencies()[:1]),
        HeldStatements(target="x"),
        PushOptions(batch_size=9),
    )
    with pytest.raises(ApplyError) as caught:
        xapi.apply(plan)
    assert isinstance(caught.value.__cause__, ConflictError)
    assert lrs.count("POST") == 2
