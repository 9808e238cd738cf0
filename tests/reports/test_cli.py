"""The gaps and report commands, on the bundled example and on bad input."""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import pytest

from comp_adapters.cli.main import build_parser, main
from comp_adapters.examples import example_dir

AS_OF = ["--as-of", "2026-11-01T00:00:00Z"]


def test_gaps_default_runs_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gaps", *AS_OF]) == 0
    out = capsys.readouterr().out
    assert "julia.nowak" in out
    assert "12 open gaps of 54 requirements, 10 people, coverage 74% (viewer admin)" in out


def test_gaps_json_csv_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gaps", *AS_OF, "--json", "--team", "Support North"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["filters"] == {"team": "Support North"}
    assert {g["team"] for g in data["gaps"]} == {"Support North"}
    priorities = [g["priority"] for g in data["gaps"]]
    assert priorities == sorted(priorities, reverse=True)
    assert main(["gaps", *AS_OF, "--csv", "--role", "first-line", "--manager", "julia.nowak"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows
    assert {r["role"] for r in rows} == {"first-line"}
    assert {r["manager"] for r in rows} == {"julia.nowak"}


def test_report_writes_html_and_data_and_compares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, data = tmp_path / "a.html", tmp_path / "a.json"
    assert (
        main(["report", "-o", str(first), "--data", str(data), "--as-of", "2026-06-01T00:00:00Z"])
        == 0
    )
    second = tmp_path / "b.html"
    assert main(["report", *AS_OF, "-o", str(second), "--previous", str(data)]) == 0
    html = second.read_text()
    assert "compared with the report as of 2026-06-01T00:00:00Z" in html
    assert "points since last" in html
    assert "<link" not in html
    assert " src=" not in html  # nothing is loaded from anywhere
    assert (
        main(["report", *AS_OF, "-o", str(second), "--previous", str(data), "--viewer", "auditor"])
        == 2
    )
    assert "made for viewer 'admin'" in capsys.readouterr().err


def test_bad_inputs_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = example_dir()
    people = tmp_path / "people.csv"
    people.write_text((folder / "people.csv").read_text().replace("SUP-2", "SUP-9", 1))
    args = [
        "gaps",
        "--roles",
        str(folder / "roles.toml"),
        "--people",
        str(people),
        "--framework",
        str(folder / "framework.json"),
        "--evidence",
        str(folder / "evidence.jsonl"),
    ]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{people}:5" in err
    assert "unknown role 'SUP-9'" in err
    assert main(["gaps", "--roles", str(folder / "roles.toml")]) == 2
    assert main(["gaps", "--viewer", "boss:1"]) == 2
    assert "expected learner:ID" in capsys.readouterr().err
    assert main(["report", "-o", str(tmp_path / "nowhere" / "r.html")]) == 2


def test_roles_commands(capsys: pytest.CaptureFixture[str]) -> None:
    folder = example_dir()
    assert (
        main(
            [
                "roles",
                "validate",
                str(folder / "roles.toml"),
                "--framework",
                str(folder / "framework.json"),
            ]
        )
        == 0
    )
    assert "3 roles, 15 requirements, 9 resources" in capsys.readouterr().out
    assert main(["roles", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "comp_adapters role profiles"


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("page", "section"),
    [("README.md", "## Skill gaps and reports"), ("docs/reports.md", "# Skill gaps and reports")],
)
def test_documented_commands_parse(page: str, section: str) -> None:
    text = (ROOT / page).read_text().split(section, 1)[1]
    block = text.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = [line for line in block.splitlines() if line.startswith("comp-adapters")]
    assert len(commands) >= 3
    parser = build_parser()
    for line in commands:
        parser.parse_args(shlex.split(line.split(" #")[0].split(">")[0])[1:])


def test_report_heatmap_by_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.json"
    assert (
        main(
            [
                "report",
                *AS_OF,
                "--heatmap",
                "role",
                "-o",
                str(tmp_path / "r.html"),
                "--data",
                str(data),
            ]
        )
        == 0
    )
    heatmap = json.loads(data.read_text())["kpis"]["heatmap"]
    assert heatmap["axis"] == "role"
    assert heatmap["rows"] == ["first-line", "second-line", "team-lead"]
