"""Canvas's own outcomes CSV files (``spec/lib/outcomes/fixtures``) round-trip through a
framework: object type, guid, title, description, parents, ratings, method and int come
back as they were, except what docs/canvas.md names as a loss.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from comp_adapters.canvas.csv_format import (
    decode_csv_bytes,
    read_outcomes_csv,
    read_outcomes_csv_reporting,
    tree_from_csv_text,
    write_outcomes_csv,
)
from comp_adapters.canvas.mapping import ROOT, desired_tree, framework_from_tree
from comp_adapters.cli.main import main

from .conftest import FIXTURES

CANVAS_FILES = FIXTURES / "canvas_spec"
NAMES = ["demo.csv", "chn.csv", "nor.csv", "nor-excel.csv", "no-ratings.csv", "scoring.csv"]
DEFAULT_RATINGS = ((5.0, "Exceeds Expectations"), (3.0, "Meets Expectations"), (0.0, ""))


def rows_of(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    """Each row by (object_type, vendor_guid): the fields a round trip must keep."""
    tree = tree_from_csv_text(decode_csv_bytes(path.read_bytes(), source=str(path)))
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for group in tree.groups:
        rows[("group", group.guid)] = {
            "title": group.title,
            "description": group.description,
            "parents": frozenset({group.parent}),
        }
    for outcome in tree.outcomes:
        rows[("outcome", outcome.guid)] = {
            "title": outcome.title,
            "description": outcome.description,
            "parents": frozenset(outcome.parents),  # links are a set to Canvas
            "ratings": tuple((r.points, r.description) for r in outcome.ratings),
            "method": (outcome.calculation_method, outcome.calculation_int),
        }
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_canvas_fixture_files_round_trip_through_a_framework(tmp_path: Path, name: str) -> None:
    # Fixes issue 11 items 1 and 2: guids were rewritten to '<key>:<guid>', blank rating
    # descriptions came back as '1 points', extra parents were dropped.
    source = CANVAS_FILES / name
    framework = read_outcomes_csv(source)
    out = tmp_path / "out.csv"
    write_outcomes_csv(framework, out)
    before, after = rows_of(source), rows_of(out)
    assert set(after) == set(before)
    for key, row in before.items():
        expected = dict(row)
        if key[0] == "outcome":
            # Named losses (docs/canvas.md): a blank method is written as the default it
            # means, and a file without ratings gets Canvas's default criterion spelled out.
            if expected["method"] == (None, None):
                expected["method"] = ("decaying_average", 65)
            if expected["ratings"] == ():
                expected["ratings"] = (
                    (5.0, "Exceeds Expectations"),
                    (3.0, "Meets Expectations"),
                    (0.0, "Does Not Meet Expectations"),
                )
        assert after[key] == expected, key


def test_blank_rating_descriptions_stay_blank() -> None:
    # scoring.csv's outcome d: "2,Good,1," - the second rating has no description.
    framework = read_outcomes_csv(CANVAS_FILES / "scoring.csv")
    tree = desired_tree(framework)
    (d,) = [o for o in tree.outcomes if o.guid == "d"]
    assert [(r.points, r.description) for r in d.ratings] == [(2.0, "Good"), (1.0, "")]
    assert "1 points" not in (CANVAS_FILES / "scoring.csv").read_text()


def test_blank_rating_descriptions_are_written_quoted(tmp_path: Path) -> None:
    # Ruby's CSV reads an empty unquoted cell as nil, which Canvas stores as "No Comment"
    # (LearningOutcome#rubric_criterion=); a quoted "" stays an empty description.
    out = tmp_path / "out.csv"
    write_outcomes_csv(read_outcomes_csv(CANVAS_FILES / "scoring.csv"), out)
    (line,) = [x for x in out.read_text().splitlines() if x.startswith("d,")]
    assert ',2,Good,1,"",' in line


def test_convert_twice_keeps_every_vendor_guid(tmp_path: Path) -> None:
    # Issue 11 item 1: 'convert outcomes.csv -o fw.json' then 'convert fw.json -o out.csv'
    # turned every guid b into a:b, so Canvas (matching by vendor_guid) would duplicate all.
    native = tmp_path / "fw.json"
    out = tmp_path / "out.csv"
    assert main(["convert", str(CANVAS_FILES / "demo.csv"), "-o", str(native)]) == 0
    assert main(["convert", str(native), "-o", str(out), "--to", "canvas-csv"]) == 0
    guids = {row["vendor_guid"] for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert guids == {"a", "b", "c"}


def test_outcomes_at_the_root_are_not_wrapped_in_a_new_group(tmp_path: Path) -> None:
    # Issue 11 item 2: a file whose outcomes sit at the root came back inside a new group
    # named after the file. Such a file is read as the whole context and written so.
    source = tmp_path / "loose.csv"
    source.write_text(
        "vendor_guid,object_type,title,parent_guids\n"
        "g,group,Group,\n"
        "x,outcome,X at the root,\n"
        "y,outcome,Y in the group,g\n"
    )
    framework = read_outcomes_csv(source)
    tree = desired_tree(framework)
    assert [g.guid for g in tree.groups] == ["g"]
    assert {o.guid: o.parents for o in tree.outcomes} == {"x": (ROOT,), "y": ("g",)}
    out = tmp_path / "out.csv"
    write_outcomes_csv(framework, out)
    assert rows_of(out)[("outcome", "x")]["parents"] == {ROOT}


def test_a_framework_read_from_canvas_keeps_its_guids_for_pushes() -> None:
    # The same for REST: a pulled framework is pushed with the guids it was read with.
    tree = tree_from_csv_text((CANVAS_FILES / "demo.csv").read_text())
    framework = framework_from_tree(tree)
    again = desired_tree(framework)
    assert [g.guid for g in again.groups] == ["a", "b"]
    assert [(o.guid, set(o.parents)) for o in again.outcomes] == [("c", {"a", "b"})]


def test_reading_warns_of_what_canvas_ignores_and_of_blank_methods(tmp_path: Path) -> None:
    # Outcomes::Import#import_group ignores display_name on a group row (Canvas's own
    # sample has them); a blank method is the account's default (LearningOutcome
    # #default_calculation_method), which depends on the new decaying average flag.
    _framework, warnings = read_outcomes_csv_reporting(CANVAS_FILES / "scoring.csv")
    messages = [p.message for p in warnings]
    assert sum("display_name" in m for m in messages) == 2
    assert any("no calculation_method" in m and "decaying_average 65" in m for m in messages)
    flagged, _ = read_outcomes_csv_reporting(CANVAS_FILES / "scoring.csv", new_decay=True)
    blank = next(c for c in flagged.competencies if c.key == "c")
    assert flagged.method_for(blank.key)[0].value == "standard_decaying_average"
