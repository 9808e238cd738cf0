"""The contract fixtures of CASE work: a framework read round, the injected session, and
hygiene (no secret in reprs, errors or logs; a foreign link refused)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.errors import FatalRemoteError, NotFoundError
from comp_adapters.protocols import ReadsFramework
from comp_adapters.testing import CrashingSession
from tests.case.contract_fixtures import *  # noqa: F403 - the fixtures, found by name
from tests.case.fake_provider import FakeProvider


def test_reads_the_framework_it_holds(
    adapter: CaseAdapter, framework_key: str, expected_framework: dict[str, Any]
) -> None:
    assert isinstance(adapter, ReadsFramework)
    framework = adapter.read_framework(framework_key)
    assert framework.key == expected_framework["key"]
    assert sorted(c.key for c in framework.competencies) == expected_framework["competencies"]


def test_every_request_goes_through_the_injected_session(
    make_adapter: Callable[..., CaseAdapter], framework_key: str, case_provider: FakeProvider
) -> None:
    session = CrashingSession()
    make_adapter(session).read_framework(framework_key)
    assert session.count == case_provider.token_requests + len(case_provider.calls)
    assert session.count >= 2  # the token, then the package


def test_no_secret_in_reprs_errors_or_logs(
    adapter: CaseAdapter, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotFoundError) as raised:
        adapter.read_framework("d0000000-0000-0000-0000-000000000099")
    shown = [repr(adapter), repr(adapter.client), adapter.target, str(raised.value), caplog.text]
    for text in shown:
        assert secret not in text


def test_a_foreign_link_is_refused(adapter: CaseAdapter, foreign_link: str) -> None:
    with pytest.raises(FatalRemoteError, match="another server"):
        adapter.client.transport.follow(foreign_link, operation="list documents")
