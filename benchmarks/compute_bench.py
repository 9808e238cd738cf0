"""``comp-adapters compute`` on a large evidence file, against ``orjson.loads`` of its lines.

    .venv/bin/python benchmarks/compute_bench.py [--lines 1000000] [--repeat 3] [--json]

Writes the rules benchmark's framework (200 competencies, 20 all_children rollups) and
``--lines`` evidence lines over about 100,000 (learner, skill) pairs to a temporary folder,
then, ``--repeat`` times, interleaved (a busy machine slows both alike):

- runs ``comp-adapters compute --framework F --evidence E --as-of ... --quiet`` as a child
  process (its table to /dev/null; ``--json`` for the JSON output instead), timing it from
  start to exit and reading its peak RSS with ``getrusage(RUSAGE_CHILDREN)`` (the largest
  of the processes: compute and the workers reading the file on the other cores);
- runs the same with ``--jobs 1`` (the file read in one process), reported beside;
- times, in this process, reading the same file line by line and ``orjson.loads`` of every
  line: the least any reader of the file must do.

Prints best and median of each; the last line (best times) is machine-readable:

    RESULT compute_s=<t> orjson_s=<t> ratio=<t/t> peak_rss_mb=<n>

Targets (issue 17, item 2): ratio <= 3, peak RSS < 400 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from comp_adapters.native import dump_framework
from rules_bench import AS_OF, build_framework

KINDS = ("assessment", "observation", "course_completion")


def write_evidence(path: Path, lines: int, seed: int = 7) -> None:
    """~10 lines per (learner, skill) pair, as a source system would write them."""
    framework = build_framework()
    skills = [c.key for c in framework.competencies if c.parent is not None]
    rng = random.Random(seed)
    pairs = max(1, lines // 10)
    with path.open("wb") as handle:
        for n in range(lines):
            pair = n % pairs
            record = {
                "id": f"ev-{n:08d}",
                "learner": f"learner-{pair // len(skills):06d}",
                "competency": skills[pair % len(skills)],
                "kind": KINDS[n % len(KINDS)],
                "score": rng.randrange(0, 101) / 100,
                "observed_at": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
                f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
                "source_system": "lms",
            }
            handle.write(orjson.dumps(record) + b"\n")


def run_compute(
    framework: Path, evidence: Path, *, as_json: bool, jobs: int | None = None
) -> float:
    command = [
        str(Path(sys.executable).with_name("comp-adapters")),
        "compute",
        "--framework",
        str(framework),
        "--evidence",
        str(evidence),
        "--as-of",
        AS_OF.isoformat(),
        "--quiet",
        *(["--json"] if as_json else []),
        *([] if jobs is None else ["--jobs", str(jobs)]),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_orjson(evidence: Path) -> float:
    loads = orjson.loads
    start = time.perf_counter()
    with evidence.open("rb") as handle:
        for line in handle:
            loads(line)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="time compute --json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        framework = Path(folder) / "framework.json"
        evidence = Path(folder) / "evidence.jsonl"
        dump_framework(build_framework(), framework)
        write_evidence(evidence, args.lines)
        size = evidence.stat().st_size / 1e6
        print(f"{args.lines:,} evidence lines ({size:,.0f} MB)")
        computes, parses, singles = [], [], []
        for _ in range(args.repeat):
            computes.append(run_compute(framework, evidence, as_json=args.json))
            parses.append(run_orjson(evidence))
            singles.append(run_compute(framework, evidence, as_json=args.json, jobs=1))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    output = "--json" if args.json else "table"
    cores = len(os.sched_getaffinity(0))
    for name, times in (
        (f"compute ({output}, {cores} usable cores)", computes),
        (f"compute ({output}, --jobs 1)", singles),
        ("orjson.loads per line", parses),
    ):
        print(f"{name}: best {min(times):.2f} s, median {statistics.median(times):.2f} s")
    print(
        f"ratio: best {min(computes) / min(parses):.2f}, median "
        f"{statistics.median(computes) / statistics.median(parses):.2f}; peak RSS {peak_mb:.0f} MB"
    )
    print(f"one process: ratio {min(singles) / min(parses):.2f} (best times)")
    print(
        f"RESULT compute_s={min(computes):.2f} orjson_s={min(parses):.2f} "
        f"ratio={min(computes) / min(parses):.2f} peak_rss_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
