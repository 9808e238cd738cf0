"""Fixtures that drive the adapter contract kit (``comp_adapters.testing``) for CASE.

The CASE adapter only reads frameworks, so the kit's ``ReadsFrameworkContract`` and
``HygieneContract`` apply. Every fixture is function-scoped: each test gets a fresh fake
provider (:class:`~tests.case.fake_provider.FakeProvider`, answering through its own
``responses`` mock), protected by OAuth 2.0 client credentials so the secret travels. Use
them with ``from tests.case.contract_fixtures import *`` (fixtures are found by name).

- ``case_provider``: the fresh fake (its ``packages`` and ``calls``);
- ``make_adapter(session=None)``: an adapter built the one way (``CaseAdapter.from_settings``),
  ``session`` replacing the HTTP session;
- ``adapter``: ``make_adapter()``;
- ``framework_key``: the key of a framework the provider holds, ``expected_framework`` that
  framework as the core model should read it (its key and competency keys);
- ``secret``: the client secret the adapter was configured with;
- ``foreign_link``: a URL on another origin, which the adapter must refuse to follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

from comp_adapters.case.adapter import CaseAdapter
from tests.case.fake_provider import TOKEN_URL, FakeProvider, package_for, settings_for

SECRET = "contract-case-client-secret"
CLIENT_ID = "contract-reader"

__all__ = [
    "adapter",
    "case_provider",
    "expected_framework",
    "foreign_link",
    "framework_key",
    "make_adapter",
    "secret",
]


@pytest.fixture
def case_provider() -> Iterator[FakeProvider]:
    """A fresh fake provider with three small packages, behind OAuth 2.0."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeProvider(packages={}, client_id=CLIENT_ID, client_secret=SECRET)
        for n in range(1, 4):
            package = package_for(n)
            fake.packages[package["CFDocument"]["identifier"]] = package
        fake.install(mock)
        yield fake


@pytest.fixture
def make_adapter(case_provider: FakeProvider) -> Callable[..., CaseAdapter]:
    settings = settings_for(
        version=case_provider.version,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        token_url=TOKEN_URL,
    )

    def make(session: requests.Session | None = None) -> CaseAdapter:
        return CaseAdapter.from_settings(
            settings, session=session if session is not None else requests.Session()
        )

    return make


@pytest.fixture
def adapter(make_adapter: Callable[..., CaseAdapter]) -> CaseAdapter:
    return make_adapter()


@pytest.fixture
def framework_key(case_provider: FakeProvider) -> str:
    return sorted(case_provider.packages)[1]


@pytest.fixture
def expected_framework(case_provider: FakeProvider, framework_key: str) -> dict[str, Any]:
    """What reading ``framework_key`` must give: the key and the competency keys."""
    package = case_provider.packages[framework_key]
    items = package["CFItems"]
    return {
        "key": framework_key,
        "competencies": sorted(item["humanCodingScheme"] for item in items),
    }


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def foreign_link() -> str:
    return "https://elsewhere.example.net/ims/case/v1p1/CFDocuments?offset=100"
