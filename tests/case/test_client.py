"""The CASE client and adapter against a fake provider (paging, OAuth, imsx errors)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.case.client import ClientCredentials, canonical_minor_code
from comp_adapters.case.settings import CaseSettings, connect
from comp_adapters.cli.main import main
from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
)
from comp_adapters.plugins import load_adapter_class
from comp_adapters.protocols import ReadsFramework, WritesFramework

from .conftest import assert_valid_case, load
from .fake_provider import HOST, TOKEN_URL, FakeProvider, client_for, provider

SECRET = "s3cr3t-client-secret"


@pytest.mark.parametrize("discovery", [True, False])
def test_detects_version_1_1_by_discovery_or_probe(
    mock: responses.RequestsMock, discovery: bool
) -> None:
    fake = provider(mock, discovery=discovery)
    client = client_for(fake)
    assert client.detect() == "1.1"
    assert fake.calls[0] == "/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json"
    assert len(fake.calls) == (1 if discovery else 2)


def test_detects_version_1_0(mock: responses.RequestsMock) -> None:
    fake = provider(mock, version="1.0")
    client = client_for(fake)
    assert client.detect() == "1.0"
    assert [d.title for d in client.list_documents()][:2] == ["Framework 1", "Framework 2"]


def test_html_pages_for_every_path_do_not_fake_a_version(mock: responses.RequestsMock) -> None:
    fake = provider(mock, version="1.0", html_catch_all=True)
    assert client_for(fake).detect() == "1.0"
    assert fake.calls == [
        "/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json",
        "/ims/case/v1p1/CFDocuments?limit=1",
        "/ims/case/v1p0/CFDocuments?limit=1",
    ]


def test_version_in_the_url_is_used_without_probing(mock: responses.RequestsMock) -> None:
    fake = provider(mock, version="1.0")
    client = client_for(fake, url=f"{HOST}/ims/case/v1p0/")
    assert client.version == "1.0"
    assert (
        client.get_package("d0000000-0000-0000-0000-000000000001").document.title == "Framework 1"
    )
    assert fake.calls == ["/ims/case/v1p0/CFPackages/d0000000-0000-0000-0000-000000000001"]


def test_no_provider_is_not_found(mock: responses.RequestsMock) -> None:
    mock.add(
        responses.GET,
        "https://nothing.example.org/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json",
        status=404,
    )
    mock.add(responses.GET, "https://nothing.example.org/ims/case/v1p1/CFDocuments", status=404)
    mock.add(responses.GET, "https://nothing.example.org/ims/case/v1p0/CFDocuments", status=404)
    client = connect(CaseSettings(url="https://nothing.example.org"), session=requests.Session())
    with pytest.raises(NotFoundError, match="no CASE provider"):
        client.detect()


@pytest.mark.parametrize(
    ("count", "page_size", "pages"), [(5, 2, 3), (4, 2, 2), (0, 3, 1), (3, 100, 1)]
)
def test_lists_documents_page_by_page(
    mock: responses.RequestsMock, count: int, page_size: int, pages: int
) -> None:
    fake = provider(mock, count=count)
    client = client_for(fake, version="1.1", page_size=page_size)
    titles = [d.title for d in client.list_documents()]
    assert titles == [f"Framework {n}" for n in range(1, count + 1)]
    listing = [c for c in fake.calls if "/CFDocuments" in c]
    assert len(listing) == pages
    assert listing[0] == f"/ims/case/v1p1/CFDocuments?limit={page_size}&offset=0"
    assert all("filter" not in c and "fields" not in c for c in listing)


@pytest.mark.parametrize(
    ("options", "page_size", "offsets"),
    [
        # the provider caps pages at 2 but says how many there are: keep going
        ({"max_page": 2}, 100, [0, 2, 4]),
        # no paging headers: a short page may be a capped one; an empty page ends
        ({"max_page": 2, "paging_headers": ()}, 3, [0, 2, 4, 5]),
        ({"paging_headers": ()}, 2, [0, 2, 4, 5]),
        # RFC 8288 Link: follow while there is a "next"
        ({"max_page": 2, "paging_headers": ("Link",)}, 100, [0, 2, 4]),
        # a provider that ignores limit and sends everything at once
        ({"ignore_limit": True, "paging_headers": ()}, 2, [0]),
    ],
)
def test_paging_follows_what_the_provider_says_not_the_page_length(
    mock: responses.RequestsMock, options: dict[str, Any], page_size: int, offsets: list[int]
) -> None:
    fake = provider(mock, count=5, **options)
    client = client_for(fake, version="1.1", page_size=page_size)
    titles = [d.title for d in client.list_documents()]
    assert titles == [f"Framework {n}" for n in range(1, 6)]
    assert fake.calls == [
        f"/ims/case/v1p1/CFDocuments?limit={page_size}&offset={offset}" for offset in offsets
    ]
    assert client.warnings == []


def test_stops_when_the_provider_ignores_offset(mock: responses.RequestsMock) -> None:
    fake = provider(mock, count=5, ignore_offset=True)
    client = client_for(fake, version="1.1", page_size=2)
    titles = [d.title for d in client.list_documents()]
    assert titles == ["Framework 1", "Framework 2"]
    assert any("ignore paging" in p.message for p in client.warnings)
    assert len(fake.calls) == 2


def test_bare_array_document_list_is_read(mock: responses.RequestsMock) -> None:
    fake = provider(mock, count=2, wrap_documents=False)
    client = client_for(fake, version="1.1")
    assert len(list(client.list_documents())) == 2
    assert any("bare JSON array" in p.message for p in client.warnings)


def test_not_found_carries_the_imsx_minor_code(mock: responses.RequestsMock) -> None:
    fake = provider(mock)
    client = client_for(fake, version="1.1")
    with pytest.raises(NotFoundError) as raised:
        client.get_package("d0000000-0000-0000-0000-00000000abcd")
    assert raised.value.code == "unknownobject"
    assert raised.value.status == 404
    assert "Not Found" in str(raised.value)


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_invalid_uuid_in_both_spellings(mock: responses.RequestsMock, version: str) -> None:
    fake = provider(mock, version=version)
    client = client_for(fake, version=version)
    with pytest.raises(NotFoundError) as raised:
        client.get_item("not-a-uuid")
    assert raised.value.code == "invalid_uuid"
    assert ("spelt invaliduuid" in str(raised.value)) is (version == "1.0")


def test_minor_code_decides_the_class_when_the_status_does_not(
    mock: responses.RequestsMock,
) -> None:
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_codeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "x", "imsx_codeMinorFieldValue": "unknownobject"}
            ]
        },
    }
    mock.add(
        responses.GET,
        f"{HOST}/ims/case/v1p1/CFItems/00000000-0000-0000-0000-000000000001",
        status=400,
        json=body,
    )
    client = connect(CaseSettings(url=f"{HOST}/ims/case/v1p1"), session=requests.Session())
    with pytest.raises(NotFoundError) as raised:
        client.get_item("00000000-0000-0000-0000-000000000001")
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("token", "canonical"),
    [
        ("unauthorisedrequest", "unauthorised_request"),
        ("invaliduuid", "invalid_uuid"),
        ("forbidden", "forbidden"),
    ],
)
def test_canonical_minor_codes(token: str, canonical: str) -> None:
    assert canonical_minor_code(token) == canonical


def test_throttling_is_retried_after_retry_after(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = provider(mock, throttle_next=2)
    client = client_for(fake, version="1.1", max_retry_wait=0.01)
    assert client.get_document("d0000000-0000-0000-0000-000000000002").title == "Framework 2"
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert retries == [
        "case getCFDocument: Too many requests; retry 1/2 in 0.0s",
        "case getCFDocument: Too many requests; retry 2/2 in 0.0s",
    ]
    # Retry-After (2 s) is honoured up to max_retry_wait, the setting that keeps tests fast.
    assert client.transport.retry.wait(1, 2.0, random.Random(0)) == 0.01
    assert connect(CaseSettings(url=HOST)).transport.retry.wait(1, 2.0, random.Random(0)) == 2.0
    fake.throttle_next = 5
    with pytest.raises(RateLimitedError) as raised:
        client.get_document("d0000000-0000-0000-0000-000000000002")
    assert raised.value.code == "server_busy"


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_anonymous_access_to_a_protected_provider_is_401_with_imsx(
    mock: responses.RequestsMock, version: str
) -> None:
    fake = provider(mock, version=version, client_id="reader", client_secret=SECRET)
    client = client_for(fake, version=version)
    with pytest.raises(AuthenticationError) as raised:
        list(client.list_documents())
    assert raised.value.status == 401
    assert raised.value.code == "unauthorised_request"


def test_oauth_token_is_issued_reused_and_refreshed_on_expiry(mock: responses.RequestsMock) -> None:
    fake = provider(mock, client_id="reader", client_secret=SECRET, token_lifetime=60)
    client = client_for(
        fake,
        version="1.1",
        client_id="reader",
        client_secret=SECRET,
        token_url=TOKEN_URL,
        scope="case.read extra",
    )
    client.get_document("d0000000-0000-0000-0000-000000000001")
    client.get_document("d0000000-0000-0000-0000-000000000002")
    assert fake.token_requests == 1
    assert fake.token_forms == [
        {"grant_type": "client_credentials", "scope": "case.read extra", "auth": "basic"}
    ]
    fake.now += 61  # the provider's clock: the token expired there, it answers 401
    client.get_document("d0000000-0000-0000-0000-000000000003")
    assert fake.token_requests == 2
    assert "token-2" in fake.tokens


def test_a_token_within_the_refresh_margin_is_fetched_again(
    mock: responses.RequestsMock,
) -> None:
    """A token that expires within the 30 s margin counts as expired at once (real clock)."""
    fake = provider(mock, client_id="reader", client_secret=SECRET, token_lifetime=25)
    client = client_for(
        fake, version="1.1", client_id="reader", client_secret=SECRET, token_url=TOKEN_URL
    )
    client.get_document("d0000000-0000-0000-0000-000000000001")
    client.get_document("d0000000-0000-0000-0000-000000000002")
    assert fake.token_requests == 2


def test_oauth_client_credentials_in_the_form_body(mock: responses.RequestsMock) -> None:
    fake = provider(mock, client_id="reader", client_secret=SECRET)
    client = client_for(
        fake,
        version="1.1",
        client_id="reader",
        client_secret=SECRET,
        token_url=TOKEN_URL,
        client_auth="body",
    )
    assert client.get_document("d0000000-0000-0000-0000-000000000001").title == "Framework 1"
    assert fake.token_forms == [
        {"grant_type": "client_credentials", "client_id": "reader", "auth": "body"}
    ]


def test_oauth_token_rejected_early_is_replaced_once(mock: responses.RequestsMock) -> None:
    fake = provider(mock, client_id="reader", client_secret=SECRET)
    client = client_for(
        fake, version="1.1", client_id="reader", client_secret=SECRET, token_url=TOKEN_URL
    )
    client.get_document("d0000000-0000-0000-0000-000000000001")
    fake.tokens.clear()  # the provider forgets every token (restart, revocation)
    client.get_document("d0000000-0000-0000-0000-000000000001")
    assert fake.token_requests == 2


def test_wrong_client_secret_is_an_authentication_error_without_the_secret(
    mock: responses.RequestsMock,
) -> None:
    fake = provider(mock, client_id="reader", client_secret=SECRET)
    client = client_for(
        fake,
        version="1.1",
        client_id="reader",
        client_secret="wrong-secret-value",
        token_url=TOKEN_URL,
    )
    with pytest.raises(AuthenticationError) as raised:
        client.get_document("d0000000-0000-0000-0000-000000000001")
    assert raised.value.operation == "token"
    assert "wrong-secret-value" not in str(raised.value)
    assert "wrong-secret-value" not in repr(client.auth)
    assert fake.token_requests == 1


def test_secrets_are_not_in_reprs() -> None:
    bearer = connect(CaseSettings(url=HOST, token="static-bearer-token-value"))
    oauth = connect(
        CaseSettings(url=HOST, client_id="reader", client_secret=SECRET, token_url=TOKEN_URL)
    )
    assert isinstance(oauth.auth, ClientCredentials)
    oauth.auth._token = "issued-access-token-value"
    shown = repr(bearer) + repr(oauth) + repr(oauth.auth)
    for secret in ("static-bearer-token-value", SECRET, "issued-access-token-value"):
        assert secret not in shown
    assert "reader" in repr(oauth.auth)


def test_settings_need_whole_oauth_triplets() -> None:
    with pytest.raises(ValueError, match="client_id, client_secret and token_url"):
        CaseSettings.model_validate({"url": HOST, "client_id": "x"})


def test_http_urls_are_refused_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        connect(CaseSettings(url="http://case.example.org"))


def test_every_endpoint_reads_its_object(mock: responses.RequestsMock) -> None:
    data = load("case11_university_rubrics.json")
    subjects = data["CFDefinitions"]["CFSubjects"]
    child = dict(subjects[1], identifier="61015141-f2a8-4189-b8da-26291b71e13a")
    subjects.append(child | {"title": "Software testing", "hierarchyCode": "2.1"})
    doc = data["CFDocument"]["identifier"]
    fake = FakeProvider(packages={doc: data})
    fake.install(mock)
    client = client_for(fake, version="1.1")
    item, associations = client.get_item_associations("10000000-0000-0000-0000-000000000011")
    assert item.human_coding_scheme == "CS-A-1"
    assert [a.identifier[-2:] for a in associations] == ["04", "12", "14"]
    assert client.get_association("30000000-0000-0000-0000-000000000010").association_type == (
        "precedes"
    )
    rubric = client.get_rubric("20000000-0000-0000-0000-000000000001")
    assert [len(c.levels) for c in rubric.criteria] == [4, 4, 4]
    assert [s.title for s in client.get_subjects("61015141-f2a8-4189-b8da-26291b71e139")] == [
        "Software engineering",
        "Software testing",
    ]
    assert [t.title for t in client.get_item_types("3f1fdfbc-cc0c-4c08-8add-31e9479033a0")] == [
        "Domain"
    ]
    assert client.get_license("aaaaaaaa-0000-4000-8000-000000000001").title == "CC BY 4.0"
    grouping = client.get_association_grouping("5a5b5c5d-0000-4000-8000-000000000001")
    assert grouping.title == "Dependencies"
    with pytest.raises(NotFoundError):
        client.get_concepts("5a5b5c5d-0000-4000-8000-000000000009")
    assert [call.split("/")[4] for call in fake.calls] == [
        "CFItemAssociations",
        "CFAssociations",
        "CFRubrics",
        "CFSubjects",
        "CFItemTypes",
        "CFLicenses",
        "CFAssociationGroupings",
        "CFConcepts",
    ]
    assert any("null treated as missing" in p.message for p in client.warnings)


def test_adapter_reads_a_framework_with_warnings(mock: responses.RequestsMock) -> None:
    fake = provider(mock, count=2)
    adapter = CaseAdapter(client_for(fake))
    assert [d.identifier for d in adapter.list_frameworks()] == [
        "d0000000-0000-0000-0000-000000000001",
        "d0000000-0000-0000-0000-000000000002",
    ]
    framework = adapter.read_framework("d0000000-0000-0000-0000-000000000002")
    assert framework.key == "d0000000-0000-0000-0000-000000000002"
    assert [c.key for c in framework.competencies] == ["F2.1"]
    assert any("CFPackageURI back-link" in p.message for p in adapter.warnings)


def test_adapter_is_a_registered_framework_reader() -> None:
    adapter = CaseAdapter.from_settings(CaseSettings(url=HOST))
    assert isinstance(adapter, ReadsFramework)
    assert not isinstance(adapter, WritesFramework)  # CASE's REST binding is read-only
    assert load_adapter_class("case") is CaseAdapter


def test_adapter_reads_a_rich_package(mock: responses.RequestsMock) -> None:
    data = load("case11_university_rubrics.json")
    fake = FakeProvider(packages={data["CFDocument"]["identifier"]: data})
    fake.install(mock)
    framework = CaseAdapter(client_for(fake)).read_framework(data["CFDocument"]["identifier"])
    assert len(framework.competencies) == 8


# -- CLI -------------------------------------------------------------------------------------


def test_cli_case_list(mock: responses.RequestsMock, capsys: pytest.CaptureFixture[str]) -> None:
    provider(mock, count=3)
    assert main(["case", "list", HOST, "--page-size", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "d0000000-0000-0000-0000-000000000001  Framework 1",
        "d0000000-0000-0000-0000-000000000002  Framework 2",
        "d0000000-0000-0000-0000-000000000003  Framework 3",
    ]
    assert "3 frameworks" in captured.err


def test_cli_case_get_writes_schema_valid_case(
    mock: responses.RequestsMock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider(mock, client_id="reader", client_secret=SECRET)
    monkeypatch.setenv("COMP_ADAPTERS_CASE_CLIENT_SECRET", SECRET)
    out = tmp_path / "framework.json"
    code = main(
        [
            "case",
            "get",
            HOST,
            "d0000000-0000-0000-0000-000000000004",
            "-o",
            str(out),
            "--client-id",
            "reader",
            "--token-url",
            TOKEN_URL,
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert_valid_case(data)
    assert data["CFDocument"]["title"] == "Framework 4"
    captured = capsys.readouterr()
    assert "warning: CFPackageURI back-link" in captured.err
    assert SECRET not in captured.out + captured.err


@pytest.mark.parametrize(
    ("options", "check"), [(["--to", "native"], "competencies"), (["--raw"], "CFPackageURI")]
)
def test_cli_case_get_other_outputs(
    mock: responses.RequestsMock, tmp_path: Path, options: list[str], check: str
) -> None:
    provider(mock)
    out = tmp_path / "out.json"
    assert (
        main(
            ["case", "get", HOST, "d0000000-0000-0000-0000-000000000001", "-o", str(out), *options]
        )
        == 0
    )
    assert check in out.read_text()


def test_cli_case_get_unknown_document_exits_1_and_writes_nothing(
    mock: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider(mock)
    out = tmp_path / "out.json"
    assert main(["case", "get", HOST, "d0000000-0000-0000-0000-000000000099", "-o", str(out)]) == 1
    assert "code unknownobject" in capsys.readouterr().err
    assert not out.exists()
