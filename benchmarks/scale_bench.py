"""Evaluation past one process: a partitioned Parquet dataset, 1 process vs 2 Dask workers.

    .venv/bin/python benchmarks/scale_bench.py [--rows 20000000] [--partitions 16]

Writes ``--rows`` evidence rows (the rules benchmark's framework: 180 skills in 20 domains
with all_children rollups; ~10 rows per (learner, skill) pair) to a temporary dataset
partitioned by a hash of the learner, then evaluates it twice, each partition read from
Parquet, evaluated by the columnar engine and its results (explanations included) written
as Parquet:

- in this process, partition after partition (``evaluate_dataset_here``);
- on a ``LocalCluster`` of 2 worker processes (1 thread each) on 127.0.0.1
  (``evaluate_dataset``), timing from submission to the last result written.

Checks that both wrote the same results, and prints rows/s of each and the peak resident
memory of each worker (reported by the workers themselves). The last line:

    RESULT single_rows_per_s=<n> dask_rows_per_s=<n> speedup=<x> peak_worker_mb=<n>
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from comp_adapters.rules import EvidenceTable
from comp_adapters.rules.columnar import KINDS
from comp_adapters.scale import evaluate_dataset, evaluate_dataset_here, write_evidence
from comp_adapters.scale.dask_engine import _peak_mb, local_client
from comp_adapters.scale.layout import RESULTS, partition_of
from rules_bench import AS_OF, build_framework

ROWS_PER_PAIR = 10


def write_dataset(root: Path, rows: int, partitions: int, seed: int = 7) -> int:
    """The evidence, generated partition by partition (never all in memory)."""
    framework = build_framework()
    skills = [c.key for c in framework.competencies if c.parent is not None]
    per_learner = len(skills) * ROWS_PER_PAIR
    learners = [f"learner-{n:07d}" for n in range(max(1, rows // per_learner))]
    part = partition_of(learners, partitions)
    rng = np.random.default_rng(seed)
    start = int(np.datetime64("2026-01-01T00:00:00", "us").astype(np.int64))
    written = 0
    for number in range(partitions):
        mine = [learners[i] for i in np.flatnonzero(part == number).tolist()]
        if not mine:
            continue
        n = len(mine) * per_learner
        learner = np.repeat(np.arange(len(mine)), per_learner)
        competency = np.tile(np.repeat(np.arange(len(skills)), ROWS_PER_PAIR), len(mine))
        table = EvidenceTable.from_columns(
            ids=[f"ev-{number:03d}-{i:09d}" for i in range(n)],
            learners=mine,
            learner=learner,
            competencies=skills,
            competency=competency,
            kind=np.where(np.arange(n) % 2 == 0, KINDS.index("assessment"), KINDS.index("other")),
            score=rng.integers(0, 101, n) / 100,
            observed_at=start + rng.integers(0, 300 * 86400, n) * 1_000_000,
        )
        written += write_evidence(table, root, partitions=partitions)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--partitions", type=int, default=16)
    args = parser.parse_args()
    framework = build_framework()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        start = time.perf_counter()
        rows = write_dataset(root, args.rows, args.partitions)
        size = sum(f.stat().st_size for f in root.rglob("*.parquet")) / 1e6
        print(
            f"{rows:,} evidence rows in {args.partitions} partitions ({size:,.0f} MB Parquet), "
            f"written in {time.perf_counter() - start:.1f} s"
        )

        start = time.perf_counter()
        single = evaluate_dataset_here(framework, root, as_of=AS_OF)
        single_s = time.perf_counter() - start
        single_peak = _peak_mb()
        reference = {f.name: pq.read_table(f) for f in (root / RESULTS).glob("*.parquet")}
        shutil.rmtree(root / RESULTS)
        print(
            f"1 process: {single_s:.1f} s, {rows / single_s:,.0f} rows/s, "
            f"{single.results:,} results, peak RSS {single_peak:,.0f} MB (incl. the generator)"
        )

        with local_client(2) as client:
            # Workers up, and the engine imported, before the clock starts.
            client.run(importlib.import_module, "comp_adapters.scale.dask_engine")
            start = time.perf_counter()
            spread = evaluate_dataset(framework, root, as_of=AS_OF, client=client)
            dask_s = time.perf_counter() - start
        again = {f.name: pq.read_table(f) for f in (root / RESULTS).glob("*.parquet")}
        if again.keys() != reference.keys() or any(
            not again[name].equals(reference[name]) for name in reference
        ):
            raise SystemExit("Dask and the single process wrote different results")
        print(
            f"2 Dask workers: {dask_s:.1f} s, {rows / dask_s:,.0f} rows/s, same results; "
            f"peak RSS per worker {spread.peak_worker_mb:,.0f} MB"
        )
    print(
        f"RESULT single_rows_per_s={rows / single_s:.0f} dask_rows_per_s={rows / dask_s:.0f} "
        f"speedup={single_s / dask_s:.2f} peak_worker_mb={spread.peak_worker_mb:.0f}"
    )


if __name__ == "__main__":
    main()
