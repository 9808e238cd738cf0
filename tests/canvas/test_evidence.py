"""Evidence in: outcome results -> core evidence; rollups compared with rules.calculate."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from comp_adapters.canvas import CanvasAdapter, mapping, wire
from comp_adapters.canvas.evidence import ResultReader
from comp_adapters.canvas.mapping import framework_from_tree
from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from comp_adapters.protocols import Cursor
from comp_adapters.rules import evaluate

from .conftest import MakeAdapter
from .fake_canvas import FakeCanvas


def _outcome(fake: FakeCanvas, *, method: str, calc_int: int | None, guid: str = "RX:o1") -> int:
    outcome = fake._new_outcome(
        "courses/5",
        {
            "title": "Outcome",
            "vendor_guid": guid,
            "ratings": [
                {"description": "Top", "points": 5},
                {"description": "Mid", "points": 3},
                {"description": "Low", "points": 0},
            ],
            "mastery_points": 3,
            "calculation_method": method,
            "calculation_int": calc_int,
        },
    )
    fake._link_outcome("courses/5", fake.root_id("courses/5"), outcome["id"])
    return int(outcome["id"])


def _users(fake: FakeCanvas) -> None:
    fake.add_user("7", login_id="amara", sis_user_id="S-7", email="amara@example.org")
    fake.add_user("8", login_id="ben", sis_user_id=None, email="ben@example.org")


@pytest.mark.parametrize(
    ("field", "learners"),
    [
        ("login_id", {"amara", "ben"}),
        ("email", {"amara@example.org", "ben@example.org"}),
        ("sis_user_id", {"S-7"}),
        ("id", {"7", "8"}),
    ],
)
def test_results_become_evidence_with_learner_keys_by_field(
    fake: FakeCanvas, make_adapter: MakeAdapter, field: str, learners: set[str]
) -> None:
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    for day in range(1, 26):
        fake.add_result(
            user="7",
            outcome_id=oid,
            score=day % 5,
            possible=4,
            when=f"2026-01-{day:02d}T10:00:00-06:00",
        )
        fake.add_result(
            user="8", outcome_id=oid, score=2, possible=4, when=f"2026-01-{day:02d}T11:00:00Z"
        )
    adapter = make_adapter(context="course:5", learner_field=field, framework_key="RX")
    batches = list(adapter.read_evidence())
    evidence = [e for b in batches for e in b.evidence]
    assert {e.learner for e in evidence} == learners
    assert {e.competency for e in evidence} == {"o1"}
    first = next(e for e in evidence if e.source_id == str(fake.results[0]["id"]))
    assert first.id == f"canvas:outcome_result:{fake.results[0]['id']}"
    assert first.score == 0.25  # 1 of 4 points
    assert first.kind is EvidenceKind.ASSESSMENT
    assert first.observed_at == datetime(2026, 1, 1, 16, 0, tzinfo=UTC)
    if field == "sis_user_id":
        assert sum(b.skipped.get("user without sis_user_id", 0) for b in batches) == 25


def test_results_are_read_across_pages(fake: FakeCanvas, make_adapter: MakeAdapter) -> None:
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    for i in range(230):
        fake.add_result(
            user="7",
            outcome_id=oid,
            score=3,
            possible=5,
            when=f"2026-02-01T{i // 60:02d}:{i % 60:02d}:00Z",
        )
    adapter = make_adapter(context="course:5", framework_key="RX")
    batches = list(adapter.read_evidence())
    assert [len(b.evidence) for b in batches] == [100, 100, 30]
    assert len({e.id for b in batches for e in b.evidence}) == 230
    positions = [b.cursor.position for b in batches]
    # While the read goes on the position stays where it started (nothing is skipped when
    # a read resumes from a batch's cursor); the last batch moves it to the latest result.
    assert positions == [None, None, "2026-02-01T03:49:00Z"]
    for index, batch in enumerate(batches):
        rest = [e.id for b in adapter.read_evidence(cursor=batch.cursor) for e in b.evidence]
        later = [e.id for b in batches[index + 1 :] for e in b.evidence]
        assert sorted(rest) == sorted(later)  # exactly what came after, nothing again
    again = list(adapter.read_evidence(cursor=batches[-1].cursor))
    assert again[-1].cursor.position == positions[-1]
    assert sum(len(b.evidence) for b in again) == 0
    later = Cursor(
        adapter="canvas", field="submitted_or_assessed_at", position="2030-01-01T00:00:00Z"
    )
    assert next(iter(adapter.read_evidence(cursor=later))).cursor.position == later.position


def test_hidden_scoreless_and_extra_credit_results(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    fake.add_result(
        user="7", outcome_id=oid, score=3, possible=5, when="2026-01-01T00:00:00Z", hidden=True
    )
    fake.add_result(user="7", outcome_id=oid, score=None, possible=5, when="2026-01-02T00:00:00Z")
    fake.add_result(user="7", outcome_id=oid, score=6, possible=5, when="2026-01-03T00:00:00Z")
    (batch,) = list(make_adapter(context="course:5", framework_key="RX").read_evidence())
    # Extra credit is kept: Canvas scales 6/5 to 1.2 x points possible, uncapped
    # (RollupScoreAggregatorHelper#result_score).
    assert [e.score for e in batch.evidence] == [1.2]
    assert batch.skipped == {"hidden from the mastery gradebook": 1, "no score": 1}


def test_rescaled_results_feed_the_engine_like_canvas(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    # A 10-point rubric row feeding a 5-point outcome: 8/10 -> 0.8 -> 4 of 5 points.
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    fake.add_result(user="7", outcome_id=oid, score=8, possible=10, when="2026-01-01T00:00:00Z")
    adapter = make_adapter(context="course:5", framework_key="RX")
    evidence = [e for b in adapter.read_evidence() for e in b.evidence]
    pulled = framework_from_tree(adapter.read_tree(), framework_key="RX")
    (result,) = evaluate(pulled, evidence, as_of=datetime(2026, 2, 1, tzinfo=UTC))
    assert (result.score, result.level, result.proficient) == (4.0, "Mid", True)


@pytest.mark.parametrize(
    ("score", "possible", "percent", "mastery_score", "fraction"),
    [
        # Canvas's own percent wins (it already holds any rescaling).
        (2, 5, 0.7, 0.5, 0.7),
        # No percent: a quiz bank's threshold 0.5 lands on the outcome's 3/5 = 0.6,
        # 2/5 = 0.4 -> 0.4 * 0.6 / 0.5 = 0.48; above it [0.5, 1] maps onto [0.6, 1].
        (2, 5, None, 0.5, 0.48),
        (4, 5, None, 0.5, 0.84),
        # possible 0: the score over the outcome's points possible (5).
        (4, 0, None, None, 0.8),
    ],
)
def test_results_are_rescaled_like_canvas(
    fake: FakeCanvas,
    make_adapter: MakeAdapter,
    score: float,
    possible: float,
    percent: float | None,
    mastery_score: float | None,
    fraction: float,
) -> None:
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    fake.add_result(
        user="7",
        outcome_id=oid,
        score=score,
        possible=possible,
        percent=percent,
        when="2026-01-01T00:00:00Z",
        alignment="assessment_31",
        alignment_mastery=mastery_score,
    )
    (batch,) = list(make_adapter(context="course:5", framework_key="RX").read_evidence())
    (item,) = batch.evidence
    assert item.score == pytest.approx(fraction, abs=1e-12)


# -- rollups: Canvas's own examples ------------------------------------------------------------

CANVAS_EXAMPLES = [
    # (method, int, Canvas's rollup of [1, 2, 3, 4, 5] oldest first, mastery 3)
    ("decaying_average", 65, 4.13),
    ("standard_decaying_average", 65, 4.47),
    ("n_mastery", 3, 4.0),
    ("n_mastery", 4, None),
    ("highest", None, 5.0),
    ("latest", None, 5.0),
    ("average", None, 3.0),
]


@pytest.mark.parametrize(("method", "calc_int", "canvas"), CANVAS_EXAMPLES)
def test_rules_calculate_matches_canvas_rollups(
    fake: FakeCanvas,
    make_adapter: MakeAdapter,
    method: str,
    calc_int: int | None,
    canvas: float | None,
) -> None:
    fake.new_decay = True
    _users(fake)
    oid = _outcome(fake, method=method, calc_int=calc_int)
    for day, score in enumerate([1, 2, 3, 4, 5], start=1):
        # Results arrive newest first and with percent given, as Canvas lists them.
        fake.add_result(
            user="7",
            outcome_id=oid,
            score=score,
            possible=5,
            percent=score / 5,
            when=f"2026-01-{day:02d}T09:00:00Z",
        )
    fake.results.reverse()
    fake.rollups = [
        {
            "scores": [{"score": canvas, "count": 5, "links": {"outcome": str(oid)}}],
            "links": {"user": "7", "section": "1"},
        }
    ]
    report = make_adapter(context="course:5").compare_rollups()
    assert [(c.user, c.outcome_id, c.ours, c.canvas, c.count) for c in report.checks] == [
        ("7", str(oid), canvas, canvas, 5)
    ]
    assert report.mismatches == []


def test_rollup_mismatches_are_reported(fake: FakeCanvas, make_adapter: MakeAdapter) -> None:
    _users(fake)
    oid = _outcome(fake, method="highest", calc_int=None)
    fake.add_result(user="7", outcome_id=oid, score=4, possible=5, when="2026-01-01T00:00:00Z")
    fake.rollups = [
        {"scores": [{"score": 3.0, "links": {"outcome": str(oid)}}], "links": {"user": "7"}}
    ]
    report = make_adapter(context="course:5").compare_rollups()
    assert [(c.ours, c.canvas, c.matches) for c in report.checks] == [(4.0, 3.0, False)]


def test_rollups_under_mastery_scales_use_the_context_scale_and_method(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    fake.mastery_scales = True
    fake.calc_method["courses/5"] = ("latest", None)
    _users(fake)
    oid = _outcome(fake, method="highest", calc_int=None)  # ignored under the flag
    fake.add_result(user="7", outcome_id=oid, score=5, possible=5, when="2026-01-01T00:00:00Z")
    fake.add_result(user="7", outcome_id=oid, score=1, possible=2, when="2026-01-02T00:00:00Z")
    # latest: 1/2 = 0.5 of the default scale's 4 points = 2.0
    fake.rollups = [
        {"scores": [{"score": 2.0, "links": {"outcome": str(oid)}}], "links": {"user": "7"}}
    ]
    report = make_adapter(context="course:5").compare_rollups()
    assert [(c.ours, c.canvas) for c in report.checks] == [(2.0, 2.0)]


def test_adapter_declares_its_capabilities() -> None:
    assert {c.value for c in CanvasAdapter.capabilities} == {
        "reads_framework",
        "writes_framework",
        "reads_evidence",
        "writes_proficiency",
    }


# -- what the calculation is fed: issue 11 items 5-9 ------------------------------------------


def _wire_result(
    rid: int | None, when: str | None, percent: float, *, user: str = "7", outcome: str = "1"
) -> wire.WireOutcomeResult:
    return wire.WireOutcomeResult.model_validate(
        {
            "id": rid,
            "score": percent * 4,
            "possible": 4,
            "percent": percent,
            "submitted_or_assessed_at": when,
            "links": {"user": user, "learning_outcome": outcome, "alignment": f"assignment_{rid}"},
        }
    )


FOUR_POINTS = wire.WireOutcome.model_validate(
    {
        "id": 1,
        "title": "O",
        "ratings": [{"points": 4, "description": "Top"}, {"points": 0, "description": "Low"}],
        "mastery_points": 3,
        "points_possible": 4,
        "calculation_method": "latest",
    }
)


def _latest_framework(keys: list[str]) -> Framework:
    return framework_from_data(
        {
            "key": "TIES",
            "title": "Ties",
            "scale": {
                "levels": [
                    {"key": "low", "name": "Low", "points": 0},
                    {"key": "top", "name": "Top", "points": 4, "proficient": True},
                ],
                "default_level": "top",
            },
            "calculation_method": "latest",
            "competencies": [{"key": k, "title": k} for k in keys],
        }
    )


def test_same_second_ties_follow_canvas_order_on_4000_random_cases() -> None:
    # Issue 11 item 5. Canvas sorts a user's results by (submitted_at || assessed_at).to_i -
    # whole seconds (RollupScoreAggregatorHelper#sorted_results) - over results read in id
    # order (Outcomes::ResultAnalytics#order_results_for_rollup), so in one second the
    # higher id is later. Sorting ids as strings ('...:10' before '...:9') or keeping the
    # milliseconds disagrees with Canvas on about a fifth of these cases.
    rng = random.Random(11)
    reader = ResultReader(keys=None, own_asset=None, learner_field="id", key_of=lambda _o: "x")
    reader.outcomes["1"] = FOUR_POINTS
    evidence: list[Evidence] = []
    expected: dict[str, float] = {}
    ids = rng.sample(range(1, 100_000), 4000 * 6)
    for case in range(4000):
        results = []
        for _ in range(rng.randint(2, 6)):
            second = rng.choice([0, 0, 1, 2])
            millis = rng.randint(0, 999)
            when = f"2026-03-01T10:00:0{second}.{millis:03d}Z"
            results.append(_wire_result(ids.pop(), when, rng.choice([0, 0.25, 0.5, 0.75, 1])))
        # Canvas's order, restated: whole seconds, then result id.
        newest = max(results, key=lambda r: (int(r.submitted_or_assessed_at[17:19]), r.id))
        expected[f"c{case}"] = (newest.percent or 0.0) * 4
        for result in results:
            item, _reasons = reader.read(result)
            assert item is not None
            evidence.append(item.model_copy(update={"competency": f"c{case}"}))
    framework = _latest_framework(list(expected))
    results_by_case = {
        p.competency: p.score
        for p in evaluate(framework, evidence, as_of=datetime(2027, 1, 1, tzinfo=UTC))
    }
    differing = [case for case, score in expected.items() if results_by_case[case] != score]
    assert differing == []


def test_result_time_is_canvas_precision_and_a_missing_time_is_the_oldest() -> None:
    # Issue 11 item 8: Canvas takes a result without a time as the oldest (nil.to_i == 0).
    assert mapping.result_time(_wire_result(1, "2026-01-01T10:00:00.999Z", 1)) == datetime(
        2026, 1, 1, 10, 0, 0, tzinfo=UTC
    )
    assert mapping.result_time(_wire_result(1, None, 1)) == datetime(1970, 1, 1, tzinfo=UTC)
    assert mapping.result_time(_wire_result(1, "yesterday", 1)) is None


def test_a_result_without_a_time_counts_as_the_oldest(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    undated = fake.add_result(user="7", outcome_id=oid, score=5, possible=5, when="x")
    undated["submitted_or_assessed_at"] = None
    fake.add_result(user="7", outcome_id=oid, score=1, possible=5, when="2026-01-01T00:00:00Z")
    adapter = make_adapter(context="course:5", framework_key="RX")
    (batch,) = list(adapter.read_evidence())
    assert [(e.observed_at.year, e.score) for e in batch.evidence] == [(1970, 1.0), (2026, 0.2)]
    pulled = framework_from_tree(adapter.read_tree(), framework_key="RX")
    (result,) = evaluate(pulled, batch.evidence, as_of=datetime(2026, 2, 1, tzinfo=UTC))
    assert result.score == 1.0  # latest is the dated one, as in Canvas
    fake.rollups = [
        {"scores": [{"score": 1.0, "links": {"outcome": str(oid)}}], "links": {"user": "7"}}
    ]
    assert adapter.compare_rollups().mismatches == []


def test_new_quizzes_results_without_ids_are_read_with_stable_ids(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    # Issue 11 item 6: Outcomes Service results come with "id": null
    # (Outcomes::ResultAnalytics#handle_outcomes_service_results); reading them crashed.
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    for quiz, score in (("assignment_71", 4), ("assignment_72", 2)):
        result = fake.add_result(
            user="7",
            outcome_id=oid,
            score=score,
            possible=5,
            when="2026-01-03T00:00:00Z",
            alignment=quiz,
        )
        result["id"] = None
    adapter = make_adapter(context="course:5", framework_key="RX")
    first = [e for b in adapter.read_evidence() for e in b.evidence]
    again = [e for b in adapter.read_evidence() for e in b.evidence]
    assert [e.id for e in first] == [e.id for e in again]
    assert len({e.id for e in first}) == 2
    assert all(e.id.startswith("canvas:outcome_result:os-") and e.sequence is None for e in first)
    fake.rollups = [
        {"scores": [{"score": 2.0, "links": {"outcome": str(oid)}}], "links": {"user": "7"}}
    ]
    report = adapter.compare_rollups()  # listed order: the second (2/5 of 5) counts as later
    assert [(c.ours, c.canvas) for c in report.checks] == [(2.0, 2.0)]


def test_extra_credit_counts_as_canvas_counts_it(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    # Issue 11 item 7: percent 1.5 on a 4-point outcome is 6.0 in Canvas (result_score is
    # percent * points_possible, uncapped).
    _users(fake)
    outcome = fake._new_outcome(
        "courses/5",
        {
            "title": "Four",
            "vendor_guid": "RX:four",
            "ratings": [{"description": "Top", "points": 4}, {"description": "Low", "points": 0}],
            "mastery_points": 3,
            "calculation_method": "latest",
        },
    )
    fake._link_outcome("courses/5", fake.root_id("courses/5"), outcome["id"])
    fake.add_result(
        user="7",
        outcome_id=outcome["id"],
        score=6,
        possible=4,
        percent=1.5,
        when="2026-01-01T00:00:00Z",
    )
    adapter = make_adapter(context="course:5", framework_key="RX")
    evidence = [e for b in adapter.read_evidence() for e in b.evidence]
    pulled = framework_from_tree(adapter.read_tree(), framework_key="RX")
    (result,) = evaluate(pulled, evidence, as_of=datetime(2026, 2, 1, tzinfo=UTC))
    assert result.score == 6.0


@pytest.mark.parametrize(("new_decay", "canvas"), [(True, 4.47), (False, 4.13)])
def test_compare_rollups_runs_standard_decay_as_canvas_does_for_the_flag(
    fake: FakeCanvas, make_adapter: MakeAdapter, new_decay: bool, canvas: float
) -> None:
    # Issue 11 item 9: with the new-decay flag off Canvas computes a stored
    # standard_decaying_average with the legacy maths (RollupScore#adjust_calculation_method).
    _users(fake)
    fake.new_decay = True  # stored while the flag was on ...
    oid = _outcome(fake, method="standard_decaying_average", calc_int=65)
    fake.new_decay = new_decay  # ... and read with the flag as it is now
    for day, score in enumerate([1, 2, 3, 4, 5], start=1):
        fake.add_result(
            user="7", outcome_id=oid, score=score, possible=5, when=f"2026-01-0{day}T09:00:00Z"
        )
    fake.rollups = [
        {"scores": [{"score": canvas, "links": {"outcome": str(oid)}}], "links": {"user": "7"}}
    ]
    report = make_adapter(context="course:5").compare_rollups()
    assert [(c.ours, c.canvas) for c in report.checks] == [(canvas, canvas)]


def test_a_cursor_reads_what_is_new_and_nothing_again(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    _users(fake)
    oid = _outcome(fake, method="latest", calc_int=None)
    first = fake.add_result(
        user="7", outcome_id=oid, score=3, possible=5, when="2026-02-01T10:00:00Z"
    )
    fake.add_result(user="7", outcome_id=oid, score=4, possible=5, when="2026-02-02T10:00:00Z")
    adapter = make_adapter(context="course:5", framework_key="RX")
    (batch,) = list(adapter.read_evidence())
    assert len(batch.evidence) == 2
    cursor = batch.cursor
    assert cursor.position == "2026-02-02T10:00:00Z"
    # A result Canvas's background job writes late, a little before the position: read.
    late = fake.add_result(
        user="7", outcome_id=oid, score=2, possible=5, when="2026-02-02T09:00:00Z"
    )
    # One older than the overlap (a day) before the position is not looked at.
    fake.add_result(user="7", outcome_id=oid, score=1, possible=5, when="2026-01-01T00:00:00Z")
    # A result assessed again (Canvas updates it in place, with a new time): read again.
    first["score"], first["submitted_or_assessed_at"] = 5, "2026-02-03T08:00:00Z"
    (again,) = list(adapter.read_evidence(cursor=cursor))
    assert sorted(e.id for e in again.evidence) == sorted(
        f"canvas:outcome_result:{r['id']}" for r in (first, late)
    )
    assert again.cursor.position == "2026-02-03T08:00:00Z"
    (nothing,) = list(adapter.read_evidence(cursor=again.cursor))
    assert nothing.evidence == ()
    assert nothing.cursor == again.cursor
