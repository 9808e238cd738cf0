"""Redaction everywhere: plan targets, error URLs, capability parameters, log records."""

from __future__ import annotations

import io
import logging

import pytest
from pydantic import SecretStr

from comp_adapters.cli.main import main
from comp_adapters.errors import FatalRemoteError
from comp_adapters.http import HttpTransport, Redactor, redact_url
from comp_adapters.sync.plan import Plan
from comp_adapters.xapi.adapter import XapiAdapter
from comp_adapters.xapi.client import XapiClient


def test_an_xapi_plan_target_shows_no_user_info() -> None:
    client = XapiClient(
        HttpTransport(adapter="xapi", base_url="https://user:secret-pw@lrs.example.org/xAPI/"),
        key="k",
        secret=SecretStr("secret-pw"),
        version="1.0.3",
    )
    plan = XapiAdapter(client).plan_proficiency([])
    for shown in (plan.target, plan.to_table(), plan.to_json()):
        assert "secret-pw" not in shown
        assert "user:" not in shown
    assert plan.target == "https://lrs.example.org/xAPI/"


def test_plans_redact_whatever_adapter_made_them() -> None:
    plan = Plan(
        adapter="any",
        target="https://u:p4ssw0rd@lms.example.org/?token=abcdef",
        notes=("see https://lms.example.org/x?access_token=zzzzzz",),
    )
    assert plan.target == "https://lms.example.org/?token=***"
    assert plan.notes == ("see https://lms.example.org/x?access_token=***",)


@pytest.mark.parametrize(
    "name", ["verifier", "X-Amz-Signature", "X-Amz-Credential", "sig", "code", "state"]
)
def test_capability_parameters_are_masked(name: str) -> None:
    assert redact_url(f"https://files.example.org/f?{name}=capability-value&x=1") == (
        f"https://files.example.org/f?{name}=***&x=1"
    )


def test_remote_errors_never_carry_user_info() -> None:
    error = FatalRemoteError(
        "no", adapter="case", operation="detect", url="https://reader:pw-123456@case.example/"
    )
    assert "pw-123456" not in str(error)
    assert error.url == "https://case.example/"


def test_echoed_authorization_headers_are_masked_even_for_unknown_credentials() -> None:
    text = Redactor()(
        "server said: Authorization: Basic dXNlcjpwYXNzd29yZA== and Bearer abc.def.ghi"
    )
    assert "dXNlcjpwYXNzd29yZA" not in text
    assert "abc.def.ghi" not in text


def test_the_cli_installs_the_redacting_log_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    Redactor(["cli-known-secret-value"])  # any secret a client registered
    stream = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(root, "handlers", [handler])
    assert main(["formats"]) == 0
    logging.getLogger("comp_adapters.test").warning(
        "calling https://u:pw@h.example/?wstoken=cli-known-secret-value with cli-known-secret-value"
    )
    text = stream.getvalue()
    assert "cli-known-secret-value" not in text
    assert "u:pw@" not in text
    assert "wstoken=***" in text
