"""docs/moodle.md and the README's Moodle section run as written, against the fake Moodle.

Every ``sh`` and ``python`` block runs in document order in one folder holding the
example's ``framework.json`` and ``evidence.jsonl``; python blocks share one namespace.
The connection variables the blocks export point at the fake site instead; every other
line of a shell block must be a ``comp-adapters`` command (``>`` redirects its output)
that exits 0, so an example that stops working fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import responses

from comp_adapters.cli.main import main
from tests.moodle.conftest import EXAMPLE, FOUR_LEVELS
from tests.moodle.fake_moodle import TOKEN, URL, FakeMoodle

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "moodle.md"
README = ROOT / "README.md"
BLOCK = re.compile(r"```(python|sh)\n(.*?)```", re.DOTALL)
CONNECTION = {"COMP_ADAPTERS_MOODLE_URL", "COMP_ADAPTERS_MOODLE_TOKEN"}
LEARNERS = ("amara.okafor", "ben.schulz", "chloe.martin")


def blocks(text: str) -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in BLOCK.findall(text)]


def readme_moodle_section() -> str:
    return README.read_text(encoding="utf-8").split("\n## Moodle\n")[1].split("\n## ")[0]


def commands(body: str) -> list[str]:
    """The lines of a shell block, continuations joined, blank lines dropped."""
    return [line for line in body.replace("\\\n", " ").splitlines() if line.strip()]


class Runner:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.namespace: dict[str, Any] = {}
        self.ran: list[str] = []

    def shell(self, body: str) -> None:
        for line in commands(body):
            words = shlex.split(line, comments=True)
            if words[0] == "export":
                name, _, value = words[1].partition("=")
                if name not in CONNECTION:
                    self.monkeypatch.setenv(name, value)
                continue
            assert words[0] == "comp-adapters", f"not a comp-adapters command: {line}"
            target = None
            if ">" in words:
                at = words.index(">")
                words, target = words[:at], words[at + 1]
            self.capsys.readouterr()
            code = main(words[1:])
            out, err = self.capsys.readouterr()
            assert code == 0, f"{line}\nexit {code}\n{err}"
            assert TOKEN not in out + err
            if target is not None:
                Path(target).write_text(out, encoding="utf-8")
            self.ran.append(line)

    def python(self, body: str, source: str) -> None:
        exec(compile(body, source, "exec"), self.namespace)  # noqa: S102 - our own docs
        self.ran.append(body)

    def run(self, text: str, source: str) -> None:
        found = blocks(text)
        assert found, f"{source} has no examples"
        for kind, body in found:
            if kind == "sh":
                self.shell(body)
            else:
                self.python(body, source)


@pytest.fixture
def site(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> FakeMoodle:
    """A fake site with scale 3 = the example's levels, the example's learners, and a
    course 12 they are enrolled in; a folder with the example's files."""
    fake = FakeMoodle(scales={3: list(FOUR_LEVELS)})
    fake.install(rsps)
    users = {fake.add_user(name) for name in LEARNERS}
    fake.add_course(12, users)
    for name in list(os.environ):
        if name.startswith("COMP_ADAPTERS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COMP_ADAPTERS_MOODLE_URL", URL)
    monkeypatch.setenv("COMP_ADAPTERS_MOODLE_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE, tmp_path / "framework.json")
    shutil.copy(EXAMPLE.with_name("evidence.jsonl"), tmp_path / "evidence.jsonl")
    return fake


def test_moodle_doc_examples_run(
    site: FakeMoodle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = Runner(monkeypatch, capsys)
    runner.run(DOC.read_text(encoding="utf-8"), "docs/moodle.md")
    # What the examples claim, checked on the site they ran against.
    _, competencies, _, links, ratings = site.snapshot()
    assert len(competencies) == 12
    assert links == ((12, "comm.listening", 3),)
    assert ratings, "the rate examples wrote ratings"
    assert any(course == 12 for (_, course, _) in site.user_competency_courses)
    assert runner.namespace["evidence"], "the evidence example read the ratings back"
    assert (Path.cwd() / "from-moodle.json").exists()
    assert len(runner.ran) >= 14


def test_readme_moodle_examples_run(
    site: FakeMoodle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = Runner(monkeypatch, capsys)
    runner.run(readme_moodle_section(), "README.md")
    assert len(site.snapshot()[1]) == 12
    assert Path("ratings.jsonl").read_text(encoding="utf-8").strip()
    assert len(runner.ran) == 7
