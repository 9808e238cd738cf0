"""``sync plan|apply|run|status`` on a copy of the example project (SQLite store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.native import load_framework
from comp_adapters.project import load_project
from comp_adapters.rules import evaluate
from comp_adapters.store import open_store

OUT = ("case-package.json", "moodle-framework.csv", "canvas-outcomes.csv", "proficiency.json")
AS_OF = "2026-06-01T00:00:00Z"


def run(project: Path, *more: str) -> int:
    return main(["sync", "run", "--project", str(project), "--quiet", *more])


def snapshot(project: Path) -> dict[str, tuple[bytes, int]]:
    out = project.parent / "out"
    return {name: ((out / name).read_bytes(), (out / name).stat().st_mtime_ns) for name in OUT}


def summary(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_run_twice_second_changes_nothing_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project) == 0
    first = capsys.readouterr().out
    assert "in sync: 4 change(s) written" in first
    before = snapshot(project)
    assert run(project, "--json") == 0
    second = summary(capsys)
    assert second["writes"] == 0
    assert second["status"] == "ok"
    assert snapshot(project) == before  # same bytes, not even rewritten
    assert run(project) == 0
    assert "nothing changed: every target is up to date" in capsys.readouterr().out


def test_results_match_a_direct_computation(project: Path) -> None:
    assert run(project, "--as-of", AS_OF) == 0
    rows = json.loads((project.parent / "out" / "proficiency.json").read_text())
    folder = project.parent
    framework = load_framework(folder / "framework.json")
    with open_store(load_project(project).store_url) as store:
        evidence = list(store.iter_evidence())
    from datetime import datetime  # noqa: PLC0415

    expected = evaluate(framework, evidence, as_of=datetime.fromisoformat(AS_OF))
    assert {(r["learner"], r["competency"], r["level"], r["score"]) for r in rows} == {
        (p.learner, p.competency, p.level, p.score) for p in expected
    }
    # the voided xAPI statement (hana.sato's failed quiz) counts nowhere
    assert not any("000000000006" in " ".join(r["evidence_ids"]) for r in rows)
    assert any("000000000001" in " ".join(r["evidence_ids"]) for r in rows)


def test_new_evidence_recomputes_only_touched_trees(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "--as-of", AS_OF) == 0
    capsys.readouterr()
    with (project.parent / "evidence.jsonl").open("a") as handle:
        handle.write(
            '{"id": "new-1", "learner": "amara.okafor", "competency": "comm.written", '
            '"kind": "observation", "level": "beginning", "observed_at": "2026-05-30T09:00:00Z"}\n'
        )
    assert run(project, "--as-of", AS_OF, "--json") == 0
    result = summary(capsys)
    compute = result["compute"]
    assert isinstance(compute, dict)
    assert compute["mode"] == "incremental"
    framework = load_framework(project.parent / "framework.json")
    comm_tree = [c.key for c in framework.competencies if c.key.startswith("comm")]
    assert compute["pairs_read"] == len(comm_tree)  # one learner, one tree
    assert 1 <= int(compute["changed"]) <= 2  # the leaf, and maybe its parent
    targets = result["targets"]
    assert isinstance(targets, dict)
    assert targets["results"]["writes"] == 1
    assert targets["case-package"]["writes"] == 0
    incremental = (project.parent / "out" / "proficiency.json").read_bytes()
    # the same as computing everything from scratch
    fresh = project.parent.parent / "fresh"
    fresh.mkdir()
    for item in project.parent.iterdir():
        if item.is_file():
            (fresh / item.name).write_bytes(item.read_bytes())
    assert run(fresh / "comp-adapters.toml", "--as-of", AS_OF) == 0
    capsys.readouterr()
    assert json.loads((fresh / "out" / "proficiency.json").read_bytes()) == json.loads(incremental)


def test_a_failing_target_does_not_stop_the_others(
    project: Path,
    refusing_adapter: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LMS_TOKEN", "t0ken-value")
    with project.open("a") as handle:
        handle.write(
            '\n[[target]]\nname = "lms"\nsystem = "refusing"\nreceives = ["proficiency"]\n'
            'url = "https://lms.example.org"\ntoken_env = "LMS_TOKEN"\n'
        )
    assert run(project, "--json") == 1
    result = summary(capsys)
    assert result["status"] == "failed"
    assert result["failed"] == ["lms"]
    targets = result["targets"]
    assert isinstance(targets, dict)
    assert targets["lms"]["status"] == "failed"
    assert "403" in targets["lms"]["error"]
    assert all(targets[name]["status"] == "ok" for name in ("case-package", "results"))
    assert (project.parent / "out" / "proficiency.json").exists()
    assert "t0ken-value" not in json.dumps(result)


def test_plan_writes_nothing_and_a_saved_plan_refuses_a_changed_target(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = project.parent / "plan.json"
    args = ["sync", "plan", "--project", str(project), "--quiet", "--plan-out", str(saved)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "[case-package] (framework-file)" in text
    assert "moodle-csv cannot hold" in text  # the lossy format says what it leaves out
    assert not (project.parent / "out").exists()
    out = project.parent / "out"
    out.mkdir()
    (out / "moodle-framework.csv").write_text("edited by hand\n")
    apply = ["sync", "apply", str(saved), "--project", str(project), "--quiet", "--yes"]
    assert main([*apply, "--json"]) == 1
    result = summary(capsys)
    targets = result["targets"]
    assert isinstance(targets, dict)
    assert targets["moodle-import"]["status"] == "failed"
    assert "changed since the plan was made" in targets["moodle-import"]["error"]
    assert (out / "moodle-framework.csv").read_text() == "edited by hand\n"
    assert targets["case-package"]["status"] == "ok"
    assert (out / "case-package.json").exists()


def test_apply_asks_on_a_terminal_only(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sync", "apply", "--project", str(project), "--quiet"])
    assert code == 2  # standard input is not a terminal here
    assert "give --yes" in capsys.readouterr().err


def test_a_busy_target_is_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_store(load_project(project).store_url) as store, store.lease("target:results"):
        assert run(project, "--json") == 1
    result = summary(capsys)
    targets = result["targets"]
    assert isinstance(targets, dict)
    assert targets["results"]["status"] == "busy"
    assert "busy" in targets["results"]["error"]
    assert targets["case-package"]["status"] == "ok"
    assert run(project, "--json") == 0  # the busy target catches up on the next run
    assert summary(capsys)["targets"]["results"]["writes"] == 1  # type: ignore[index]


def test_status_shows_sources_and_targets(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sync", "status", "--project", str(project), "--json"])
    before = summary(capsys)
    assert before["targets"]["results"]["status"] == "never synced"  # type: ignore[index]
    assert run(project) == 0
    capsys.readouterr()
    assert main(["sync", "status", "--project", str(project), "--json"]) == 0
    report = summary(capsys)
    sources = report["sources"]
    assert isinstance(sources, dict)
    size = (project.parent / "evidence.jsonl").stat().st_size
    assert sources["coaching-and-assessments"]["cursor"] == str(size)
    assert sources["lms-xapi"]["last_error"] is None
    assert report["targets"]["results"]["status"] == "ok"  # type: ignore[index]
    assert main(["sync", "status", "--project", str(project)]) == 0
    assert "target results: last run" in capsys.readouterr().out


def test_a_changed_source_query_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project) == 0
    capsys.readouterr()
    mapping = project.parent / "xapi-mapping.toml"
    mapping.write_text(mapping.read_text().replace('"lms-xapi"', '"lms"'))
    assert run(project, "--json") == 1
    result = summary(capsys)
    sources = result["sources"]
    assert isinstance(sources, dict)
    assert "its query changed" in sources["lms-xapi"]["error"]
    assert result["targets"]["results"]["status"] == "ok"  # type: ignore[index]


def test_a_run_killed_during_apply_converges_on_the_next(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from comp_adapters.files import writing  # noqa: PLC0415

    real = writing.write_bytes_atomically
    written: list[str] = []

    def killed_after_two(path: Path, data: bytes) -> None:
        if len(written) == 2:
            raise KeyboardInterrupt  # as a kill: nothing of ours runs after it
        real(path, data)
        written.append(path.name)

    monkeypatch.setattr(writing, "write_bytes_atomically", killed_after_two)
    assert run(project, "--as-of", AS_OF) == 130
    assert written == ["case-package.json", "moodle-framework.csv"]
    monkeypatch.setattr(writing, "write_bytes_atomically", real)
    assert run(project, "--as-of", AS_OF, "--json") == 0
    resumed = summary(capsys)
    targets = resumed["targets"]
    assert isinstance(targets, dict)
    assert targets["moodle-import"]["writes"] == 0  # done before the kill, not repeated
    assert targets["canvas-import"]["writes"] == 1
    assert targets["results"]["writes"] == 1
    clean = project.parent.parent / "clean"
    clean.mkdir()
    for item in project.parent.iterdir():
        if item.is_file():
            (clean / item.name).write_bytes(item.read_bytes())
    assert run(clean / "comp-adapters.toml", "--as-of", AS_OF) == 0
    for name in ("moodle-framework.csv", "canvas-outcomes.csv", "proficiency.json"):
        assert (project.parent / "out" / name).read_bytes() == (clean / "out" / name).read_bytes()


def test_framework_from_a_system_with_its_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = project.read_text().replace(
        '[framework]\nfile = "framework.json"\n',
        '[framework]\nsystem = "framework-file"\npath = "framework.json"\nkey = "CS-SUPPORT"\n',
    )
    project.write_text(text)
    assert run(project) == 0
    assert "in sync: 4 change(s) written" in capsys.readouterr().out
    project.write_text(text.replace('key = "CS-SUPPORT"', 'key = "OTHER"'))
    assert run(project) == 1
    assert "not 'OTHER'" in capsys.readouterr().err


def test_a_pair_whose_evidence_is_withdrawn_is_cleared_not_left_standing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from comp_adapters.examples import example_dir  # noqa: PLC0415

    (tmp_path / "framework.json").write_bytes((example_dir() / "framework.json").read_bytes())
    line = (
        '{"id": "only", "learner": "ann", "competency": "product.catalogue", '
        '"kind": "observation", "level": "expert", "observed_at": "2026-05-01T09:00:00Z"'
    )
    evidence = tmp_path / "evidence.jsonl"
    evidence.write_text(line + "}\n")
    project = tmp_path / "comp-adapters.toml"
    project.write_text(
        '[framework]\nfile = "framework.json"\n\n[[evidence]]\nname = "e"\n'
        'system = "evidence-file"\npath = "evidence.jsonl"\n\n[[target]]\nname = "results"\n'
        'system = "results-file"\npath = "out/results.json"\n'
    )
    assert run(project, "--as-of", AS_OF) == 0
    rows = {r["competency"]: r for r in json.loads((tmp_path / "out/results.json").read_text())}
    assert rows["product.catalogue"]["level"] == "expert"
    capsys.readouterr()
    with evidence.open("a") as handle:
        handle.write(line + ', "voided": true}\n')
    assert run(project, "--as-of", AS_OF, "--json") == 0
    compute = summary(capsys)["compute"]
    assert compute["cleared"] >= 1  # type: ignore[index]
    rows = {r["competency"]: r for r in json.loads((tmp_path / "out/results.json").read_text())}
    assert rows["product.catalogue"]["level"] is None
    assert "no evidence counts any more" in rows["product.catalogue"]["explanation"]
    assert run(project, "--as-of", AS_OF, "--json") == 0
    assert summary(capsys)["writes"] == 0


def test_plan_json_for_some_targets_then_the_others_catch_up(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sync", "plan", "--project", str(project), "--quiet", "--json"]
    assert main([*args, "--target", "results"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in plan["targets"]] == ["results"]
    assert plan["targets"][0]["proficiency"]["changes"][0]["action"] == "create"
    assert main(["sync", "plan", "--project", str(project), "--target", "nope"]) == 2
    assert "no [[target]] named 'nope'" in capsys.readouterr().err
    assert run(project, "--target", "results", "--json") == 0
    assert summary(capsys)["writes"] == 1
    assert run(project, "--json") == 0  # the others get everything, results nothing new
    result = summary(capsys)
    assert result["writes"] == 3
    assert result["targets"]["results"]["writes"] == 0  # type: ignore[index]


def test_target_files_get_the_umasks_mode_and_keep_a_changed_one(project: Path) -> None:
    """Files written for a service must be readable by it (issue 9: not mkstemp's 0600)."""
    import os  # noqa: PLC0415
    import stat  # noqa: PLC0415

    old = os.umask(0o022)
    try:
        assert run(project, "--as-of", AS_OF) == 0
        out = project.parent / "out"
        modes = {name: stat.S_IMODE((out / name).stat().st_mode) for name in OUT}
        assert set(modes.values()) == {0o644}, modes
        (out / "case-package.json").chmod(0o640)
        (out / "case-package.json").write_text("{}")  # changed: the next run replaces it
        assert run(project, "--as-of", AS_OF) == 0
        assert stat.S_IMODE((out / "case-package.json").stat().st_mode) == 0o640
        assert (out / "case-package.json").read_text() != "{}"
    finally:
        os.umask(old)
