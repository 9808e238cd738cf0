"""One OAuth 2.0 client-credentials implementation: a granted scope that differs from the
requested one is normal (Keycloak adds its default scopes), for CASE and xAPI alike."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from comp_adapters.cli.main import main
from tests.hardening.servers import Exchange, LocalServer

SECRET = "oauth-client-secret-value"
DOC = "d0000000-0000-0000-0000-000000000001"
DOCUMENT = {
    "identifier": DOC,
    "uri": f"https://provider.example/uri/{DOC}",
    "creator": "Local provider",
    "title": "Framework 1",
    "lastChangeDateTime": "2024-01-01T00:00:00+00:00",
}


def token_endpoint(granted: str) -> object:
    def answer(exchange: Exchange) -> None:
        form = parse_qs(exchange.request.body.decode())
        assert form["grant_type"] == ["client_credentials"]
        body = {"access_token": "granted-token-1", "token_type": "Bearer", "expires_in": 300}
        body["scope"] = granted
        exchange.reply(200, json.dumps(body))

    return answer


def bearer_only(payload: object) -> object:
    def answer(exchange: Exchange) -> None:
        if exchange.request.headers.get("Authorization") != "Bearer granted-token-1":
            exchange.reply(401, json.dumps({"message": "no token"}))
        else:
            exchange.reply(200, json.dumps(payload), {"X-Experience-API-Version": "1.0.3"})

    return answer


@pytest.mark.parametrize("granted", ["case.read case.write", "openid case.read profile", "other"])
def test_case_list_with_a_scope_the_server_widens(
    home: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    granted: str,
) -> None:
    home.route("/oauth/token", token_endpoint(granted))  # type: ignore[arg-type]
    home.route("/ims/case/v1p1/CFDocuments", bearer_only({"CFDocuments": [DOCUMENT]}))  # type: ignore[arg-type]
    monkeypatch.setenv("COMP_ADAPTERS_CASE_CLIENT_SECRET", SECRET)
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "case",
            "list",
            home.url,
            "--version",
            "1.1",
            "--client-id",
            "reader",
            "--token-url",
            f"{home.url}/oauth/token",
            "--scope",
            "case.read",
            "--allow-http",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{DOC}  Framework 1" in out
    assert "internal error" not in err
    assert SECRET not in out + err


def test_xapi_pull_with_a_scope_the_server_widens(
    home: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    home.route("/oauth/token", token_endpoint("statements/read statements/write"))  # type: ignore[arg-type]
    home.route("/xapi/statements", bearer_only({"statements": [], "more": ""}))  # type: ignore[arg-type]
    monkeypatch.setenv("COMP_ADAPTERS_XAPI_SECRET", SECRET)
    monkeypatch.setenv("COMP_ADAPTERS_XAPI_SCOPE", "statements/read")
    monkeypatch.chdir(tmp_path)
    out_file = tmp_path / "evidence.jsonl"
    code = main(
        [
            "xapi",
            "pull",
            "--endpoint",
            f"{home.url}/xapi/",
            "--auth",
            "oauth2",
            "--key",
            "client-7",
            "--token-url",
            f"{home.url}/oauth/token",
            "--xapi-version",
            "1.0.3",
            "--allow-http",
            "-o",
            str(out_file),
        ]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    assert out_file.read_text() == ""
    token_requests = [r for r in home.requests if r.path == "/oauth/token"]
    assert len(token_requests) == 1
    assert parse_qs(token_requests[0].body.decode())["scope"] == ["statements/read"]
