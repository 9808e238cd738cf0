"""Pull: Canvas groups and outcomes -> core model; Common Cartridge learning_outcomes.xml."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from comp_adapters.canvas import read_cartridge
from comp_adapters.canvas.cartridge_format import CANVAS_CARTRIDGE, tree_from_cartridge_xml
from comp_adapters.canvas.mapping import ROOT, Rating
from comp_adapters.core.framework import Framework
from comp_adapters.errors import NotFoundError, ValidationError
from comp_adapters.plugins import detect_format

from .conftest import FIXTURES, MakeAdapter
from .fake_canvas import FakeCanvas


def _shape(framework: Framework) -> list[tuple[object, ...]]:
    return [
        (
            c.key,
            c.parent,
            c.title,
            c.description,
            framework.method_for(c.key) if not framework.children_of(c.key) else None,
            [(lv.name, lv.points, lv.proficient) for lv in framework.scale_for(c.key).levels],
        )
        for c in framework.walk()
    ]


@pytest.mark.parametrize("context", ["account:1", "course:3"])
def test_pull_returns_what_was_pushed(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework, context: str
) -> None:
    fake.new_decay = True  # so standard_decaying_average survives the trip
    adapter = make_adapter(context=context, strategy="rest")
    adapter.apply(adapter.plan_framework(example))
    pulled = adapter.read_framework("CS-SUPPORT")
    assert (pulled.key, pulled.title, pulled.description) == (
        example.key,
        example.title,
        example.description,
    )
    expected = _shape(example)
    # Canvas writes the effective int; the core leaves the default (65) implicit.
    expected = [
        (
            *row[:4],
            (row[4][0], row[4][1] or 65)
            if row[4] and row[4][0].endswith("average") and row[4][0] != "average"
            else row[4],
            row[5],
        )
        for row in expected
    ]
    assert sorted(_shape(pulled)) == sorted(expected)
    outcome = pulled.get("product.catalogue")
    assert outcome.external_ids["canvas.vendor_guid"] == "CS-SUPPORT:product.catalogue"
    assert outcome.external_ids["canvas.outcome_id"].isdigit()
    assert pulled.get("product").external_ids["canvas.group_id"].isdigit()


def test_pull_of_an_unknown_framework_is_not_found(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    with pytest.raises(NotFoundError, match="no outcome group"):
        make_adapter().read_framework("NOPE")


def test_pull_of_a_whole_context_with_native_canvas_content(
    fake: FakeCanvas, make_adapter: MakeAdapter
) -> None:
    # Outcomes made by hand in Canvas: no vendor_guid, one linked into two groups.
    root = fake.root_id("accounts/1")
    fake.groups[100] = {
        "id": 100,
        "context": "accounts/1",
        "title": "Reading",
        "description": None,
        "vendor_guid": None,
        "parent_id": root,
        "active": True,
    }
    fake.groups[101] = {
        "id": 101,
        "context": "accounts/1",
        "title": "Writing",
        "description": None,
        "vendor_guid": None,
        "parent_id": root,
        "active": True,
    }
    outcome = fake._new_outcome(
        "accounts/1",
        {
            "title": "Summaries",
            "ratings": [{"description": "Yes", "points": 1}, {"description": "No", "points": 0}],
            "calculation_method": "latest",
        },
    )
    fake._link_outcome("accounts/1", 100, outcome["id"])
    fake._link_outcome("accounts/1", 101, outcome["id"])
    tree = make_adapter().read_tree()
    (node,) = tree.outcomes
    assert node.parents == ("canvas_outcome_group:100", "canvas_outcome_group:101")
    assert node.ratings == (Rating(1.0, "Yes"), Rating(0.0, "No"))
    pulled = make_adapter().read_framework()
    key = f"canvas_outcome:{outcome['id']}"
    assert pulled.get(key).parent == "canvas_outcome_group:100"
    assert pulled.get("canvas_outcome_group:101").title == "Writing"
    assert pulled.method_for(key) == ("latest", None)


def test_pull_under_mastery_scales_carries_the_context_scale(
    fake: FakeCanvas, make_adapter: MakeAdapter, example: Framework
) -> None:
    fake.mastery_scales = True
    adapter = make_adapter(strategy="rest")
    adapter.apply(adapter.plan_framework(example))
    pulled = adapter.read_framework("CS-SUPPORT")
    assert [lv.name for lv in pulled.scale.levels] == [
        "No Evidence",
        "Below Mastery",
        "Near Mastery",
        "Mastery",
        "Exceeds Mastery",
    ]
    assert pulled.scale.effective_mastery_points == 3
    assert pulled.calculation_method == "highest"


# -- Common Cartridge --------------------------------------------------------------------------


def test_cartridge_xml_reads_nested_groups_outcomes_and_ratings() -> None:
    tree = tree_from_cartridge_xml((FIXTURES / "learning_outcomes.xml").read_bytes())
    assert [(g.guid, g.parent) for g in tree.groups] == [
        ("g0a1b2c3d4e5f60718293a4b5c6d7e8f9", ROOT),
        ("g2233445566778899aabbccddeeff0011", "g0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    ]
    by_guid = {o.guid: o for o in tree.outcomes}
    semantic = by_guid["g1f2e3d4c5b6a79808172635445362718"]
    assert semantic.description == "<p>Uses the right element for the job.</p>"
    assert (semantic.calculation_method, semantic.calculation_int) == ("decaying_average", 65)
    assert semantic.ratings[0] == Rating(5.0, "Exceeds Expectations")
    assert semantic.mastery_points == 3.0
    assert by_guid["web.flexbox"].parents == ("g2233445566778899aabbccddeeff0011",)
    assert by_guid["canvas_outcome:4411"].parents == (ROOT,)  # an account outcome, linked


def test_read_cartridge_from_xml_and_from_an_imscc_package(tmp_path: Path) -> None:
    framework = read_cartridge(FIXTURES / "learning_outcomes.xml")
    package = tmp_path / "course-export.imscc"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("imsmanifest.xml", "<manifest/>")
        archive.writestr(
            "course_settings/learning_outcomes.xml",
            (FIXTURES / "learning_outcomes.xml").read_bytes(),
        )
    from_package = read_cartridge(package)
    assert _shape(from_package) == _shape(framework)
    assert framework.get("web.flexbox").parent == "g2233445566778899aabbccddeeff0011"
    assert framework.get("g0a1b2c3d4e5f60718293a4b5c6d7e8f9").description_format == "html"
    assert framework.scale_for("canvas_outcome:4411").max_points == 4
    assert detect_format(package) is CANVAS_CARTRIDGE
    assert detect_format(FIXTURES / "learning_outcomes.xml") is CANVAS_CARTRIDGE


def test_cartridge_errors_are_located(tmp_path: Path) -> None:
    broken = tmp_path / "learning_outcomes.xml"
    broken.write_text('<?xml version="1.0"?>\n<learningOutcomes xmlns="x">\n<oops>\n')
    with pytest.raises(ValidationError, match=r"learning_outcomes\.xml:\d+: invalid XML"):
        read_cartridge(broken)
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<manifest/>\n')
    with pytest.raises(ValidationError, match=r"not a Canvas learning_outcomes\.xml"):
        read_cartridge(other)
    empty = tmp_path / "empty.imscc"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("imsmanifest.xml", "<manifest/>")
    with pytest.raises(ValidationError, match=r"no course_settings/learning_outcomes\.xml"):
        read_cartridge(empty)


def test_cartridge_refuses_entity_expansion(tmp_path: Path) -> None:
    evil = tmp_path / "learning_outcomes.xml"
    evil.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
        '<learningOutcomes xmlns="http://canvas.instructure.com/xsd/cccv1p0">'
        '<learningOutcome identifier="g1"><title>&e;</title></learningOutcome>'
        "</learningOutcomes>"
    )
    framework = read_cartridge(evil)
    assert "root:" not in framework.get("g1").title


def test_a_missing_lxml_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys  # noqa: PLC0415

    from comp_adapters.errors import ConfigurationError  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "lxml", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'comp-adapters\[canvas\]'"):
        read_cartridge(FIXTURES / "learning_outcomes.xml")
