"""Issue 12 items 1-6, 8 and 10 against the fake LRS made to misbehave the way real ones do
(``tests/xapi/fake_lrs.py``: Ralph 5.1, the ADL LRS, a 409-for-any-held LRS), through the
adapter and through ``comp-adapters xapi pull|push``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from comp_adapters.cli.main import main
from comp_adapters.core.evidence import Evidence
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, ConflictError, ValidationError
from comp_adapters.native import iter_evidence, proficiencies_to_data
from comp_adapters.protocols import Cursor
from comp_adapters.sync.journal import MemoryJournal
from comp_adapters.xapi import (
    ActivityRule,
    IdentityConfig,
    MappingConfig,
    StatementQuery,
    XapiAdapter,
)
from comp_adapters.xapi.planner import HeldStatements, PushOptions, plan_proficiency
from tests.xapi.conftest import Lrs, account, results, statement, void
from tests.xapi.fake_lrs import ADL, KEY, RALPH, SECRET, FakeLrs, Quirks

HOME = "https://lms.example.org"
QUIZ = "https://courses.example.org/quiz/1"
MAPPING = MappingConfig(
    identity=IdentityConfig(account_home_pages=(HOME,), push_home_page=HOME),
    activities=(ActivityRule(prefix="https://courses.example.org/", competencies=("q",)),),
    competency_iri_base="https://competencies.example.org/",
)
MAPPING_TOML = f"""
competency_iri_base = "https://competencies.example.org/"

[identity]
account_home_pages = ["{HOME}"]
push_home_page = "{HOME}"

