"""The sync engine with ``[compute] engine = "dask"`` against ``engine = "local"``, in one process.

    .venv/bin/python benchmarks/dask_sync_bench.py [--learners 2000] [--evidence-per-learner 50]

The project of ``benchmarks/sync_bench.py`` (50 competencies, one evidence file, a
results-file target, a SQLite store) twice: once computed in this process from the store,
once from the Parquet dataset on a two-worker ``LocalCluster`` (started once, its address in
the project file, so cluster start-up is not timed). Each engine gets a full first
``sync run``, then 1% new evidence and an incremental run; every stored result of the two
is compared field by field.

The last line is machine-readable:

    RESULT local_full_s=<t> dask_full_s=<t> local_incremental_s=<t> dask_incremental_s=<t>
           full_ratio=<dask/local> incremental_ratio=<dask/local> identical=<0|1>
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from comp_adapters.project import load_project
from comp_adapters.scale.dask_engine import local_client
from comp_adapters.store import open_store
from sync_bench import PROJECT, evidence_lines, framework, sync  # beside this script


def stored(project: Path) -> dict[tuple[str, str], dict[str, Any]]:
    with open_store(load_project(project).store_url) as store:
        return {
            (r.result.learner, r.result.competency): r.result.model_dump()
            for r in store.latest_proficiency("BENCH")
        }


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--evidence-per-learner", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    total = args.learners * args.evidence_per_learner
    new = evidence_lines(rng, args.learners, max(total // 100, 1), "n")
    with tempfile.TemporaryDirectory(prefix="dask-sync-bench-") as folder, local_client(2) as dask:
        root = Path(folder)
        local = root / "local"
        local.mkdir()
        (local / "framework.json").write_text(json.dumps(framework()))
        (local / "comp-adapters.toml").write_text(PROJECT)
        (local / "evidence.jsonl").write_bytes(evidence_lines(rng, args.learners, total, "e"))
        remote = root / "dask"
        shutil.copytree(local, remote)
        (remote / "comp-adapters.toml").write_text(
            PROJECT
            + f'\n[compute]\nengine = "dask"\nscheduler = "{dask.scheduler.address}"\n'
            + f"partitions = {args.partitions}\n"
        )
        print(f"{args.learners} learners x 50 competencies, {total} evidence", flush=True)
        times: dict[str, float] = {}
        for name, folder_ in (("local", local), ("dask", remote)):
            project = folder_ / "comp-adapters.toml"
            times[f"{name}_full_s"], full = sync(project)
            with (folder_ / "evidence.jsonl").open("ab") as handle:
                handle.write(new)
            times[f"{name}_incremental_s"], incremental = sync(project)
            print(
                f"{name}: full {times[f'{name}_full_s']:.1f} s "
                f"({full['compute']['computed']} results), incremental "
                f"{times[f'{name}_incremental_s']:.1f} s "
                f"({incremental['compute']['mode']}, {incremental['compute']['changed']} "
                "changed)",
                flush=True,
            )
        identical = int(
            stored(local / "comp-adapters.toml") == stored(remote / "comp-adapters.toml")
        )
    full_ratio = times["dask_full_s"] / times["local_full_s"]
    incremental_ratio = times["dask_incremental_s"] / times["local_incremental_s"]
    print(
        "RESULT "
        + " ".join(f"{key}={value:.2f}" for key, value in times.items())
        + f" full_ratio={full_ratio:.2f} incremental_ratio={incremental_ratio:.2f}"
        + f" identical={identical}"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main_bench())
