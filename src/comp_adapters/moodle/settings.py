"""Moodle's settings and the one way to build its client (:func:`connect`).

Settings come from the ``[moodle]`` table of the config file, then
``COMP_ADAPTERS_MOODLE_*`` variables, then flags (:func:`load_settings`); a misspelt key
is an error naming it. The token is a :class:`~pydantic.SecretStr` with no flag: it shows
as ``**********`` and is read from the environment (or a ``token_env`` entry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from pydantic import Field, SecretStr, field_validator

from comp_adapters.http import DEFAULT_TIMEOUT, make_session
from comp_adapters.moodle.client import DEFAULT_BATCH_SIZE, MoodleClient
from comp_adapters.moodle.wire import RateIn, UserField
from comp_adapters.settings import AdapterSettings, adapter_settings

SECTION = "moodle"


class MoodleSettings(AdapterSettings):
    """Connection settings and the adapter's options (``[moodle]``, ``COMP_ADAPTERS_MOODLE_*``)."""

    url: str = Field(
        min_length=1, description="the Moodle site root, e.g. https://moodle.example.org"
    )
    token: SecretStr = Field(
        description="web-service token of a service holding the competency functions "
        "(environment only: COMP_ADAPTERS_MOODLE_TOKEN or token_env)"
    )
    allow_http: bool = Field(default=False, description="allow a plain http:// site URL")
    batch: bool | None = Field(
        default=None,
        description="batch calls through tool_mobile_call_external_functions: true requires "
        "it, false sends one request per call, unset detects it",
    )
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, ge=1, le=500, description="calls per batched request"
    )
    timeout: float = Field(
        default=DEFAULT_TIMEOUT[1], gt=0, description="seconds to wait for an answer"
    )
    ca_bundle: str | None = Field(
        default=None, description="PEM file of private CA certificates to trust"
    )
    user_field: UserField = Field(default="email", description="how learner keys name Moodle users")
    scale_id: int | None = Field(
        default=None, ge=1, description="the Moodle scale a pushed framework uses"
    )
    category_id: int | None = Field(
        default=None, ge=1, description="course category a new framework is created in"
    )
    rate_in: RateIn = Field(
        default="site",
        description="where ratings are written: site (the user competency), course "
        "(course_id) or plan (each learner's active learning plan)",
    )
    course_id: int | None = Field(
        default=None, ge=1, description="the course ratings are written in (rate_in course)"
    )
    revoke_rule_ratings: bool = Field(
        default=False,
        description="where Moodle keeps a rating its rule gave that the computation no "
        "longer gives, write the scale's lowest level",
    )
    framework_key: str | None = Field(
        default=None, description="idnumber of the framework whose evidence is read"
    )
    learners: tuple[str, ...] = Field(
        default=(), description="learner keys whose evidence is read (a list, or commas)"
    )

    @field_validator("learners", mode="before")
    @classmethod
    def _split_learners(cls, value: Any) -> Any:
        """An environment variable holds a list as comma-separated keys."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


def connect(settings: MoodleSettings, *, session: requests.Session | None = None) -> MoodleClient:
    """The client for ``settings``; ``session`` replaces the HTTP session (tests)."""
    return MoodleClient(
        settings.url,
        settings.token,
        session=session if session is not None else make_session(ca_bundle=settings.ca_bundle),
        allow_http=settings.allow_http,
        timeout=(DEFAULT_TIMEOUT[0], settings.timeout),
        batch=settings.batch,
        batch_size=settings.batch_size,
    )


def load_settings(
    *,
    flags: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> MoodleSettings:
    """Moodle's settings: config table < ``COMP_ADAPTERS_MOODLE_*`` < non-``None`` flags."""
    return adapter_settings(MoodleSettings, SECTION, flags=flags, config=config, environ=environ)
