"""A large evidence file read on several cores: cut into pieces at line breaks, each piece
read into columns by a forked worker process, the pieces joined in file order.

Reading is CPU-bound Python (``orjson`` and the column checks hold the GIL), so threads
would not help; processes do. The table and the problems are those of the one-process
read (:class:`~comp_adapters.evidence_builder.TableBuilder` over the whole file): the
same rows in the same order, the same problems with the same line numbers, the same error
when no problems list is given (the first bad line's: pieces are joined in order and the
first piece that stopped raises). Each worker numbers its lines from 1 and the parent
shifts them by the lines of the pieces before; each worker has its own key dictionaries
and the parent renumbers their codes into one, in order of first appearance.

Forking is used because it is cheap (the workers inherit the imported modules and the
open file, read with ``os.pread``) and is only done when it is safe: the caller checks that
no other thread runs (:func:`comp_adapters.evidence_reader.read_evidence_table`).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any, Final

from comp_adapters._gc import gc_paused
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.evidence_builder import Progress, TableBuilder, line_batches, table_of
from comp_adapters.evidence_columns import Indexes
from comp_adapters.rules.columnar import COLUMNS, EvidenceTable, _numpy

PIECE: Final = 8 << 20
"""Bytes per piece (a piece ends at the first line break at or after this size)."""
_LOOK: Final = 1 << 16
"""Bytes read at a time while looking for a piece's line break."""


@dataclass
class Piece:
    """What a worker read of one piece: its rows (codes into its own key lists), its
    problems and the error that stopped it (lines numbered from the piece's first)."""

    ids: list[str]
    columns: dict[str, list[Any]]
    learners: list[str]
    competencies: list[str]
    levels: list[str]
    problems: list[Problem]
    error: list[Problem] | None
    lines: int
    first_record: int | None
    id_hashes: Any
    """``hash()`` of each id, sorted (this process's hash seed is the workers')."""


def read_in_pieces(
    fd: int,
    source: str,
    total: int,
    *,
    problems: list[Problem] | None,
    progress: Progress | None,
    workers: int,
    piece: int | None = None,
) -> EvidenceTable | None:
    """The table of the open file ``fd`` (``total`` bytes), read by ``workers`` processes.

    ``None`` when the first piece holds nothing but blank lines (the file's first record,
    which gets the "not JSON lines" hint, is then not known to the workers): read it in
    one process instead."""
    bounds = split_points(fd, total, PIECE if piece is None else piece)
    collect = problems is not None
    joined = _Joined()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: list[Future[Piece]] = [
            pool.submit(_read_piece, fd, source, start, end, number == 0, collect)
            for number, (start, end) in enumerate(pairwise(bounds))
        ]
        try:
            for number, future in enumerate(futures):
                part = future.result()
                if number == 0 and part.first_record is None:
                    return None
                found = joined.add(part)
                if problems is not None:
                    problems.extend(found.problems)
                if found.error is not None:
                    raise ValidationError(found.error)
                if progress is not None:
                    progress(bounds[number + 1], total)
        finally:
            for future in futures:
                future.cancel()
    return joined.table()


def split_points(fd: int, total: int, piece: int) -> list[int]:
    """Offsets ``0 = b0 < b1 < … < bn = total`` (just ``[0]`` for an empty file): each
    piece ``[b_i, b_i+1)`` but the last ends just after a ``\\n`` (so a ``\\r\\n`` is
    never cut), and is at least ``piece`` bytes long unless it is the last."""
    bounds = [0]
    if total == 0:
        return bounds  # no piece
    while bounds[-1] + piece < total:
        at = bounds[-1] + piece - 1  # the piece's last byte if it ends right here
        while at < total:
            block = os.pread(fd, _LOOK, at)
            found = block.find(b"\n")
            if found >= 0:
                at += found + 1
                break
            at += len(block)
        if at >= total:
            break
        bounds.append(at)
    bounds.append(total)
    return bounds


