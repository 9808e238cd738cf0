"""The generic verbs over the registry: every adapter's flags, capabilities checked before
any I/O, plans saved and applied later, stale plans refused (in-process, with the in-memory
adapter of tests/testing registered by monkeypatching the registry table)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from comp_adapters.cli.main import main
from comp_adapters.core import framework_from_data
from comp_adapters.native import dump_framework, load_framework, proficiencies_to_data
from comp_adapters.protocols import Capability
from tests.conftest import framework_data
from tests.testing.memory_adapter import TARGETS, MemoryAdapter, MemoryTarget, fill_evidence
from tests.testing.test_kit_memory import results

SECRET = "generic-cli-secret-42"


class ReadOnlyMemory(MemoryAdapter):
    name: ClassVar[str] = "readonly"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READS_FRAMEWORK})


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        "comp_adapters.plugins.BUILTIN_ADAPTERS",
        {
            "memory": "tests.testing.memory_adapter:MemoryAdapter",
            "readonly": f"{__name__}:ReadOnlyMemory",
            "broken": "tests.no_such_module:Adapter",
        },
    )
    monkeypatch.setenv("COMP_ADAPTERS_NO_PLUGINS", "1")
    monkeypatch.setenv("COMP_ADAPTERS_MEMORY_TOKEN", SECRET)
    monkeypatch.setenv("COMP_ADAPTERS_READONLY_TOKEN", SECRET)
    monkeypatch.delenv("COMP_ADAPTERS_CONFIG", raising=False)
    TARGETS.clear()
    yield
    TARGETS.clear()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./comp-adapters.toml from elsewhere


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return code, out, err


@pytest.fixture
def framework_file(tmp_path: Path) -> Path:
    path = tmp_path / "fw.json"
    dump_framework(framework_from_data(framework_data()), path)
    return path


def test_adapters_lists_origin_capabilities_settings_and_broken_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "adapters", "--json")
    assert code == 0
    entries = {entry["name"]: entry for entry in json.loads(out)}
    memory = entries["memory"]
    assert memory["origin"] == "built-in"
    assert memory["capabilities"] == sorted(c.value for c in Capability)
    settings = {s["name"]: s for s in memory["settings"]}
    assert settings["token"]["secret"]
    assert settings["space"]["required"]
    assert entries["readonly"]["capabilities"] == ["reads_framework"]
    assert entries["broken"]["broken"]
    assert "cannot load adapter 'broken'" in entries["broken"]["error"]
    code, out, _ = run(capsys, "adapters")
    assert code == 0
    assert "BROKEN" in out
    assert "token* (secret)" in out


def test_push_then_push_again_writes_nothing(
    capsys: pytest.CaptureFixture[str], framework_file: Path
) -> None:
    code, out, err = run(capsys, "push", "memory", str(framework_file), "--space", "s1")
    assert code == 0, err
    assert "applied 6 change(s)" in out
    assert len(TARGETS["s1"].records) == 6
    code, out, _ = run(capsys, "push", "memory", str(framework_file), "--space", "s1")
    assert code == 0
    assert "nothing to do" in out
    assert len(TARGETS["s1"].records) == 6


def test_push_json_has_the_plan_and_the_report(
    capsys: pytest.CaptureFixture[str], framework_file: Path
) -> None:
    code, out, _ = run(capsys, "push", "memory", str(framework_file), "--space", "s", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["plan"]["adapter"] == "memory"
    assert data["report"]["writes"] == 6
    assert data["dry_run"] is False


def test_dry_run_saves_a_plan_that_apply_carries_out_once(
    capsys: pytest.CaptureFixture[str], framework_file: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    argv = ["push", "memory", str(framework_file), "--space", "s", "--dry-run"]
    code, out, _ = run(capsys, *argv, "--plan-out", str(plan))
    assert code == 0
    assert "dry run: nothing written" in out
    assert TARGETS["s"].records == []
    assert json.loads(plan.read_text())["adapter"] == "memory"

    code, out, err = run(capsys, "apply", str(plan), "--set", "space=s")
    assert code == 0, err
    assert "applied 6 change(s)" in out
    assert len(TARGETS["s"].records) == 6

    code, _, err = run(capsys, "apply", str(plan), "--set", "space=s")
    assert code == 1
    assert "changed since the plan was made" in err
    assert len(TARGETS["s"].records) == 6


def test_apply_refuses_another_target_an_edited_plan_and_secrets_in_set(
    capsys: pytest.CaptureFixture[str], framework_file: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    run(
        capsys,
        "push",
        "memory",
        str(framework_file),
        "--space",
        "s",
        "--dry-run",
        "--plan-out",
        str(plan),
    )
    code, _, err = run(capsys, "apply", str(plan), "--set", "space=elsewhere")
    assert code == 2
    assert "the plan was made for 'memory s'" in err
    assert TARGETS.get("elsewhere", MemoryTarget()).records == []

    code, _, err = run(capsys, "apply", str(plan), "--set", "token=x")
    assert code == 2
    assert "secrets cannot be given on the command line" in err

    edited = json.loads(plan.read_text())
    edited["changes"][0]["key"] = "tampered"
    plan.write_text(json.dumps(edited))
    code, _, err = run(capsys, "apply", str(plan), "--set", "space=s")
    assert code == 1
    assert "plan.json" in err
    assert "fingerprint does not match" in err


def test_capabilities_are_checked_before_any_io(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "absent.json"
    code, _, err = run(capsys, "push", "readonly", str(missing))
    assert code == 2
    assert "adapter readonly cannot push: it does not write frameworks" in err
    code, _, err = run(capsys, "evidence", "readonly", "-o", str(tmp_path / "e.jsonl"))
    assert code == 2
    assert "cannot evidence: it does not read evidence" in err
    assert not (tmp_path / "e.jsonl").exists()
    code, _, err = run(capsys, "push", "broken", str(missing))
    assert code == 2
    assert "cannot load adapter 'broken'" in err


def test_settings_flags_come_from_the_model_and_secrets_have_none(
    capsys: pytest.CaptureFixture[str], framework_file: Path
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["push", "memory", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "--space SPACE" in out
    assert "Name of the in-memory target" in out
    assert "--strict, --no-strict" in out
    assert "--batch-size BATCH_SIZE" in out
    assert "--token" not in out
    with pytest.raises(SystemExit) as caught:
        main(["push", "memory", str(framework_file), "--space", "s", "--token", "x"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --token" in capsys.readouterr().err


def test_settings_merge_config_env_flags_and_refuse_misspelt_keys(
    capsys: pytest.CaptureFixture[str],
    framework_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "comp-adapters.toml"
    config.write_text('[memory]\nspace = "from-config"\n')
    assert run(capsys, "push", "memory", str(framework_file))[0] == 0
    assert len(TARGETS["from-config"].records) == 6
    monkeypatch.setenv("COMP_ADAPTERS_MEMORY_SPACE", "from-env")
    assert run(capsys, "push", "memory", str(framework_file))[0] == 0
    assert "from-env" in TARGETS
    assert run(capsys, "push", "memory", str(framework_file), "--space", "from-flag")[0] == 0
    assert "from-flag" in TARGETS
    config.write_text('[memory]\nspcae = "typo"\n')
    code, _, err = run(capsys, "push", "memory", str(framework_file), "--space", "x")
    assert code == 2
    assert "spcae" in err


def test_pull_writes_the_framework(
    capsys: pytest.CaptureFixture[str], framework_file: Path, tmp_path: Path
) -> None:
    run(capsys, "push", "memory", str(framework_file), "--space", "s")
    out_file = tmp_path / "pulled.json"
    code, out, err = run(
        capsys,
        "pull",
        "memory",
        "--space",
        "s",
        "--framework-key",
        "FW",
        "-o",
        str(out_file),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["competencies"] == 5
    pulled = load_framework(out_file)
    assert pulled.canonical() == framework_from_data(framework_data()).canonical()
    code, _, err = run(
        capsys, "pull", "memory", "--space", "s", "--framework-key", "NOPE", "-o", str(out_file)
    )
    assert code == 1
    assert "NOPE" in err


def test_publish_then_publish_again_writes_nothing(
    capsys: pytest.CaptureFixture[str], framework_file: Path, tmp_path: Path
) -> None:
    results_file = tmp_path / "results.json"
    data = proficiencies_to_data(results(framework_from_data(framework_data())))
    results_file.write_text(json.dumps({"proficiencies": data}))
    argv = ["publish", "memory", str(results_file), "--framework", str(framework_file)]
    code, out, err = run(capsys, *argv, "--space", "s")
    assert code == 0, err
    assert "applied 4 change(s)" in out
    code, out, _ = run(capsys, *argv, "--space", "s", "--json")
    assert code == 0
    assert json.loads(out)["report"] is None
    assert json.loads(out)["plan"]["changes"][0]["action"] == "noop"


def test_evidence_reads_incrementally_with_a_cursor_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    TARGETS["s"] = MemoryTarget()
    fill_evidence(TARGETS["s"])
    cursor = tmp_path / "cursor.json"
    out_file = tmp_path / "e.jsonl"
    withdrawn = tmp_path / "withdrawn.txt"
    argv = ["evidence", "memory", "--space", "s", "-o", str(out_file), "--cursor", str(cursor)]
    code, out, err = run(capsys, *argv, "--withdrawn-out", str(withdrawn))
    assert code == 0, err
    assert "5 evidence" in out
    assert "1 withdrawn" in out
    assert len(out_file.read_text().splitlines()) == 5
    assert withdrawn.read_text() == "e1\n"
    saved = json.loads(cursor.read_text())
    assert saved["format"] == "comp-adapters/cursor@1"
    assert saved["cursor"]["position"] == "00000004"
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0
    assert json.loads(out)["evidence"] == 0
    TARGETS["t"] = TARGETS["s"]
    other = ["evidence", "memory", "--space", "t", "-o", str(out_file), "--cursor", str(cursor)]
    code, _, err = run(capsys, *other)
    assert code == 2
    assert "saved for another evidence query" in err
