"""``[compute] engine = "dask"``: the sync engine ingests into the Parquet layout and
computes from it on a real two-worker Dask cluster, with the local engine's results."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from comp_adapters.cli.main import main
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, ValidationError
from comp_adapters.native import load_framework
from comp_adapters.project import load_project
from comp_adapters.scale import ledger_dataset
from comp_adapters.scale.dask_engine import local_client
from comp_adapters.scale.layout import partition_of
from comp_adapters.scale.ledger_dataset import LedgerDataset, read_live
from comp_adapters.store import Store, open_store
from comp_adapters.store.ingest import IngestBatch
from comp_adapters.sync import dataset_compute
from comp_adapters.sync.dataset_compute import DatasetCompute, dataset_folder
from tests.test_evidence_reader import table_rows

AS_OF = "2026-06-01T00:00:00Z"
PARTITIONS = 4
Pair = tuple[str, str]


class Killed(BaseException):
    """The process dying at this point (not an error any handler catches)."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A real local Dask cluster: 2 worker processes, everything on 127.0.0.1."""
    with local_client(2) as client:
        yield client


@pytest.fixture
def twins(project: Path, cluster: Any) -> tuple[Path, Path]:
    """The example project twice: engine local, and engine dask on ``cluster``."""
    folder = project.parent.parent / "dask-copy"
    shutil.copytree(project.parent, folder)
    dask = folder / "comp-adapters.toml"
    dask.write_text(
        dask.read_text().replace(
            "[compute]\n",
            f'[compute]\nengine = "dask"\nscheduler = "{cluster.scheduler.address}"\n'
            f"partitions = {PARTITIONS}\n",
        )
    )
    return project, dask


def run(project: Path, *more: str) -> int:
    return main(["sync", "run", "--project", str(project), "--quiet", "--as-of", AS_OF, *more])


