"""read_evidence_table: JSON lines straight into columns, exactly as iter_evidence reads them.

The property: on any file, every line gives the same row as ``Evidence.model_validate_json``
(what ``iter_evidence`` yields) or the same located problems, in the same order.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comp_adapters import evidence_builder
from comp_adapters.core import Evidence
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.evidence_columns import parse_instants
from comp_adapters.evidence_reader import read_evidence_table
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence
from comp_adapters.rules import EvidenceTable
from comp_adapters.rules.columnar import to_micros

MISSING = object()
INSTANTS = [
    "2026-01-01T00:00:00Z",
    "2026-03-04T05:06:07.5Z",
    "2026-03-04T05:06:07.123456Z",
    "2026-03-04T05:06:07.1234567Z",
    "2026-03-04T05:06:07+02:00",
    "2026-03-04T05:06:07.25-09:30",
    "2026-03-04T05:06:07-00:00",
    "2026-03-04T05:06:07+23:59",
    "2026-03-04T05:06:07+24:00",
    "2026-03-04t05:06:07z",
    "2026-03-04 05:06:07Z",
    "2026-03-04T05:06Z",
    "2026-03-04T05:06:07",
    "2026-03-04",
    "2024-02-29T12:00:00Z",
    "2023-02-29T12:00:00Z",
    "2026-04-31T12:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:59:60Z",
    "2026-01-01T00:00:00.Z",
    "2026-01-01T00:00:00+0100",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "\uff12026-01-01T00:00:00Z",  # a full-width digit
    "2026-01-01T00:00:00Z ",
    "",
    1767225600,
    None,
    MISSING,
]
FIELD_VALUES: dict[str, list[Any]] = {
    "id": ["e1", "e2", "e3", "", 5, None, "é", ["x"], MISSING],
    "learner": ["ann", "bo", " ann", "", "a" * 256, "b" * 255, 3, None, "cy\n", ["ann"], MISSING],
    "competency": ["c0", "c1", "c 1", " c", "", 7, "x" * 101, "\u00a0c", "c\u2028", MISSING],
    "kind": [MISSING, "assessment", "observation", "Assessment", None, 3, "other"],
    "score": [0.5, 0, 1, -0.0, -0.1, "0.5", True, None, 1e308, 3, 1.5, [1], 10**30, MISSING],
    "level": ["proficient", "beginning", None, "", " p", 3, "Proficient", MISSING],
    "success": [True, False, None, "true", 1, 0, MISSING],
    "observed_at": INSTANTS,
    "recorded_at": INSTANTS,
    "expires_at": INSTANTS,
    "voided": [MISSING, True, False, "false", 0, None],
    "sequence": [MISSING, None, 3, -(2**63), 2**63 - 1, 2**63 - 2, 1.0, "4", True, 2**64],
    "visibility": [MISSING, "public", "x", None],
    "note": [MISSING, "n", 5, None],
    "source_system": [MISSING, "moodle", None],
    "extra": [MISSING, MISSING, MISSING, 1],
}
USUAL = {
    "id": "e1",
    "learner": "ann",
    "competency": "c0",
    "score": 0.5,
    "observed_at": "2026-01-01T00:00:00Z",
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A record that is usually valid: each field keeps its usual value or takes a tricky one."""
    record: dict[str, Any] = {}
    for name, values in FIELD_VALUES.items():
        value = USUAL.get(name, MISSING)
        if draw(st.integers(0, 4)) == 0:
            value = draw(st.sampled_from(values))
        if name == "id" and value == "e1":
            value = f"e{draw(st.integers(0, 30))}"
        if value is not MISSING:
            record[name] = value
    return record


@st.composite
def lines(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 19))
    text = json.dumps(draw(records()), ensure_ascii=draw(st.booleans()))
    if shape == 0:
        return text[: draw(st.integers(0, len(text)))]
    if shape == 1:
        return draw(
            st.sampled_from(["", "   ", "\x0c", "\x1c", "[1, 2]", "null", "{}", "\ufeff{}"])
        )
    if shape == 2 and text.startswith('{"id"'):  # a duplicated key: the last one counts
        return '{"id": "dup", ' + text[1:]
    if shape == 3:
        return text + ","
    if shape == 4:
        return " " + text + "\t"
    return text


@st.composite
def files(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(lines(), max_size=25))
    ends = draw(st.lists(st.sampled_from(["\n", "\n", "\r\n", "\r"]), min_size=len(items)))
    text = "".join(line + end for line, end in zip(items, ends, strict=False))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return text.encode()


