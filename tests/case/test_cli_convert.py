"""``comp-adapters convert`` with CASE files, and bad input that must write nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comp_adapters.case.package_format import CASE_FORMAT, sniff_case
from comp_adapters.case.wire import strict_identifier
from comp_adapters.cli.main import main
from comp_adapters.core.framework import Framework
from comp_adapters.examples import example_dir
from comp_adapters.formats import NATIVE
from comp_adapters.plugins import detect_format

from .conftest import FIXTURES, PACKAGES, assert_valid_case, assert_valid_case_1_0


@pytest.mark.parametrize("name", PACKAGES)
def test_case_files_are_detected_as_case_not_native(name: str) -> None:
    path = FIXTURES / name
    assert detect_format(path).name == "case"
    assert not NATIVE.sniff(path, path.read_bytes()[:65536])


def test_native_files_are_not_claimed_by_case() -> None:
    path = example_dir() / "framework.json"
    assert not sniff_case(path, path.read_bytes())
    assert detect_format(path).name == "native"


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_convert_native_to_case_and_back(
    tmp_path: Path, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "framework.case.json"
    code = main(
        [
            "convert",
            str(example_dir() / "framework.json"),
            "-o",
            str(out),
            "--to",
            "case",
            "--case-version",
            version,
            "--case-creator",
            "Support academy",
            "--case-base-uri",
            "https://case.example.org",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    (assert_valid_case if version == "1.1" else assert_valid_case_1_0)(data)
    assert data["CFDocument"]["creator"] == "Support academy"
    assert data["CFDocument"]["uri"].startswith("https://case.example.org/uri/")
    assert ("caseVersion" in data["CFDocument"]) is (version == "1.1")
    back = tmp_path / "back.json"
    assert main(["convert", str(out), "-o", str(back), "--to", "native"]) == 0
    assert "competencies" in json.loads(back.read_text())
    captured = capsys.readouterr()
    assert "12 competencies" in captured.out


def test_convert_prints_located_warnings_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    code = main(["convert", str(FIXTURES / "legacy_2017.json"), "-o", str(out), "--to", "case"])
    assert code == 0
    err = capsys.readouterr().err
    assert "legacy_2017.json, field 'CFItems[0].educationalLevel': warning: pre-1.0 key" in err
    assert "field 'CFItems[3]': warning: item without isChildOf" in err
    assert_valid_case(json.loads(out.read_text()))


def test_validate_reports_case_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / "case11_university_rubrics.json")]) == 0
    out = capsys.readouterr().out
    assert "several parents" in out
    assert "8 competencies, no errors" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"CFDocument": {"identifier": "d0000000-0000-0000-0000-000000000000", ', "invalid JSON"),
        (
            (
                '{"CFDocument": {"identifier": "d0000000-0000-0000-0000-000000000000", "uri": "u",'
                ' "creator": "c", "title": "t"}, "CFItems": {"not": "a list"}}'
            ),
            "field 'CFItems': expected a list, found an object",
        ),
        (
            '{"CFDocument": {"identifier": 7}, "CFItems": []}',
            "field 'CFDocument.identifier': expected a string, found a number",
        ),
    ],
)
def test_bad_input_gives_located_error_and_no_output(
    tmp_path: Path, content: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.json"
    source.write_text(content, encoding="utf-8")
    out = tmp_path / "out.json"
    assert main(["convert", str(source), "-o", str(out), "--from", "case", "--to", "case"]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert str(source) in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]


def test_cycle_gives_located_error_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((FIXTURES / "opensalt_sequence_number.json").read_text())
    first, second = data["CFAssociations"]
    first["destinationNodeURI"] = second["originNodeURI"]
    second["destinationNodeURI"] = first["originNodeURI"]
    source = tmp_path / "cycle.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out.json"
    assert main(["convert", str(source), "-o", str(out), "--to", "native"]) == 1
    err = capsys.readouterr().err
    assert "cycle.json, field 'CFAssociations[" in err
    assert "isChildOf associations form a cycle: 'SNT.1' -> 'SNT.2' -> 'SNT.1'" in err
    assert not out.exists()


def test_unknown_case_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(
            [
                "convert",
                str(example_dir() / "framework.json"),
                "-o",
                str(tmp_path / "x.json"),
                "--to",
                "case",
                "--case-version",
                "2.0",
            ]
        )
    assert not (tmp_path / "x.json").exists()


def test_formats_without_warnings_use_plain_read_and_write(tmp_path: Path) -> None:
    """The FileFormat reporting hooks fall back to read/write for formats that lack them."""
    framework, problems = NATIVE.read_reporting(example_dir() / "framework.json")
    assert problems == []
    out = tmp_path / "copy.json"
    assert NATIVE.write_reporting(framework, out) == []
    assert NATIVE.read(out) == framework


@pytest.mark.parametrize("name", PACKAGES)
@pytest.mark.parametrize("csv_format", ["moodle-csv", "canvas-csv"])
def test_case_to_csv_and_back_keeps_what_the_csv_holds(
    tmp_path: Path, name: str, csv_format: str
) -> None:
    """Keys, hierarchy, order, titles, descriptions and scale level names go through the
    LMS import CSVs; so do CASE identifiers where the key is one (items without a
    humanCodingScheme, the document), written as a direct export writes them (an ASN URL
    as its UUIDv5). Canvas's CSV lists groups before outcomes, so siblings that mix both
    come back in that order (docs/canvas.md: sibling order does not survive)."""
    middle, back = tmp_path / "framework.csv", tmp_path / "back.json"
    assert main(["convert", str(FIXTURES / name), "-o", str(middle), "--to", csv_format]) == 0
    assert (
        main(["convert", str(middle), "-o", str(back), "--from", csv_format, "--to", "case"]) == 0
    )
    written = json.loads(back.read_text(encoding="utf-8"))
    assert_valid_case(written)
    before, _ = CASE_FORMAT.read_reporting(FIXTURES / name)
    after, _ = CASE_FORMAT.read_reporting(back)

    def shape(framework: Framework) -> list[tuple[Any, ...]]:
        found = [
            (c.key, c.parent, c.title, c.description, [level.name for level in c.scale.levels])
            if c.scale
            else (c.key, c.parent, c.title, c.description)
            for c in framework.walk()
        ]
        return sorted(found) if csv_format == "canvas-csv" else found

    assert shape(after) == shape(before)
    assert (after.key, after.title) == (before.key, before.title)
    assert after.external_ids["case"] == before.external_ids["case"]
    for competency in before.competencies:
        if competency.key == competency.external_ids["case"]:
            expected = strict_identifier(competency.key)
            assert after.get(competency.key).external_ids["case"] == expected
