"""Moodle's framework CSV: PHP quoting, the 14- and 12-column layouts, round trips, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.core.framework import Framework, RelationType
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError, ValidationError
from comp_adapters.moodle.csv_format import (
    HEADERS,
    MOODLE_CSV,
    dumps_framework,
    loads_framework,
    parse_php_csv,
    php_csv_field,
    php_csv_line,
    php_reads_back,
    read_framework_csv,
    sniff_moodle_csv,
    write_framework_csv,
)
from comp_adapters.native import load_framework
from comp_adapters.plugins import detect_format, get_format
from tests.moodle.conftest import EXAMPLE, FIXTURES

CURRENT = FIXTURES / "framework_current.csv"
OLD = FIXTURES / "framework_old_headers.csv"
TWELVE = FIXTURES / "framework_12_columns.csv"
TRANSLATED = FIXTURES / "framework_translated.csv"
PHP_EXPORT = FIXTURES / "php_export.csv"


def text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


# -- PHP fputcsv / fgetcsv ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("", ""),
        ("two words", '"two words"'),
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ("tab\there", '"tab\there"'),
        ("line\r\nbreak", '"line\r\nbreak"'),
        ("core_competency\\competency_rule_all", '"core_competency\\competency_rule_all"'),
        # PHP's quirk: a quote right after the escape character is not doubled
        ('a\\"b', '"a\\"b"'),
    ],
)
def test_php_field_quoting(value: str, written: str) -> None:
    assert php_csv_field(value) == written
    assert [r.fields for r in parse_php_csv(php_csv_line([value, "x"]))] == [[value, "x"]]


def test_php_parsing() -> None:
    text = 'a,"b\r\nc",d\r\n\n  "e"x,f\n"g""h",\\\n'
    records = list(parse_php_csv(text))
    assert [(r.line, r.fields) for r in records] == [
        (1, ["a", "b\r\nc", "d"]),
        (4, ["ex", "f"]),
        (5, ['g"h', "\\"]),
    ]


# What PHP 8.2's fgetcsv returns for these texts (run through php-cli when this table
# was written): CR at the end of a quoted value is data, the CR of a CRLF line end is not,
# PHP trims one CR from unquoted data, skips whitespace (CR included) before a quote, and
# reads a backslash as protecting the next character.
@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ('"a\r"\n', [["a\r"]]),
        ("a\r\n", [["a"]]),
        ("a\r\r\n", [["a"]]),
        ('"x"\r\r\n', [["x\r"]]),
        ('"x",y\r\n', [["x", "y"]]),
        ("a\r,b\n", [["a", "b"]]),
        ('"a"\r,b\n', [["a\r", "b"]]),
        ('"a\r\nb"\r\n', [["a\r\nb"]]),
        (' "q" ,x\n', [["q ", "x"]]),
        ('\r"q",x\r\n', [["q", "x"]]),
        ('"a\\"b",c\n', [['a\\"b', "c"]]),
        ('"a\\\\"b",c\n', [['a\\\\b"', "c"]]),
        ('"a\\",b\n', [['a\\",b\n']]),
    ],
)
def test_parsing_matches_php_fgetcsv(text: str, fields: list[list[str]]) -> None:
    assert [r.fields for r in parse_php_csv(text)] == fields


@pytest.mark.parametrize(
    ("value", "readable"),
    [
        ("", True),
        ("plain", True),
        ("a\\b", True),
        ('say \\"hi\\"', True),  # PHP writes \" undoubled and reads it back
        ("ends with a backslash\\", False),
        ('two \\\\" before a quote', False),
        ("crlf\r\ninside\r", True),
    ],
)
def test_which_values_php_reads_back(value: str, readable: bool) -> None:
    assert php_reads_back(value) is readable


def test_header_is_moodles() -> None:
    first = text_of(CURRENT).splitlines()[0]
    assert first == php_csv_line(HEADERS).rstrip("\n")


# -- round trips -------------------------------------------------------------------------


def test_moodle_export_round_trips_byte_for_byte() -> None:
    framework = read_framework_csv(CURRENT)
    assert dumps_framework(framework) == text_of(CURRENT)


def php_export_framework() -> Framework:
    """The framework ``fixtures/php_export.php`` writes with PHP's own ``fputcsv``."""
    not_yet = {"key": "Not yet competent", "name": "Not yet competent", "points": 1}
    competent = {"key": "Competent", "name": "Competent", "points": 2, "proficient": True}
    knowing = ["Mostly separate knowing", "Separate and connected", "Mostly connected knowing"]
    return framework_from_data(
        {
            "key": "FW-PHP",
            "title": 'Quoting check: commas, "quotes" and spaces',
            "description": "<p>Line one,\r\nline two</p>\n<p>Tab\there</p>",
            "description_format": "html",
            "scale": {"levels": [not_yet, competent], "default_level": "Competent"},
            "taxonomy_levels": ["domain", "skill"],
            "properties": {
                "moodle.scaleconfiguration": '[{"scaleid":"2"},{"id":1,"scaledefault":0,'
                '"proficient":0},{"id":2,"scaledefault":1,"proficient":1}]'
            },
            "competencies": [
                {
                    "key": "root",
                    "title": "Root, with comma",
                    "description": 'Plain text with "quotes" and a back\\slash',
                    "description_format": "plain",
                    "external_ids": {"moodle": "201"},
                    "rollup": {
                        "type": "points",
                        "outcome": "complete",
                        "base_points": 2,
                        "children": [
                            {"key": "root.a", "points": 1, "required": True},
                            {"key": "root.b", "points": 1},
                        ],
                    },
                },
                {
                    "key": "root.a",
                    "parent": "root",
                    "title": " Spaces around ",
                    "description": "**bold** \u2019quotes\u2019 \u00e9",
                    "description_format": "markdown",
                    "external_ids": {"moodle": "202"},
                    "related": [{"key": "x,y"}],
                },
                {
                    "key": "root.b",
                    "parent": "root",
                    "title": "Escaped",
                    "description": 'Mounts \\"square\\" corners',
                    "description_format": "plain",
                    "properties": {"moodle.descriptionformat": 0},
                    "external_ids": {"moodle": "203"},
                },
                {
                    "key": "x,y",
                    "title": "Comma key",
                    "description_format": "plain",
                    "external_ids": {"moodle": "204"},
                    "scale": {
                        "levels": [
                            {"key": name, "name": name, "points": n, "proficient": n == 3}
                            for n, name in enumerate(knowing, start=1)
                        ],
                        "default_level": knowing[0],
                    },
                    "properties": {
                        "moodle.scaleconfiguration": '[{"scaleid":"1"},{"id":1,"scaledefault":1,'
                        '"proficient":0},{"id":2,"scaledefault":0,"proficient":0},{"id":3,'
                        '"scaledefault":0,"proficient":1}]'
                    },
                    "rollup": {"type": "all_children", "outcome": "recommend"},
                    "related": [{"key": "root.a"}],
                },
                {
                    "key": "x,y.child",
                    "parent": "x,y",
                    "title": "Tab\tinside",
                    "description_format": "plain",
                    "external_ids": {"moodle": "205"},
                },
            ],
        }
    )


