"""Gap analysis at scale against the rules engine on the same evidence, in the same run.

    .venv/bin/python benchmarks/gaps_bench.py [--learners 100000] [--evidence 1000000]

100,000 learners in 500 teams, each holding one of 20 roles of 30 requirements (drawn from a
320-competency framework: 20 domains with an all_children rule over 15 skills each), and
1,000,000 evidence rows on their roles' skills (an EvidenceTable). Times

- ``evaluate`` (the rules engine, columnar input): the reference;
- ``proficiency_timeline`` (first time proficient; issue 17 item 4: target <= 2x evaluate);
- the gaps, KPIs and the report's data (``analyse`` + ``Analysis.data``) from those
  results: target <= 0.5x evaluate;

then renders the HTML report for all 100,000 learners and prints its size (target < 20 MB).
The last line is machine-readable:

    RESULT gaps_s=<t> evaluate_s=<t> ratio=<gaps/evaluate> first_proficient_s=<t>
           first_ratio=<timeline/evaluate> html_mb=<n>
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from comp_adapters.core import Framework, framework_from_data
from comp_adapters.reports import Assignment, RoleProfiles, Viewer, analyse, profiles_from_data
from comp_adapters.reports.render import render_html
from comp_adapters.rules import EvidenceTable, evaluate
from comp_adapters.rules.columnar import KINDS, to_micros
from comp_adapters.rules.first_proficient import proficiency_timeline

DOMAINS, SKILLS = 20, 15
ROLES, REQUIREMENTS = 20, 30
TEAMS = 500
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
METHODS = ("latest", "highest", "average", "decaying_average")


def build_framework() -> Framework:
    competencies: list[dict[str, object]] = []
    for d in range(DOMAINS):
        competencies.append(
            {"key": f"d{d}", "title": f"Domain {d}", "rollup": {"type": "all_children"}}
        )
        for s in range(SKILLS):
            method = METHODS[(d * SKILLS + s) % len(METHODS)]
            competencies.append(
                {
                    "key": f"d{d}.s{s}",
                    "title": f"Skill {d}.{s}",
                    "parent": f"d{d}",
                    "calculation_method": method,
                    **({"calculation_int": 65} if method == "decaying_average" else {}),
                }
            )
    return framework_from_data(
        {
            "key": "BENCH",
            "title": "Benchmark framework",
            "scale": {
                "levels": [
                    {"key": "novice", "name": "Novice", "points": 0},
                    {"key": "developing", "name": "Developing", "points": 1},
                    {"key": "competent", "name": "Competent", "points": 2, "proficient": True},
                    {"key": "expert", "name": "Expert", "points": 3, "proficient": True},
                ],
                "default_level": "competent",
            },
            "competencies": competencies,
        }
    )


def build_profiles(rng: np.random.Generator) -> tuple[RoleProfiles, list[list[str]]]:
    skills = [f"d{d}.s{s}" for d in range(DOMAINS) for s in range(SKILLS)]
    roles, chosen = [], []
    for r in range(ROLES):
        picked = [skills[i] for i in rng.choice(len(skills), REQUIREMENTS, replace=False)]
        chosen.append(picked)
        roles.append(
            {
                "key": f"role-{r}",
                "title": f"Role {r}",
                "cadence": "quarterly" if r % 2 else "semi-annual",
                "requirements": [
                    {
                        "competency": key,
                        "target": "expert" if i % 7 == 0 else "competent",
                        "impact": int(1 + i % 5),
                        "criticality": int(1 + (i * 3) % 5),
                    }
                    for i, key in enumerate(picked)
                ],
            }
        )
    resources = [
        {
            "key": f"res-{i}",
            "title": f"Course {i}",
            "url": f"https://learn.example.org/{i}",
            "competencies": [skills[i]],
        }
        for i in range(len(skills))
    ]
    return profiles_from_data({"roles": roles, "resources": resources}), chosen


def build_people(learners: int, rng: np.random.Generator) -> tuple[list[Assignment], np.ndarray]:
    role_of = rng.integers(0, ROLES, learners)
    team_of = rng.integers(0, TEAMS, learners)
    since = rng.integers(0, 700, learners)
    people = [
        Assignment(
            person=f"learner-{i:06d}",
            role=f"role-{int(role_of[i])}",
            name=f"Learner {i}",
            team=f"team-{int(team_of[i]):03d}",
            manager=f"manager-{int(team_of[i]):03d}",
            since=datetime.fromtimestamp(
                to_micros(datetime(2025, 1, 1, tzinfo=UTC)) / 1e6 + int(since[i]) * 86400, UTC
            ),
        )
        for i in range(learners)
    ]
    return people, role_of


def build_table(
    framework: Framework,
    chosen: list[list[str]],
    role_of: np.ndarray,
    rows: int,
    rng: np.random.Generator,
) -> EvidenceTable:
    learners = len(role_of)
    keys = [c.key for c in framework.competencies]
    code = {key: i for i, key in enumerate(keys)}
    role_codes = np.array([[code[k] for k in picked] for picked in chosen])
    learner = rng.integers(0, learners, rows)
    competency = role_codes[role_of[learner], rng.integers(0, REQUIREMENTS, rows)]
    start = to_micros(datetime(2025, 1, 1, tzinfo=UTC))
    observed = start + rng.integers(0, 700 * 86400, rows) * 1_000_000
    return EvidenceTable.from_columns(
        ids=[f"ev-{n:08d}" for n in range(rows)],
        learners=[f"learner-{i:06d}" for i in range(learners)],
        learner=learner,
        competencies=keys,
        competency=competency,
        kind=np.where(
            np.arange(rows) % 2 == 0, KINDS.index("assessment"), KINDS.index("observation")
        ),
        score=np.clip(rng.normal(0.62, 0.2, rows), 0, 1).round(2),
        observed_at=observed,
    )


def timed(work):  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--evidence", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(16)
    framework = build_framework()
    profiles, chosen = build_profiles(rng)
    people, role_of = build_people(args.learners, rng)
    table = build_table(framework, chosen, role_of, args.evidence, rng)
    print(
        f"{len(table):,} evidence rows, {args.learners:,} learners in {TEAMS} teams, "
        f"{ROLES} roles x {REQUIREMENTS} requirements, {len(framework.competencies)} competencies"
    )
    evaluate_s, results = timed(lambda: evaluate(framework, table, as_of=AS_OF))
    print(f"evaluate: {evaluate_s:.2f} s, {len(results):,} results")
    first_s, timeline = timed(lambda: proficiency_timeline(framework, table, as_of=AS_OF))
    print(f"proficiency_timeline: {first_s:.2f} s, {len(timeline):,} changes")

    def gaps() -> dict[str, object]:
        analysis = analyse(
            framework,
            profiles,
            people,
            results,
            timeline,
            as_of=AS_OF,
            viewer=Viewer.parse("admin"),
        )
        return analysis.data(learners=200)

    gaps_s, data = timed(gaps)
    kpis: Any = data["kpis"]
    print(
        f"gaps + KPIs + report data: {gaps_s:.2f} s "
        f"({kpis['requirements']:,} requirement rows, {kpis['open_gaps']:,} open gaps, "
        f"coverage {kpis['coverage']})"
    )
    render_s, html = timed(lambda: render_html(data))
    size = len(html.encode())
    print(f"HTML for {args.learners:,} learners: {size / 1e6:.2f} MB, rendered in {render_s:.2f} s")
    print(
        f"RESULT gaps_s={gaps_s:.3f} evaluate_s={evaluate_s:.3f} ratio={gaps_s / evaluate_s:.2f} "
        f"first_proficient_s={first_s:.3f} first_ratio={first_s / evaluate_s:.2f} "
        f"html_mb={size / 1e6:.2f}"
    )


if __name__ == "__main__":
    main()
