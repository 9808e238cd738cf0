"""The CASE provider: routes, paging, imsx errors, schema validity, and the round trip
through the project's own CASE client."""

from __future__ import annotations

import io
from typing import Any

import jsonschema
import pytest
import requests
import urllib3

from comp_adapters.case.mapping import package_to_framework
from comp_adapters.case.settings import CaseSettings, connect
from comp_adapters.errors import AuthenticationError, NotFoundError
from comp_adapters.native import load_framework
from tests.case.conftest import _SCHEMA, assert_valid_case, assert_valid_case_1_0
from tests.case.test_roundtrip import strip_case

from .conftest import EXAMPLE, Served

V11, V10 = "/ims/case/v1p1", "/ims/case/v1p0"


def object_errors(obj: dict[str, Any], definition: str) -> list[str]:
    """Violations of the official schema's ``definition`` by an object served on its own
    (its ``CFDocumentURI`` link, which objects inside a package lack, checked as a LinkURI)."""
    link = obj.get("CFDocumentURI")
    bare = {k: v for k, v in obj.items() if k != "CFDocumentURI"}
    errors = []
    for value, name in ((bare, definition), *(((link, "LinkURI"),) if link else ())):
        schema = {**_SCHEMA, "$ref": f"#/$defs/{name}"}
        for key in ("properties", "required", "additionalProperties", "type"):
            schema.pop(key, None)
        validator = jsonschema.Draft201909Validator(
            schema, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
        )
        errors.extend(f"{name}: {e.message}" for e in validator.iter_errors(value))
    return errors


def package(served: Served, version: str = V11) -> dict[str, Any]:
    documents = served.client.get(f"{version}/CFDocuments", headers=served.auth("admin")).json()
    identifier = documents["CFDocuments"][0]["identifier"]
    answer = served.client.get(f"{version}/CFPackages/{identifier}", headers=served.auth("admin"))
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def test_documents_list_is_paged_with_total_and_links(served: Served) -> None:
    answer = served.client.get(f"{V11}/CFDocuments?limit=1", headers=served.auth("admin"))
    assert answer.status_code == 200
    assert answer.headers["X-Total-Count"] == "1"
    assert 'rel="first"' in answer.headers["Link"]
    assert 'rel="next"' not in answer.headers["Link"]
    body = answer.json()
    [document] = body["CFDocuments"]
    assert document["title"] == load_framework(EXAMPLE / "framework.json").title
    assert document["CFPackageURI"]["identifier"] == document["identifier"]
    assert not object_errors(
        {k: v for k, v in document.items() if k != "CFPackageURI"}, "CFPckgDocument"
    )
    past = served.client.get(f"{V11}/CFDocuments?offset=5", headers=served.auth("admin"))
    assert past.json() == {"CFDocuments": []}
    assert 'rel="prev"' in past.headers["Link"]


