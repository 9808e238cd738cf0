"""The file adapters: framework files in every format, results files, evidence files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import StalePlanError, ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.files import (
    EvidenceFileAdapter,
    EvidenceFileSettings,
    FrameworkFileAdapter,
    FrameworkFileSettings,
    ResultsFileAdapter,
    ResultsFileSettings,
)
from comp_adapters.native import load_framework
from comp_adapters.plugins import load_adapter_class
from comp_adapters.protocols import PROTOCOLS, REQUIRED_METHODS, Cursor
from comp_adapters.sync import Action, MemoryJournal, Plan

FRAMEWORK = example_dir() / "framework.json"


def framework_adapter(path: Path, fmt: str | None = None) -> FrameworkFileAdapter:
    settings = FrameworkFileSettings.model_validate({"path": path, "format": fmt})
    return FrameworkFileAdapter.from_settings(settings)


@pytest.mark.parametrize("name", ["framework-file", "results-file", "evidence-file"])
def test_registered_and_satisfy_their_protocols(name: str) -> None:
    cls = load_adapter_class(name)
    assert cls.name == name
    for capability in cls.capabilities:
        for method in REQUIRED_METHODS[capability]:
            assert callable(getattr(cls, method))
    settings = {
        "framework-file": {"path": "f.json"},
        "results-file": {"path": "r.json"},
        "evidence-file": {"path": "e.jsonl"},
    }[name]
    adapter = cls.from_settings(cls.settings_model.model_validate(settings))
    for capability in cls.capabilities:
        assert isinstance(adapter, PROTOCOLS[capability])
    assert adapter.target.startswith("file ")


def test_settings_refuse_unknown_keys() -> None:
    with pytest.raises(Exception, match="extra"):
        FrameworkFileSettings.model_validate({"path": "x.json", "colour": "red"})


@pytest.mark.parametrize(
    ("suffix", "fmt"),
    [(".json", "native"), (".json", "case"), (".csv", "moodle-csv"), (".csv", "canvas-csv")],
)
def test_framework_file_writes_once_then_noop(tmp_path: Path, suffix: str, fmt: str) -> None:
    framework = load_framework(FRAMEWORK)
    target = tmp_path / "out" / f"framework{suffix}"
    adapter = framework_adapter(target, fmt)
    plan = adapter.plan_framework(framework)
    assert [c.action for c in plan.changes] == [Action.CREATE]
    assert not target.exists()  # planning writes nothing
    report = adapter.apply(plan, journal=MemoryJournal())
    assert report.writes == 1
    written = target.read_bytes()
    again = framework_adapter(target, fmt).plan_framework(framework)
    assert again.is_empty
    assert again.changes[0].action is Action.NOOP
    assert "already holds" in (again.changes[0].reason or "")
    assert target.read_bytes() == written
    read_back = framework_adapter(target, fmt).read_framework(framework.key)
    assert {c.key for c in read_back.competencies} == {c.key for c in framework.competencies}


def test_lossy_formats_say_what_they_drop(tmp_path: Path) -> None:
    framework = load_framework(FRAMEWORK)
    native = framework_adapter(tmp_path / "f.json", "native").plan_framework(framework)
    assert native.notes == ()
    moodle = framework_adapter(tmp_path / "f.csv", "moodle-csv").plan_framework(framework)
    assert any("moodle-csv cannot hold" in note for note in moodle.notes), moodle.notes


def test_saved_framework_plan_is_refused_once_the_file_changed(tmp_path: Path) -> None:
    framework = load_framework(FRAMEWORK)
    target = tmp_path / "f.json"
    plan = framework_adapter(target).plan_framework(framework)
    saved = Plan.from_json(plan.to_json())
    target.write_text("{}")
    with pytest.raises(StalePlanError):
        framework_adapter(target).apply(saved)
    assert target.read_text() == "{}"


def test_saved_plan_applies_in_another_adapter(tmp_path: Path) -> None:
    framework = load_framework(FRAMEWORK)
    target = tmp_path / "f.json"
    saved = Plan.from_json(framework_adapter(target).plan_framework(framework).to_json())
    framework_adapter(target).apply(saved)
    assert load_framework(target).key == framework.key


def test_read_framework_checks_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not 'OTHER'"):
        framework_adapter(FRAMEWORK).read_framework("OTHER")
    with pytest.raises(ValidationError, match="file not found"):
        framework_adapter(tmp_path / "none.json").read_framework("")


def result(learner: str, competency: str, level: str | None, score: float | None) -> Proficiency:
    return Proficiency(
        learner=learner,
        competency=competency,
        score=score,
        level=level,
        proficient=level in {"proficient", "expert"},
        method="latest",
        as_of=datetime(2026, 5, 1, tzinfo=UTC),
        explanation="test",
    )


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_results_file_merges_and_is_noop_when_unchanged(tmp_path: Path, suffix: str) -> None:
    framework = load_framework(FRAMEWORK)
    path = tmp_path / f"results{suffix}"
    adapter = ResultsFileAdapter.from_settings(ResultsFileSettings(path=path))
    first = [
        result("ann", "product.catalogue", "proficient", 3.0),
        result("bob", "product", None, None),
    ]
    plan = adapter.plan_proficiency(first, framework=framework)
    assert plan.changes[0].action is Action.CREATE
    adapter.apply(plan)
    assert adapter.plan_proficiency(first, framework=framework).is_empty
    assert adapter.plan_proficiency([], framework=framework).is_empty
    changed = [result("ann", "product.catalogue", "expert", 4.0)]
    update = adapter.plan_proficiency(changed, framework=framework)
    assert update.changes[0].action is Action.UPDATE
    adapter.apply(update)
    text = path.read_text()
    assert "expert" in text
    assert "bob" in text  # rows not given stay
    if suffix == ".json":
        rows = json.loads(text)
        assert [(r["learner"], r["competency"]) for r in rows] == [
            ("ann", "product.catalogue"),
            ("bob", "product"),
        ]


def test_results_file_refuses_a_file_that_is_not_results(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"not": "results"}')
    adapter = ResultsFileAdapter.from_settings(ResultsFileSettings(path=path))
    given = [result("ann", "product", None, None)]
    with pytest.raises(ValidationError, match="not a results file"):
        adapter.plan_proficiency(given, framework=load_framework(FRAMEWORK))


def test_results_file_in_another_layout_is_read_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    old = [result("bob", "product", None, None).model_dump(mode="json")]
    path.write_text(json.dumps(old, indent=4))
    adapter = ResultsFileAdapter.from_settings(ResultsFileSettings(path=path))
    framework = load_framework(FRAMEWORK)
    adapter.apply(
        adapter.plan_proficiency([result("ann", "product", None, None)], framework=framework)
    )
    lines = path.read_text().splitlines()
    assert lines[0] == "["
    assert lines[-1] == "]"
    assert [json.loads(line.rstrip(","))["learner"] for line in lines[1:-1]] == ["ann", "bob"]
    again = adapter.plan_proficiency([result("bob", "product", None, None)], framework=framework)
    assert again.is_empty


EVIDENCE_LINE = (
    '{{"id": "{id}", "learner": "ann", "competency": "product.catalogue", '
    '"kind": "assessment", "score": {score}, "observed_at": "2026-01-0{day}T09:00:00Z"}}\n'
)


def evidence_adapter(path: Path, **more: object) -> EvidenceFileAdapter:
    return EvidenceFileAdapter.from_settings(
        EvidenceFileSettings.model_validate({"path": path, **more})
    )


def read_all(adapter: EvidenceFileAdapter, cursor: Cursor | None) -> tuple[list[str], Cursor]:
    ids: list[str] = []
    last = cursor
    for batch in adapter.read_evidence(cursor=cursor):
        ids.extend(e.id for e in batch.evidence)
        last = batch.cursor
    assert last is not None
    return ids, last


def test_evidence_file_reads_on_from_its_cursor(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text(EVIDENCE_LINE.format(id="e1", score=2, day=1))
    adapter = evidence_adapter(path)
    ids, cursor = read_all(adapter, None)
    assert ids == ["e1"]
    assert read_all(adapter, cursor)[0] == []
    with path.open("a") as handle:
        handle.write(EVIDENCE_LINE.format(id="e2", score=3, day=2))
        handle.write('{"id": "e3", "learner": "ann"')  # still being written
    ids, cursor = read_all(adapter, cursor)
    assert ids == ["e2"]
    with path.open("a") as handle:
        handle.write(
            ', "competency": "product", "kind": "assessment", "score": 1, '
            '"observed_at": "2026-01-03T09:00:00Z"}\n'
        )
    assert read_all(adapter, cursor)[0] == ["e3"]


def test_evidence_file_replaced_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text(EVIDENCE_LINE.format(id="e1", score=2, day=1))
    adapter = evidence_adapter(path)
    _, cursor = read_all(adapter, None)
    path.write_text(EVIDENCE_LINE.format(id="x1", score=2, day=1) * 1)
    batches = list(adapter.read_evidence(cursor=cursor))
    assert [e.id for b in batches for e in b.evidence] == ["x1"]
    assert any("read again from the start" in reason for reason in batches[0].skipped)


def test_evidence_file_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text("".join(EVIDENCE_LINE.format(id=f"e{i}", score=2, day=1) for i in range(7)))
    adapter = evidence_adapter(path)
    adapter.batch_lines = 3
    batches = list(adapter.read_evidence())
    assert [len(b.evidence) for b in batches] == [3, 3, 1]
    assert [b.cursor.extra["line"] for b in batches] == [3, 6, 7]


def test_bad_evidence_line_is_located(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text(EVIDENCE_LINE.format(id="e1", score=2, day=1) + '{"id": "e2"}\n')
    with pytest.raises(ValidationError) as caught:
        list(evidence_adapter(path).read_evidence())
    assert f"{path}:2" in str(caught.value)


MAPPING = """
[identity]
account_home_pages = ["https://lms.example.org"]