[[activities]]
prefix = "https://courses.example.org/"
competencies = ["q"]
"""
BASE = datetime(2026, 3, 1, tzinfo=UTC)
MakeLrs = Callable[..., FakeLrs]


def passed(name: str, **kw: Any) -> dict[str, Any]:
    return statement("passed", actor=account(name, HOME), activity=QUIZ, scaled=0.9, **kw)


def pull_all(
    xapi: XapiAdapter, cursor: Cursor | None = None
) -> tuple[list[Evidence], set[str], Cursor | None]:
    """Evidence, every evidence id withdrawn (copies or ids only), and the last cursor."""
    evidence: list[Evidence] = []
    withdrawn: set[str] = set()
    for batch in xapi.read_evidence(cursor=cursor):
        evidence.extend(batch.evidence)
        withdrawn.update(batch.withdrawn)
        cursor = batch.cursor
    return evidence, withdrawn, cursor


def active_learners(evidence: list[Evidence], withdrawn: set[str] = frozenset()) -> set[str]:
    gone = withdrawn | {e.id for e in evidence if e.voided}
    return {e.learner for e in evidence if not e.voided and e.id not in gone}


class Cli:
    """``comp-adapters xapi ...`` against one fake LRS, settings from the environment."""

    def __init__(
        self,
        lrs: FakeLrs,
        folder: Path,
        monkeypatch: pytest.MonkeyPatch,
        version: str | None = "1.0.3",
    ) -> None:
        self.folder = folder
        self.out = folder / "evidence.jsonl"
        self.cursor = folder / "cursor.json"
        self.mapping = folder / "mapping.toml"
        self.mapping.write_text(MAPPING_TOML)
        (folder / "empty.toml").write_text("")
        monkeypatch.setenv("COMP_ADAPTERS_CONFIG", str(folder / "empty.toml"))
        monkeypatch.setenv("COMP_ADAPTERS_XAPI_ENDPOINT", lrs.endpoint)
        monkeypatch.setenv("COMP_ADAPTERS_XAPI_KEY", KEY)
        monkeypatch.setenv("COMP_ADAPTERS_XAPI_SECRET", SECRET)
        monkeypatch.setenv("COMP_ADAPTERS_XAPI_ALLOW_HTTP", "true")
        monkeypatch.setenv("COMP_ADAPTERS_XAPI_OVERLAP_SECONDS", "0")
        if version is not None:  # (Ralph has no About resource: item 6 is tested on its own)
            monkeypatch.setenv("COMP_ADAPTERS_XAPI_VERSION", version)
        else:
            monkeypatch.delenv("COMP_ADAPTERS_XAPI_VERSION", raising=False)

    def pull(self, *extra: str, cursor: bool = True) -> int:
        argv = ["xapi", "pull", "--mapping", str(self.mapping), "-o", str(self.out)]
        if cursor:
            argv += ["--cursor", str(self.cursor)]
        return main([*argv, *extra])

    def evidence(self) -> list[Evidence]:
        return list(iter_evidence(self.out))


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Cli]:
    return lambda lrs, **options: Cli(lrs, tmp_path, monkeypatch, **options)


# -- item 1: a single-statement answer is the statement asked for ------------------------------


def test_a_void_on_ralph_withdraws_only_the_voided_learner(fake_lrs: MakeLrs) -> None:
    """Ralph answers voidedStatementId with the first statements of the store (alice's):
    taking the first of them withdrew alice's evidence and left bob's counting."""
    lrs = fake_lrs(RALPH)
    alice, bob = passed("alice"), passed("bob")
    for item in (alice, bob, void(bob["id"])):
        lrs.store(item)
    client = lrs.client(version="1.0.3")
    xapi = XapiAdapter(client, mapping=MAPPING)
    evidence, withdrawn, _ = pull_all(xapi)
    assert active_learners(evidence, withdrawn) == {"alice"}
    assert withdrawn == {f"xapi:{bob['id']}:q"}
    assert not any(e.voided and e.learner == "alice" for e in evidence)
    assert client.ignores_voided_lookup


def test_the_client_stops_asking_an_lrs_that_ignores_voided_statement_id(
    fake_lrs: MakeLrs,
) -> None:
    lrs = fake_lrs(RALPH)
    alice, bob = passed("alice"), passed("bob")
    lrs.store(alice)
    lrs.store(bob)
    client = lrs.client(version="1.0.3")
    unknown = "6b1b3b52-0000-4000-8000-000000000001"
    assert client.get_voided_statement(unknown) is None  # answered with alice and bob
    assert client.ignores_voided_lookup
    asked = len(lrs.requests)
    assert client.get_voided_statement(bob["id"]) is None
    assert len(lrs.requests) == asked  # not asked again
    # Ralph wraps statementId answers in a StatementResult: the one asked for is found.
    assert client.get_statement(alice["id"]) == {**alice, "stored": lrs.rows[0].statement["stored"]}


# -- item 2: voids withdraw what the ledger holds ------------------------------------------


def test_without_append_a_void_in_the_same_pull_withdraws_its_target(
    fake_lrs: MakeLrs, cli: Callable[..., Cli]
) -> None:
    lrs = fake_lrs(RALPH)
    run = cli(lrs)
    alice, bob = passed("alice"), passed("bob")
    for item in (alice, bob, void(bob["id"])):
        lrs.store(item)
    assert run.pull() == 0
    evidence = run.evidence()
    assert active_learners(evidence) == {"alice"}
    voided = [e for e in evidence if e.voided]
    assert [(e.id, e.learner, e.score) for e in voided] == [(f"xapi:{bob['id']}:q", "bob", 0.9)]


def test_with_append_a_later_void_withdraws_earlier_evidence_once(
    fake_lrs: MakeLrs, cli: Callable[..., Cli]
) -> None:
    lrs = fake_lrs(RALPH)
    run = cli(lrs)
    alice, bob = passed("alice"), passed("bob")
    lrs.store(alice)
    lrs.store(bob)
    assert run.pull() == 0
    lrs.store(void(bob["id"]))
    assert run.pull("--append") == 0
    assert run.pull("--append") == 0  # nothing new: nothing written again
    evidence = run.evidence()
    assert [e.learner for e in evidence if e.voided] == ["bob"]
    assert active_learners(evidence) == {"alice"}
    assert len(evidence) == 3


@pytest.mark.parametrize("quirks", [Quirks(), RALPH], ids=["conformant", "ralph"])
def test_append_writes_each_withdrawal_once(
    quirks: Quirks, fake_lrs: MakeLrs, cli: Callable[..., Cli]
) -> None:
    """The conformant LRS answers voidedStatementId: the copy came from the look-up and
    again from the earlier output (written twice before)."""
    lrs = fake_lrs(quirks)
    run = cli(lrs)
    first = passed("ann")
    lrs.store(first)
    assert run.pull() == 0
    lrs.store(void(first["id"]))
    lrs.store(passed("ann"))
    assert run.pull("--append") == 0
    lines = [json.loads(line) for line in run.out.read_text().splitlines()]
    assert [line["id"] for line in lines if line.get("voided")] == [f"xapi:{first['id']}:q"]


def test_a_ledger_file_lets_a_fresh_output_withdraw_earlier_evidence(
    fake_lrs: MakeLrs, cli: Callable[..., Cli]
) -> None:
    lrs = fake_lrs(RALPH)
    run = cli(lrs)
    bob = passed("bob")
    lrs.store(bob)
    assert run.pull() == 0
    earlier = run.folder / "evidence-1.jsonl"
    run.out.rename(earlier)
    lrs.store(void(bob["id"]))
    assert run.pull("--ledger", str(earlier)) == 0
    assert [(e.learner, e.voided) for e in run.evidence()] == [("bob", True)]


def test_a_broken_ledger_file_is_an_error_naming_its_line(
    fake_lrs: MakeLrs, cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    run = cli(fake_lrs())
    good = '{"id": "xapi:a:q", "source_id": "a"}'
    run.out.write_text(f"{good}\nnot json\n{good.replace('source_id', 'source')}\n")
    before = run.out.read_text()
    assert run.pull("--append") == 1
    err = capsys.readouterr().err
    assert f"{run.out}:2: invalid JSON" in err
    assert run.out.read_text() == before  # left as it was
    run.out.write_text(f"{good}\n{good.replace('source_id', 'source')}\n")
    assert run.pull("--append") == 1
    assert f"{run.out}:2: xAPI evidence without source_id" in capsys.readouterr().err


# -- item 3: a cursor belongs to one query -------------------------------------------------


def test_a_cursor_made_for_one_agent_refuses_an_unfiltered_pull(
    fake_lrs: MakeLrs, cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    lrs = fake_lrs()
    run = cli(lrs)
    alice = account("alice", HOME)
    lrs.store(statement("passed", actor=alice, activity=QUIZ, scaled=0.5))
    lrs.store(passed("bob"))
    assert run.pull("--agent", json.dumps(alice)) == 0
    assert [e.learner for e in run.evidence()] == ["alice"]
    before = run.cursor.read_text()
    capsys.readouterr()
    assert run.pull() == 2
    err = capsys.readouterr().err
    assert str(run.cursor) in err
    assert "belongs to another query" in err
    made_for, this_read = err.split("this read is")
    assert "agent=" in made_for
    assert '"account"' in made_for
    assert "agent=" not in this_read
    assert run.cursor.read_text() == before
    assert run.pull("--agent", json.dumps(alice)) == 0  # its own query still resumes


def test_a_cursor_refuses_another_endpoint_or_version(fake_lrs: MakeLrs) -> None:
    one, two = fake_lrs(), fake_lrs()
    one.store(passed("ann"))
    _, _, cursor = pull_all(XapiAdapter(one.client(), mapping=MAPPING))
    assert cursor is not None
    assert cursor.extra["query"] == {
        "endpoint": one.endpoint,
        "version": "1.0.3",
        "filters": {"format": "exact"},
    }
    other = XapiAdapter(two.client(), mapping=MAPPING)
    with pytest.raises(ConfigurationError, match="another query"):
        next(other.read_evidence(cursor=cursor))
    newer = XapiAdapter(one.client(version="2.0.0"), mapping=MAPPING)
    with pytest.raises(ConfigurationError, match=r"xAPI 1\.0\.3"):
        next(newer.read_evidence(cursor=cursor))
    # refused before any statement was asked for
    assert [path for _, path, _ in two.requests] == ["/xAPI/about"]


def test_a_cursor_without_a_query_record_is_taken_with_a_warning(
    fake_lrs: MakeLrs, caplog: pytest.LogCaptureFixture
) -> None:
    lrs = fake_lrs()
    lrs.store(passed("ann"), BASE)
    lrs.store(passed("bob"), BASE + timedelta(minutes=5))
    old = Cursor(adapter="xapi", field="stored", position="2026-03-01T00:02:00.000Z")
    xapi = XapiAdapter(lrs.client(), mapping=MAPPING)
    with caplog.at_level(logging.WARNING, logger="comp_adapters.xapi"):
        evidence, _, cursor = pull_all(xapi, old)
    assert [e.learner for e in evidence] == ["bob"]
    assert "records no query" in caplog.text
    assert cursor is not None
    assert "query_fingerprint" in cursor.extra
    assert xapi.query_fingerprint() == cursor.extra["query_fingerprint"]


# -- item 4: stored at the precision the LRS gives ------------------------------------------


def test_microsecond_stored_with_no_overlap_reads_each_statement_once(
    fake_lrs: MakeLrs,
) -> None:
    lrs = fake_lrs(ADL)
    xapi = XapiAdapter(lrs.client(), mapping=MAPPING, overlap=timedelta(0), page_size=2)
    cursor: Cursor | None = None
    seen: list[str] = []
    for run in range(3):
        for _ in range(3):
            lrs.store(passed(f"l{run}"))
        evidence, _, cursor = pull_all(xapi, cursor)
        seen.extend(e.id for e in evidence)
    assert len(seen) == len(set(seen)) == 9
    assert cursor is not None
    last = lrs.rows[-1].statement["stored"]
    assert last.endswith("+00:00")
    assert len(last.split(".")[1]) == len("123456+00:00")
    assert cursor.position == last.replace("+00:00", "Z")  # every digit kept, in UTC


def test_statements_sharing_the_cursor_instant_survive_a_stop_between_them(
    fake_lrs: MakeLrs,
) -> None:
    """``since`` is exclusive: a read that stopped after the first of two statements stored
    at one instant must still get the second (the tie guard), and not the first again."""
    lrs = fake_lrs()
    same = BASE + timedelta(minutes=1)
    first, second = passed("a"), passed("b")
    lrs.store(first, same)
    lrs.store(second, same)
    xapi = XapiAdapter(lrs.client(), mapping=MAPPING, overlap=timedelta(0), page_size=1)
    batches = xapi.read_evidence()
    one = next(batches)
    batches.close()  # stopped (or crashed) after storing the first batch
    assert [e.source_id for e in one.evidence] == [first["id"]]
    rest, _, _ = pull_all(xapi, one.cursor)
    assert [e.source_id for e in rest] == [second["id"]]


# -- item 5: an unreadable cursor is an error ----------------------------------------------


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"adapter": "xapi", "field": "stored", "position": "garbage"}, "position"),
        ({"adapter": "xapi", "field": "stored", "extra": {"voided": "x"}}, "extra.voided"),
        ({"adapter": "xapi", "field": "stored", "seen_ids": 3}, "seen_ids"),
        ({"adapter": "moodle", "field": "timemodified"}, "adapter"),
    ],
)
def test_an_unreadable_cursor_is_an_error_naming_file_and_field(
    content: dict[str, Any],
    field: str,
    fake_lrs: MakeLrs,
    cli: Callable[..., Cli],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lrs = fake_lrs()
    run = cli(lrs)
    lrs.store(passed("ann"))
    run.cursor.write_text(json.dumps(content))
    assert run.pull() == 1
    err = capsys.readouterr().err
    assert f"{run.cursor}, field {field!r}" in err
    assert not run.out.exists()
    assert lrs.requests == []  # nothing was read


def test_the_adapter_refuses_a_garbage_position_too() -> None:
    xapi = XapiAdapter(mapping=MAPPING)
    bad = Cursor(adapter="xapi", field="stored", position="garbage")
    with pytest.raises(ValidationError, match="position"):
        next(xapi.read_file(Path(__file__), cursor=bad))


# -- item 6: no About resource ---------------------------------------------------------------


def test_an_lrs_without_about_is_spoken_to_in_1_0_3_with_a_note(
    fake_lrs: MakeLrs,
    cli: Callable[..., Cli],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    lrs = fake_lrs(RALPH)
    run = cli(lrs, version=None)
    lrs.store(passed("ann"))
    with caplog.at_level(logging.WARNING, logger="comp_adapters.xapi"):
        assert run.pull() == 0
    assert "no About resource" in caplog.text
    assert "--xapi-version" in caplog.text
    assert "Not Found" not in capsys.readouterr().err
    assert [e.learner for e in run.evidence()] == ["ann"]
    cursor = json.loads(run.cursor.read_text())
    assert cursor["extra"]["query"]["version"] == "1.0.3"


# -- item 8: push with one POST per batch ------------------------------------------------------


def _results(n: int) -> list[Proficiency]:
    return results(n, as_of=BASE)


def test_push_sends_one_post_per_batch(fake_lrs: MakeLrs) -> None:
    lrs = fake_lrs()
    xapi = XapiAdapter(lrs.client(), mapping=MAPPING, push_batch_size=5)
    plan = xapi.plan_proficiency(_results(19))
    report = xapi.apply(plan)
    assert report.writes == 19
    assert {r["confirmed"] for r in report.results.values()} == {"posted"}
    asked = [m for m, path, _ in lrs.requests if path.endswith("/statements")]
    assert asked == ["GET", "POST", "POST", "POST", "POST"]  # what it holds, 4 batches
    assert len(lrs.rows) == 19
    assert xapi.plan_proficiency(_results(19)).is_empty


def test_push_on_ralph_confirms_held_ids_by_looking_them_up(fake_lrs: MakeLrs) -> None:
    """Ralph's verb filter finds nothing (the plan cannot see what it holds), it leaves held
    ids out of a POST answer and answers 204 when it held them all."""
    lrs = fake_lrs(RALPH)
    xapi = XapiAdapter(lrs.client(version="1.0.3"), mapping=MAPPING)
    first = xapi.apply(xapi.plan_proficiency(_results(4)))
    assert {r["confirmed"] for r in first.results.values()} == {"posted"}
    again = xapi.apply(xapi.plan_proficiency(_results(6)), journal=MemoryJournal())
    confirmed = [again.results[c]["confirmed"] for c in again.applied]
    assert confirmed.count("found") == 4
    assert confirmed.count("posted") == 2
    assert len(lrs.rows) == 6
    lrs.requests.clear()
    third = xapi.apply(xapi.plan_proficiency(_results(6)), journal=MemoryJournal())
    assert {third.results[c]["confirmed"] for c in third.applied} == {"found"}
    assert [m for m, _, _ in lrs.requests].count("POST") == 1  # answered 204
    assert len(lrs.rows) == 6


def test_a_batch_refused_with_409_is_checked_id_by_id_and_the_rest_sent(
    fake_lrs: MakeLrs,
) -> None:
    """The spec lets an LRS answer 409 for a batch holding any id it has."""
    lrs = fake_lrs(Quirks(conflict_on_any_held=True))
    xapi = XapiAdapter(lrs.client(), mapping=MAPPING)
    xapi.apply(xapi.plan_proficiency(_results(2)))
    lrs.requests.clear()
    # A plan that does not know what the LRS holds (as one made before the first push).
    stale = plan_proficiency(
        xapi.proficiency_statements(_results(3)), HeldStatements(target="lrs"), PushOptions()
    )
    report = xapi.apply(stale)
    confirmed = [report.results[c]["confirmed"] for c in report.applied]
    assert confirmed == ["found", "found", "posted"]
    methods = [m for m, _, _ in lrs.requests]
    assert methods == ["POST", "GET", "GET", "GET", "POST"]  # 409, look-ups, the rest
    assert len(lrs.rows) == 3


def test_push_cli_reports_what_was_posted_and_found(
    fake_lrs: MakeLrs,
    cli: Callable[..., Cli],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lrs = fake_lrs(RALPH)
    run = cli(lrs)
    results = run.folder / "results.json"
    results.write_text(json.dumps(proficiencies_to_data(_results(3))))
    push = ["xapi", "push", str(results), "--mapping", str(run.mapping)]
    assert main(push) == 0
    assert "3 statement(s) confirmed by the LRS (3 posted, 0 it held already)" in (
        capsys.readouterr().out
    )
    assert main(push) == 0  # Ralph's verb filter finds nothing: sent again, found held
    assert "(0 posted, 3 it held already)" in capsys.readouterr().out
    assert len(lrs.rows) == 3


# -- item 10: Ralph filters since on timestamp ---------------------------------------------


def test_ralph_misses_a_late_statement_and_a_full_reread_with_append_finds_only_it(
    fake_lrs: MakeLrs, cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    """What docs/xapi.md says: an incremental pull on Ralph never reads a statement posted
    late with an old timestamp; a periodic re-read without the cursor, appended to the same
    output, adds only what is missing."""
    lrs = fake_lrs(RALPH)
    run = cli(lrs)
    lrs.store(passed("ann", timestamp="2026-03-01T10:00:00.000Z"))
    assert run.pull() == 0
    late = passed("bob", timestamp="2026-02-01T10:00:00.000Z")  # an offline device syncs
    lrs.store(late)
    assert run.pull("--append") == 0
    assert active_learners(run.evidence()) == {"ann"}  # bob's statement was not read
    capsys.readouterr()
    assert run.pull("--append", cursor=False) == 0
    assert "1 already read" in capsys.readouterr().out
    evidence = run.evidence()
    assert sorted(e.learner for e in evidence) == ["ann", "bob"]


# -- the fake itself ------------------------------------------------------------------------


def test_the_fake_follows_xapi_statements_where_the_real_lrs_shows_it(
    fake_lrs: MakeLrs, lrs: Lrs
) -> None:
    """The conformant fake and the suite's real LRS answer the same requests alike."""
    fake = fake_lrs()
    real_client = lrs.xapi_client(lrs.new_client())
    fake_client = fake.client()
    items = [passed("ann"), passed("bob"), passed("cid")]
    voiding = void(items[1]["id"])
    for client in (real_client, fake_client):
        assert client.post_statements([*items, voiding]) == [
            *(i["id"] for i in items),
            voiding["id"],
        ]
        page = client.get_statements(StatementQuery(ascending=True, limit=2))
        found = list(page.statements)
        while page.more:
            page = client.get_more(page.more)
            found.extend(page.statements)
        assert [s["id"] for s in found] == [items[0]["id"], items[2]["id"], voiding["id"]]
        assert client.get_statement(items[1]["id"]) is None
        assert (client.get_voided_statement(items[1]["id"]) or {}).get("id") == items[1]["id"]
        assert client.post_statements(items) == [i["id"] for i in items]  # held: no-op
        changed = {**items[0], "result": {"success": False}}
        with pytest.raises(ConflictError):
            client.post_statements([changed])
