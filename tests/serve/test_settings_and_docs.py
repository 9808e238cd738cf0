"""Serve settings (merge order, refusals), JWKS from a URL, and the docs' example."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from comp_adapters.errors import ConfigurationError
from comp_adapters.serve import JwtVerifier, ServeSettings
from comp_adapters.serve.settings import DEFAULT_HOST
from comp_adapters.settings import adapter_settings

from .conftest import AUDIENCE, ISSUER, Served, jwks_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "serve.md"


def test_defaults_bind_loopback() -> None:
    settings = ServeSettings()
    assert settings.host == DEFAULT_HOST == "127.0.0.1"
    assert not settings.jwt_enabled


def test_environment_lists_and_flags_merge() -> None:
    settings = adapter_settings(
        ServeSettings,
        "serve",
        config={"serve": {"port": 9000, "public": ["A"]}},
        environ={"COMP_ADAPTERS_SERVE_PUBLIC": "B, C", "COMP_ADAPTERS_SERVE_PORT": "9100"},
        flags={"port": 9200},
    )
    assert settings.public == ("B", "C")
    assert settings.port == 9200


@pytest.mark.parametrize(
    ("values", "wanted"),
    [
        ({"jwt_issuer": ISSUER}, "jwt_audience"),
        ({"jwks_url": "https://x/jwks", "jwks_file": "k.json"}, "not both"),
        ({"roles": "roles.toml"}, "roles and people together"),
        ({"jwt_algorithms": "HS256"}, "not an accepted JWT algorithm"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_settings_are_configuration_errors(values: dict[str, Any], wanted: str) -> None:
    with pytest.raises(ConfigurationError, match=wanted):
        adapter_settings(ServeSettings, "serve", config={"serve": values}, environ={})


@pytest.fixture
def jwks_url(served: Served) -> Iterator[str]:
    body = json.dumps(jwks_of(served.signing_key.public_key(), served.kid)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def test_jwks_from_a_url(served: Served, jwks_url: str) -> None:
    verifier = JwtVerifier(
        ServeSettings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_url=jwks_url)
    )
    principal = verifier.verify(served.token(sub="ben.schulz"))
    assert principal.who == "jwt:ben.schulz"
    assert str(principal.viewer) == "learner:ben.schulz"
    assert principal.scopes == {"case.read", "proficiency.read"}


def test_the_docs_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [block] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    assert capsys.readouterr().out.strip() == "200 1"
