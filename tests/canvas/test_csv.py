"""The outcomes CSV: real-file dialects, located errors, round trips, the registered format."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from comp_adapters.canvas import read_outcomes_csv, tree_from_csv_text, write_outcomes_csv
from comp_adapters.canvas.csv_format import (
    CANVAS_CSV,
    decode_csv_bytes,
    sniff_outcomes_csv,
    tree_to_csv,
)
from comp_adapters.canvas.mapping import ROOT, OutcomeTree, Rating
from comp_adapters.cli.main import main
from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError, ValidationError
from comp_adapters.native import dump_framework
from comp_adapters.plugins import detect_format, get_format

from .conftest import FIXTURES

# -- dialects of real files --------------------------------------------------------------------


def test_canvas_doc_sample_reads_groups_parents_and_ratings() -> None:
    # canvasapi's copy of Canvas's documented sample (groups even carry a display_name).
    tree = tree_from_csv_text((FIXTURES / "canvasapi_import.csv").read_text())
    assert [(g.guid, g.parent) for g in tree.groups] == [("a", ROOT), ("b", "a")]
    (outcome,) = tree.outcomes
    assert outcome.parents == ("a", "b")  # space-separated parent_guids
    assert outcome.ratings == (Rating(3, "Excellent"), Rating(2, "Better"), Rating(1, "Good"))
    framework = read_outcomes_csv(FIXTURES / "canvasapi_import.csv")
    assert framework.key == "a"
    assert framework.title == "Parent group"
    leaf = framework.get("c")
    assert framework.method_for("c") == ("decaying_average", 40)
    assert leaf.parent == "b"
    assert framework.scale_for("c").effective_mastery_points == 3  # Canvas: top rating


def test_excel_semicolon_bom_crlf_and_decimal_commas() -> None:
    framework = read_outcomes_csv(FIXTURES / "excel_semicolon_bom.csv")
    assert framework.key == "lang"
    assert framework.title == "Sprachen"
    lesen = framework.get("lang.de.lesen")
    assert lesen.description == "Versteht Texte & Grafiken"
    assert lesen.properties == {
        "canvas.display_name": "Lesen",
        "canvas.friendly_description": "Texte verstehen",
    }
    scale = framework.scale_for("lang.de.lesen")
    assert [(lv.name, lv.points, lv.proficient) for lv in scale.levels] == [
        ("Teilweise", 1.0, False),
        ("Erfüllt", 2.5, True),
        ("Übertrifft", 4.0, True),
    ]
    assert framework.method_for("lang.de.schreiben") == ("highest", None)


def test_cr_only_line_ends_multiline_fields_and_trailing_empty_rows() -> None:
    framework = read_outcomes_csv(FIXTURES / "mac_cr_multiline.csv")
    fractions = framework.get("math.frac")
    assert fractions.description is not None
    assert fractions.description.splitlines() == [
        "Adds fractions.",
        "Explains, with a drawing,",
        "why it works.",
    ]
    assert framework.method_for("math.frac") == ("n_mastery", 3)
    assert framework.scale_for("math.frac").effective_mastery_points == 2
    assert [c.key for c in framework.competencies] == ["math.frac"]


def test_non_ascii_guids_two_parents_and_canvas_ids() -> None:
    tree = tree_from_csv_text((FIXTURES / "cjk_guids.csv").read_text(encoding="utf-8"))
    summary = next(o for o in tree.outcomes if o.guid == "語文.摘要")
    assert summary.parents == ("閱讀", "寫作")
    assert summary.canvas_id == 101
    framework = read_outcomes_csv(FIXTURES / "cjk_guids.csv")
    assert framework.key == "cjk_guids"
    assert framework.get("語文.摘要").parent == "閱讀"
    assert framework.get("語文.摘要").external_ids == {
        "canvas.vendor_guid": "語文.摘要",
        "canvas.outcome_id": "101",
    }
    assert framework.get("norsk.ø").title == "Lesing på norsk \u2013 ærlig"


def test_file_without_ratings_or_method_columns_gets_canvas_defaults() -> None:
    framework = read_outcomes_csv(FIXTURES / "no_ratings.csv")
    assert [(lv.name, lv.points) for lv in framework.scale.levels] == [
        ("Does Not Meet Expectations", 0.0),
        ("Meets Expectations", 3.0),
        ("Exceeds Expectations", 5.0),
    ]
    assert framework.scale.effective_mastery_points == 3
    assert (framework.calculation_method, framework.calculation_int) == ("decaying_average", 65)


# One small file per dialect, each checked for the one thing it is about.

DIALECTS: dict[str, tuple[bytes, object]] = {
    "utf-8 byte order mark": (
        b"\xef\xbb\xbfvendor_guid,object_type,title\r\nx,outcome,X\r\n",
        [("x", "X")],
    ),
    "semicolons and decimal commas": (
        (
            b"vendor_guid;object_type;title;mastery_points;ratings;;;\n"
            b"x;outcome;X, with a comma;2,5;4;Top;2,5;Mid\n"
        ),
        [("x", "X, with a comma", 2.5, (Rating(4, "Top"), Rating(2.5, "Mid")))],
    ),
    "CR-only line ends": (
        b"vendor_guid,object_type,title\rx,outcome,X\ry,outcome,Y\r",
        [("x", "X"), ("y", "Y")],
    ),
    "multi-line quoted fields": (
        b'vendor_guid,object_type,title,description\nx,outcome,X,"one\r\ntwo, ""three"""\n',
        [("x", 'one\r\ntwo, "three"')],
    ),
    "trailing empty rows": (
        b"vendor_guid,object_type,title,ratings,\nx,outcome,X,1,A\n,,,,\n,,,,\n\n",
        [("x", "X")],
    ),
    "ratings in unnamed columns, rows running past the header": (
        b"vendor_guid,object_type,title,ratings\nx,outcome,X,3,Top,2,Mid,1,Low,,\n",
        [("x", (Rating(3, "Top"), Rating(2, "Mid"), Rating(1, "Low")))],
    ),
    "non-ASCII titles and guids": (
        "vendor_guid,object_type,title\nø-1,outcome,Læring ✓\n語文.1,outcome,閱讀\n".encode(),
        [("ø-1", "Læring ✓"), ("語文.1", "閱讀")],
    ),
    "space-separated parent_guids": (
        b"vendor_guid,object_type,title,parent_guids\na,group,A,\nb,group,B,\nx,outcome,X, a  b \n",
        [("x", ("a", "b"))],
    ),
    "no ratings, canvas_id or calculation columns": (
        b"vendor_guid,object_type,title\nx,outcome,X\n",
        [("x", (), None, None, None, None)],
    ),
}


