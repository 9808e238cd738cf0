"""The CASE adapter: reads frameworks from a CASE provider into the core model.

CASE's REST binding is read-only (providers author through their own APIs), so the adapter
declares only :attr:`~comp_adapters.protocols.Capability.READS_FRAMEWORK`; publishing our
frameworks as CASE means writing a CFPackage file (the ``case`` file format), which a
provider then imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from comp_adapters.case.client import CaseClient, ClientCredentials
from comp_adapters.case.mapping import package_to_framework
from comp_adapters.case.wire import CFDocument, CFPackage
from comp_adapters.core.framework import Framework
from comp_adapters.errors import Problem
from comp_adapters.http import HttpTransport, make_session
from comp_adapters.protocols import Capability
from comp_adapters.settings import build_settings, gather


class CaseSettings(BaseModel):
    """How to reach a CASE provider (config ``[case]``, env ``COMP_ADAPTERS_CASE_*``, flags).

    Anonymous by default; ``token`` for a static bearer token; ``client_id`` +
    ``client_secret`` + ``token_url`` (+ ``scope``) for OAuth 2.0 client credentials.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    version: Literal["auto", "1.0", "1.1"] = "auto"
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    token_url: str | None = None
    scope: str | None = None
    client_auth: Literal["basic", "body"] = "basic"
    page_size: int = Field(default=100, ge=1, le=10_000)
    allow_http: bool = False
    ca_bundle: str | None = None
    """PEM file of private CA certificates to trust (docs/security.md)."""

    @model_validator(mode="after")
    def _check_auth(self) -> CaseSettings:
        oauth = (self.client_id, self.client_secret, self.token_url)
        if any(value is not None for value in oauth) and not all(
            value is not None for value in oauth
        ):
            raise ValueError("OAuth needs client_id, client_secret and token_url together")
        if self.token is not None and self.client_id is not None:
            raise ValueError("give either a bearer token or client credentials, not both")
        return self


def load_settings(
    *, flags: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None
) -> CaseSettings:
    """Settings from the config file's ``[case]`` table, the environment and flags."""
    return build_settings(CaseSettings, "case", gather("case", flags=flags, config=config))


def make_client(
    settings: CaseSettings, *, session: requests.Session | None = None, **transport: Any
) -> CaseClient:
    """A client for the provider in ``settings`` (inject ``session`` and timing in tests)."""
    http = HttpTransport(
        adapter="case",
        base_url=settings.url,
        session=session or make_session(ca_bundle=settings.ca_bundle),
        allow_http=settings.allow_http,
        **transport,
    )
    auth: ClientCredentials | str | None = None
    if settings.token is not None:
        auth = settings.token.get_secret_value()
    elif settings.client_id and settings.client_secret and settings.token_url:
        auth = ClientCredentials(
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            scope=settings.scope,
            client_auth=settings.client_auth,
        )
    return CaseClient(
        transport=http,
        version=None if settings.version == "auto" else settings.version,
        auth=auth,
        page_size=settings.page_size,
    )


class CaseAdapter:
    """Reads frameworks (CFPackages) from a CASE provider."""

    name = "case"
    capabilities = frozenset({Capability.READS_FRAMEWORK})

    def __init__(self, client: CaseClient) -> None:
        self.client = client

    @classmethod
    def from_settings(
        cls, settings: CaseSettings, *, session: requests.Session | None = None, **transport: Any
    ) -> CaseAdapter:
        return cls(make_client(settings, session=session, **transport))

    @property
    def warnings(self) -> list[Problem]:
        """What had to be adapted in the provider's data so far (located warnings)."""
        return self.client.warnings

    def list_frameworks(self) -> Iterator[CFDocument]:
        """The provider's frameworks (their CFDocuments), all pages."""
        return self.client.list_documents()

    def read_package(self, key: str) -> CFPackage:
        """The CFPackage of the document ``key`` (its CASE identifier)."""
        return self.client.get_package(key)

    def read_framework(self, key: str) -> Framework:
        """The framework whose CFDocument identifier is ``key``, in the core model."""
        package = self.read_package(key)
        framework, problems = package_to_framework(package, source=f"CFPackages/{key}")
        self.client.warnings.extend(problems)
        return framework


__all__ = ["CaseAdapter", "CaseSettings", "load_settings", "make_client"]
