"""Evidence files (JSON lines) straight into an :class:`~comp_adapters.rules.EvidenceTable`.

:func:`~comp_adapters.native.iter_evidence` makes one validated
:class:`~comp_adapters.core.Evidence` per line: right for streams of thousands, too slow and
too big for files of millions (an object per line costs ~2 KB and ~15 µs).
:func:`read_evidence_table` reads the same files into columns, streamed a chunk at a time
(memory: the columns, about 100 bytes per line, plus one batch), with the same validation
and the same located errors (:mod:`comp_adapters.evidence_builder` says how). A large
file is read on every usable core (:mod:`comp_adapters.evidence_pieces`), with the same
table and the same problems as in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Final

from comp_adapters._gc import gc_paused
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.evidence_builder import Progress, TableBuilder, line_batches
from comp_adapters.rules.columnar import EvidenceTable

__all__ = ["PARALLEL_FROM", "Progress", "read_evidence_table", "usable_cores"]

PARALLEL_FROM: Final = 32 << 20
"""Files at least this large are read by several processes (when more than one core is
usable): below it, starting the workers and sending their columns back costs about what
the second core saves."""
MAX_WORKERS: Final = 8


def read_evidence_table(
    path: str | Path,
    *,
    problems: list[Problem] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> EvidenceTable:
    """The evidence of a JSON-lines file as columns (see the module docstring).

    A bad line raises :class:`ValidationError` naming the file and line, unless ``problems``
    is given: then its problems are appended there and the line is left out. ``workers``:
    processes reading a file of at least :data:`PARALLEL_FROM` bytes (default: the usable
    cores, at most :data:`MAX_WORKERS`; 1 reads in this process). Needs NumPy (the
    ``fast`` extra).
    """
    source = str(path)
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    except OSError as exc:
        raise ValidationError([Problem(f"cannot read: {exc.strerror}", file=source)]) from None
    with gc_paused(), handle:  # reading makes no cycles: see comp_adapters._gc
        total = os.fstat(handle.fileno()).st_size
        count = min(usable_cores(), MAX_WORKERS) if workers is None else workers
        if count > 1 and total >= PARALLEL_FROM and _may_fork():
            from comp_adapters.evidence_pieces import read_in_pieces  # noqa: PLC0415

            table = read_in_pieces(
                handle.fileno(),
                source,
                total,
                problems=problems,
                progress=progress,
                workers=count,
            )
            if table is not None:
                return table
        builder = TableBuilder(source, problems)
        for lines, first, terminated in line_batches(handle, total, progress):
            builder.add(lines, first, terminated)
        return builder.table()


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _may_fork() -> bool:
    """Whether forking workers is safe here: the platform forks, this process is not a
    daemon (which may have no children: a Dask worker's task, say), and no other thread
    runs (a thread holding a lock at the fork would leave it held in the child)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and threading.active_count() == 1
    )