def _dialect_view(name: str, tree: OutcomeTree) -> object:
    outcomes = tree.outcomes
    if name == "semicolons and decimal commas":
        return [(o.guid, o.title, o.mastery_points, o.ratings) for o in outcomes]
    if name == "multi-line quoted fields":
        return [(o.guid, o.description) for o in outcomes]
    if name.startswith("ratings in unnamed"):
        return [(o.guid, o.ratings) for o in outcomes]
    if name == "space-separated parent_guids":
        return [(o.guid, o.parents) for o in outcomes]
    if name.startswith("no ratings"):
        return [
            (
                o.guid,
                o.ratings,
                o.mastery_points,
                o.calculation_method,
                o.calculation_int,
                o.canvas_id,
            )
            for o in outcomes
        ]
    return [(o.guid, o.title) for o in outcomes]


@pytest.mark.parametrize("name", list(DIALECTS))
def test_each_dialect_of_real_files(tmp_path: Path, name: str) -> None:
    data, expected = DIALECTS[name]
    path = tmp_path / "dialect.csv"
    path.write_bytes(data)
    tree = tree_from_csv_text(decode_csv_bytes(data, source=str(path)), source=str(path))
    assert _dialect_view(name, tree) == expected
    read_outcomes_csv(path)  # and the file reads into a framework


@pytest.mark.parametrize(
    "fixture",
    [
        "canvasapi_import.csv",
        "excel_semicolon_bom.csv",
        "mac_cr_multiline.csv",
        "cjk_guids.csv",
        "no_ratings.csv",
    ],
)
@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("line_end", ["\r\n", "\n", "\r"])
def test_real_files_round_trip_as_outcome_trees(
    fixture: str, delimiter: str, line_end: str
) -> None:
    # Below the framework (which keeps one parent and no Canvas ids) the tree keeps all:
    # several parents, unnamed rating columns, guids, display names, empty fields.
    data = (FIXTURES / fixture).read_bytes()
    tree = tree_from_csv_text(decode_csv_bytes(data, source=fixture))
    text = tree_to_csv(tree, delimiter=delimiter).replace("\r\n", line_end)
    assert text.split(line_end, 1)[0].count(delimiter) >= 2
    back = tree_from_csv_text(text)
    assert _comparable(back) == _comparable(tree)


def _comparable(tree: OutcomeTree) -> tuple[object, ...]:
    return (
        [replace(g, line=None, canvas_id=None) for g in tree.groups],
        [replace(o, line=None, canvas_id=None) for o in tree.outcomes],
    )


