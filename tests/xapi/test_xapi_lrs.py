"""Against a real LRS (npm xapi-statements 5.0.1 with our preload; see conftest.py).

Statements are POSTed, read back incrementally over several runs with small pages, some are
voided (late voids, and a void sent before its target), and the evidence that is left must
equal the ground truth computed here, independently of the mapper. Proficiency is pushed
twice and found once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import AuthenticationError, ConfigurationError, PermissionDeniedError
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.protocols import Cursor
from comp_adapters.rules import evaluate
from comp_adapters.sync.journal import MemoryJournal
from comp_adapters.xapi import (
    ActivityRule,
    IdentityConfig,
    MappingConfig,
    StatementQuery,
    XapiAdapter,
)
from comp_adapters.xapi.wire import VERB_ACHIEVED
from tests.xapi.conftest import Lrs, account, statement, void

HOME = "https://lms.example.org"
QUIZ = "https://courses.example.org/quiz/"
LAB = "https://courses.example.org/lab"
MAPPING = MappingConfig(
    identity=IdentityConfig(account_home_pages=(HOME,)),
    activities=(
        ActivityRule(prefix=QUIZ, competencies=("quiz",)),
        ActivityRule(id=LAB, competencies=("lab", "quiz")),
    ),
)
COMPETENCIES = {QUIZ: ("quiz",), LAB: ("lab", "quiz")}
VERBS = ("passed", "failed", "experienced", "completed", "scored")


def _round(n: int, offset: int) -> list[dict[str, Any]]:
    """``n`` statements of varied verbs, learners, activities and scores."""
    made = []
    for i in range(offset, offset + n):
        verb = VERBS[i % len(VERBS)]
        activity = LAB if i % 4 == 0 else f"{QUIZ}{i % 3}"
        made.append(
            statement(
                verb,
                actor=account(f"learner{i % 5}", HOME if i % 7 else "https://elsewhere.org"),
                activity=activity,
                scaled=round((i % 10) / 10, 2) if verb != "experienced" else None,
                timestamp=(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i))
                .isoformat()
                .replace("+00:00", "Z"),
            )
        )
    return made


def _truth(posted: list[dict[str, Any]], voided: set[str]) -> dict[str, tuple[Any, ...]]:
    """Evidence id -> (learner, competency, success, score), derived without the mapper."""
    expected: dict[str, tuple[Any, ...]] = {}
    verdicts = {"passed": True, "failed": False, "completed": True, "scored": None}
    for item in posted:
        verb = item["verb"]["id"].rsplit("/", 1)[-1]
        if item["id"] in voided or verb not in verdicts:
            continue
        home = item["actor"]["account"]["homePage"]
        if home != HOME:
            continue
        activity = item["object"]["id"]
        keys = COMPETENCIES[LAB] if activity == LAB else COMPETENCIES[QUIZ]
        score = item.get("result", {}).get("score", {}).get("scaled")
        for key in keys:
            expected[f"xapi:{item['id']}:{key}"] = (
                item["actor"]["account"]["name"],
                key,
                verdicts[verb],
                score,
            )
    return expected


def _active(evidence: list[Evidence]) -> dict[str, tuple[Any, ...]]:
    withdrawn = {e.id for e in evidence if e.voided}
    active = [e for e in evidence if not e.voided and e.id not in withdrawn]
    ids = [e.id for e in active]
    assert len(ids) == len(set(ids)), "an evidence id was read twice"
    return {e.id: (e.learner, e.competency, e.success, e.score) for e in active}


def test_incremental_pulls_with_paging_and_voids_match_ground_truth(lrs: Lrs) -> None:
    client = lrs.xapi_client(lrs.new_client())
    adapter = XapiAdapter(client, mapping=MAPPING, page_size=7, overlap=timedelta(seconds=30))
    collected: list[Evidence] = []
    cursor: Cursor | None = None

    def pull() -> int:
        nonlocal cursor
        batches = 0
        for batch in adapter.read_evidence(cursor=cursor):
            collected.extend(batch.evidence)
            cursor = batch.cursor
            batches += 1
        return batches

    posted = _round(25, 0)
    assert client.post_statements(posted) == [s["id"] for s in posted]
    assert pull() >= 4  # 25 statements in pages of 7
    assert client.version == "1.0.3"
    voided: set[str] = set()
    assert _active(collected) == _truth(posted, voided)

    # Run 2: new statements, late voids of statements read in run 1, and a void whose
    # target does not exist yet.
    second = _round(20, 25)
    late = [posted[0]["id"], posted[1]["id"], posted[8]["id"]]
    early_target = str(uuid.uuid4())
    client.post_statements([*second, *(void(t) for t in late), void(early_target)])
    posted += second
    voided.update(late)
    pull()
    assert _active(collected) == _truth(posted, voided)

    # Run 3: the early-voided target arrives, and a run-2 statement is voided.
    target = statement(
        "passed", sid=early_target, actor=account("learner1"), activity=LAB, scaled=0.9
    )
    client.post_statements([target, void(second[3]["id"])])
    posted.append(target)
    voided.update({early_target, second[3]["id"]})
    pull()
    assert _active(collected) == _truth(posted, voided)

    # Run 4: nothing new: no evidence, the cursor keeps its place.
    before = len(collected)
    position = cursor.position if cursor else None
    pull()
    assert len(collected) == before
    assert cursor is not None
    assert cursor.position == position
    assert set(cursor.extra["voided"]) >= voided  # type: ignore[operator]
    assert adapter.stats.duplicates > 0  # the overlap was read again and skipped

    # End to end: the rules engine sees exactly the surviving evidence.
    framework = load_framework(example_dir() / "framework.json")
    renamed = [e.model_copy(update={"competency": "ts.escalation"}) for e in collected]
    expected = [
        e.model_copy(update={"competency": "ts.escalation"})
        for e in collected
        if not e.voided and e.id in _truth(posted, voided)
    ]
    as_of = datetime(2027, 1, 1, tzinfo=UTC)
    assert evaluate(framework, renamed, as_of=as_of) == evaluate(framework, expected, as_of=as_of)


def test_filters_and_paging_survive_special_characters(lrs: Lrs) -> None:
    client = lrs.xapi_client(lrs.new_client())
    odd = "https://courses.example.org/quiz/a?b=1&c=2#frag"
    ann = account("ann")
    posted = [statement("passed", actor=ann, activity=odd, scaled=0.5) for _ in range(5)]
    posted += [statement("passed", actor=account("bob"), activity=odd) for _ in range(3)]
    client.post_statements(posted)
    query = StatementQuery(activity=odd, agent=ann, limit=2, ascending=True)
    page = client.get_statements(query)
    found = list(page.statements)
    while page.more:
        page = client.get_more(page.more)
        found.extend(page.statements)
    assert sorted(s["id"] for s in found) == sorted(s["id"] for s in posted[:5])


def test_real_key_and_secret_checks(lrs: Lrs) -> None:
    good = lrs.new_client()
    wrong = lrs.xapi_client(good.__class__(key=good.key, secret="not-the-secret", scopes=[]))
    with pytest.raises(AuthenticationError) as caught:
        wrong.get_statements(StatementQuery(limit=1))
    assert "not-the-secret" not in str(caught.value)
    reader = lrs.xapi_client(lrs.new_client(scopes=("statements/read",)))
    with pytest.raises(PermissionDeniedError):
        reader.post_statements([statement()])
    assert reader.get_statements(StatementQuery(limit=1)).statements == []


def test_push_proficiency_twice_finds_no_duplicates(lrs: Lrs) -> None:
    credentials = lrs.new_client()
    client = lrs.xapi_client(credentials)
    folder = example_dir()
    framework = load_framework(folder / "framework.json")
    proficiencies = evaluate(
        framework,
        list(iter_evidence(folder / "evidence.jsonl")),
        as_of=datetime(2026, 2, 1, tzinfo=UTC),
    )
    mapping = MappingConfig(
        identity=IdentityConfig(push_home_page=HOME, account_home_pages=(HOME,)),
        competency_iri_base="https://competencies.example.org/cs/",
    )
    adapter = XapiAdapter(client, mapping=mapping)
    plan = adapter.plan_proficiency(proficiencies, framework=framework)
    assert len(plan.writes) == len(proficiencies)
    adapter.apply(plan)
    assert adapter.plan_proficiency(proficiencies, framework=framework).is_empty
    # Send everything again regardless of the plan (a fresh journal): PUT by id is a no-op.
    again = adapter.apply(plan, journal=MemoryJournal())
    assert again.writes == len(proficiencies)

    page = client.get_statements(StatementQuery(verb=VERB_ACHIEVED, limit=5))
    found = list(page.statements)
    while page.more:
        page = client.get_more(page.more)
        found.extend(page.statements)
    ids = [s["id"] for s in found]
    assert len(ids) == len(set(ids)) == len(proficiencies)
    first = next(s for s in found if s["result"]["success"])
    assert (
        first["object"]["definition"]["type"]
        == "https://w3id.org/xapi/tla/activity-types/competency"
    )
    assert 0 <= first["result"]["score"]["scaled"] <= 1

    # A pull from the same LRS does not feed on its own computed statements.
    batches = list(XapiAdapter(client, mapping=mapping).read_evidence())
    assert sum(len(b.evidence) for b in batches) == 0


# -- issue 12 against the real LRS --------------------------------------------------------


def test_resuming_after_every_batch_without_overlap_reads_each_statement_once(lrs: Lrs) -> None:
    """One POST of 30 statements: the LRS gives many of them the same ``stored``
    millisecond, and a read that stops between two of them must not lose the second."""
    client = lrs.xapi_client(lrs.new_client())
    posted = [statement("passed", actor=account(f"l{i}"), scaled=0.5) for i in range(30)]
    client.post_statements(posted)
    adapter = XapiAdapter(client, mapping=MAPPING, page_size=4, overlap=timedelta(0))
    cursor: Cursor | None = None
    read: list[str] = []
    for _ in range(30):  # each run stops right after storing one batch with evidence
        for batch in adapter.read_evidence(cursor=cursor):
            read.extend(e.source_id or "" for e in batch.evidence)
            cursor = batch.cursor
            if batch.evidence:
                break
    assert sorted(read) == sorted(s["id"] for s in posted)


def test_a_cursor_refuses_another_query_on_the_real_lrs(lrs: Lrs) -> None:
    client = lrs.xapi_client(lrs.new_client())
    ann = account("ann")
    client.post_statements([statement("passed", actor=ann), statement("passed")])
    filtered = XapiAdapter(client, mapping=MAPPING, query=StatementQuery(agent=ann))
    cursor = None
    for batch in filtered.read_evidence():
        cursor = batch.cursor
    assert cursor is not None
    with pytest.raises(ConfigurationError, match="another query"):
        next(XapiAdapter(client, mapping=MAPPING).read_evidence(cursor=cursor))


def test_push_is_one_post_per_batch_and_the_score_rule_holds(lrs: Lrs) -> None:
    client = lrs.xapi_client(lrs.new_client())
    framework = load_framework(example_dir() / "framework.json")
    proficiencies = evaluate(
        framework,
        list(iter_evidence(example_dir() / "evidence.jsonl")),
        as_of=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert len(proficiencies) == 13
    mapping = MappingConfig(
        identity=IdentityConfig(push_home_page=HOME),
        competency_iri_base="https://competencies.example.org/cs/",
    )
    adapter = XapiAdapter(client, mapping=mapping, push_batch_size=5)
    assert client.version == "1.0.3"  # negotiated first (GET about)
    before = client.transport.requests_sent
    adapter.apply(adapter.plan_proficiency(proficiencies, framework=framework))
    assert client.transport.requests_sent - before == 4  # what it holds, then 3 POSTs
    page = client.get_statements(StatementQuery(verb=VERB_ACHIEVED, limit=100))
    assert len(page.statements) == 13
    for item in page.statements:
        score = item["result"].get("score")
        if score and "min" in score:
            expected = (score["raw"] - score["min"]) / (score["max"] - score["min"])
            assert score["scaled"] == pytest.approx(max(0.0, min(1.0, expected)), abs=1e-6)
