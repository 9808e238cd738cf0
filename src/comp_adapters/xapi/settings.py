"""Settings of the xAPI adapter and :func:`connect`, the one way its LRS client is built.

Settings come from the ``[xapi]`` table of the config file, then ``COMP_ADAPTERS_XAPI_*``
variables (``..._ENDPOINT``, ``..._KEY``, ``..._SECRET``, ``..._AUTH``, ``..._TOKEN_URL``,
...), then flags (:func:`load_settings`). The secret has no flag. The transport is
customised one way: the ``session`` given to :func:`connect` (tests pass a fake, a
:class:`~comp_adapters.testing.CrashingSession` or a ``responses`` session).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import orjson
import requests
from pydantic import Field, JsonValue, SecretStr

from comp_adapters.errors import ConfigurationError
from comp_adapters.http import HttpTransport, make_session
from comp_adapters.settings import AdapterSettings, adapter_settings
from comp_adapters.xapi.client import OAuth2Credentials, XapiClient
from comp_adapters.xapi.cursor import NAME
from comp_adapters.xapi.wire import StatementQuery

LRS_FILTERS = ("agent", "verb", "activity", "registration")
"""The settings that filter the statements an incremental read asks the LRS for."""


class XapiSettings(AdapterSettings):
    """How to reach an LRS, what to read from it and how to map it (``[xapi]``)."""

    endpoint: str = Field(
        min_length=1, description="LRS endpoint, e.g. https://lrs.example.org/xAPI/"
    )
    key: str | None = Field(default=None, description="LRS key (OAuth 2.0: the client id)")
    secret: SecretStr | None = Field(
        default=None,
        description="LRS secret (OAuth 2.0: the client secret); environment or secret_env only",
    )
    auth: Literal["basic", "oauth2", "none"] = Field(
        default="basic", description="how to authenticate: basic, oauth2 or none"
    )
    token_url: str | None = Field(default=None, description="OAuth 2.0 token URL")
    scope: str | None = Field(default=None, description="OAuth 2.0 scope(s), space-separated")
    version: str | None = Field(
        default=None,
        description="xAPI version to speak, 1.0.3 or 2.0.0 (default: negotiated with the LRS)",
    )
    allow_http: bool = Field(
        default=False, description="allow a plain http endpoint (trusted networks only)"
    )
    ca_bundle: str | None = Field(
        default=None, description="PEM file of private CA certificates to trust"
    )
    mapping: Path | None = Field(
        default=None,
        description="mapping config (JSON or TOML): activities -> competencies, identities",
    )
    agent: str | None = Field(
        default=None,
        description="LRS filter: only statements of this agent (an email address or Agent JSON)",
    )
    verb: str | None = Field(default=None, description="LRS filter: only this verb IRI")
    activity: str | None = Field(default=None, description="LRS filter: only this activity IRI")
    registration: str | None = Field(
        default=None, description="LRS filter: only this registration (UUID)"
    )
    page_size: int = Field(default=500, ge=1, description="statements asked per page")
    overlap_seconds: float = Field(
        default=60.0,
        ge=0,
        description="each incremental read starts this many seconds before the cursor",
    )
    push_batch_size: int = Field(
        default=200, ge=1, description="proficiency statements sent per POST"
    )

    def statement_query(self) -> StatementQuery:
        """The LRS filters of an incremental read."""
        return StatementQuery(
            agent=agent_filter(self.agent),
            verb=self.verb,
            activity=self.activity,
            registration=self.registration,
        )


def agent_filter(text: str | None) -> dict[str, JsonValue] | None:
    """The Agent object of an ``agent`` filter: Agent JSON, or an email address (mbox)."""
    if text is None:
        return None
    if text.startswith("{"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"xapi setting 'agent': invalid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise ConfigurationError(
                "xapi setting 'agent': give an Agent object or an email address"
            )
        return value
    return {"mbox": text if text.startswith("mailto:") else f"mailto:{text}"}


def load_settings(
    *, flags: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None
) -> XapiSettings:
    """Settings from the config file's ``[xapi]`` table < environment < non-``None`` flags."""
    return adapter_settings(XapiSettings, NAME, flags=flags, config=config)


def connect(settings: XapiSettings, *, session: requests.Session | None = None) -> XapiClient:
    """The LRS client for these settings; ``session`` replaces the HTTP session (tests)."""
    transport = HttpTransport(
        adapter=NAME,
        base_url=settings.endpoint,
        allow_http=settings.allow_http,
        session=session if session is not None else make_session(ca_bundle=settings.ca_bundle),
    )
    if settings.auth == "oauth2":
        if not (settings.token_url and settings.key and settings.secret):
            raise ConfigurationError(
                "xapi: OAuth 2.0 needs token_url, key and secret "
                "(COMP_ADAPTERS_XAPI_TOKEN_URL, ..._KEY, ..._SECRET)"
            )
        return XapiClient(
            transport,
            oauth2=OAuth2Credentials(
                token_url=settings.token_url,
                client_id=settings.key,
                client_secret=settings.secret,
                scope=settings.scope,
            ),
            version=settings.version,
        )
    if settings.auth == "none":
        return XapiClient(transport, version=settings.version)
    if settings.key is None or settings.secret is None:
        raise ConfigurationError(
            "xapi: basic auth needs key and secret (COMP_ADAPTERS_XAPI_KEY and "
            "COMP_ADAPTERS_XAPI_SECRET, or [xapi] key / secret_env in the config file)"
        )
    return XapiClient(transport, key=settings.key, secret=settings.secret, version=settings.version)


__all__ = ["LRS_FILTERS", "XapiSettings", "agent_filter", "connect", "load_settings"]