def row_of(item: Evidence) -> tuple[Any, ...]:
    """What an EvidenceTable keeps of one Evidence."""
    return (
        item.id,
        item.learner,
        item.competency,
        item.kind.value,
        item.score,
        item.level,
        item.success,
        to_micros(item.observed_at),
        to_micros(item.recorded_at or item.observed_at),
        None if item.expires_at is None else to_micros(item.expires_at),
        item.voided,
        item.sequence,
    )


def table_rows(table: EvidenceTable) -> list[tuple[Any, ...]]:
    kinds = ("observation", "assessment", "project_artifact", "certification")
    kinds += ("attestation", "course_completion", "lms_rating", "other")
    result = []
    for i in range(len(table)):
        score = float(table.score[i])
        result.append(
            (
                table.ids[i],
                table.learners[table.learner[i]],
                table.competencies[table.competency[i]],
                kinds[table.kind[i]],
                None if math.isnan(score) else score,
                table.levels[table.level[i]] if table.level[i] >= 0 else None,
                None if table.success[i] < 0 else bool(table.success[i]),
                int(table.observed_at[i]),
                int(table.recorded_at[i]),
                None if table.expires_at[i] >= 2**62 else int(table.expires_at[i]),
                bool(table.voided[i]),
                None if table.sequence[i] == 2**63 - 1 else int(table.sequence[i]),
            )
        )
    return result


