"""The contract kit against the CASE adapter, over a fresh OAuth-protected fake provider
for every test (:mod:`tests.case.contract_fixtures`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
import responses

from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.case.settings import CaseSettings
from comp_adapters.testing import ForeignLinkContract, HygieneContract, ReadsFrameworkContract
from tests.case.contract_fixtures import CLIENT_ID, SECRET
from tests.case.fake_provider import TOKEN_URL, FakeProvider, package_for, settings_for

MISSING = "d0000000-0000-0000-0000-000000000099"


class TestCaseContract(ReadsFrameworkContract, HygieneContract, ForeignLinkContract):
    @pytest.fixture
    def provider(self) -> Iterator[FakeProvider]:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            fake = FakeProvider(packages={}, client_id=CLIENT_ID, client_secret=SECRET)
            for n in range(1, 4):
                package = package_for(n)
                fake.packages[package["CFDocument"]["identifier"]] = package
            fake.install(mock)
            yield fake

    @pytest.fixture
    def contract_settings(self, provider: FakeProvider) -> CaseSettings:
        return settings_for(
            version=provider.version, client_id=CLIENT_ID, client_secret=SECRET, token_url=TOKEN_URL
        )

    @pytest.fixture
    def contract_adapter(self, contract_settings: CaseSettings) -> CaseAdapter:
        return CaseAdapter.from_settings(contract_settings, session=requests.Session())

    @pytest.fixture
    def contract_framework_key(self, provider: FakeProvider) -> str:
        return sorted(provider.packages)[1]

    @pytest.fixture
    def contract_missing_key(self) -> str:
        return MISSING

    @pytest.fixture
    def contract_secret(self) -> str:
        return SECRET

    @pytest.fixture
    def contract_failure(self, contract_adapter: CaseAdapter) -> Callable[[], object]:
        """A framework the provider does not hold (after a token was fetched with the secret)."""
        return lambda: contract_adapter.read_framework(MISSING)

    @pytest.fixture
    def contract_foreign_link(self, contract_adapter: CaseAdapter) -> Callable[[], object]:
        transport = contract_adapter.client.transport
        return lambda: transport.follow(
            "https://elsewhere.example.net/ims/case/v1p1/CFDocuments?offset=100",
            operation="list documents",
        )