def test_writer_matches_phps_fputcsv_byte_for_byte() -> None:
    """The expected bytes come from PHP (fixtures/php_export.php), not from our writer:
    quoting, PHP's undoubled quote after a backslash, ``true``/``false``/``null`` and
    integers as Moodle's exporter renders them, LF line ends, UTF-8 without BOM."""
    assert dumps_framework(php_export_framework()) == text_of(PHP_EXPORT)
    assert read_framework_csv(PHP_EXPORT) == php_export_framework()


def test_values_moodle_cannot_read_back_are_refused(example: Framework, tmp_path: Path) -> None:
    first = example.competencies[3]
    broken = example.model_copy(
        update={
            "competencies": (
                *example.competencies[:3],
                first.model_copy(update={"description": "see C:\\temp\\"}),
                *example.competencies[4:],
            )
        }
    )
    target = tmp_path / "out.csv"
    with pytest.raises(MappingError) as caught:
        write_framework_csv(broken, target)
    assert f"competency {first.key!r}, column 'Description'" in str(caught.value)
    assert not target.exists()


def test_what_the_current_file_holds() -> None:
    fw = read_framework_csv(CURRENT)
    assert fw.key == "FW-ROBOTICS"
    assert fw.description is not None
    assert "\r\n" in fw.description
    assert fw.taxonomy_levels == ("domain", "skill", "indicator")
    assert [lv.name for lv in fw.scale.levels] == ["Not yet competent", "Competent"]
    assert fw.scale.default_level == "Competent"
    build = fw.get("build")
    assert build.rollup is not None
    assert build.rollup.type == "points"
    assert build.rollup.outcome.value == "complete"
    assert [(c.key, c.points, c.required) for c in build.rollup.children] == [
        ("build.frame", 1, True),
        ("build.wiring", 1, False),
        ("build.sensors", 1, False),
    ]
    assert build.external_ids == {"moodle": "111"}
    code = fw.get("code")
    assert code.rollup is not None
    assert (code.rollup.type, code.rollup.outcome.value) == ("all_children", "recommend")
    assert code.description_format == "plain"
    assert code.properties["moodle.descriptionformat"] == 0
    assert code.scale is not None
    assert [lv.proficient for lv in code.scale.levels] == [False, False, True]
    assert fw.get("build.wiring").description_format == "markdown"
    assert fw.get("build.sensors").title == "Sensors "
    assert [r.key for r in fw.get("loops").related] == ["build.frame", "a,b"]
    assert fw.get("build.frame").description == 'Mounts the frame; checks \\"square\\" corners'
    assert [c.key for c in fw.children_of("build")] == [
        "build.frame",
        "build.wiring",
        "build.sensors",
    ]