class _Range:
    """Bytes ``[start, end)`` of an open file, read with ``os.pread`` (no shared offset)."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.at, self.end = fd, start, end

    def read(self, size: int) -> bytes:
        data = os.pread(self.fd, min(size, self.end - self.at), self.at)
        self.at += len(data)
        return data


def _read_piece(fd: int, source: str, start: int, end: int, first: bool, collect: bool) -> Piece:
    """A worker's read of one piece (runs in the forked process)."""
    builder = TableBuilder(source, [] if collect else None)
    if not first:
        builder.first_record = 0  # no line 0: only the file's first record gets the hint
    error: list[Problem] | None = None
    with gc_paused():
        try:
            for lines, number, terminated in line_batches(
                _Range(fd, start, end), end - start, None
            ):
                builder.add(lines, number, terminated)
        except ValidationError as exc:
            error = list(exc.problems)
    np = _numpy()
    return Piece(
        ids=builder.ids,
        columns={
            name: [np.concatenate(parts)] if parts else []
            for name, parts in builder.columns.items()
        },
        learners=list(builder.indexes.learner.codes),
        competencies=list(builder.indexes.competency.codes),
        levels=list(builder.indexes.level.codes),
        problems=builder.problems or [],
        error=error,
        lines=builder.lines,
        first_record=builder.first_record,
        id_hashes=np.sort(np.fromiter(map(hash, builder.ids), np.int64, len(builder.ids))),
    )


class _Joined:
    """The pieces so far, in file order, with one set of key codes."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        self.indexes = Indexes.new()
        self.offset = 0
        """Lines in the pieces joined so far."""
        self.id_hashes: list[Any] = []

    def add(self, part: Piece) -> Piece:
        """Join ``part``; returns it with its problems' line numbers made the file's."""
        np = _numpy()
        offset = self.offset

        def renumber(problem: Problem) -> Problem:
            return problem if problem.line is None else replace(problem, line=problem.line + offset)

        located = replace(
            part,
            problems=[renumber(p) for p in part.problems],
            error=None if part.error is None else [renumber(p) for p in part.error],
        )
        self.offset += part.lines
        if part.error is not None:
            return located
        codes = {  # the joined code of each of the piece's codes
            "learner": self.indexes.learner.add(part.learners),
            "competency": self.indexes.competency.add(part.competencies),
            "level": self.indexes.level.add(part.levels),
        }
        self.ids.extend(part.ids)
        self.id_hashes.append(part.id_hashes)
        for name in COLUMNS:
            self.columns[name].extend(_recoded(np, name, a, codes) for a in part.columns[name])
        return located

    def table(self) -> EvidenceTable:
        return table_of(
            self.ids,
            self.columns,
            learners=list(self.indexes.learner.codes),
            competencies=list(self.indexes.competency.codes),
            levels=list(self.indexes.level.codes),
            ids_unique_known=self._ids_unique(),
        )

    def _ids_unique(self) -> bool | None:
        """``True`` when no two ids have the same hash (so none are equal); ``None`` (the
        table looks) when two have. The pieces' sorted hashes are runs that a stable sort
        (timsort) merges in about one pass."""
        np = _numpy()
        if not self.id_hashes:
            return None
        hashes = np.sort(np.concatenate(self.id_hashes), kind="stable")
        return None if bool((hashes[1:] == hashes[:-1]).any()) else True


def _recoded(np: Any, name: str, array: Any, codes: dict[str, Any]) -> Any:
    """A piece's column with its key codes made the joined table's (``codes``: the joined
    code of each of the piece's codes; level ``-1``, none, stays)."""
    if name in ("learner", "competency") and len(array):
        return codes[name][array]
    if name == "level" and len(array) and len(codes["level"]):
        return np.where(array >= 0, codes["level"][np.maximum(array, 0)], -1)
    return array
