"""docs/governance.md runs as written and prints what it says.

Every ``python`` and ``sh`` block runs in document order in a folder holding the bundled
example's ``framework.json`` and ``evidence.jsonl``; python blocks share one namespace.
A ``print(...)  # -> TEXT`` line must print exactly TEXT (and a ``# -> TEXT`` comment line
right after a print states the next printed line). Each shell line is a ``comp-adapters``
command (``>`` redirects its output) that must exit 0; a text block right after the first
diff command shows lines the command prints.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from comp_adapters.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "governance.md"
EXAMPLE = ROOT / "examples" / "customer-support"
BLOCK = re.compile(r"```(python|sh|)\n(.*?)```", re.DOTALL)
EXPECTED = re.compile(r"#\s*->\s?(.*)$")


def expected_output(body: str) -> list[str]:
    return [m.group(1) for line in body.splitlines() if (m := EXPECTED.search(line))]


def run_python(body: str, namespace: dict[str, Any]) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(body, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return out.getvalue().splitlines()


def run_shell(body: str, capsys: pytest.CaptureFixture[str]) -> str:
    printed = ""
    for line in body.splitlines():
        if not line.strip():
            continue
        command, _, target = line.partition(">")
        words = shlex.split(command)
        assert words[0] == "comp-adapters", line
        code = main(words[1:])
        output = capsys.readouterr().out
        assert code == 0, line
        if target.strip():
            Path(target.strip()).write_text(output)
        elif not printed:
            printed = output
    return printed


def test_governance_doc_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("framework.json", "evidence.jsonl"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    kinds = [kind for kind, _ in blocks]
    assert kinds.count("python") >= 3
    assert "sh" in kinds
    last_shell_output: str | None = None
    for kind, body in blocks:
        if kind == "python":
            assert run_python(body, namespace) == expected_output(body)
        elif kind == "sh":
            last_shell_output = run_shell(body, capsys)
        elif last_shell_output is not None:  # the output shown after the commands
            assert body.splitlines() == last_shell_output.splitlines()
            last_shell_output = None
    assert (tmp_path / "changes.json").read_text().startswith("{")
