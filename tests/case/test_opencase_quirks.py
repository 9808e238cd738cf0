"""The CASE client, mapping and writer against a provider that bends the binding the way
1EdTech's OpenCASE does (see the quirks of :class:`~tests.case.fake_provider.FakeProvider`):
it drops ``extensions``, answers 409 on v1p1 for documents it holds in CASE 1.0, answers
set endpoints with one bare object, and passes on item types without a description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.case.package_format import case_json
from comp_adapters.cli.main import main
from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.framework import (
    Competency,
    Framework,
    Relation,
    RelationType,
    RollupRule,
)
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.errors import ConflictError

from .conftest import NOW, assert_valid_case, load
from .fake_provider import HOST, FakeProvider, client_for, provider

ASN = "http://asn.jesandco.org/resources/"
SCALE = ProficiencyScale(
    key="four-levels",
    name="Four levels",
    levels=(
        ScaleLevel(key="beginning", name="Beginning", points=1),
        ScaleLevel(key="developing", name="Developing", points=2),
        ScaleLevel(key="proficient", name="Proficient", points=3, proficient=True),
        ScaleLevel(key="excellent", name="Excellent", points=4, proficient=True),
    ),
    default_level="proficient",
    mastery_points=3,
)


def ours() -> Framework:
    """A framework of ours with what CASE has fields for and what only the extension holds."""
    return Framework(
        key="MATH-6",
        title="Grade 6 mathematics",
        description="What a grade 6 learner can do.",
        version="3",
        language="en",
        scale=SCALE,
        calculation_method=CalculationMethod.HIGHEST,
        taxonomy_levels=("domain", "competency"),
        tags=("mathematics",),
        competencies=(
            Competency(
                key="RP",
                title="Ratios",
                description="Ratios and proportional relationships.",
                rollup=RollupRule(type="all_children"),
                sequence=10,
            ),
            Competency(
                key="RP.1",
                title="Ratio language",
                parent="RP",
                sequence=20,
                tags=("ratio", "language"),
                taxonomy="skill",
                calculation_method=CalculationMethod.LATEST,
            ),
            Competency(
                key="RP.2",
                title="Unit rates",
                parent="RP",
                sequence=30,
                scale=SCALE.model_copy(update={"key": "rates"}),
                related=(
                    Relation(type=RelationType.REQUIRES, key="RP.1"),
                    Relation(uri=ASN + "S114340D", title="CCSS 6.RP.A.2"),
                ),
            ),
        ),
    )


def publish(fake: FakeProvider, framework: Framework) -> str:
    """Put our CASE file of ``framework`` on the provider (as an import would); its doc id."""
    text, _ = case_json(framework, now=NOW)
    data = json.loads(text)
    assert_valid_case(data)
    doc: str = data["CFDocument"]["identifier"]
    fake.packages[doc] = data
    return doc


# -- item 12: providers drop extensions ---------------------------------------------------------


def test_a_framework_published_to_a_provider_that_drops_extensions_reads_back(
    mock: responses.RequestsMock,
) -> None:
    """What CASE has standard fields for comes back without our extension: keys (as
    humanCodingScheme), hierarchy, order, texts, tags (conceptKeywords), taxonomy
    (CFItemType), scales (rubrics), relations, dates. The framework key, rules,
    calculation methods, framework tags and proficiency flags do not (docs/case.md)."""
    fake = FakeProvider(packages={}, strip_extensions=True)
    fake.install(mock)
    framework = ours()
    doc = publish(fake, framework)
    client = client_for(fake, version="1.1")
    assert "extensions" not in json.dumps(client.get_package_data(doc))
    back = CaseAdapter(client).read_framework(doc)

    assert back.key == doc  # the document identifier, a UUIDv5 of our key: stable
    assert (back.title, back.description, back.version, back.language) == (
        framework.title,
        framework.description,
        framework.version,
        framework.language,
    )
    assert [(c.key, c.parent, c.title, c.description) for c in back.walk()] == [
        (c.key, c.parent, c.title, c.description) for c in framework.walk()
    ]
    assert [c.tags for c in back.walk()] == [c.tags for c in framework.walk()]
    assert [c.taxonomy for c in back.walk()] == [framework.taxonomy_for(c.key) for c in back.walk()]
    assert back.scale.key != SCALE.key  # the scale key lives in the extension only
    for read, ours_ in ((back.scale, SCALE), (back.get("RP.2").scale, SCALE)):
        assert read is not None
        assert [(lv.name, lv.points) for lv in read.levels] == [
            (lv.name, lv.points) for lv in ours_.levels
        ]
    assert back.get("RP.2").related == (
        Relation(type=RelationType.REQUIRES, key="RP.1"),
        Relation(uri=ASN + "S114340D", title="CCSS 6.RP.A.2"),
    )
    # not in any standard CASE field: lost, as docs/case.md says
    assert back.get("RP").rollup is None
    assert back.calculation_method == CalculationMethod.LATEST
    assert back.tags == ()
    assert any(
        "proficient levels" in p.message or "proficiency" in p.message for p in client.warnings
    )

    # stable: publishing what was read and reading it back again changes nothing
    fake.packages.clear()
    assert publish(fake, back) == doc
    again = CaseAdapter(client_for(fake, version="1.1")).read_framework(doc)
    assert again == back


def test_the_fake_drops_extensions_as_opencase_does(mock: responses.RequestsMock) -> None:
    """Only requests without OpenCASE's editor header lose them (the fake is not blind)."""
    fake = FakeProvider(packages={}, strip_extensions=True)
    fake.install(mock)
    doc = publish(fake, ours())
    url = f"{HOST}/ims/case/v1p1/CFPackages/{doc}"
    session = client_for(fake).transport.session
    assert "comp_adapters" in json.dumps(session.get(url, headers={"X-CASE-EDITOR": "1"}).json())
    assert "extensions" not in json.dumps(session.get(url).json())


