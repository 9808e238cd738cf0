"""Settings of the CASE adapter and :func:`connect`, the one way its client is built.

Settings come from the ``[case]`` table of the config file, then ``COMP_ADAPTERS_CASE_*``
variables, then flags (:func:`load_settings`); secrets (``token``, ``client_secret``) have
no flag. The transport is customised one way: the ``session`` given to :func:`connect`.
How patiently to retry is a setting (``retry_attempts``, ``max_retry_wait``), so tests need
no hook into the transport's clock: ``max_retry_wait = 0`` retries without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import requests
from pydantic import Field, SecretStr, model_validator

from comp_adapters.case.client import (
    CaseClient,
    ClientCredentials,
    describe_case_error,
    is_case_throttled,
)
from comp_adapters.http import HttpTransport, RetryPolicy, make_session
from comp_adapters.settings import AdapterSettings, adapter_settings

NAME = "case"


class CaseSettings(AdapterSettings):
    """How to reach a CASE provider (config ``[case]``, env ``COMP_ADAPTERS_CASE_*``, flags).

    Anonymous by default; ``token`` for a static bearer token; ``client_id`` +
    ``client_secret`` + ``token_url`` (+ ``scope``) for OAuth 2.0 client credentials.
    """

    url: str = Field(min_length=1, description="provider root or its /ims/case/v1p0 or /v1p1 URL")
    version: Literal["auto", "1.0", "1.1"] = Field(
        default="auto", description="CASE version of the REST API (auto: detect it)"
    )
    token: SecretStr | None = Field(
        default=None, description="static bearer token (environment or token_env only)"
    )
    client_id: str | None = Field(default=None, description="OAuth 2.0 client id")
    client_secret: SecretStr | None = Field(
        default=None, description="OAuth 2.0 client secret (environment or client_secret_env)"
    )
    token_url: str | None = Field(default=None, description="OAuth 2.0 token endpoint")
    scope: str | None = Field(default=None, description="OAuth 2.0 scope(s), space-separated")
    client_auth: Literal["basic", "body"] = Field(
        default="basic",
        description="how the client credentials travel to the token endpoint: basic or body",
    )
    page_size: int = Field(
        default=100, ge=1, le=10_000, description="documents asked per page (default 100)"
    )
    allow_http: bool = Field(
        default=False, description="allow a plain http URL (trusted networks or tests only)"
    )
    ca_bundle: str | None = Field(
        default=None, description="PEM file of private CA certificates to trust"
    )
    retry_attempts: int = Field(
        default=5, ge=1, description="tries per request when throttled or failing (first included)"
    )
    max_retry_wait: float = Field(
        default=300.0,
        ge=0,
        description="longest wait in seconds between tries (caps Retry-After and back-off)",
    )

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
    """Settings from the config file's ``[case]`` table < environment < non-``None`` flags."""
    return adapter_settings(CaseSettings, NAME, flags=flags, config=config)


def connect(settings: CaseSettings, *, session: requests.Session | None = None) -> CaseClient:
    """A client for the provider in ``settings``; ``session`` replaces the HTTP session."""
    wait = settings.max_retry_wait
    default = RetryPolicy()
    http = HttpTransport(
        adapter=NAME,
        base_url=settings.url,
        session=session if session is not None else make_session(ca_bundle=settings.ca_bundle),
        allow_http=settings.allow_http,
        retry=RetryPolicy(
            attempts=settings.retry_attempts,
            backoff=min(default.backoff, wait),
            max_backoff=min(default.max_backoff, wait),
            max_retry_after=wait,
        ),
        describe_error=describe_case_error,
        is_throttled=is_case_throttled,
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


__all__ = ["NAME", "CaseSettings", "connect", "load_settings"]
