"""A file read in pieces by worker processes gives the one-process table and problems.

The property of ``tests/test_evidence_reader.py`` again, with the file cut into pieces of
a few bytes (so pieces start and end everywhere: inside runs of blank lines, after
``\\r\\n``, at the last line without a break) and read by two forked workers.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comp_adapters import evidence_pieces, evidence_reader
from comp_adapters.cli.main import main
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.evidence_pieces import read_in_pieces, split_points
from comp_adapters.evidence_reader import read_evidence_table
from comp_adapters.examples import example_dir
from comp_adapters.rules import EvidenceTable
from comp_adapters.rules.columnar import COLUMNS
from tests.test_evidence_reader import USUAL, files, table_rows


def pieces_of(
    path: Path, piece: int, *, problems: list[Problem] | None = None
) -> EvidenceTable | None:
    with path.open("rb") as handle:
        return read_in_pieces(
            handle.fileno(),
            str(path),
            path.stat().st_size,
            problems=problems,
            progress=None,
            workers=2,
            piece=piece,
        )


def assert_same_table(a: EvidenceTable, b: EvidenceTable) -> None:
    """Equal in every array and key list, not only row by row."""
    assert a.ids == b.ids
    assert (a.learners, a.competencies, a.levels) == (b.learners, b.competencies, b.levels)
    assert a.ids_unique == b.ids_unique
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files(), piece=st.sampled_from([1, 7, 60, 400, 1 << 20]))
def test_same_rows_and_problems_as_one_process(data: bytes, piece: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "evidence.jsonl"
        path.write_bytes(data)
        expected: list[Problem] = []
        one = read_evidence_table(path, problems=expected, workers=1)
        got: list[Problem] = []
        table = pieces_of(path, piece, problems=got)
        if table is None:  # the first piece is blank lines only: read in one process
            first = split_points(os.open(path, os.O_RDONLY), len(data), piece)[1]
            assert not data[:first].strip()
            return
        assert table_rows(table) == table_rows(one)
        assert got == expected
        # Without a problems list, the first bad line raises the same error.
        reference: tuple[Problem, ...] | None = None
        try:
            read_evidence_table(path, workers=1)
        except ValidationError as exc:
            reference = exc.problems
        if reference is None:
            again = pieces_of(path, piece)
            assert again is not None
            assert table_rows(again) == table_rows(one)
        else:
            with pytest.raises(ValidationError) as raised:
                pieces_of(path, piece)
            assert raised.value.problems == reference


def usual_lines(count: int, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        record: dict[str, Any] = {
            **USUAL,
            "id": f"e{n}",
            "learner": f"l{rng.randrange(300)}",
            "competency": f"c{rng.randrange(40)}",
        }
        if n % 3 == 0:
            record["level"] = rng.choice(["beginning", "proficient", "expert"])
        lines.append(json.dumps(record))
        if n % 97 == 0:
            lines.append('{"id": "bad", "learner": "x"}')  # a located problem
        if n % 131 == 0:
            lines.append("")
    return (
        "\r\n".join(lines[: len(lines) // 2]) + "\n" + "\n".join(lines[len(lines) // 2 :])
    ).encode()


def test_the_same_table_exactly(tmp_path: Path) -> None:
    """Key codes, key lists and every column identical to the one-process read, with the
    problems at the same lines; duplicate ids are still noticed across pieces."""
    path = tmp_path / "e.jsonl"
    path.write_bytes(usual_lines(5000))
    expected: list[Problem] = []
    one = read_evidence_table(path, problems=expected, workers=1)
    for piece in (100, 4096, 50_000):
        got: list[Problem] = []
        table = pieces_of(path, piece, problems=got)
        assert table is not None
        assert_same_table(table, one)
        assert got == expected
        assert [p.line for p in got] == [p.line for p in expected]
    assert one.ids_unique
    path.write_bytes(usual_lines(3000) + b"\n" + json.dumps({**USUAL, "id": "e7"}).encode())
    table = pieces_of(path, 1000, problems=[])
    assert table is not None
    assert not table.ids_unique
    assert_same_table(table, read_evidence_table(path, problems=[], workers=1))


def test_the_first_bad_line_of_the_file_is_raised(tmp_path: Path) -> None:
    """Pieces after the first bad one may be bad too: the error is the earliest line's."""
    path = tmp_path / "e.jsonl"
    good = [json.dumps({**USUAL, "id": f"e{n}"}) for n in range(400)]
    good[150] = json.dumps({**USUAL, "id": "a", "score": -1})
    good[390] = "not json"
    path.write_text("\n".join(good) + "\n")
    with pytest.raises(ValidationError) as raised:
        pieces_of(path, 500)
    assert [(p.line, p.field) for p in raised.value.problems] == [(151, "score")]


def test_split_points_end_after_a_line_break() -> None:
    rng = random.Random(5)
    for _ in range(200):
        data = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randrange(0, 300)))
        piece = rng.randrange(1, 40)
        with tempfile.TemporaryFile() as handle:
            handle.write(data)
            handle.flush()
            bounds = split_points(handle.fileno(), len(data), piece)
        assert bounds[0] == 0
        assert bounds[-1] == len(data)
        assert bounds == sorted(set(bounds))
        for start, end in itertools.pairwise(bounds[:-1]):
            assert data[end - 1 : end] == b"\n"
            assert end - start >= piece


def test_a_large_file_is_read_in_pieces_when_forking_is_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read_evidence_table takes the pieces' way for a file of PARALLEL_FROM bytes or more,
    with more than one worker and no other thread; one process otherwise."""
    path = tmp_path / "e.jsonl"
    path.write_bytes(usual_lines(2000))
    calls: list[int] = []
    real = evidence_pieces.read_in_pieces

    def spy(*args: Any, **kwargs: Any) -> EvidenceTable | None:
        calls.append(kwargs["workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(evidence_pieces, "read_in_pieces", spy)
    monkeypatch.setattr(evidence_pieces, "PIECE", 10_000)
    monkeypatch.setattr(evidence_reader, "PARALLEL_FROM", path.stat().st_size)
    monkeypatch.setattr(evidence_reader, "_may_fork", lambda: True)
    one = read_evidence_table(path, problems=[], workers=1)
    assert calls == []
    assert_same_table(read_evidence_table(path, problems=[], workers=3), one)
    assert calls == [3]
    monkeypatch.setattr(evidence_reader, "PARALLEL_FROM", path.stat().st_size + 1)
    read_evidence_table(path, problems=[], workers=3)
    assert calls == [3]


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not evidence_reader._may_fork()
    finally:
        stop.set()
        other.join()


def test_compute_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """compute --jobs N: the same table from one process and from two; N >= 1, local only."""
    monkeypatch.setattr(evidence_reader, "PARALLEL_FROM", 0)
    monkeypatch.setattr(evidence_reader, "_may_fork", lambda: True)
    monkeypatch.setattr(evidence_pieces, "PIECE", 300)
    folder = example_dir()
    command = ["compute", "--framework", str(folder / "framework.json"), "--evidence"]
    command += [str(folder / "evidence.jsonl"), "--as-of", "2026-11-01T00:00:00Z", "--quiet"]
    outputs = []
    for jobs in ("1", "2"):
        assert main([*command, "--jobs", jobs]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "as of 2026-11-01" in outputs[0]
    with pytest.raises(SystemExit) as usage:
        main([*command, "--jobs", "0"])
    assert usage.value.code == 2
    assert "at least 1" in capsys.readouterr().err
    assert main([*command, "--jobs", "2", "--engine", "dask"]) != 0
    assert "--jobs is for --engine local" in capsys.readouterr().err
