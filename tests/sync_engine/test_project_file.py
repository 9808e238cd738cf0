"""The project file: its shape, every problem at once with its place, secrets by reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.errors import ValidationError
from comp_adapters.files import FrameworkFileSettings
from comp_adapters.project import load_project


def test_the_example_project_loads(project: Path) -> None:
    loaded = load_project(project)
    assert [e.name for e in loaded.evidence] == ["coaching-and-assessments", "lms-xapi"]
    assert [t.name for t in loaded.targets] == [
        "case-package",
        "moodle-import",
        "canvas-import",
        "results",
    ]
    settings = loaded.framework.settings
    assert isinstance(settings, FrameworkFileSettings)
    assert settings.path == project.parent.resolve() / "framework.json"  # relative to the file
    assert loaded.store_url == f"sqlite:///{project.parent.resolve()}/.comp-adapters/state.db"
    assert loaded.targets[0].receives == ("framework",)


BROKEN = """\
[framework]
file = "framework.json"

[[evidence]]
name = "notes"
system = "no-such-adapter"

[[target]]
name = "results"
system = "results-file"
receives = ["proficiency"]
path = "out/results.json"
colour = "blue"

[[target]]
name = "remote"
system = "refusing"
receives = ["proficiency"]
url = "https://lms.example.org"
token = "s3cr3t-inline"

[[target]]
name = "results"
system = "evidence-file"
receives = ["framework"]
path = "x.jsonl"
"""


def test_every_problem_is_reported_at_once_with_its_place(
    tmp_path: Path, refusing_adapter: None
) -> None:
    path = tmp_path / "comp-adapters.toml"
    path.write_text(BROKEN)
    with pytest.raises(ValidationError) as caught:
        load_project(path, environ={})
    text = [str(problem) for problem in caught.value.problems]
    joined = "\n".join(text)
    assert f'{path}:6: [[evidence]] #1 "notes", key system: unknown adapter' in joined
    assert f'{path}:13: [[target]] #1 "results", key colour: results-file setting' in joined
    assert f'{path}:20: [[target]] #2 "remote", key token: a secret written in the project' in (
        joined
    )
    assert f"{path}:25: [[target]] #3 \"results\", key receives: adapter 'evidence-file'" in joined
    assert f'{path}:23: [[target]] #3 "results", key name: the name' in joined
    assert "s3cr3t-inline" not in joined
    assert len(text) == 5


def test_secrets_by_reference_are_read_from_the_environment(
    tmp_path: Path, refusing_adapter: None
) -> None:
    path = tmp_path / "comp-adapters.toml"
    path.write_text(
        '[framework]\nfile = "f.json"\n\n[[target]]\nname = "remote"\nsystem = "refusing"\n'
        'receives = ["proficiency"]\nurl = "https://lms.example.org"\ntoken_env = "LMS_TOKEN"\n'
    )
    loaded = load_project(path, environ={"LMS_TOKEN": "from-env"})
    settings = loaded.targets[0].settings
    assert settings.token.get_secret_value() == "from-env"  # type: ignore[attr-defined]
    assert "from-env" not in repr(settings)
    with pytest.raises(ValidationError) as caught:
        load_project(path, environ={})
    assert f'{path}:9: [[target]] #1 "remote", key token_env' in str(caught.value)
    assert "$LMS_TOKEN" in str(caught.value)


def test_bad_toml_and_missing_tables_are_located(tmp_path: Path) -> None:
    path = tmp_path / "comp-adapters.toml"
    path.write_text('[framework]\nfile = "f.json"\n[[target]\n')
    with pytest.raises(ValidationError, match=rf"{path}:3: invalid TOML"):
        load_project(path)
    path.write_text('[framework]\nfile = "f.json"\nsystem = "case"\n[compute]\nengine = "gpu"\n')
    with pytest.raises(ValidationError) as caught:
        load_project(path)
    text = str(caught.value)
    assert f"{path}:1: [framework]: give either file" in text
    assert f"{path}:5: [compute], key engine" in text


def test_schema_project_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--project"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "comp-adapters.toml"
    assert {"framework", "evidence", "target", "compute", "store"} <= set(schema["properties"])


def test_readme_shows_the_example_project() -> None:
    """Every table the README shows is in the example project file, as shown."""
    from comp_adapters.examples import example_dir  # noqa: PLC0415

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## One framework, every system")[1].split("\n## ")[0]
    shown = section.split("```toml\n")[1].split("```")[0]
    example = (example_dir() / "comp-adapters.toml").read_text()
    for block in shown.strip().split("\n\n"):
        assert block in example, block
