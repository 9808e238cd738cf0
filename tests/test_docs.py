"""The README's examples run and show what they claim."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from comp_adapters import calculate
from comp_adapters.cli.main import EXIT_CODES, build_parser, main

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


# --- the generated references, the nav and the mkdocs build -----------------------------


def _gen_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "tools/gen_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_and_config_references_are_current() -> None:
    stale = _gen_reference().stale()
    assert not stale, (
        f"stale: {', '.join(str(p.relative_to(ROOT)) for p in stale)}; "
        "run .venv/bin/python tools/gen_reference.py"
    )


def test_the_cli_reference_covers_every_command_and_the_exit_codes() -> None:
    text = (ROOT / "docs/reference/cli.md").read_text()
    for words in ("push", "pull", "evidence", "publish", "apply", "adapters", "compute"):
        assert f"### `comp-adapters {words}`" in text
    for code, meaning in EXIT_CODES:
        assert f"| {code} | {meaning} |" in text


def _nav_pages(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _nav_pages(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _nav_pages(value)


def test_the_nav_lists_every_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    in_nav = set(_nav_pages(config["nav"]))
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    missing = sorted(pages - in_nav)
    assert not missing, f"pages missing from mkdocs.yml nav: {', '.join(missing)}"
    assert not in_nav - pages, f"nav names pages that do not exist: {sorted(in_nav - pages)}"


def test_the_docs_build_with_mkdocs_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "WritesFrameworkContract" in api, "mkdocstrings rendered the contract kit"
