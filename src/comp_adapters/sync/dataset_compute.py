"""The sync engine's compute on the Parquet layout and Dask (``[compute] engine = "dask"``).

The store stays the system of record: cursors, runs, the evidence ledger, proficiency
history, journal and audit. Beside it the engine keeps a Parquet dataset
(:mod:`comp_adapters.scale.ledger_dataset`, partitioned by a hash of the learner like
:mod:`comp_adapters.scale.layout`) that is a copy of the ledger, caught up after every
ingest batch commits and again before every compute:

- **Crash safety.** Rows are copied from the ledger only after their ingest transaction
  committed, in units named after the ingests they cover, each unit's commit marker written
  after its files. A run killed before the store commits leaves nothing in the dataset (the
  cursor did not move, the batch is read and committed again, then copied); one killed
  after the commit but before the copy is caught up by the next export (the dataset knows
  the last ingest it holds: the highest committed unit); one killed during the copy leaves
  an unmarked unit that readers ignore (and a later compute removes once an hour old).
- **Same semantics as the store.** The ledger has applied every rule already (a copy
  recorded later replaces, a void sticks, withdrawals and their tombstones), so each row is
  copied as the ledger holds it, with the ingest that last changed it; a reader keeps per
  evidence id the row of the latest ingest and drops voided ones. Rebuilding replace and
  withdraw semantics on append-only batches as the sources send them would duplicate the
  store's rules (and their edge cases: copies arriving out of order, tombstones waiting for
  their target); copying their outcome does not.
- **Incremental.** The pairs to recompute are chosen exactly as the local engine chooses
  them (:meth:`~comp_adapters.sync.engine.SyncEngine.compute`); only the partitions holding
  their learners are evaluated, only those learners' rows are read there, and only the
  wanted pairs' results are kept, so the results are identical to the local engine's.

Workers read the dataset's folder and write results there: the same machine, or storage
every worker mounts (docs/scaling.md).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError
from comp_adapters.project.loading import Project
from comp_adapters.store import Store

if TYPE_CHECKING:
    from comp_adapters.scale.ledger_dataset import ExportOutcome, LedgerDataset

SCALE_EXTRA = "pip install 'comp-adapters[scale]'"
_NEEDED = ("numpy", "pyarrow", "distributed")
Pair = tuple[str, str]


def missing_scale_modules() -> list[str]:
    """The modules of the ``scale`` extra that cannot be imported here."""
    return [name for name in _NEEDED if importlib.util.find_spec(name) is None]


def dataset_folder(project: Project) -> Path:
    """``[compute] dataset``, relative to the project file's folder."""
    given = Path(project.compute.dataset)
    return given if given.is_absolute() else project.path.resolve().parent / given


class DatasetCompute:
    """The dataset of one project's store, kept up to date and evaluated on Dask."""

    def __init__(
        self,
        store: Store,
        root: Path,
        *,
        partitions: int,
        scheduler: str | None,
        workers: int = 2,
        client: Any = None,
    ) -> None:
        missing = missing_scale_modules()
        if missing:
            raise ConfigurationError(
                '[compute] engine = "dask" needs the scale extra '
                f"({', '.join(missing)} not installed): {SCALE_EXTRA}"
            )
        from comp_adapters.scale.ledger_dataset import LedgerDataset  # noqa: PLC0415

        self.store = store
        self.dataset: LedgerDataset = LedgerDataset(root, partitions=partitions)
        self.scheduler = scheduler
        self.workers = workers
        self.client = client
        self._after: int | None = None
        """The ingest this engine's dataset is known to hold every change up to (checked
        against the store once, then moved by this engine's own exports: one of another
        worker meanwhile only makes the next unit overlap it, which readers allow)."""

    @classmethod
    def for_project(cls, project: Project, store: Store) -> DatasetCompute | None:
        """The project's dataset compute, or ``None`` when its engine is ``local``."""
        settings = project.compute
        if settings.engine != "dask":
            return None
        return cls(
            store,
            dataset_folder(project),
            partitions=settings.partitions,
            scheduler=settings.scheduler,
        )

    def catch_up(self) -> ExportOutcome:
        """Copy into the dataset every ledger change committed since the last unit."""
        from comp_adapters.scale.ledger_dataset import ExportOutcome  # noqa: PLC0415

        dataset = self.dataset
        if self._after is None:
            dataset.check()
            self._after = self._check_store()
        until = self.store.last_ingest_id()
        after = self._after
        if after == until:
            return ExportOutcome(unit=None)
        try:
            outcome = dataset.export(
                self.store.evidence_changes(after),
                self.store.moved_since(after),
                after=after,
                until=until,
                store_mark=self._mark(until),
            )
        except OSError as exc:
            raise ConfigurationError(
                f"[compute] dataset {dataset.root}: cannot write it: {exc}"
            ) from None
        if outcome.unit is not None:
            self._after = until
        return outcome

    def _mark(self, ingest_id: int) -> str:
        committed = self.store.ingest_committed_at(ingest_id)
        return "" if committed is None else committed.isoformat()

    def _check_store(self) -> int:
        """The ingest the dataset holds every change up to, once it is known to be a copy
        of this store's ledger: the ingest its last unit reached committed in this store at
        the instant the unit recorded."""
        last = self.dataset.last_unit()
        if last is None:
            return 0
        until = int(str(last.get("until", 0)))
        mark = last.get("store_mark")
        if not mark or self._mark(until) != mark:
            raise ConfigurationError(
                f"[compute] dataset {self.dataset.root} is not a copy of this store's "
                f"evidence (its ingest {until} is not this store's): remove the folder and "
                "the next sync writes it again from this store"
            )
        return until

    def evaluate(
        self,
        framework: Framework,
        *,
        as_of: datetime,
        min_evidence: int,
        pairs: Collection[Pair] | None,
        run_id: int,
    ) -> list[Proficiency]:
        """Every result (``pairs is None``) or those of ``pairs``, evaluated on Dask from
        the caught-up dataset."""
        from comp_adapters.scale.ledger_dataset import (  # noqa: PLC0415
            evaluate_units,
            read_run_results,
            tasks_for,
        )

        self.catch_up()
        self.dataset.remove_orphans()
        tasks = tasks_for(self.dataset, run_id, pairs)
        folder = self.dataset.results_dir(run_id)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            evaluate_units(
                framework,
                tasks,
                as_of=as_of,
                min_evidence=min_evidence,
                scheduler=self.scheduler,
                workers=self.workers,
                client=self.client,
            )
            records = read_run_results(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return [Proficiency.model_validate(record) for record in records]
