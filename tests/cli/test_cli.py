"""The command line: the main job, validation, conversion, and errors without tracebacks."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.examples import example_dir
from comp_adapters.native import load_framework

EXAMPLE = example_dir()
AS_OF = "2026-11-01T00:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_compute_runs_on_the_bundled_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compute", "--as-of", AS_OF)
    assert code == 0, err
    assert out.startswith("Customer support fundamentals (CS-SUPPORT v1.0) as of 2026-11-01")
    assert "amara.okafor" in out
    assert "rule:points" in out
    assert "10 learners" in out
    assert "1 expired" in out
    assert "1 voided" in out


def test_compute_json_is_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compute", "--as-of", AS_OF, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["framework"] == "CS-SUPPORT"
    assert data["as_of"] == AS_OF
    assert data["skipped"] == {"expired": 1, "voided": 1}
    learners = {p["learner"] for p in data["proficiencies"]}
    assert len(learners) == 10
    assert all(p["explanation"] for p in data["proficiencies"])


def test_compute_is_reproducible_for_a_fixed_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    first = run(capsys, "compute", "--as-of", AS_OF, "--json")[1]
    second = run(
        capsys,
        "compute",
        "--as-of",
        AS_OF,
        "--json",
        "--framework",
        str(EXAMPLE / "framework.json"),
        "--evidence",
        str(EXAMPLE / "evidence.jsonl"),
    )[1]
    assert first == second


def test_example_meets_its_promises() -> None:
    framework = load_framework(EXAMPLE / "framework.json")
    assert len(framework.competencies) == 12
    assert len(framework.scale.levels) == 4
    assert sum(1 for c in framework.competencies if c.rollup) >= 2
    lines = (EXAMPLE / "evidence.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert 180 <= len(records) <= 260
    assert len({r["learner"] for r in records}) == 10
    assert len({r["kind"] for r in records}) >= 6
    assert any(r.get("voided") for r in records)
    assert any(r.get("expires_at", "9999") < AS_OF for r in records)


def test_compute_weights_and_bad_weight(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compute", "--as-of", AS_OF, "--json", "--weight", "attestation=0")
    assert code == 0
    assert "kind attestation weighted 0" in json.loads(out)["skipped"]
    code, _, err = run(capsys, "compute", "--weight", "gossip=2")
    assert code == 2
    assert "KIND=NUMBER" in err


def test_validate_good_and_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "validate", str(EXAMPLE / "framework.json"))
    assert code == 0
    assert "12 competencies, no errors" in out
    code, out, _ = run(capsys, "validate", str(EXAMPLE / "evidence.jsonl"))
    assert code == 0
    assert "evidence records, no problems" in out

    bad = json.loads((EXAMPLE / "framework.json").read_text())
    bad["competencies"][1]["parent"] = "nowhere"
    bad["competencies"][2]["calculation_int"] = 5
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1
    assert "competency 'product.catalogue', field 'parent': unknown parent 'nowhere'" in err
    assert "competency 'product.pricing'" in err
    assert "Traceback" not in err


def test_convert_native_to_yaml_and_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    yaml_path = tmp_path / "fw.yaml"
    code, out, err = run(capsys, "convert", str(EXAMPLE / "framework.json"), "-o", str(yaml_path))
    assert code == 0, err
    assert "(native) ->" in out
    back = tmp_path / "back.json"
    assert run(capsys, "convert", str(yaml_path), "-o", str(back))[0] == 0
    assert load_framework(back) == load_framework(EXAMPLE / "framework.json")


def test_convert_bad_input_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.json"
    source.write_text('{"format": "comp-adapters/framework@1", "key": "x", "competencies": [')
    out_path = tmp_path / "out.json"
    code, _, err = run(capsys, "convert", str(source), "-o", str(out_path), "--from", "native")
    assert code == 1
    assert "in.json:1: invalid JSON" in err
    assert not out_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


def test_convert_unknown_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "convert", str(EXAMPLE / "framework.json"), "-o", str(tmp_path / "o"), "--to", "xls"
    )
    assert code == 2
    assert "unknown format 'xls'" in err


def test_schema_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out)["title"] == "comp_adapters framework"
    code, out, _ = run(capsys, "formats")
    assert "native" in out


def test_console_script_shows_no_traceback(tmp_path: Path) -> None:
    script = shutil.which("comp-adapters", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed with the package"
    missing = tmp_path / "missing.json"
    done = subprocess.run(
        [script, "validate", str(missing)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_output_into_a_missing_folder_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "absent" / "out.json"
    code, _, err = run(capsys, "convert", str(EXAMPLE / "framework.json"), "-o", str(target))
    assert code == 2
    assert "does not exist" in err
    assert "internal error" not in err
    code, _, err = run(
        capsys, "convert", str(EXAMPLE / "framework.json"), "-o", str(tmp_path), "--to", "native"
    )
    assert code == 2
    assert "is a folder" in err


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def test_the_lazy_command_table_matches_what_the_modules_register() -> None:
    """Running one command imports only its module: the table must name every command."""
    from comp_adapters.cli.main import COMMAND_MODULE_OF, build_parser  # noqa: PLC0415

    assert _commands(build_parser()) == set(COMMAND_MODULE_OF)
    for command, module in COMMAND_MODULE_OF.items():
        only = build_parser([command])
        assert command in _commands(only), (command, module)
    assert _commands(build_parser(["-v", "sync", "run"])) == {"sync"}
    assert _commands(build_parser(["no-such-command"])) == set(COMMAND_MODULE_OF)