def test_old_headers_and_any_row_order() -> None:
    fw = read_framework_csv(OLD)
    assert fw.key == "FW-OLD"
    assert fw.get("intro.one").parent == "intro"
    assert fw.taxonomy_levels == ("domain", "skill")  # a JSON object, by level
    assert fw.scale.default_level == "Not yet competent"
    written = dumps_framework(fw)
    assert written.splitlines()[0] == php_csv_line(HEADERS).rstrip("\n")
    again = loads_framework(written)
    assert again == fw.model_copy(update={"taxonomy_levels": ("domain", "skill")})


def test_twelve_columns() -> None:
    fw = read_framework_csv(TWELVE)
    assert fw.key == "FW-12"
    assert fw.get("safety.tools").parent == "safety"
    rule = fw.get("safety").rollup
    assert rule is not None
    assert rule.type == "all_children"
    assert all(c.external_ids == {} for c in fw.competencies)
    written = dumps_framework(fw)
    assert len(next(parse_php_csv(written)).fields) == 14
    # The 14-column file adds Exported IDs (numbered); everything else is the same.
    assert _without_ids(loads_framework(written)) == fw


def _without_ids(fw: Framework) -> Framework:
    return fw.model_copy(
        update={
            "competencies": tuple(
                c.model_copy(update={"external_ids": {}}) for c in fw.competencies
            )
        }
    )


def test_core_framework_round_trips_through_csv(example: Framework, tmp_path: Path) -> None:
    path = tmp_path / "cs.csv"
    write_framework_csv(example, path)
    back = read_framework_csv(path)
    # What the CSV holds comes back unchanged...
    assert [c.key for c in back.walk()] == [c.key for c in example.walk()]
    for original in example.competencies:
        got = back.get(original.key)
        assert (got.title, got.description, got.description_format, got.parent) == (
            original.title,
            original.description,
            original.description_format,
            original.parent,
        )
        assert got.rollup == original.rollup
        related = [r.key for r in original.related if r.type is RelationType.RELATED]
        assert [r.key for r in got.related] == related
    assert back.taxonomy_levels == example.taxonomy_levels
    assert [(lv.name, lv.proficient) for lv in back.scale.levels] == [
        (lv.name, lv.proficient) for lv in example.scale.levels
    ]
    assert back.scale.by_key[back.scale.default_level].name == example.scale.default.name
    # ... and a second trip is exact, bytes included.
    again = tmp_path / "again.csv"
    write_framework_csv(back, again)
    assert again.read_bytes() == path.read_bytes()
    assert read_framework_csv(again) == back


def test_exported_ids_are_numbered_when_missing(example: Framework) -> None:
    rows = list(parse_php_csv(dumps_framework(example)))
    assert [r.fields[11] for r in rows[2:]] == [str(n) for n in range(1, 13)]
    assert rows[1].fields[12] == "1"


def test_scale_names_with_commas_cannot_be_written(example: Framework, tmp_path: Path) -> None:
    scale = example.scale.model_copy(
        update={
            "levels": (
                example.scale.levels[0].model_copy(update={"name": "Yes, mostly"}),
                *example.scale.levels[1:],
            )
        }
    )
    broken = example.model_copy(update={"scale": scale})
    target = tmp_path / "out.csv"
    with pytest.raises(MappingError, match="commas"):
        write_framework_csv(broken, target)
    assert not target.exists()


# -- bad input ---------------------------------------------------------------------------

