"""Throughput of the rules engine against DuckDB computing the same aggregates.

    .venv/bin/python benchmarks/rules_bench.py [--rows 1000000] [--repeat 3]

Builds a 200-competency framework (20 domains with an all_children rule over 9 skills each)
on a 3-level scale, and about 1,000,000 evidence rows over about 100,000 (learner, skill)
pairs, each skill using latest, highest or average. Times ``rules.evaluate_table`` on an
EvidenceTable (results as columns: a ProficiencyTable, explanations made on demand), then
DuckDB's GROUP BY computing the same per-pair aggregate from the same rows (already loaded
into a DuckDB table; the query and fetching its result are timed), checks that both agree,
and prints rows/s for both and the ratio of engine time to DuckDB time. Also timed, and
checked to give the same results: making every Proficiency object of the table, and the
row engine on Evidence objects. Best of ``--repeat`` runs each. The last line is
machine-readable:

    RESULT engine_rows_per_s=<n> duckdb_rows_per_s=<n> ratio=<engine time / DuckDB time>
           objects_rows_per_s=<n> to_objects_s=<s>
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import duckdb
import numpy as np

from comp_adapters.core import Evidence, EvidenceKind, Framework, framework_from_data
from comp_adapters.rules import EvidenceTable, evaluate, evaluate_table
from comp_adapters.rules.columnar import KINDS

T = TypeVar("T")
METHODS = ("latest", "highest", "average")
DOMAINS, SKILLS_PER_DOMAIN = 20, 9
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


def build_framework() -> Framework:
    competencies: list[dict[str, object]] = []
    for d in range(DOMAINS):
        competencies.append(
            {"key": f"d{d}", "title": f"Domain {d}", "rollup": {"type": "all_children"}}
        )
        for s in range(SKILLS_PER_DOMAIN):
            index = d * SKILLS_PER_DOMAIN + s
            competencies.append(
                {
                    "key": f"d{d}.s{s}",
                    "title": f"Skill {d}.{s}",
                    "parent": f"d{d}",
                    "calculation_method": METHODS[index % len(METHODS)],
                }
            )
    return framework_from_data(
        {
            "key": "BENCH",
            "title": "Benchmark framework",
            "scale": {
                "levels": [
                    {"key": "novice", "name": "Novice", "points": 0},
                    {"key": "competent", "name": "Competent", "points": 2, "proficient": True},
                    {"key": "expert", "name": "Expert", "points": 4, "proficient": True},
                ],
                "default_level": "competent",
            },
            "competencies": competencies,
        }
    )


def build_rows(framework: Framework, rows: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Column arrays of the evidence: ~10 rows per (learner, skill) pair."""
    rng = random.Random(seed)
    skills = [c.key for c in framework.competencies if c.parent is not None]
    pairs = rows // 10
    learners = max(1, pairs // len(skills))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    learner_col, skill_col, id_col, t_col, score_col = [], [], [], [], []
    for n in range(rows):
        pair = n % (learners * len(skills))
        learner_col.append(f"learner-{pair // len(skills):06d}")
        skill_col.append(skills[pair % len(skills)])
        id_col.append(f"ev-{n:08d}")
        t_col.append(start + timedelta(seconds=rng.randrange(0, 300 * 86400)))
        score_col.append(rng.randrange(0, 101) / 100)
    return {
        "learner": np.array(learner_col),
        "competency": np.array(skill_col),
        "id": np.array(id_col),
        "observed_at": np.array([t.replace(tzinfo=None) for t in t_col], dtype="datetime64[us]"),
        "observed_obj": np.array(t_col, dtype=object),
        "score": np.array(score_col),
    }


def build_table(columns: dict[str, np.ndarray]) -> EvidenceTable:
    """The same rows as an EvidenceTable (columns; strings dictionary-encoded)."""
    learners, learner_codes = np.unique(columns["learner"], return_inverse=True)
    keys, key_codes = np.unique(columns["competency"], return_inverse=True)
    epoch = np.datetime64("1970-01-01T00:00:00", "us")
    return EvidenceTable.from_columns(
        ids=columns["id"].tolist(),
        learners=learners.tolist(),
        learner=learner_codes,
        competencies=keys.tolist(),
        competency=key_codes,
        kind=np.where(
            np.arange(len(columns["id"])) % 2 == 0,
            KINDS.index("assessment"),
            KINDS.index("observation"),
        ),  # as build_evidence below
        score=columns["score"],
        observed_at=(columns["observed_at"] - epoch).astype(np.int64),
    )


def build_evidence(columns: dict[str, np.ndarray]) -> list[Evidence]:
    kinds = [EvidenceKind.ASSESSMENT, EvidenceKind.OBSERVATION]
    return [
        Evidence.model_construct(
            id=str(i),
            learner=str(learner),
            competency=str(key),
            kind=kinds[n % 2],
            score=float(score),
            level=None,
            success=None,
            observed_at=observed,
            recorded_at=None,
            source_system=None,
            source_id=None,
            expires_at=None,
            voided=False,
        )
        for n, (i, learner, key, score, observed) in enumerate(
            zip(
                columns["id"],
                columns["learner"],
                columns["competency"],
                columns["score"],
                columns["observed_obj"],
                strict=True,
            )
        )
    ]


QUERY = """
SELECT e.learner, e.competency,
       CASE m.method
           WHEN 'latest' THEN arg_max(e.score * 4, (e.observed_at, e.id))
           WHEN 'highest' THEN max(e.score * 4)
           ELSE avg(e.score * 4)
       END AS score
FROM evidence e JOIN methods m USING (competency)
GROUP BY e.learner, e.competency, m.method
"""


def time_best(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    """Best wall time of ``repeat`` runs (these machines are noisy), and the last result."""
    best = float("inf")
    result = work()
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    framework = build_framework()
    columns = build_rows(framework, args.rows)
    evidence = build_evidence(columns)
    pairs = len({(e.learner, e.competency) for e in evidence})
    print(
        f"{len(evidence):,} evidence rows, {pairs:,} (learner, skill) pairs, "
        f"{len(framework.competencies)} competencies"
    )

    table = build_table(columns)
    engine_time, result_table = time_best(
        args.repeat, lambda: evaluate_table(framework, table, as_of=AS_OF)
    )
    to_objects_time, results = time_best(1, result_table.to_proficiencies)
    objects_time, object_results = time_best(
        args.repeat, lambda: evaluate(framework, evidence, as_of=AS_OF)
    )
    if object_results != results:
        raise SystemExit("the row engine and the columnar engine disagree")

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    evidence_table = {k: v for k, v in columns.items() if k != "observed_obj"}  # noqa: F841
    con.execute("CREATE TABLE evidence AS SELECT * FROM evidence_table")
    method_keys = [c.key for c in framework.competencies if c.calculation_method]
    methods_table = {  # noqa: F841 - read by DuckDB's replacement scan
        "competency": np.array(method_keys),
        "method": np.array([framework.method_for(k)[0].value for k in method_keys]),
    }
    con.execute("CREATE TABLE methods AS SELECT * FROM methods_table")
    duck_time, duck = time_best(args.repeat, lambda: con.execute(QUERY).fetchall())

    # Both must agree (the engine rounds half up to 2 decimals like Canvas).
    ours = {(p.learner, p.competency): p.score for p in results if p.method in METHODS}
    theirs = {(learner, key): float(score) for learner, key, score in duck}
    if not len(ours) == len(theirs) == pairs:
        raise SystemExit(f"result counts differ: {len(ours)} {len(theirs)} {pairs}")
    worst = max(abs((ours[key] or 0.0) - value) for key, value in theirs.items())
    if worst > 0.005 + 1e-9:
        raise SystemExit(f"engine and DuckDB disagree by {worst}")
    rollups = sum(1 for p in results if p.method.startswith("rule:"))

    engine_rate = len(evidence) / engine_time
    duck_rate = len(evidence) / duck_time
    print(
        f"engine (EvidenceTable -> ProficiencyTable): {engine_time:.3f} s, "
        f"{engine_rate:,.0f} rows/s "
        f"({len(results):,} results, {rollups:,} from rollups)"
    )
    print(f"ProficiencyTable -> {len(results):,} Proficiency objects: {to_objects_time:.3f} s")
    print(
        f"engine (Evidence objects): {objects_time:.3f} s, "
        f"{len(evidence) / objects_time:,.0f} rows/s, same results"
    )
    print(f"duckdb: {duck_time:.3f} s, {duck_rate:,.0f} rows/s (query + fetch as Python rows)")
    print(f"results agree within {worst:.4f} points")
    print(
        f"RESULT engine_rows_per_s={engine_rate:.0f} duckdb_rows_per_s={duck_rate:.0f} "
        f"ratio={engine_time / duck_time:.2f} "
        f"objects_rows_per_s={len(evidence) / objects_time:.0f} "
        f"to_objects_s={to_objects_time:.3f}"
    )


if __name__ == "__main__":
    main()
