"""Evidence in: outcome results -> core evidence; rollups compared with rules.calculate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from comp_adapters.canvas import CanvasAdapter
from comp_adapters.canvas.mapping import framework_from_tree
from comp_adapters.core.evidence import EvidenceKind
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
    assert positions == sorted(positions)  # never goes back
    assert positions[-1] == "2026-02-01T03:49:00Z"
    again = list(adapter.read_evidence(cursor=batches[-1].cursor))
    assert again[-1].cursor.position == positions[-1]
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
    assert [e.score for e in batch.evidence] == [1.0]
    assert batch.skipped == {
        "hidden from the mastery gradebook": 1,
        "no score": 1,
        "score above possible, capped at 1": 1,
    }


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