_HEAD = php_csv_line(HEADERS)
_CONFIG = '"[{""scaleid"":""2""},{""id"":2,""scaledefault"":1,""proficient"":1}]"'
_FW = f',FW,"F W",,1,"No,Yes",{_CONFIG},,,,,,1,\n'
_POINTS = (
    '"core_competency\\competency_rule_points",2,'
    '"{""base"":{""points"":1},""competencies"":[{""id"":9,""points"":1,""required"":0}]}"'
)


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        (",a,A,,1,,,,0,null,,1,,\n", None, None, "no framework row"),
        (_FW + ",a,A,,1,,,,0,null,,1\n", 3, None, "columns"),
        (_FW + ",a,A,,3,,,,0,null,,1,,\n", 3, "Description format", "description format"),
        (
            _FW + f",a,A,,1,,,{_POINTS},,1,,\n",
            3,
            "Rule config (optional)",
            "Exported IDs not in the file",
        ),
        (
            _FW + ",a,A,,1,,,core_competency\\nope,2,null,,1,,\n",
            3,
            "Rule type (optional)",
            "unknown rule type",
        ),
        (_FW + ",a,A,,1,,,,7,null,,1,,\n", None, None, None),  # outcome without a rule: ignored
        (_FW + ",,A,,1,,,,0,null,,1,,\n", 3, "ID number", "without an ID number"),
        (
            _FW + ',a,A,,1,"X,Y",,,0,null,,1,,\n',
            3,
            "Scale configuration",
            "without a scale configuration",
        ),
        (_FW + ',a,A,,1,"X,Y",notjson,,0,null,,1,,\n', 3, "Scale configuration", "not JSON"),
        (_FW + ",a,A,,1,,,,0,null,,1,,\n,a,B,,1,,,,0,null,,2,,\n", None, None, "duplicate"),
        (_FW + "zz,a,A,,1,,,,0,null,,1,,\n", 3, None, "unknown parent"),
        (_FW + ",a,A,,1,,,,0,null,ghost,1,,\n", 3, None, "unknown related"),
    ],
)
def test_located_problems(
    body: str, line: int | None, column: str | None, message: str | None
) -> None:
    text = _HEAD + body
    if message is None:
        assert loads_framework(text).get("a").rollup is None
        return
    with pytest.raises(ValidationError) as caught:
        loads_framework(text, source="in.csv")
    problem = next(p for p in caught.value.errors if message.lower() in p.message.lower())
    assert problem.file == "in.csv"
    if line is not None:
        assert problem.line == line
    if column is not None:
        assert problem.field == column


def test_points_rule_needs_exported_ids_in_12_columns() -> None:
    head = php_csv_line([h for i, h in enumerate(HEADERS) if i not in (10, 11)])
    fw = f',FW,F,,1,"No,Yes",{_CONFIG},,,,1,\n'
    rule = f",a,A,,1,,,{_POINTS.replace('9', '1')},,\n"
    with pytest.raises(ValidationError, match="12-column"):
        loads_framework(head + fw + rule)


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin.csv"
    bad.write_bytes(_HEAD.encode() + "é".encode("latin-1"))
    with pytest.raises(ValidationError, match="UTF-8"):
        read_framework_csv(bad)
    with pytest.raises(ValidationError, match="not found"):
        read_framework_csv(tmp_path / "nope.csv")
    with pytest.raises(ValidationError, match="14 columns"):
        loads_framework("a,b\n")
    with pytest.raises(ValidationError, match="empty"):
        loads_framework("")


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CURRENT.read_bytes())
    assert read_framework_csv(path) == read_framework_csv(CURRENT)


# -- registration, sniffing and convert --------------------------------------------------


def test_registered_and_sniffed(tmp_path: Path) -> None:
    assert get_format("moodle-csv") is MOODLE_CSV
    for path in (CURRENT, OLD, TWELVE, TRANSLATED):
        assert sniff_moodle_csv(path, path.read_bytes()), path.name
        assert detect_format(path) is MOODLE_CSV
    other = tmp_path / "other.csv"
    other.write_text("name,score\nann,3\n")
    assert not sniff_moodle_csv(other, other.read_bytes())
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(14)) + "\n" + ",".join("x" * 14) + "\n")
    assert not sniff_moodle_csv(wide, wide.read_bytes())
    assert not sniff_moodle_csv(Path("x.json"), CURRENT.read_bytes())


def test_convert_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    native = tmp_path / "fw.json"
    assert main(["convert", str(CURRENT), "-o", str(native)]) == 0
    back = tmp_path / "back.csv"
    assert main(["convert", str(native), "-o", str(back), "--to", "moodle-csv"]) == 0
    assert back.read_bytes() == CURRENT.read_bytes()
    assert load_framework(native) == read_framework_csv(CURRENT)
    assert "moodle-csv" in capsys.readouterr().out


def test_convert_bad_input_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(_HEAD + _FW + "zz,a,A,,1,,,,0,null,,1,,\n", encoding="utf-8")
    out = tmp_path / "out.json"
    assert main(["convert", str(bad), "-o", str(out), "--from", "moodle-csv"]) == 1
    assert not out.exists()
    assert "bad.csv:3" in capsys.readouterr().err
    example_out = tmp_path / "example.csv"
    assert main(["convert", str(EXAMPLE), "-o", str(example_out), "--to", "moodle-csv"]) == 0
    assert read_framework_csv(example_out).key == "CS-SUPPORT"