# -- located errors ------------------------------------------------------------------------------


def test_bad_header_is_a_located_error() -> None:
    with pytest.raises(ValidationError) as caught:
        read_outcomes_csv(FIXTURES / "bad_header.csv")
    problems = caught.value.problems
    assert [(p.line, p.field) for p in problems] == [(1, "name"), (1, None)]
    assert "Invalid fields: ['name', 'colour']" in problems[0].message
    assert "Missing required fields: ['title']" in problems[1].message
    assert all(p.file == str(FIXTURES / "bad_header.csv") for p in problems)


def test_every_bad_row_is_reported_with_line_and_column() -> None:
    with pytest.raises(ValidationError) as caught:
        read_outcomes_csv(FIXTURES / "bad_rows.csv")
    found = [(p.line, p.field) for p in caught.value.problems]
    assert found == [
        (2, "calculation_method"),
        (3, "vendor_guid"),
        (4, "title"),
        (5, "parent_guids"),
        (5, "calculation_int"),
        (6, "ratings"),
        (7, "vendor_guid"),
        (8, "object_type"),
        (9, "mastery_points"),
        (9, "ratings"),
    ]


def test_named_header_after_ratings_and_undecodable_bytes() -> None:
    with pytest.raises(ValidationError, match="Invalid fields after ratings"):
        tree_from_csv_text("vendor_guid,object_type,title,ratings,,title2\n")
    with pytest.raises(ValidationError, match="no header row"):
        tree_from_csv_text("")


def test_lenient_reading_of_canvas_exports_keeps_what_canvas_holds() -> None:
    # What Canvas's REST API allows lands in its own export: the strict reader refuses it,
    # the lenient one (used to read an account back after an import) keeps what it can.
    text = (
        "vendor_guid,object_type,title,parent_guids,ratings,,,\n"
        "g,group,G,,,,,\n"
        "has space,outcome,Spaced,g,2,A,2,B\n"
        "dup,outcome,First,later,,,,\n"
        "dup,outcome,Second,,,,,\n"
        ",outcome,No guid,,,,,\n"
    )
    with pytest.raises(ValidationError) as caught:
        tree_from_csv_text(text)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (3, "vendor_guid"),
        (3, "ratings"),
        (4, "parent_guids"),
        (5, "vendor_guid"),
        (6, "vendor_guid"),
    ]
    tree = tree_from_csv_text(text, source="export", lenient=True)
    assert [g.guid for g in tree.groups] == ["g"]
    assert [(o.guid, o.title, o.parents, len(o.ratings)) for o in tree.outcomes] == [
        ("has space", "Spaced", ("g",), 2),
        ("dup", "First", ("later",), 0),
    ]
    assert tree.notes == ("2 row(s) of export without a usable guid or type",)
    with pytest.raises(ValidationError, match="Invalid fields"):
        tree_from_csv_text("vendor_guid,object_type,name\n", lenient=True)


def test_multiline_rows_are_located_at_their_first_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('vendor_guid,object_type,title,description\na,outcome,A,"one\ntwo"\nb,bad,B,\n')
    with pytest.raises(ValidationError) as caught:
        read_outcomes_csv(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(4, "object_type")]


def test_non_utf8_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("vendor_guid,object_type,title\nx,outcome,Übung\n".encode("latin-1"))
    with pytest.raises(ValidationError, match=r"latin1\.csv:2: not UTF-8"):
        read_outcomes_csv(path)


# -- round trips ---------------------------------------------------------------------------------


def _shape(framework: Framework) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for c in framework.walk():
        scale = framework.scale_for(c.key)
        rows.append(
            (
                c.key,
                c.parent,
                c.title,
                c.description,
                framework.method_for(c.key) if not framework.children_of(c.key) else None,
                tuple((lv.name, lv.points, lv.proficient) for lv in scale.levels),
                scale.effective_mastery_points,
            )
        )
    return rows


TRICKY = framework_from_data(
    {
        "key": "trick y",
        "title": 'Tricky; "quoted", ünïcode',
        "scale": {
            "levels": [
                {"key": "a", "name": "Nicht erfüllt", "points": 0},
                {"key": "b", "name": "Teilweise, fast", "points": 1.5},
                {"key": "c", "name": "Erfüllt; gut", "points": 3, "proficient": True},
            ],
            "default_level": "c",
        },
        "calculation_method": "n_mastery",
        "calculation_int": 2,
        "competencies": [
            {"key": "g 1", "title": "Gruppe «eins»", "description": "Zeile 1\nZeile 2; mit, Komma"},
            {
                "key": "g 1.o:1",
                "title": '閱讀 "quoted"',
                "parent": "g 1",
                "description": "A & B <tag>\r\nnext line",
                "calculation_method": "latest",
            },
            {"key": "top", "title": "Top-level leaf", "calculation_method": "highest"},
        ],
    }
)


