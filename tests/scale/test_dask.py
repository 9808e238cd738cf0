"""comp_adapters.scale: Parquet partitions by learner, evaluated on Dask, identical results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from comp_adapters.cli.main import main
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence
from comp_adapters.rules import EvidenceTable, evaluate_table
from comp_adapters.scale import (
    evaluate_dataset,
    evaluate_dataset_here,
    read_evidence,
    read_results,
    write_evidence,
)
from comp_adapters.scale.dask_engine import local_client
from comp_adapters.scale.layout import evidence_partitions, partition_of, results_to_arrow
from tests.rules.test_columnar import BASE
from tests.rules.test_proficiency_table import NESTED, random_evidence
from tests.test_evidence_reader import table_rows

AS_OF = BASE + timedelta(days=3)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A real local Dask cluster: 2 worker processes, everything on 127.0.0.1."""
    with local_client(2) as client:
        yield client


def sorted_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {c.key: n for n, c in enumerate(NESTED.walk())}
    return sorted(rows, key=lambda r: (r["learner"], order[r["competency"]]))


def test_partitions_keep_each_learner_together(tmp_path: Path) -> None:
    evidence = random_evidence(3, learners=30, longest=6)
    table = EvidenceTable.from_evidence(evidence)
    assert write_evidence(table, tmp_path, partitions=4) == len(table)
    parts = evidence_partitions(tmp_path)
    assert 2 <= len(parts) <= 4
    seen: dict[str, str] = {}
    rows = 0
    for part in parts:
        piece = read_evidence(part)
        rows += len(piece)
        for learner in {piece.learners[c] for c in piece.learner.tolist()}:
            assert seen.setdefault(learner, part.name) == part.name
            assert part.name == f"part={int(partition_of([learner], 4)[0]):05d}"
    assert rows == len(table)
    # Partitions round-trip every field the engine reads.
    pieces = [row for part in parts for row in table_rows(read_evidence(part))]
    assert sorted(pieces, key=repr) == sorted(table_rows(table), key=repr)


def test_dask_results_equal_one_process(tmp_path: Path, cluster: Any) -> None:
    evidence = random_evidence(1, learners=60, longest=12)
    table = EvidenceTable.from_evidence(evidence)
    write_evidence(table, tmp_path, partitions=5)
    outcome = evaluate_dataset(NESTED, tmp_path, as_of=AS_OF, client=cluster, min_evidence=2)
    whole = evaluate_table(NESTED, table, as_of=AS_OF, min_evidence=2)
    assert outcome.rows == len(table)
    assert outcome.results == len(whole)
    assert outcome.used == whole.used
    assert outcome.skipped == whole.skipped
    assert outcome.peak_worker_mb > 0
    got = sorted_records(read_results(tmp_path).to_pylist())
    assert got == results_to_arrow(whole).to_pylist()
    assert got == [
        p.model_dump() | {"evidence_ids": list(p.evidence_ids), "children": list(p.children)}
        for p in whole
    ]
    # Evaluating in this process, partition by partition, writes the same files.
    here = tmp_path / "here"
    write_evidence(table, here, partitions=5)
    evaluate_dataset_here(NESTED, here, as_of=AS_OF, min_evidence=2)
    assert sorted_records(read_results(here).to_pylist()) == got


def test_results_are_parquet_files(tmp_path: Path, cluster: Any) -> None:
    write_evidence(EvidenceTable.from_evidence(random_evidence(2, 10, 3)), tmp_path, partitions=2)
    evaluate_dataset(NESTED, tmp_path, as_of=AS_OF, client=cluster)
    files = sorted((tmp_path / "results").glob("*.parquet"))
    assert [f.name for f in files] == [f"{p.name}.parquet" for p in evidence_partitions(tmp_path)]
    assert pq.read_schema(files[0]).names[:3] == ["learner", "competency", "score"]


def test_compute_engine_dask_matches_local(
    capsys: pytest.CaptureFixture[str], cluster: Any
) -> None:
    """compute --engine dask --scheduler ADDRESS gives the local engine's JSON, byte for byte."""
    argv = ["compute", "--as-of", "2026-11-01T00:00:00Z", "--json", "--quiet"]
    assert main(argv) == 0
    local = capsys.readouterr().out
    assert main([*argv, "--engine", "dask", "--scheduler", cluster.scheduler.address]) == 0
    assert capsys.readouterr().out == local
    assert json.loads(local)["proficiencies"]


def test_unreachable_scheduler_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["compute", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    assert code == 2
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in capsys.readouterr().err


def test_example_round_trips_through_parquet(tmp_path: Path) -> None:
    evidence = list(iter_evidence(example_dir() / "evidence.jsonl"))
    table = EvidenceTable.from_evidence(evidence)
    write_evidence(table, tmp_path, partitions=3)
    rows = sum(len(read_evidence(p)) for p in evidence_partitions(tmp_path))
    assert rows == len(evidence)
