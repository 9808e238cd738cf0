"""The Canvas adapter's settings and :func:`connect`, the one way a client is built.

Settings come from ``[canvas]`` in the config file, then ``COMP_ADAPTERS_CANVAS_<NAME>``
variables, then flags (:func:`comp_adapters.settings.adapter_settings`). A misspelt key is
refused with its name. The token is a secret: it has no flag and never shows in a repr.
The transport is customised one way only: the ``session`` given to :func:`connect` (tests
pass a fake, a ``responses`` mock or a crashing session).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import requests
from pydantic import Field, SecretStr

from comp_adapters.canvas.client import CanvasClient, CanvasContext, make_transport
from comp_adapters.errors import ConfigurationError
from comp_adapters.http import RetryPolicy, make_session
from comp_adapters.settings import AdapterSettings, adapter_settings

Strategy = Literal["auto", "csv", "rest"]
Tristate = Literal["auto", "on", "off"]
LearnerField = Literal["login_id", "sis_user_id", "email", "id"]

CSV_THRESHOLD = 20
"""With strategy ``auto``, this many writes or more go through one CSV import."""

SECTION = "canvas"


class CanvasSettings(AdapterSettings):
    """``[canvas]`` in the config file or ``COMP_ADAPTERS_CANVAS_*``: connection and options."""

    url: str = Field(description="Canvas base URL, e.g. https://canvas.example.edu")
    token: SecretStr = Field(
        description="API access token (a secret: COMP_ADAPTERS_CANVAS_TOKEN or token_env)"
    )
    account: str | None = Field(
        default=None, description="account id: outcomes in an account (give this or course)"
    )
    course: str | None = Field(
        default=None,
        description="course id: outcomes, results and mastery in a course (give this or account)",
    )
    allow_http: bool = Field(
        default=False, description="allow a plain http URL (trusted test servers only)"
    )
    ca_bundle: str | None = Field(
        default=None, description="PEM file of private CA certificates to trust"
    )
    learner_field: LearnerField = Field(
        default="login_id", description="Canvas user field used as the learner key"
    )
    locale: str | None = Field(
        default=None,
        description="the account's default_locale (e.g. de), with which Canvas parses the "
        "numbers of an outcomes import (Canvas's REST API does not show it)",
    )
    poll_interval: float = Field(
        default=2.0, ge=0, description="seconds before the first poll of an import or report"
    )
    max_polls: int = Field(
        default=120, ge=1, description="polls of an import or report before giving up"
    )
    retry_attempts: int = Field(
        default=5, ge=1, description="tries of a throttled or failed request (the first counts)"
    )
    retry_backoff: float = Field(
        default=0.5, ge=0, description="seconds before the first retry (then doubling)"
    )
    strategy: Strategy = Field(
        default="auto",
        description="push as one outcomes CSV import (few requests) or REST calls; auto "
        "picks by size",
    )
    csv_threshold: int = Field(
        default=CSV_THRESHOLD,
        ge=1,
        description="with strategy auto, this many writes or more go through a CSV import",
    )
    parent_outcomes: bool = Field(
        default=False,
        description="add an outcome in each parent's group for its rolled-up proficiency",
    )
    mastery_scales: Tristate = Field(
        default="auto", description="account-level mastery scales (auto: read the feature flag)"
    )
    set_mastery_scale: bool = Field(
        default=False,
        description="under account-level mastery scales, set the context's scale and "
        "calculation method to the framework's",
    )
    framework_key: str | None = Field(
        default=None,
        description="framework key whose outcomes name the competencies of evidence read",
    )
    assignment_name: str | None = Field(
        default=None,
        description="assignment that carries written mastery "
        "(default: 'Competency mastery (<key>)')",
    )

    def context(self) -> CanvasContext:
        """The account or course the settings name; exactly one must be given."""
        if (self.account is None) == (self.course is None):
            raise ConfigurationError(
                "canvas: give exactly one context: an account (--account / "
                "COMP_ADAPTERS_CANVAS_ACCOUNT) or a course (--course / COMP_ADAPTERS_CANVAS_COURSE)"
            )
        if self.account is not None:
            return CanvasContext("account", self.account)
        return CanvasContext("course", str(self.course))


def connect(settings: CanvasSettings, *, session: requests.Session | None = None) -> CanvasClient:
    """The client for ``settings``; ``session`` replaces the HTTP session (tests, proxies)."""
    context = settings.context()
    transport = make_transport(
        settings.url,
        settings.token,
        session=session if session is not None else make_session(ca_bundle=settings.ca_bundle),
        allow_http=settings.allow_http,
        retry=RetryPolicy(attempts=settings.retry_attempts, backoff=settings.retry_backoff),
    )
    return CanvasClient(transport, settings.token, context=context)


def load_settings(
    *,
    flags: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> CanvasSettings:
    """Settings merged in the documented order: config table < environment < flags.

    A context flag (``account`` or ``course``) replaces the configured context rather than
    adding a second one.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    table = dict((config or {}).get(SECTION, {}))
    if "account" in given or "course" in given:
        table.pop("account", None)
        table.pop("course", None)
    merged_config = {**(config or {}), SECTION: table}
    env = None if environ is None else dict(environ)
    if "account" in given or "course" in given:
        env = dict(os.environ if env is None else env)
        env.pop("COMP_ADAPTERS_CANVAS_ACCOUNT", None)
        env.pop("COMP_ADAPTERS_CANVAS_COURSE", None)
    return adapter_settings(CanvasSettings, SECTION, flags=given, config=merged_config, environ=env)