# -- item 11: no invented humanCodingScheme ---------------------------------------------------


def test_case_get_writes_common_core_items_without_codes_as_they_were(
    mock: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load("common_core_asn_excerpt.json")
    doc = data["CFDocument"]["identifier"]
    FakeProvider(packages={doc: data}, strip_extensions=True).install(mock)
    out = tmp_path / "ccss.json"
    assert main(["case", "get", HOST, doc, "-o", str(out)]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert_valid_case(written)
    codes = sorted(i["humanCodingScheme"] for i in data["CFItems"] if "humanCodingScheme" in i)
    assert sorted(
        i["humanCodingScheme"] for i in written["CFItems"] if "humanCodingScheme" in i
    ) == (codes)
    links = [a["originNodeURI"]["title"] for a in written["CFAssociations"]]
    assert not [title for title in links if title.startswith(ASN)]
    assert "not a UUID" in capsys.readouterr().err


# -- item 13: a document held in CASE 1.0 only ----------------------------------------------

V1P0_DOC = "d0000000-0000-0000-0000-000000000002"


def test_a_document_held_in_case_1_0_only_is_read_from_v1p0(
    mock: responses.RequestsMock,
) -> None:
    fake = provider(mock, count=3, v1p0_documents={V1P0_DOC})
    client = client_for(fake)  # detects 1.1 by discovery
    assert V1P0_DOC in [d.identifier for d in client.list_documents()]
    package = client.get_package(V1P0_DOC)
    assert package.document.title == "Framework 2"
    assert fake.calls[-2:] == [
        f"/ims/case/v1p1/CFPackages/{V1P0_DOC}",
        f"/ims/case/v1p0/CFPackages/{V1P0_DOC}",
    ]
    [note] = [p for p in client.warnings if "409" in p.message]
    assert note.field == f"CFPackages/{V1P0_DOC}"
    assert note.severity == "warning"
    assert "exists in CASE v1p0" in note.message  # what the provider said
    assert "read from /ims/case/v1p0 instead" in note.message
    # the same document again: straight to v1p0; other documents stay on v1p1
    assert client.get_document(V1P0_DOC).identifier == V1P0_DOC
    assert fake.calls[-1] == f"/ims/case/v1p0/CFDocuments/{V1P0_DOC}"
    client.get_package("d0000000-0000-0000-0000-000000000001")
    assert fake.calls[-1] == "/ims/case/v1p1/CFPackages/d0000000-0000-0000-0000-000000000001"
    # its items too
    item = client.get_item("00000000-0000-0000-0002-000000000001")
    assert item.human_coding_scheme == "F2.1"
    assert fake.calls[-1] == "/ims/case/v1p0/CFItems/00000000-0000-0000-0002-000000000001"


def test_case_get_of_a_case_1_0_only_document_succeeds_with_a_note(
    mock: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider(mock, count=2, v1p0_documents={V1P0_DOC})
    out = tmp_path / "f.json"
    assert main(["case", "get", HOST, V1P0_DOC, "-o", str(out)]) == 0
    assert json.loads(out.read_text())["CFDocument"]["title"] == "Framework 2"
    err = capsys.readouterr().err
    assert f"field 'CFPackages/{V1P0_DOC}': warning: the provider answered 409" in err


def test_a_409_on_case_1_0_is_not_retried_elsewhere(mock: responses.RequestsMock) -> None:
    body = {"imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": "busy"}
    mock.add(responses.GET, f"{HOST}/ims/case/v1p0/CFPackages/{V1P0_DOC}", status=409, json=body)
    client = client_for(FakeProvider(packages={}), url=f"{HOST}/ims/case/v1p0")
    with pytest.raises(ConflictError, match="busy"):
        client.get_package(V1P0_DOC)
    assert len(mock.calls) == 1


# -- item 14: a set endpoint answered with one bare object -------------------------------------

ITEM_TYPE = "3f1fdfbc-cc0c-4c08-8add-31e9479033a0"


def rubrics_provider(mock: responses.RequestsMock, **quirks: Any) -> FakeProvider:
    data = load("case11_university_rubrics.json")
    fake = FakeProvider(packages={data["CFDocument"]["identifier"]: data}, **quirks)
    fake.install(mock)
    return fake


def test_a_set_endpoint_answered_with_one_bare_object_is_read(
    mock: responses.RequestsMock,
) -> None:
    fake = rubrics_provider(mock, bare_sets=True)
    client = client_for(fake, version="1.1")
    [item_type] = client.get_item_types(ITEM_TYPE)
    assert (item_type.identifier, item_type.title) == (ITEM_TYPE, "Domain")
    [note] = [p for p in client.warnings if "bare" in p.message]
    assert note.message.startswith('one bare CFItemType instead of {"CFItemTypes": [...]}')
    assert note.file == f"CFItemTypes/{ITEM_TYPE}"
    subjects = client.get_subjects("61015141-f2a8-4189-b8da-26291b71e139")
    assert [s.title for s in subjects] == ["Software engineering"]


# -- item 15: a CFItemType without description ------------------------------------------------


def test_an_item_type_without_description_is_filled_with_a_located_warning(
    mock: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OpenCASE serves definitions as they were imported (``GetCFPackage.ts`` merges them
    verbatim): here item types whose description is null (the fixture), or absent."""
    fake = rubrics_provider(mock, strip_extensions=True)
    [package] = fake.packages.values()
    doc = package["CFDocument"]["identifier"]
    domain, *others = package["CFDefinitions"]["CFItemTypes"]
    del domain["description"]
    out = tmp_path / "f.json"
    assert main(["case", "get", HOST, doc, "-o", str(out)]) == 0
    written = json.loads(out.read_text())["CFDefinitions"]["CFItemTypes"]
    assert [(t["title"], t["description"]) for t in written] == [
        ("Domain", "Domain"),
        *((t["title"], t["title"]) for t in others),
    ]
    err = capsys.readouterr().err
    assert (
        "field 'CFDefinitions.CFItemTypes[0].description': warning: CFItemType without "
        "description (CASE requires one): its title is written (3 times; the first is shown)"
    ) in err
    assert "field 'CFDefinitions.CFItemTypes[0].hierarchyCode': warning: CFItemType " in err