def test_package_items_associations_rubrics_and_item_types(served: Served) -> None:
    data = package(served)
    assert_valid_case(data)
    auth = served.auth("admin")
    for item in data["CFItems"]:
        one = served.client.get(f"{V11}/CFItems/{item['identifier']}", headers=auth).json()
        assert {k: v for k, v in one.items() if k != "CFDocumentURI"} == item
        assert one["CFDocumentURI"]["identifier"] == data["CFDocument"]["identifier"]
        assert not object_errors(one, "CFPckgItem")
    for association in data["CFAssociations"][:10]:
        path = f"{V11}/CFAssociations/{association['identifier']}"
        one = served.client.get(path, headers=auth).json()
        assert not object_errors(one, "CFPckgAssociation")
        assert one["associationType"] == association["associationType"]
    assert data["CFRubrics"], "the example's scale is written as a rubric"
    for rubric in data["CFRubrics"]:
        one = served.client.get(f"{V11}/CFRubrics/{rubric['identifier']}", headers=auth).json()
        assert one == rubric
        assert not object_errors(one, "CFRubric")
    types = {item["CFItemType"] for item in data["CFItems"] if "CFItemType" in item}
    assert types
    found = set()
    for item in data["CFItems"]:
        links = served.client.get(
            f"{V11}/CFItemAssociations/{item['identifier']}", headers=auth
        ).json()
        assert links["CFItem"]["identifier"] == item["identifier"]
        assert all(
            item["identifier"]
            in (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
            for a in links["CFAssociations"]
        )
    for item_type_id in _item_type_ids(served, data):
        answer = served.client.get(f"{V11}/CFItemTypes/{item_type_id}", headers=auth).json()
        [item_type] = answer["CFItemTypes"]
        assert not object_errors(item_type, "CFItemType")
        found.add(item_type["title"])
    assert found == types


def _item_type_ids(served: Served, data: dict[str, Any]) -> list[str]:
    index = served.app.state.case_index
    objects = index.document(data["CFDocument"]["identifier"], "1.1")
    return sorted(objects.item_types)


def test_case_1_0_answers_are_case_1_0(served: Served) -> None:
    data = package(served, V10)
    assert_valid_case_1_0(data)
    assert "caseVersion" not in data["CFDocument"]


def test_errors_are_imsx_status_info(served: Served) -> None:
    auth = served.auth("admin")
    missing = served.client.get(f"{V11}/CFItems/00000000-0000-4000-8000-000000000000", headers=auth)
    assert missing.status_code == 404
    body = missing.json()
    assert body["imsx_codeMajor"] == "failure"
    field = body["imsx_codeMinor"]["imsx_codeMinorField"][0]
    assert field["imsx_codeMinorFieldValue"] == "unknownobject"
    bad = served.client.get(f"{V11}/CFPackages/not-a-uuid", headers=auth)
    assert bad.status_code == 400
    assert "invalid_uuid" in bad.text
    bad_1_0 = served.client.get(f"{V10}/CFPackages/not-a-uuid", headers=auth)
    assert "invaliduuid" in bad_1_0.text  # CASE 1.0's spelling
    limit = served.client.get(f"{V11}/CFDocuments?limit=0", headers=auth)
    assert limit.status_code == 400
    assert limit.json()["imsx_codeMajor"] == "failure"
    anonymous = served.client.get(f"{V10}/CFDocuments")
    assert anonymous.status_code == 401
    assert "unauthorisedrequest" in anonymous.text


def test_etag_and_if_none_match(served: Served) -> None:
    auth = served.auth("admin")
    data = package(served)
    path = f"{V11}/CFPackages/{data['CFDocument']['identifier']}"
    first = served.client.get(path, headers=auth)
    etag = first.headers["ETag"]
    again = served.client.get(path, headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert served.client.get(path, headers={**auth, "If-None-Match": '"other"'}).status_code == 200


# -- the round trip through the project's own client ----------------------------------------


class _ToTestClient(requests.adapters.BaseAdapter):
    """A requests transport adapter answering from the in-process app (so the CASE client,
    which speaks requests, talks to the real routes without a socket)."""

    def __init__(self, served: Served) -> None:
        super().__init__()
        self.served = served

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        answer = self.served.client.request(
            request.method or "GET",
            request.url or "",
            headers=dict(request.headers),
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers.update(answer.headers)
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=dict(answer.headers),
            status=answer.status_code,
            preload_content=False,
        )
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def case_client(served: Served, token: str | None, version: str = "auto") -> Any:
    session = requests.Session()
    session.mount("https://", _ToTestClient(served))
    settings = CaseSettings(
        url="https://testserver",
        version=version,  # type: ignore[arg-type]
        token=token,  # type: ignore[arg-type]
    )
    return connect(settings, session=session)


@pytest.mark.parametrize("version", ["auto", "1.1", "1.0"])
def test_round_trip_through_the_case_client(served: Served, version: str) -> None:
    client = case_client(served, served.keys["case_only"], version)
    documents = list(client.list_documents())
    assert len(documents) == 1
    back, problems = package_to_framework(client.get_package(documents[0].identifier))
    original = load_framework(EXAMPLE / "framework.json")
    if version == "1.0":  # CASE 1.0 has no extensions: what its standard fields hold
        assert back.title == original.title
        assert [c.key for c in back.walk()] == [c.key for c in original.walk()]
    else:
        assert strip_case(back) == original
        assert client.version == "1.1"
    served_package = client.get_package(documents[0].identifier)
    first = served_package.items[0]
    assert client.get_item(first.identifier).full_statement == first.full_statement
    assert not [p for p in problems if p.severity == "error"]


def test_the_case_client_reports_refusals(served: Served) -> None:
    with pytest.raises(AuthenticationError):
        list(case_client(served, None, "1.1").list_documents())
    client = case_client(served, served.keys["case_only"], "1.1")
    with pytest.raises(NotFoundError):
        client.get_item("00000000-0000-4000-8000-000000000000")