@pytest.mark.parametrize("delimiter", ["comma", "semicolon"])
@pytest.mark.parametrize("bom", ["yes", "no"])
@pytest.mark.parametrize("line_end", ["\r\n", "\n", "\r"])
def test_write_then_read_round_trips_every_dialect(
    tmp_path: Path, example: Framework, delimiter: str, bom: str, line_end: str
) -> None:
    for framework in (example, TRICKY):
        path = tmp_path / f"{framework.key}.csv"
        write_outcomes_csv(framework, path, canvas_delimiter=delimiter, canvas_bom=bom)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (bom == "yes")
        # Re-save with other line ends, as editors do (quoted newlines stay as they are).
        text = data.decode("utf-8-sig")
        if line_end != "\r\n":
            text = text.replace("\r\n", line_end)
        path.write_bytes((("\ufeff" if bom == "yes" else "") + text).encode())
        back = read_outcomes_csv(path)
        assert back.key == framework.key
        assert back.title == framework.title
        expected = _shape(framework)
        if line_end != "\r\n":  # the line ends inside quoted descriptions changed too
            expected = [(*r[:3], _relined(r[3], line_end), *r[4:]) for r in expected]
        assert _shape(back) == expected


def _relined(text: object, line_end: str) -> object:
    return text.replace("\r\n", line_end) if isinstance(text, str) else text


def test_write_without_scales_and_with_parent_outcomes(tmp_path: Path, example: Framework) -> None:
    path = tmp_path / "out.csv"
    write_outcomes_csv(example, path, canvas_scales="no", canvas_parent_outcomes="yes")
    header = path.read_text().splitlines()[0].split(",")
    assert "ratings" not in header
    assert "calculation_method" not in header
    tree = tree_from_csv_text(path.read_text())
    assert {o.guid for o in tree.outcomes if o.guid.endswith(":rollup")} == {
        "CS-SUPPORT:product:rollup",
        "CS-SUPPORT:communication:rollup",
        "CS-SUPPORT:troubleshooting:rollup",
    }


def test_calculation_columns_are_always_written(tmp_path: Path, example: Framework) -> None:
    # A blank calculation_method resets an outcome to Canvas's default on re-import.
    path = tmp_path / "out.csv"
    write_outcomes_csv(example, path)
    tree = tree_from_csv_text(path.read_text())
    assert all(o.calculation_method for o in tree.outcomes)


# -- the registered format and convert -------------------------------------------------------


def test_sniffer_recognises_the_header_in_any_dialect() -> None:
    assert sniff_outcomes_csv(Path("x.csv"), b"\xef\xbb\xbfvendor_guid;object_type;title\r\n")
    assert sniff_outcomes_csv(Path("x.txt"), b'"vendor_guid","object_type","title"\n')
    assert not sniff_outcomes_csv(Path("x.csv"), b"shortname,idnumber,description\n")
    assert get_format("canvas-csv") is CANVAS_CSV
    assert detect_format(FIXTURES / "excel_semicolon_bom.csv") is CANVAS_CSV


def test_convert_native_to_canvas_csv_and_back(
    tmp_path: Path, example: Framework, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "fw.json"
    dump_framework(example, source)
    out = tmp_path / "outcomes.csv"
    code = main(
        [
            "convert",
            str(source),
            "-o",
            str(out),
            "--to",
            "canvas-csv",
            "--canvas-delimiter",
            "semicolon",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("vendor_guid;object_type")
    back = tmp_path / "back.json"
    assert main(["convert", str(out), "-o", str(back)]) == 0  # detected by its header
    assert "canvas-csv" in capsys.readouterr().out


def test_bad_input_writes_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert main(["convert", str(FIXTURES / "bad_rows.csv"), "-o", str(out)]) == 1
    assert not out.exists()
    assert "bad_rows.csv:3" in capsys.readouterr().err
    too_long = framework_from_data(
        {
            "key": "k",
            "title": "K",
            "scale": TRICKY.scale.model_dump(),
            "competencies": [{"key": "x", "title": "x" * 300}],
        }
    )
    target = tmp_path / "never.csv"
    with pytest.raises(MappingError, match="at most 255"):
        write_outcomes_csv(too_long, target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
