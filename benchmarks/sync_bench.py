"""What a re-sync costs after new evidence, against the full first sync, in one process.

    .venv/bin/python benchmarks/sync_bench.py [--learners 10000] [--evidence-per-learner 100]

Makes a project in a temporary folder: a framework of 50 competencies (10 domains, each a
parent with an all_children rule over 4 leaves), one evidence file of ``--learners`` x
``--evidence-per-learner`` records (1,000,000 by default) on random leaves, a results-file
target and a SQLite store. Then, each timed as a whole ``comp-adapters sync run`` (read the
framework, ingest, compute, record history, plan, apply):

1. the full first run (every record ingested, every pair computed);
2. 1% new evidence appended to the file, and a run: only the touched (learner, competency)
   trees are read back and recomputed;
3. a run with nothing new: its writes must be 0.

The last line is machine-readable:

    RESULT full_s=<t> incremental_s=<t> ratio=<incremental/full> resync_writes=<n>
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from comp_adapters.cli.main import main

DOMAINS, LEAVES = 10, 4
START = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = "2026-06-01T00:00:00Z"
KINDS = ("assessment", "observation", "lms_rating", "project_artifact")
LEVELS = ("beginning", "developing", "proficient", "expert")


def framework() -> dict[str, Any]:
    competencies: list[dict[str, Any]] = []
    for d in range(DOMAINS):
        competencies.append(
            {"key": f"d{d}", "title": f"Domain {d}", "rollup": {"type": "all_children"}}
        )
        competencies.extend(
            {"key": f"d{d}.s{s}", "title": f"Skill {d}.{s}", "parent": f"d{d}"}
            for s in range(LEAVES)
        )
    return {
        "format": "comp-adapters/framework@1",
        "key": "BENCH",
        "title": "Benchmark framework",
        "scale": {
            "key": "four",
            "name": "Four levels",
            "levels": [
                {"key": key, "name": key.title(), "points": i + 1, "proficient": i >= 2}
                for i, key in enumerate(LEVELS)
            ],
            "default_level": "proficient",
            "mastery_points": 3,
        },
        "calculation_method": "latest",
        "competencies": competencies,
    }


def evidence_lines(rng: random.Random, learners: int, count: int, prefix: str) -> bytes:
    out = bytearray()
    for i in range(count):
        learner = f"learner-{rng.randrange(learners):05d}"
        observed = START + timedelta(minutes=rng.randrange(500 * 24 * 60))
        record: dict[str, Any] = {
            "id": f"{prefix}-{i}",
            "learner": learner,
            "competency": f"d{rng.randrange(DOMAINS)}.s{rng.randrange(LEAVES)}",
            "kind": KINDS[i % len(KINDS)],
            "observed_at": observed.isoformat().replace("+00:00", "Z"),
        }
        if i % 2:
            record["level"] = LEVELS[rng.randrange(len(LEVELS))]
        else:
            record["score"] = float(rng.randrange(1, 5))
        out += orjson.dumps(record)
        out += b"\n"
    return bytes(out)


PROJECT = """\
[framework]
file = "framework.json"

[[evidence]]
name = "bench"
system = "evidence-file"
path = "evidence.jsonl"

[[target]]
name = "results"
system = "results-file"
receives = ["proficiency"]
path = "out/results.json"
"""


def sync(project: Path) -> tuple[float, dict[str, Any]]:
    """One ``sync run`` as the CLI does it; its time and JSON summary."""
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(
            ["sync", "run", "--project", str(project), "--quiet", "--json", "--as-of", AS_OF]
        )
    elapsed = time.perf_counter() - started
    summary: dict[str, Any] = json.loads(out.getvalue())
    if code != 0:
        sys.exit(f"sync run failed ({code}): {summary}")
    return elapsed, summary


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--evidence-per-learner", type=int, default=100)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    total = args.learners * args.evidence_per_learner
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as folder:
        root = Path(folder)
        (root / "framework.json").write_text(json.dumps(framework()))
        (root / "comp-adapters.toml").write_text(PROJECT)
        evidence = root / "evidence.jsonl"
        evidence.write_bytes(evidence_lines(rng, args.learners, total, "e"))
        project = root / "comp-adapters.toml"
        print(f"{args.learners} learners x 50 competencies, {total} evidence", flush=True)

        full_s, full = sync(project)
        print(
            f"full run: {full_s:.1f} s ({full['compute']['computed']} results, "
            f"{full['writes']} write(s))",
            flush=True,
        )
        new = max(total // 100, 1)
        with evidence.open("ab") as handle:
            handle.write(evidence_lines(rng, args.learners, new, "n"))
        incremental_s, incremental = sync(project)
        compute = incremental["compute"]
        print(
            f"after {new} new evidence (1%): {incremental_s:.1f} s, {compute['mode']} compute "
            f"of {compute['pairs_read']} pair(s), {compute['changed']} result(s) changed, "
            f"{incremental['writes']} write(s)",
            flush=True,
        )
        resync_s, resync = sync(project)
        print(f"nothing new: {resync_s:.1f} s, {resync['writes']} write(s)", flush=True)
        ratio = incremental_s / full_s
        print(
            f"RESULT full_s={full_s:.2f} incremental_s={incremental_s:.2f} ratio={ratio:.3f} "
            f"resync_writes={resync['writes']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
