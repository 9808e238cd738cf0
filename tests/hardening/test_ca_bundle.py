"""Trusting a private CA: ``ca_bundle`` per adapter table, once for all, or by variable;
an untrusted certificate stops the command at once with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.settings import gather
from tests.hardening.servers import LocalServer, TlsSetup

DOCS = {"CFDocuments": []}


def case_list(server: LocalServer, *extra: str) -> int:
    return main(["case", "list", server.url, "--version", "1.1", *extra])


@pytest.fixture
def provider(tls_home: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    tls_home.route("/ims/case/v1p1/CFDocuments", lambda x: x.reply(200, json.dumps(DOCS)))
    monkeypatch.chdir(tmp_path)
    return tls_home


def test_untrusted_certificate_stops_at_once_with_the_reason(
    provider: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert case_list(provider) == 1
    err = capsys.readouterr().err
    assert "certificate verify failed" in err
    assert "ca_bundle" in err
    assert "retry" not in err
    assert "internal error" not in err


@pytest.mark.parametrize("where", ["top", "table", "variable"])
def test_a_private_ca_from_the_config_file_or_the_environment(
    provider: LocalServer,
    tls: TlsSetup,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    config = tmp_path / "comp-adapters.toml"
    if where == "top":
        config.write_text(f'ca_bundle = "{tls.ca_pem}"\n\n[case]\npage_size = 10\n')
    elif where == "table":
        config.write_text(f'[case]\nca_bundle = "{tls.ca_pem}"\n')
    else:
        monkeypatch.setenv("COMP_ADAPTERS_CA_BUNDLE", tls.ca_pem)
    code = case_list(provider)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "0 frameworks" in captured.err


def test_an_adapters_own_ca_bundle_wins_over_the_shared_one() -> None:
    config = {"ca_bundle": "/shared.pem", "case": {"ca_bundle": "/own.pem"}}
    assert gather("case", config=config, environ={})["ca_bundle"] == "/own.pem"
    assert gather("moodle", config=config, environ={})["ca_bundle"] == "/shared.pem"


def test_a_missing_token_names_no_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("COMP_ADAPTERS_MOODLE_TOKEN", "COMP_ADAPTERS_MOODLE_URL"):
        monkeypatch.delenv(name, raising=False)
    code = main(
        ["moodle", "pull", "FW", "-o", str(tmp_path / "f.json"), "--url", "https://m.example"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "$COMP_ADAPTERS_MOODLE_TOKEN" in err
    assert "token_env" in err
    assert "or a flag" not in err
    assert "no command-line flag" in err