def read_both(path: Path) -> tuple[Any, Any]:
    """(rows, problems) of iter_evidence and of read_evidence_table on the same file."""
    found: list[Problem] = []
    expected = [row_of(item) for item in iter_evidence(path, problems=found)]
    got: list[Problem] = []
    table = read_evidence_table(path, problems=got)
    return (expected, found), (table_rows(table), got)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=files(),
    batch=st.sampled_from([1, 3, 7, 1024, 16384]),
    chunk=st.sampled_from([5, 64, 4 << 20]),
)
def test_same_rows_and_problems_as_iter_evidence(data: bytes, batch: int, chunk: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "evidence.jsonl"
        path.write_bytes(data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(evidence_builder, "BATCH", batch)
            patch.setattr(evidence_builder, "CHUNK", chunk)
            expected, got = read_both(path)
            assert got == expected
            # Without a problems list, the first bad line raises the same error.
            reference: tuple[Problem, ...] | None = None
            try:
                list(iter_evidence(path))
            except ValidationError as exc:
                reference = exc.problems
            if reference is None:
                assert table_rows(read_evidence_table(path)) == expected[0]
            else:
                with pytest.raises(ValidationError) as raised:
                    read_evidence_table(path)
                assert raised.value.problems == reference


def test_the_example_reads_the_same() -> None:
    path = example_dir() / "evidence.jsonl"
    assert table_rows(read_evidence_table(path)) == table_rows(
        EvidenceTable.from_evidence(iter_evidence(path))
    )


def test_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        json.dumps(USUAL) + "\n" + '{"id": "x", "learner": "ann", "competency": "c0", "score": -1,'
        ' "observed_at": "2026-01-01T00:00:00Z"}\n' + '{"id": "y",\n'
    )
    with pytest.raises(ValidationError) as raised:
        read_evidence_table(path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:2, field 'score': Input should be greater than or equal to 0"
    ]
    problems: list[Problem] = []
    table = read_evidence_table(path, problems=problems)
    assert len(table) == 1
    assert [(p.line, p.field) for p in problems] == [(2, "score"), (3, None)]
    assert problems[1].message.startswith("invalid JSON")


def test_missing_file_and_bad_utf8(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        read_evidence_table(tmp_path / "nope.jsonl")
    path = tmp_path / "e.jsonl"
    path.write_bytes(json.dumps(USUAL).encode() + b"\n" + b'{"id": "\xff"}\n')
    with pytest.raises(ValidationError, match="not UTF-8 text") as raised:
        read_evidence_table(path)
    assert raised.value.problems[0].line == 2
    with pytest.raises(ValidationError, match="not UTF-8 text"):
        list(iter_evidence(path))


@given(st.lists(st.sampled_from([i for i in INSTANTS if isinstance(i, str)]), min_size=1))
def test_instants_parse_as_pydantic_does(values: list[str]) -> None:
    """Every instant the column parser accepts is the one Evidence makes of it."""
    micros, bad = parse_instants(values)
    for value, us, refused in zip(values, micros.tolist(), bad.tolist(), strict=True):
        if refused:
            continue
        item = Evidence(id="e", learner="l", competency="c", success=True, observed_at=value)
        assert to_micros(item.observed_at) == us, value


def test_progress_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence_builder, "CHUNK", 100)
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({**USUAL, "id": f"e{i}"}) + "\n" for i in range(20)))
    seen: list[tuple[int, int]] = []
    table = read_evidence_table(path, progress=lambda done, total: seen.append((done, total)))
    assert len(table) == 20
    size = path.stat().st_size
    assert seen[-1] == (size, size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(seen) == -(-size // 100)


def test_columns_have_table_types(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(USUAL) + "\n")
    table = read_evidence_table(path)
    assert table.learner.dtype == np.int32
    assert table.observed_at.dtype == np.int64
    assert table.ids_unique


def test_the_garbage_collector_is_left_as_it_was(tmp_path: Path) -> None:
    """Reading pauses the cyclic collector (it makes no cycles) and restores it, even when
    the file is bad; a collector the caller had turned off stays off."""
    import gc  # noqa: PLC0415 - only this test

    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(USUAL) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{\n")
    assert gc.isenabled()
    read_evidence_table(path)
    assert gc.isenabled()
    with pytest.raises(ValidationError):
        read_evidence_table(bad)
    assert gc.isenabled()
    gc.disable()
    try:
        read_evidence_table(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_fields_read_in_one_pass_match_field_by_field(tmp_path: Path) -> None:
    """A batch whose records all have the same fields is read in one pass
    (``_fields_of``); the same records with one extra-field record among them are read
    field by field. Both give the same rows."""
    from comp_adapters import evidence_columns  # noqa: PLC0415 - only this test

    items = [
        {**USUAL, "id": f"e{i}", "score": i / 10, "learner": f"l{i % 3}", "kind": "observation"}
        for i in range(10)
    ]
    uniform = [
        dict(reversed(list(item.items()))) if i % 2 else item for i, item in enumerate(items)
    ]
    assert evidence_columns._fields_of(uniform) is not None
    mixed = [*uniform, {**USUAL, "id": "x"}]
    assert evidence_columns._fields_of(mixed) is None
    swapped = {**USUAL, "id": "x", "note": "n", "voided": False}
    del swapped["score"]  # as many fields as the others, not the same ones
    assert len(swapped) == len(uniform[0])
    assert evidence_columns._fields_of([*uniform[:3], swapped]) is None
    assert evidence_columns._fields_of([{"id": "a"}, {"note": "b"}]) is None
    one, other = tmp_path / "one.jsonl", tmp_path / "other.jsonl"
    one.write_text("".join(json.dumps(item) + "\n" for item in uniform))
    other.write_text("".join(json.dumps(item) + "\n" for item in mixed))
    assert table_rows(read_evidence_table(one)) == table_rows(read_evidence_table(other))[:-1]
    assert table_rows(read_evidence_table(one)) == [row_of(e) for e in iter_evidence(one)]


@st.composite
def mutated_instants(draw: st.DrawFn) -> str:
    """A well-formed instant with a few characters replaced: near misses of every kind."""
    text = list(
        draw(
            st.sampled_from(
                [
                    "2026-01-01T00:00:00Z",
                    "2026-03-04T05:06:07.123456+02:00",
                    "2024-02-29T23:59:59.5-09:30",
                    "1999-12-31T23:59:59.99Z",
                ]
            )
        )
    )
    for _ in range(draw(st.integers(0, 3))):
        text[draw(st.integers(0, len(text) - 1))] = draw(st.sampled_from("0123456789-:TZ.+ z"))
    return "".join(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(mutated_instants(), min_size=1, max_size=20))
def test_near_miss_instants_are_refused_or_parsed_as_pydantic_does(values: list[str]) -> None:
    shortest = [value for value in values if len(value) == len("2026-01-01T00:00:00Z")]
    for batch in (values, shortest):  # all of the shortest length: the parser's shortcut
        if not batch:
            continue
        micros, bad = parse_instants(batch)
        for value, us, refused in zip(batch, micros.tolist(), bad.tolist(), strict=True):
            if refused:
                continue  # the slow path decides
            item = Evidence(id="e", learner="l", competency="c", success=True, observed_at=value)
            assert to_micros(item.observed_at) == us, value
