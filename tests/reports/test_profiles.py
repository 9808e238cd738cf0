"""Role profile files: the model, the schema, located problems; the people file."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from comp_adapters.core import Framework
from comp_adapters.errors import ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.native import load_framework
from comp_adapters.reports import RoleProfiles, profiles_schema
from comp_adapters.reports.files import load_checked_profiles, load_people, load_profiles
from comp_adapters.reports.people import ReportingLines, people_from_csv_text
from comp_adapters.reports.profiles import parse_cadence
from tests.reports.conftest import FIXTURES


def test_example_roles_validate_against_schema_and_framework() -> None:
    folder = example_dir()
    framework = load_framework(folder / "framework.json")
    profiles = load_checked_profiles(folder / "roles.toml", framework)
    assert [r.key for r in profiles.roles] == ["first-line", "second-line", "team-lead"]
    data = tomllib.loads((folder / "roles.toml").read_text())
    jsonschema.validate(data, profiles_schema())
    people = load_people(folder / "people.csv", profiles)
    assert len({a.person for a in people}) == 10
    assert {a.role for a in people} == {"first-line", "second-line", "team-lead"}


def test_schema_rejects_what_the_model_rejects() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"roles": [{"key": "r", "title": "R", "requirements": [{"competency": "a"}]}]},
            profiles_schema(),
        )


def test_problems_carry_file_line_and_field(tmp_path: Path, mean_framework: Framework) -> None:
    text = (FIXTURES / "roles.toml").read_text()
    text = text.replace("impact = 2\n", "impact = 9\n").replace("weight = 2\n", "wieght = 2\n")
    path = tmp_path / "roles.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_profiles(path)
    found = {(p.field, p.line) for p in caught.value.problems}
    lines = text.splitlines()
    impact_line = lines.index("impact = 9") + 1
    typo_line = lines.index("wieght = 2") + 1
    assert ("roles[1].requirements[0].impact", impact_line) in found
    assert ("roles[0].requirements[1].wieght", typo_line) in found
    assert str(path) in str(caught.value)


def test_unknown_competency_and_level_are_located(
    tmp_path: Path, mean_framework: Framework
) -> None:
    text = (FIXTURES / "roles.toml").read_text()
    text = text.replace(
        'competency = "c"\ntarget = "expert"', 'competency = "zz"\ntarget = "expert"'
    )
    text = text.replace(
        'competency = "solo"\ntarget = "proficient"', 'competency = "solo"\ntarget = "guru"'
    )
    path = tmp_path / "roles.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_checked_profiles(path, mean_framework)
    problems = {p.field: p for p in caught.value.problems}
    assert "unknown competency 'zz'" in problems["roles[1].requirements[0].competency"].message
    assert "unknown level 'guru'" in problems["roles[2].requirements[0].target"].message
    assert (
        problems["roles[2].requirements[0].target"].line
        == text.splitlines().index('target = "guru"') + 1
    )


def test_json_role_profiles_and_bad_urls(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    path.write_text(
        json.dumps(
            {
                "roles": [
                    {"key": "r", "title": "R", "requirements": [{"competency": "a", "target": "x"}]}
                ],
                "resources": [
                    {"key": "x", "title": "X", "url": "javascript:alert(1)", "competencies": ["a"]}
                ],
            }
        )
    )
    with pytest.raises(ValidationError, match=r"resources\[0\]\.url"):
        load_profiles(path)


@pytest.mark.parametrize(
    ("text", "months", "days"),
    [
        ("quarterly", 3, 0),
        ("semi-annual", 6, 0),
        ("annual", 12, 0),
        ("P90D", 0, 90),
        ("P1Y2M1W", 14, 7),
    ],
)
def test_cadences(text: str, months: int, days: int) -> None:
    cadence = parse_cadence(text)
    assert (cadence.months, cadence.days) == (months, days)


@pytest.mark.parametrize("text", ["fortnightly", "P", "P0D", "3M"])
def test_bad_cadences(text: str) -> None:
    with pytest.raises(ValueError, match="cadence"):
        parse_cadence(text)


def test_people_in_an_excel_dialect(profiles: RoleProfiles) -> None:
    people = load_people(FIXTURES / "people_excel.csv", profiles)
    assert [(a.person, a.role, a.team, a.manager) for a in people] == [
        ("ann", "first", "North", "max"),
        ("bo", "second", "North", "max"),
        ("cy", "first", "South", "max"),
        ("max", "lead", None, None),
    ]
    assert people[0].name == "Ann\r\nAnderson"
    assert people[0].since == datetime(2026, 2, 1, tzinfo=UTC)
    assert people[1].line == 4  # the quoted name spans lines 2-3
    assert ReportingLines.of(people).team("max") == {"ann", "bo", "cy"}


def test_people_problems_are_located(profiles: RoleProfiles) -> None:
    text = "Employee,Job,Start\nann,SUP-1,2026-99-01\nbo,nurse,\n,SUP-1,\ncy,first,\ncy,SUP-1,\n"
    with pytest.raises(ValidationError) as caught:
        people_from_csv_text(text, profiles, source="hr.csv")
    found = {(p.line, p.field) for p in caught.value.problems}
    assert found == {(2, "Start"), (3, "Job"), (4, "Employee"), (6, "Job")}
    assert "unknown role 'nurse'" in str(caught.value)
    with pytest.raises(ValidationError, match="missing column 'Job'"):
        people_from_csv_text("Employee,Team\nann,x\n", profiles, source="hr.csv")
