"""Statement files: every shape, streamed, with located errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.errors import Problem, ValidationError
from comp_adapters.xapi import files
from comp_adapters.xapi.adapter import XapiAdapter
from comp_adapters.xapi.files import iter_statement_file, parse_statement_bytes
from comp_adapters.xapi.mapping import ActivityRule, IdentityConfig, MappingConfig
from tests.xapi.conftest import statement, void

FIXTURES = Path(__file__).parent / "fixtures"
CMI5_MAPPING = MappingConfig(
    identity=IdentityConfig(account_home_pages=("http://example.org/",)),
    activities=(ActivityRule(prefix="http://example.org/cmi5/", competencies=("geology",)),),
)


def ids(path: Path, **options: Any) -> list[tuple[int, str]]:
    return [(line, item["id"]) for line, item in iter_statement_file(path, **options)]


def test_every_shape_streams_the_same_statements(tmp_path: Path) -> None:
    items = [statement() for _ in range(4)]
    expected = [item["id"] for item in items]
    shapes = {
        "array.json": json.dumps(items, indent=2),
        "compact.json": json.dumps(items, separators=(",", ":")),
        "result.json": json.dumps({"more": "/xAPI/statements?x", "statements": items}, indent=1),
        "lines.jsonl": "\n".join(json.dumps(item) for item in items) + "\n",
        "pages.jsonl": "\n".join(json.dumps({"statements": items[i : i + 2]}) for i in (0, 2)),
        "bom.json": "\ufeff" + json.dumps(items),
    }
    for name, text in shapes.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert [sid for _, sid in ids(path)] == expected, name
    single = tmp_path / "single.json"
    single.write_text(json.dumps(items[0], indent=2))
    assert ids(single) == [(1, expected[0])]
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    assert ids(empty) == []


def test_line_numbers_and_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "CHUNK", 64)  # every statement spans several chunks
    items = [statement(result={"response": 'a "quoted" \\ } ] { [ text'}) for _ in range(5)]
    path = tmp_path / "array.json"
    path.write_text(json.dumps(items, indent=2))
    starts = [n for n, line in enumerate(path.read_text().splitlines(), 1) if line == "  {"]
    assert ids(path) == list(zip(starts, [i["id"] for i in items], strict=True))
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"statements": items}, indent=2))
    assert [sid for _, sid in ids(result)] == [i["id"] for i in items]
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n\n".join(json.dumps(i) for i in items))
    assert [n for n, _ in ids(lines)] == [1, 3, 5, 7, 9]


def test_the_reader_streams(tmp_path: Path) -> None:
    """The first statement comes out before the reader meets the broken end of the file."""
    path = tmp_path / "big.json"
    good = json.dumps(statement())
    path.write_text("[" + ",\n".join([good] * 3000) + ",\n{broken")
    stream = iter_statement_file(path)
    first = next(stream)
    assert first[0] == 1
    with pytest.raises(ValidationError, match=r"big.json:3001"):
        list(stream)


def test_fixtures_from_real_cmi5_data() -> None:
    assert len(ids(FIXTURES / "cmi5_failed_then_passed.json")) == 7
    assert len(ids(FIXTURES / "cmi5_completed_result.json")) == 5
    assert len(ids(FIXTURES / "cmi5_passed.jsonl")) == 5
    assert len(ids(FIXTURES / "single_statement.json")) == 1


def test_broken_json_names_file_and_line() -> None:
    path = FIXTURES / "broken_second_statement.json"
    with pytest.raises(ValidationError) as caught:
        ids(path)
    assert f"{path}:100: invalid JSON" in str(caught.value)
    problems: list[Problem] = []
    assert [n for n, _ in ids(path, problems=problems)] == [2, 121]
    assert [p.line for p in problems] == [100]


def test_duplicate_key_names_file_and_line(tmp_path: Path) -> None:
    path = FIXTURES / "duplicate_actor_key.json"
    with pytest.raises(ValidationError) as caught:
        ids(path)
    assert f"{path}:7: duplicate key 'actor'" in str(caught.value)
    compact = json.dumps(statement(), separators=(",", ":")).encode()
    assert parse_statement_bytes(compact, source="s", line=1)["id"]  # fast path
    doubled = compact[:-1] + b',"verb":{"id":"x"}}'
    with pytest.raises(ValidationError, match="s:4: duplicate key 'verb'"):
        parse_statement_bytes(doubled, source="s", line=4)
    lines = tmp_path / "x.jsonl"
    lines.write_bytes(compact + b"\n" + doubled + b"\n")
    problems: list[Problem] = []
    assert len(ids(lines, problems=problems)) == 1
    assert [str(p) for p in problems] == [f"{lines}:2: duplicate key 'verb' in a JSON object"]


def test_not_a_statement_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('\n\n"hello"')
    with pytest.raises(ValidationError, match=r"x.json:3: not a statement file"):
        ids(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValidationError, match="expected a statement object"):
        ids(path)
    path.write_text("[{}\n{}]")
    with pytest.raises(ValidationError, match=r"x.json:2: invalid JSON: expected ',' or ']'"):
        list(iter_statement_file(path))
    with pytest.raises(ValidationError, match="file not found"):
        ids(tmp_path / "missing.json")


def test_missing_actor_in_a_file_is_an_error_with_line_and_id(tmp_path: Path) -> None:
    items = [statement(), {k: v for k, v in statement().items() if k != "actor"}, statement()]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items))
    adapter = XapiAdapter(mapping=MappingConfig(identity=IdentityConfig(unknown="ifi")))
    with pytest.raises(ValidationError) as caught:
        list(adapter.read_file(path))
    expected = f"{path}:2, field 'actor': statement {items[1]['id']}: statement has no actor"
    assert expected in str(caught.value)
    lenient = list(adapter.read_file(path, strict=False))
    assert adapter.stats.bad == 1
    assert adapter.stats.statements == 3
    assert sum(len(b.evidence) for b in lenient) == 0  # no competency mapping in this config
    assert adapter.stats.skipped == {"no competency for the activity": 2}


def test_cmi5_scenario_from_a_file() -> None:
    adapter = XapiAdapter(mapping=CMI5_MAPPING)
    batches = list(adapter.read_file(FIXTURES / "cmi5_failed_then_passed.json"))
    evidence = [e for b in batches for e in b.evidence]
    # moveOn CompletedAndPassed with masteryScore 0.86: failed (0.82), passed (0.91),
    # completed, and the course satisfied.
    assert [(e.kind.value, e.success, e.score) for e in evidence] == [
        ("assessment", False, 0.82),
        ("assessment", True, 0.91),
        ("course_completion", True, None),
        ("course_completion", True, None),
    ]
    assert adapter.stats.skipped == {"verb is no evidence": 3}  # launched, initialized, ended


def test_voids_in_files_before_and_after_their_target(tmp_path: Path) -> None:
    config = MappingConfig(
        identity=IdentityConfig(account_home_pages=("https://lms.example.org",)),
        activities=(ActivityRule(prefix="https://courses.example.org/", competencies=("q",)),),
    )
    early, late, kept = statement(scaled=0.1), statement(scaled=0.2), statement(scaled=0.3)
    items = [void(early["id"]), early, late, kept, void(late["id"])]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(items))
    adapter = XapiAdapter(mapping=config)
    batches = list(adapter.read_file(path))
    evidence = [e for b in batches for e in b.evidence]
    withdrawn = {e.id for e in evidence if e.voided}
    active = {e.id for e in evidence if not e.voided} - withdrawn
    assert active == {f"xapi:{kept['id']}:q"}
    assert withdrawn == {f"xapi:{early['id']}:q", f"xapi:{late['id']}:q"}
    assert set(batches[-1].cursor.extra["voided"]) == {early["id"], late["id"]}  # type: ignore[arg-type]
    # A later run with the tombstones withdraws the early target wherever it shows up again.
    again = tmp_path / "again.json"
    again.write_text(json.dumps([early]))
    later = list(adapter.read_file(again, cursor=batches[-1].cursor))
    assert [e.voided for b in later for e in b.evidence] == [True]


# -- the duplicate-key check against the exact one, on any formatting -------------------------

_KEYS = st.sampled_from(["id", "a:b", ":", "x", "é", 'q"u', "\\", "https://x/y:z", ""])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from(list(':"\\/aé\n\t\u2028😀')), max_size=6)
)
# A JSON object as a list of (key, value) pairs, so keys may repeat.
_OBJECTS = st.recursive(
    st.lists(st.tuples(_KEYS, _SCALARS), max_size=4),
    lambda inner: st.lists(
        st.tuples(_KEYS, _SCALARS | inner | st.lists(inner, max_size=2)), max_size=4
    ),
    max_leaves=12,
)


def _text(value: Any, draw: st.DrawFn) -> str:
    """JSON text of ``value`` (pair lists are objects), in a formatting drawn per token."""
    space = draw(st.sampled_from(["", " ", "\n  "]))
    if isinstance(value, list) and all(isinstance(item, tuple) for item in value) and value:
        members = [
            f"{_string(key, draw)}{space}:{draw(st.sampled_from(['', ' ']))}{_text(item, draw)}"
            for key, item in value
        ]
        return "{" + space + f",{space}".join(members) + space + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_text(item, draw) for item in value) + "]"
    if isinstance(value, str):
        return _string(value, draw)
    return json.dumps(value)


def _string(text: str, draw: st.DrawFn) -> str:
    out = []
    for char in json.dumps(text, ensure_ascii=draw(st.booleans()))[1:-1]:
        if char in ":/éax" and draw(st.integers(0, 3)) == 0:  # escapes that change no meaning
            out.append(draw(st.sampled_from([f"\\u{ord(char):04x}", f"\\u{ord(char):04X}"])))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _has_duplicates(value: Any) -> bool:
    if isinstance(value, list) and all(isinstance(item, tuple) for item in value) and value:
        keys = [key for key, _ in value]
        return len(keys) != len(set(keys)) or any(_has_duplicates(item) for _, item in value)
    if isinstance(value, list):
        return any(_has_duplicates(item) for item in value)
    return False


@settings(max_examples=500, deadline=None)
@given(data=st.data(), value=_OBJECTS.filter(bool))
def test_the_duplicate_key_check_is_exact_for_any_formatting(
    data: st.DataObject, value: Any
) -> None:
    text = _text(value, data.draw)
    raw = text.encode()
    if _has_duplicates(value):
        with pytest.raises(ValidationError, match="duplicate key"):
            parse_statement_bytes(raw, source="s", line=1)
    else:
        assert parse_statement_bytes(raw, source="s", line=1) == orjson.loads(raw)


# -- the duplicate-key check, case by case: each way a key can hide ---------------------------


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('{"a":1,"a":2}', "a", 1),  # compact, as an LRS or orjson writes it
        ('{"a": 1,\n "a": 2}', "a", 2),  # formatted: located on the second line
        ('{"x":{"y":[{"k":1,"k":1}]}}', "k", 1),  # at depth, inside an array
        ('{"\\u0061":1,"a":2}', "a", 1),  # an escaped spelling is the same key
        ('{"a":1,"\\u0061":2}', "a", 1),
        ('{"q\\"u":"a:b","q\\"u":":"}', 'q"u', 1),  # quotes and colons in keys and values
        ('{"a:b":"\\":\\"","a:b":1}', "a:b", 1),
        ('{"\\\\":1,"\\\\":2}', "\\", 1),  # an escaped backslash before the closing quote
        ('{"\\u003a":1,":":2}', ":", 1),  # an escaped colon: the colon count cannot tell
    ],
)
def test_every_spelling_of_a_duplicate_key_is_found(text: str, key: str, line: int) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_statement_bytes(text.encode(), source="s", line=1)
    assert [str(problem) for problem in caught.value.problems] == [
        f"s:{line}: duplicate key {key!r} in a JSON object"
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"b":{"a":1}}',  # the same key in two objects is no duplicate
        '{"a":"\\"a\\":1","b":"a:b"}',  # a value that looks like a member
        '{"\\u0061":1,"b":2}',  # escapes, so the input is not orjson's own spelling
        '{"a" : 1 , "b" : [ {"a" : 1} ]}',
        '{"a":1e2,"b":1.50,"c":"\\u00e9"}',
        '{"\\u003a":1,"b":2}',
    ],
)
def test_distinct_keys_in_any_spelling_pass(text: str) -> None:
    assert parse_statement_bytes(text.encode(), source="s", line=1) == json.loads(text)


def test_a_statement_nested_deeper_than_orjson_writes_is_still_checked() -> None:
    # orjson reads 1024 levels but writes only 255: the check falls back to the exact one.
    deep = "[" * 300 + "1" + "]" * 300
    fine = f'{{"a":{deep}}}'.encode()
    assert parse_statement_bytes(fine, source="s", line=1) == json.loads(fine)
    for doubled in (f'{{"a":1,"a":{deep}}}', f'{{"a":{deep},"b":{{"c":1,"c":2}}}}'):
        with pytest.raises(ValidationError, match=r"s:1: duplicate key '[ac]'"):
            parse_statement_bytes(doubled.encode(), source="s", line=1)
