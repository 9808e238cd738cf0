"""The adapter seams of CASE (issue 13): settings, connect, from_settings, target, the CLI's
``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses

from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.case.settings import CaseSettings, connect, load_settings
from comp_adapters.cli.main import main
from comp_adapters.errors import ConfigurationError, NotFoundError
from comp_adapters.protocols import Adapter, Capability, ReadsFramework, WritesFramework
from comp_adapters.settings import AdapterSettings, adapter_settings
from comp_adapters.testing import CrashingSession
from tests.case.fake_provider import HOST, TOKEN_URL, provider, settings_for

SECRET = "case-client-secret-value"
TOKEN = "case-static-bearer-value"
DOC = "d0000000-0000-0000-0000-000000000002"


def test_a_misspelt_setting_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        adapter_settings(
            CaseSettings, "case", config={"case": {"url": HOST, "pagesize": 5}}, environ={}
        )
    assert "pagesize" in str(raised.value)


def test_load_settings_merges_config_environment_and_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMP_ADAPTERS_CASE_PAGE_SIZE", "7")
    monkeypatch.setenv("COMP_ADAPTERS_CASE_TOKEN", TOKEN)
    config = {"case": {"url": "https://other.example.org", "page_size": 3}}
    settings = load_settings(flags={"url": HOST, "page_size": None}, config=config)
    assert settings.url == HOST  # the flag wins
    assert settings.page_size == 7  # the environment beats the file
    assert settings.token is not None
    assert TOKEN not in repr(settings)


def test_every_setting_is_described_and_settings_are_frozen() -> None:
    assert [n for n, f in CaseSettings.model_fields.items() if not f.description] == []
    settings = CaseSettings(url=HOST)
    with pytest.raises(Exception, match="frozen"):
        settings.url = "https://x.example.org"  # type: ignore[misc]


def test_from_settings_goes_through_the_injected_session(mock: responses.RequestsMock) -> None:
    provider(mock, count=2)
    session = CrashingSession()  # counts, never crashes
    adapter = CaseAdapter.from_settings(settings_for(version="1.1"), session=session)
    assert adapter.read_framework(DOC).key == DOC
    assert session.count == 1  # the CFPackage, on the injected session


def test_the_adapter_meets_the_v2_protocols() -> None:
    adapter = CaseAdapter.from_settings(CaseSettings(url=HOST))
    assert isinstance(adapter, Adapter)
    assert isinstance(adapter, ReadsFramework)
    assert not isinstance(adapter, WritesFramework)
    assert CaseAdapter.capabilities == {Capability.READS_FRAMEWORK}
    assert CaseAdapter.settings_model is CaseSettings


def test_from_settings_refuses_other_settings() -> None:
    with pytest.raises(ConfigurationError, match="expected CaseSettings"):
        CaseAdapter.from_settings(AdapterSettings())


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "https://user:url-pass-value@case.example.org/ims/case/v1p1", "token": TOKEN},
        {"url": HOST, "client_id": "reader", "client_secret": SECRET, "token_url": TOKEN_URL},
    ],
)
def test_target_names_the_provider_without_secrets(settings: dict[str, str]) -> None:
    target = CaseAdapter.from_settings(CaseSettings.model_validate(settings)).target
    assert target.startswith("case https://")
    assert "case.example.org" in target
    for secret in (TOKEN, SECRET, "url-pass-value"):
        assert secret not in target


def test_connect_gives_the_transport_case_error_rules(mock: responses.RequestsMock) -> None:
    mock.add(
        responses.GET,
        f"{HOST}/ims/case/v1p1/CFDocuments/{DOC}",
        status=404,
        json={
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": "No such document",
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "x", "imsx_codeMinorFieldValue": "unknownobject"}
                ]
            },
        },
    )
    client = connect(CaseSettings(url=HOST, version="1.1"), session=requests.Session())
    with pytest.raises(NotFoundError) as raised:
        client.get_document(DOC)
    assert str(raised.value).startswith("No such document (case getCFDocument; HTTP 404")


def test_cli_case_get_prints_json(
    mock: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider(mock, count=2)
    out = tmp_path / "framework.json"
    assert main(["case", "get", HOST, DOC, "-o", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"doc_id": DOC, "output": str(out), "format": "case", "competencies": 1}
    raw = tmp_path / "raw.json"
    assert main(["case", "get", HOST, DOC, "-o", str(raw), "--raw", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "raw"
    assert json.loads(raw.read_text())["CFDocument"]["identifier"] == DOC


def test_cli_refuses_a_misspelt_config_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "comp-adapters.toml"
    config.write_text("[case]\npage_sise = 3\n")
    monkeypatch.setenv("COMP_ADAPTERS_CONFIG", str(config))
    assert main(["case", "list", HOST]) == 2
    assert "page_sise" in capsys.readouterr().err