[[activities]]
prefix = "https://courses.example.org/"
competencies = ["product.catalogue"]
"""


def statement(sid: str, verb: str = "passed", target: str | None = None) -> str:
    obj: dict[str, object]
    if target is None:
        obj = {"id": "https://courses.example.org/catalogue-quiz", "objectType": "Activity"}
        verb_id = f"http://adlnet.gov/expapi/verbs/{verb}"
    else:
        obj = {"objectType": "StatementRef", "id": target}
        verb_id = "http://adlnet.gov/expapi/verbs/voided"
    return (
        json.dumps(
            {
                "id": sid,
                "actor": {"account": {"homePage": "https://lms.example.org", "name": "ann"}},
                "verb": {"id": verb_id},
                "object": obj,
                "result": {"success": True, "score": {"scaled": 0.9}},
                "timestamp": "2026-02-01T10:00:00Z",
                "stored": "2026-02-01T10:00:01Z",
            }
        )
        + "\n"
    )


def test_xapi_statement_lines_with_a_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING)
    path = tmp_path / "statements.jsonl"
    first = "6f7a3b1e-0000-4000-8000-000000000001"
    path.write_text(statement(first))
    adapter = evidence_adapter(path, mapping=mapping)
    assert adapter.format == "xapi"
    batches = list(adapter.read_evidence())
    assert [e.competency for b in batches for e in b.evidence] == ["product.catalogue"]
    assert batches[-1].evidence[0].source_id == first
    with path.open("a") as handle:
        handle.write(statement("6f7a3b1e-0000-4000-8000-000000000002", target=first))
    more = list(adapter.read_evidence(cursor=batches[-1].cursor))
    assert [w for b in more for w in b.withdrawn] == [first]
    query = adapter.evidence_query()
    assert query["format"] == "xapi"
    mapping.write_text(MAPPING + "\n# changed\n")
    assert evidence_adapter(path, mapping=mapping).evidence_query() != query


def test_xapi_format_needs_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="needs a mapping"):
        EvidenceFileSettings.model_validate({"path": tmp_path / "s.jsonl", "format": "xapi"})
