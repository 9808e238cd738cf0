"""The native file formats: canonical framework documents and streamed evidence lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp_adapters.core import framework_from_data
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.native import (
    FORMAT_MARK,
    dump_framework,
    dumps_framework,
    framework_schema,
    iter_evidence,
    load_framework,
    load_proficiencies,
    write_evidence,
)
from comp_adapters.rules import evaluate
from tests.conftest import AS_OF, ev, framework_data


def test_dump_is_canonical_and_round_trips(tmp_path: Path) -> None:
    data = framework_data(external_ids={"z": "1", "a": "2"})
    data["competencies"].reverse()  # children listed before parents
    framework = framework_from_data(data)
    path = tmp_path / "fw.json"
    dump_framework(framework, path)
    text = path.read_text()
    assert json.loads(text)["format"] == FORMAT_MARK
    assert list(json.loads(text)["external_ids"]) == ["a", "z"]
    # parents first; siblings by sequence, else by input order (solo came first here)
    assert [c["key"] for c in json.loads(text)["competencies"]] == ["solo", "p", "a", "b", "c"]
    again = load_framework(path)
    assert again == framework.canonical()
    assert dumps_framework(again) == text  # same bytes: files diff cleanly


def test_times_are_written_in_utc(tmp_path: Path) -> None:
    framework = framework_from_data(framework_data(effective_from="2026-01-01T02:00:00+02:00"))
    assert json.loads(dumps_framework(framework))["effective_from"] == "2026-01-01T00:00:00Z"


def test_yaml_round_trip(tmp_path: Path) -> None:
    framework = framework_from_data(framework_data())
    path = tmp_path / "fw.yaml"
    dump_framework(framework, path)
    assert path.read_text().startswith(f"format: {FORMAT_MARK}")
    assert load_framework(path) == framework


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"key": "x",\n "title": }', "fw.json:2: invalid JSON: Expecting value"),
        ('{"key": "x",\n "key": "y"}', "fw.json:2: duplicate key 'key'"),
        ('{"format": "other/thing"}', "unknown format 'other/thing'"),
    ],
)
def test_bad_documents_give_located_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "fw.json"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_framework(path)
    assert expected in str(caught.value).replace(str(tmp_path) + "/", "")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        load_framework(tmp_path / "absent.json")


def test_schema_describes_the_document() -> None:
    schema = framework_schema()
    assert schema["properties"]["format"] == {"const": FORMAT_MARK}
    assert "competencies" in schema["properties"]
    assert "Competency" in schema["$defs"]


def test_evidence_lines_stream_with_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    good = ev("e1", "a", level="expert").model_dump_json()
    path.write_text(
        "\n".join(
            [
                good,
                "",
                '{"id": "e2", "learner": "ann"',
                '{"id": "e3", "learner": "ann", "competency": "a", "observed_at": "2026-01-01"}',
                good.replace("e1", "e4"),
            ]
        )
    )
    problems: list[Problem] = []
    items = list(iter_evidence(path, problems=problems))
    assert [e.id for e in items] == ["e1", "e4"]
    where = [(p.line, p.field) for p in problems]
    assert (3, None) in where
    assert any(line == 4 and field == "observed_at" for line, field in where)
    assert all(p.file == str(path) for p in problems)
    with pytest.raises(ValidationError, match=r"ev.jsonl:3: invalid JSON"):
        list(iter_evidence(path))


def test_evidence_is_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text(ev("e1", "a", level="expert").model_dump_json() + "\nnot json\n")
    stream = iter_evidence(path)
    assert next(stream).id == "e1"  # the bad second line is not read yet
    with pytest.raises(ValidationError):
        next(stream)


def test_write_evidence_round_trip(tmp_path: Path) -> None:
    items = [ev("e1", "a", level="expert"), ev("e2", "b", score=0.5, kind="assessment")]
    path = tmp_path / "ev.jsonl"
    assert write_evidence(items, path) == 2
    assert list(iter_evidence(path)) == items


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> object:
        yield ev("e1", "a", level="expert")
        raise RuntimeError("source died")

    path = tmp_path / "ev.jsonl"
    with pytest.raises(RuntimeError):
        write_evidence(broken(), path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_proficiencies_load_from_every_shape(tmp_path: Path) -> None:
    framework = framework_from_data(framework_data())
    results = evaluate(framework, [ev("e1", "a", level="expert")], as_of=AS_OF)
    as_list = [r.model_dump(mode="json") for r in results]
    shapes = {
        "array.json": json.dumps(as_list),
        "compute.json": json.dumps({"framework": "FW", "proficiencies": as_list}),
        "lines.jsonl": "\n".join(json.dumps(r) for r in as_list + as_list),
    }
    for name, text in shapes.items():
        (tmp_path / name).write_text(text)
        loaded = load_proficiencies(tmp_path / name)
        assert loaded[0] == results[0], name