def run_json(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert run(project, "--json") == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def stored_results(project: Path) -> dict[Pair, Proficiency]:
    key = load_framework(project.parent / "framework.json").key
    with open_store(load_project(project).store_url) as store:
        return {
            (r.result.learner, r.result.competency): r.result for r in store.latest_proficiency(key)
        }


def assert_same_results(local: Path, dask: Path) -> None:
    """Field by field, every current result of the two stores."""
    mine, theirs = stored_results(local), stored_results(dask)
    assert mine
    assert sorted(mine) == sorted(theirs)
    for pair, result in mine.items():
        assert theirs[pair].model_dump() == result.model_dump(), pair
    out = "out/proficiency.json"
    assert (local.parent / out).read_bytes() == (dask.parent / out).read_bytes()


def dataset_of(project: Path) -> LedgerDataset:
    return LedgerDataset(dataset_folder(load_project(project)), partitions=PARTITIONS)


def assert_dataset_is_the_ledger(project: Path) -> None:
    """The live rows the dataset's readers see are exactly the store's live evidence."""
    dataset = dataset_of(project)
    units = dataset.committed()
    rows = [row for p in dataset.partition_paths() for row in table_rows(read_live(p, units, None))]
    with open_store(load_project(project).store_url) as store:
        expected = table_rows(store.evidence_table())
    assert sorted(rows, key=repr) == sorted(expected, key=repr)


def append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        handle.writelines(line + "\n" for line in lines)


def test_the_dask_engine_computes_the_local_engines_results(
    twins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, dask = twins
    assert run(local) == 0
    with monkeypatch.context() as patch:

        def no_store_reads(*_: object, **__: object) -> None:
            raise AssertionError("engine = dask read evidence from the store")

        patch.setattr(Store, "evidence_table", no_store_reads)
        assert run(dask) == 0
    assert_same_results(local, dask)
    dataset = dataset_of(dask)
    assert dataset.committed()  # every committed batch landed in the layout
    assert len(dataset.partition_paths()) > 1
    assert not list((dataset.root / "results").glob("run=*"))  # a run's results are removed
    assert_dataset_is_the_ledger(dask)


def test_new_replaced_moved_and_withdrawn_evidence_recompute_incrementally(
    twins: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    local, dask = twins
    assert run(local) == 0
    assert run(dask) == 0
    capsys.readouterr()
    # cs-0010 (amara.okafor) arrives again, recorded later, about a learner of another
    # partition: it moves there. cs-0046 arrives voided; an xAPI statement is voided.
    mover = next(
        learner
        for learner in ("elif.kaya", "farah.haddad", "ben.schulz", "chloe.martin", "dev.patel")
        if partition_of([learner], PARTITIONS)[0] != partition_of(["amara.okafor"], PARTITIONS)[0]
    )
    new = (
        '{"id": "new-1", "learner": "amara.okafor", "competency": "comm.written", '
        '"kind": "observation", "level": "beginning", "observed_at": "2026-05-30T09:00:00Z"}'
    )
    moved = (
        f'{{"id": "cs-0010", "learner": "{mover}", "competency": "product.integrations", '
        '"kind": "project_artifact", "score": 0.9, "observed_at": "2026-01-08T14:55:00Z", '
        '"recorded_at": "2026-05-01T00:00:00Z"}'
    )
    voided = (
        '{"id": "cs-0046", "learner": "ben.schulz", "competency": "ts.escalation", '
        '"kind": "observation", "level": "developing", "observed_at": "2026-01-08T11:39:00Z", '
        '"recorded_at": "2026-01-08T21:34:00Z", "voided": true}'
    )
    lines = (new, moved, voided)
    void = (
        '{"id":"5d1c6a7e-2f3b-4c8d-9e0f-000000000099","actor":{"objectType":"Agent",'
        '"account":{"homePage":"https://lms.example.com","name":"lms-admin"}},'
        '"verb":{"id":"http://adlnet.gov/expapi/verbs/voided","display":{"en-US":"voided"}},'
        '"object":{"objectType":"StatementRef","id":"5d1c6a7e-2f3b-4c8d-9e0f-000000000001"},'
        '"timestamp":"2026-05-07T08:00:00Z","stored":"2026-05-07T08:00:01Z"}'
    )
    for project in (local, dask):
        append(project.parent / "evidence.jsonl", *lines)
        append(project.parent / "xapi-statements.jsonl", void)
    mine, theirs = run_json(local, capsys), run_json(dask, capsys)
    assert mine["sources"]["lms-xapi"]["withdrawn"] == 1
    assert mine["compute"]["mode"] == theirs["compute"]["mode"] == "incremental"
    for field in ("pairs_read", "computed", "cleared", "changed"):
        assert mine["compute"][field] == theirs["compute"][field], field
    assert mine["compute"]["changed"] > 0
    assert mine["writes"] == theirs["writes"]
    assert_same_results(local, dask)
    results = stored_results(dask)
    assert not any("cs-0046" in r.evidence_ids for r in results.values())
    assert any("cs-0010" in r.evidence_ids for (who, _), r in results.items() if who == mover)
    assert not any(
        "cs-0010" in r.evidence_ids for (who, _), r in results.items() if who == "amara.okafor"
    )
    assert_dataset_is_the_ledger(dask)
    # Nothing new: no unit written, nothing changes.
    units = dataset_of(dask).committed()
    assert run_json(dask, capsys)["writes"] == 0
    assert dataset_of(dask).committed() == units


def test_killed_inside_the_ingest_transaction_writes_nothing_to_the_dataset(
    twins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, dask = twins

    def killed(*_: object, **__: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(IngestBatch, "set_cursor", killed)
        with pytest.raises(Killed):
            run(dask)
    dataset = dataset_of(dask)
    assert dataset.committed() == []
    assert dataset.partition_paths() == []
    assert run(local) == 0
    assert run(dask) == 0  # the batch is read again, committed, then copied: once
    assert_same_results(local, dask)
    assert_dataset_is_the_ledger(dask)


def test_killed_after_the_commit_before_the_copy_catches_up(
    twins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, dask = twins
    real = DatasetCompute.catch_up
    calls: list[int] = []

    def killed_after_the_first_batch(self: DatasetCompute) -> Any:
        calls.append(1)
        if len(calls) > 1:  # the check before reading passes; the copy of a batch dies
            raise Killed
        return real(self)

    with monkeypatch.context() as patch:
        patch.setattr(DatasetCompute, "catch_up", killed_after_the_first_batch)
        with pytest.raises(Killed):
            run(dask)
    with open_store(load_project(dask).store_url) as store:
        assert store.last_ingest_id() >= 1  # the first batch committed
    assert dataset_of(dask).committed() == []
    assert run(local) == 0
    assert run(dask) == 0
    assert_same_results(local, dask)
    assert_dataset_is_the_ledger(dask)


def test_killed_during_the_copy_leaves_an_orphan_that_counts_for_nothing(
    twins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, dask = twins
    real = ledger_dataset._write_atomically

    def killed_at_the_marker(path: Path, text: str) -> None:
        if path.parent.name == ledger_dataset.EXPORTS:
            raise Killed
        real(path, text)

    with monkeypatch.context() as patch:
        patch.setattr(ledger_dataset, "_write_atomically", killed_at_the_marker)
        with pytest.raises(Killed):
            run(dask)
    dataset = dataset_of(dask)
    assert dataset.committed() == []
    assert dataset.partition_paths()  # the unit's files were written, its marker not
    assert run(local) == 0
    assert run(dask) == 0
    assert_same_results(local, dask)
    # An unmarked unit under another name (a copy of every file) is ignored by readers.
    for folder in dataset.partition_paths():
        for path in list(folder.glob("u*.parquet")):
            shutil.copy(path, folder / f"{ledger_dataset.unit_name(0, 999)}.parquet")
    assert_dataset_is_the_ledger(dask)
    committed = set(dataset.committed())

    def unmarked() -> int:
        files = [f for p in dataset.partition_paths() for f in p.glob("u*.parquet")]
        return sum(1 for f in files if ledger_dataset.unit_of(f) not in committed)

    orphans = unmarked()
    assert orphans >= len(dataset.partition_paths())
    assert dataset.remove_orphans() == 0  # young: may be another worker's export
    assert dataset.remove_orphans(older_than=-1) == orphans
    assert unmarked() == 0
    assert_dataset_is_the_ledger(dask)


def test_a_dataset_of_another_partition_count_or_store_is_refused(
    twins: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, dask = twins
    assert run(dask) == 0
    project = load_project(dask)
    with open_store(project.store_url) as store:
        other = DatasetCompute(store, dataset_folder(project), partitions=3, scheduler=None)
        with pytest.raises(ConfigurationError, match="the dataset has 4 partitions"):
            other.catch_up()
    # A new store (the old one removed) reaches the same ingest numbers: still refused.
    (dask.parent / ".comp-adapters" / "state.db").unlink()
    capsys.readouterr()
    assert run(dask) == 2
    assert "is not a copy of this store's evidence" in capsys.readouterr().err
    with open_store(project.store_url) as store:
        assert store.evidence_count() == 0  # refused before anything was read
    shutil.rmtree(dataset_folder(project))
    assert run(dask) == 0  # written again from this store
    assert_dataset_is_the_ledger(dask)


def test_engine_dask_without_the_scale_extra_names_it(
    twins: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, dask = twins
    monkeypatch.setattr(dataset_compute, "_NEEDED", ("distributed", "no_such_module_here"))
    capsys.readouterr()
    assert run(dask) == 2
    err = capsys.readouterr().err
    assert "needs the scale extra (no_such_module_here not installed)" in err
    assert "pip install 'comp-adapters[scale]'" in err


@pytest.mark.parametrize(
    ("compute", "key", "message"),
    [
        ('engine = "spark"', "engine", "'local' or 'dask'"),
        ('engine = "dask"\npartitions = 0', "partitions", "greater than or equal to 1"),
        ('engine = "dask"\npartitions = "many"', "partitions", "valid integer"),
        ('scheduler = "tcp://127.0.0.1:8786"', None, 'scheduler needs engine = "dask"'),
    ],
)
def test_bad_compute_settings_are_located(
    project: Path, compute: str, key: str | None, message: str
) -> None:
    text = project.read_text().replace("[compute]\n", f"[compute]\n{compute}\n")
    project.write_text(text)
    lines = text.splitlines()
    header = lines.index("[compute]") + 1
    line = (
        header
        if key is None
        else header
        + next(n for n, found in enumerate(lines[header:], start=1) if found.startswith(f"{key} ="))
    )
    with pytest.raises(ValidationError) as caught:
        load_project(project)
    (problem,) = caught.value.problems
    assert problem.line == line
    assert str(problem).startswith(f"{project}:{line}: [compute]")
    assert message in str(problem)


def test_the_dataset_defaults_next_to_the_store(project: Path) -> None:
    loaded = load_project(project)
    assert loaded.compute.partitions == 16
    assert dataset_folder(loaded) == project.parent.resolve() / ".comp-adapters/evidence-dataset"
    assert DatasetCompute.for_project(loaded, store=None) is None  # type: ignore[arg-type]


def test_without_a_scheduler_a_local_cluster_is_started_for_the_run(project: Path) -> None:
    folder = project.parent.parent / "own-cluster"
    shutil.copytree(project.parent, folder)
    dask = folder / "comp-adapters.toml"
    dask.write_text(dask.read_text().replace("[compute]\n", '[compute]\nengine = "dask"\n'))
    assert run(project) == 0
    assert run(dask) == 0
    assert_same_results(project, dask)
    assert len(LedgerDataset(dataset_folder(load_project(dask)), partitions=16).committed()) >= 1
