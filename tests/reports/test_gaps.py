"""Gaps, priority, due dates and KPIs on small hand-checked inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from comp_adapters.core import Evidence, Framework
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.reports import Assignment, RoleProfiles, Viewer, analyse_evidence
from comp_adapters.reports.files import load_checked_profiles, load_people
from comp_adapters.reports.gaps import add_period
from comp_adapters.reports.kpis import month_ends
from comp_adapters.rules import evaluate
from comp_adapters.rules.columnar import from_micros, to_micros
from tests.reports.conftest import AS_OF


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_priority_gap_and_due_date(
    mean_framework: Framework, profiles: RoleProfiles, people: list[Assignment]
) -> None:
    evidence = [
        Evidence(
            id="1", learner="ann", competency="a", level="developing", observed_at=_at("2026-01-20")
        ),
        Evidence(
            id="2", learner="ann", competency="b", level="expert", observed_at=_at("2026-01-21")
        ),
    ]
    analysis = analyse_evidence(
        mean_framework, profiles, people, evidence, as_of=AS_OF, viewer=Viewer.parse("admin")
    )
    records = {(r["person"], r["competency"]): r for r in analysis.gap_records(include_met=True)}
    a = records[("ann", "a")]
    # developing (2 points) against proficient (3): a third missing; impact 5 x criticality 4.
    assert (a["current"], a["current_points"], a["gap_points"], a["gap"]) == (
        "developing",
        2.0,
        1.0,
        0.3333,
    )
    assert a["priority"] == round(5 * 4 * (1 / 3), 2)
    assert a["due"] == "2026-04-20T00:00:00Z"  # last evidence + a quarter
    assert not a["overdue"]
    assert records[("ann", "b")]["met"]
    # cy has no evidence: due one cadence after taking the role... cy has no start: due now.
    assert records[("cy", "a")]["due"] == "2026-03-01T00:00:00Z"
    # bo took the role 2025-03-15 (P6M): overdue since 2025-09-15.
    bo = records[("bo", "c")]
    assert (bo["due"], bo["overdue"], bo["current"], bo["gap"]) == (
        "2025-09-15T00:00:00Z",
        True,
        None,
        1.0,
    )
    ordered = [r["priority"] for r in analysis.gap_records()]
    assert ordered == sorted(ordered, reverse=True)
    assert all(not r["met"] for r in analysis.gap_records())


def test_coverage_time_to_competence_and_trend(
    mean_framework: Framework, profiles: RoleProfiles, people: list[Assignment]
) -> None:
    evidence = [
        # ann took the role on 2026-02-01; proficient in a on 2026-02-11: 10 days.
        Evidence(
            id="1", learner="ann", competency="a", level="proficient", observed_at=_at("2026-02-11")
        ),
        # cy has no start date: from the first evidence (01-05) to proficient (01-25): 20 days.
        Evidence(
            id="2", learner="cy", competency="a", level="beginning", observed_at=_at("2026-01-05")
        ),
        Evidence(
            id="3", learner="cy", competency="a", level="expert", observed_at=_at("2026-01-25")
        ),
        Evidence(
            id="4", learner="max", competency="solo", level="expert", observed_at=_at("2023-06-01")
        ),
    ]
    analysis = analyse_evidence(
        mean_framework, profiles, people, evidence, as_of=AS_OF, viewer=Viewer.parse("admin")
    )
    kpis = analysis.kpis
    # cy's mean of 1 and 4 points is 2.5: developing, never proficient.
    met = {
        (r["person"], r["competency"]) for r in analysis.gap_records(include_met=True) if r["met"]
    }
    assert met == {("ann", "a"), ("max", "solo")}
    assert kpis["coverage"] == round(2 / 9, 4)  # weights: ann 1+2, cy 1+2, bo 1+1, max 1
    assert kpis["coverage_by_role"] == {"first": round(1 / 6, 4), "second": 0.0, "lead": 1.0}
    assert kpis["coverage_by_competency"]["a"] == 0.5
    ttc = kpis["time_to_competence"]
    assert ttc["count"] == 2  # ann a (10 days), max solo (before the role: 0 days)
    assert ttc["median"] == 5.0
    assert ttc["not_yet"] == 5
    trend = kpis["trend"]
    assert trend[-1]["as_of"] == "2026-03-01T00:00:00Z"
    assert trend[-1]["coverage"] == kpis["coverage"]
    january = next(p for p in trend if p["as_of"].startswith("2026-01-31"))
    # At the end of January only max (role since 2024) and bo hold roles; ann starts in Feb.
    assert january["requirements"] == 1 + 2 + 2  # max solo, bo c and p, cy a and b (no start)
    assert january["coverage"] == round(1 / 6, 4)
    heat = kpis["heatmap"]
    assert heat["axis"] == "team"
    cell = heat["cells"][heat["rows"].index("North")][heat["columns"].index("a")]
    assert cell == 1.0  # ann met a in North


def test_readiness_for_another_role(
    mean_framework: Framework, profiles: RoleProfiles, people: list[Assignment]
) -> None:
    evidence = [
        Evidence(
            id="1", learner="ann", competency="solo", level="expert", observed_at=_at("2026-01-20")
        ),
        Evidence(
            id="2", learner="bo", competency="a", level="expert", observed_at=_at("2026-01-20")
        ),
    ]
    analysis = analyse_evidence(
        mean_framework, profiles, people, evidence, as_of=AS_OF, viewer=Viewer.parse("admin")
    )
    lead = analysis.kpis["readiness"]["by_role"]["lead"]
    assert lead == {"candidates": 3, "ready": 1, "nearly_ready": 1, "mean": round(1 / 3, 4)}
    first = analysis.kpis["readiness"]["by_role"]["first"]
    assert first["candidates"] == 2  # bo and max
    assert first["mean"] == round((1 / 3) / 2, 4)  # bo meets a (weight 1 of 3)


def test_add_period_clamps_to_the_end_of_the_month() -> None:
    starts = [datetime(2026, 8, 31, 15, 30, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC)]
    out = add_period(
        np, np.array([to_micros(s) for s in starts]), np.array([6, 12]), np.array([0, 1])
    )
    assert [from_micros(int(v)) for v in out] == [
        datetime(2027, 2, 28, 15, 30, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
    ]


def test_month_ends() -> None:
    ends = month_ends(datetime(2026, 3, 15, tzinfo=UTC), 3)
    assert [e.isoformat()[:10] for e in ends] == [
        "2025-12-31",
        "2026-01-31",
        "2026-02-28",
        "2026-03-15",
    ]


def test_trend_is_the_engine_as_of_each_month_end() -> None:
    """Each point of the example's trend is the coverage the engine's results as of that
    month end give, over the roles already held then."""
    folder = example_dir()
    framework = load_framework(folder / "framework.json")
    profiles = load_checked_profiles(folder / "roles.toml", framework)
    people = load_people(folder / "people.csv", profiles)
    evidence = list(iter_evidence(folder / "evidence.jsonl"))
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    analysis = analyse_evidence(
        framework, profiles, people, evidence, as_of=as_of, viewer=Viewer.parse("admin")
    )
    counted = [e for e in evidence if e.visibility != "private"]
    for point in analysis.kpis["trend"]:
        instant = datetime.fromisoformat(point["as_of"])
        levels = {
            (p.learner, p.competency): p.level for p in evaluate(framework, counted, as_of=instant)
        }
        met = total = 0.0
        for person in people:
            if person.since is not None and person.since > instant:
                continue
            role = profiles.by_key[person.role]
            for requirement in role.requirements:
                scale = framework.scale_for(requirement.competency)
                level = levels.get((person.person, requirement.competency))
                ok = level is not None and scale.index_of(level) >= scale.index_of(
                    requirement.target
                )
                total += requirement.weight
                met += requirement.weight * ok
        expected = None if total == 0 else round(met / total, 4)
        assert point["coverage"] == expected, point["as_of"]
