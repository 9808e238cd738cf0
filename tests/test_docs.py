"""The README's examples run and show what they claim."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from comp_adapters import calculate
from comp_adapters.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("block", python_blocks(README))
def test_readme_python_examples_run(
    block: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    capsys.readouterr()


def test_readme_compute_output_is_real(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compute", "--as-of", "2026-11-01T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    shown = re.search(r"```\n(Customer support fundamentals.*?)\n\.\.\.\n```", README, re.DOTALL)
    assert shown, "README shows a compute sample"
    for line in shown.group(1).splitlines():
        assert line in out.splitlines(), line


def test_readme_calculate_comment_is_true() -> None:
    assert "# 4.13, as Canvas shows" in README
    assert calculate("decaying_average", [1, 2, 3, 4, 5], calculation_int=65) == 4.13


def test_readme_has_exactly_two_setup_commands() -> None:
    section = README.split("## Set up (two commands)")[1].split("##")[0]
    commands = re.findall(r"^python3 dev\.py (\w+)", section, flags=re.MULTILINE)
    assert commands == ["example", "test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 dev.py test" in ci


def test_readme_validation_sample_is_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((ROOT / "examples/customer-support/framework.json").read_text())
    data["competencies"][1]["parent"] = "nowhere"
    data["competencies"][2]["calculation_int"] = 5
    (tmp_path / "bad.json").write_text(json.dumps(data))
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "bad.json"]) == 1
    err = capsys.readouterr().err
    shown = re.search(r"```\n(error: 3 errors\n.*?)\n```", README, re.DOTALL)
    assert shown, "README shows a validation sample"
    assert err.strip() == shown.group(1).strip()


def test_readme_end_to_end_commands_parse() -> None:
    section = README.split("## One framework, every system")[1].split("\n## ")[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the section shows its commands"
    parser = build_parser()
    commands = [line for line in block.group(1).splitlines() if line.startswith("comp-adapters")]
    assert len(commands) >= 1
    for line in commands:
        argv = shlex.split(line.split("#")[0].split(">")[0])[1:]
        parser.parse_args(argv)  # exits (fails the test) on a wrong command or flag
