"""Settings of ``comp-adapters serve``: config ``[serve]``, ``COMP_ADAPTERS_SERVE_*``, flags.

What to serve (framework files, the store, the role profiles and people files of the gap
analysis), where (``host``, bound to 127.0.0.1 unless told otherwise) and who may read it
(a JWT issuer with its JWKS and audience; API keys live hashed in the store).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from comp_adapters.settings import AdapterSettings
from comp_adapters.store.url import DEFAULT_URL

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
"""Asymmetric JWT algorithms only: a shared-secret (HS*) or unsigned token is refused, so
a public key from the JWKS can never be used as an HMAC secret."""


def _split(value: Any) -> Any:
    """A comma-separated string (from the environment) as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServeSettings(AdapterSettings):
    """How ``comp-adapters serve`` runs (see docs/serve.md)."""

    host: str = Field(default=DEFAULT_HOST, description="address to bind (default loopback)")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="port to bind")
    store: str = Field(default=DEFAULT_URL, description="state store URL (proficiency, keys)")
    frameworks: tuple[Path, ...] = Field(
        default=(), description="framework files to serve (any known format)"
    )
    released: bool = Field(
        default=False,
        description="serve the framework versions released in the store (not files)",
    )
    public: tuple[str, ...] = Field(
        default=(),
        description="frameworks (key or CASE id) served on the CASE routes without credential",
    )
    roles: Path | None = Field(default=None, description="role profile file (gaps, coverage)")
    people: Path | None = Field(default=None, description="people file (teams, managers)")
    count_private: bool = Field(
        default=False, description="private evidence counted towards results (never shown)"
    )
    base_uri: str | None = Field(
        default=None, description="base of the URIs of CASE objects that have none"
    )
    case_creator: str | None = Field(default=None, description="creator of CASE documents")
    jwt_issuer: str | None = Field(default=None, description="issuer (iss) of accepted JWTs")
    jwt_audience: str | None = Field(default=None, description="audience (aud) JWTs must name")
    jwks_url: str | None = Field(default=None, description="where the issuer's JWKS is served")
    jwks_file: Path | None = Field(default=None, description="the issuer's JWKS as a file")
    jwt_algorithms: tuple[str, ...] = Field(default=DEFAULT_ALGORITHMS)
    viewer_claim: str = Field(
        default="comp_adapters_viewer",
        description="JWT claim naming the viewer (manager:ID, admin, auditor); else learner:sub",
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="default page size")

    @field_validator("frameworks", "public", "jwt_algorithms", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = [name for name in value if name not in DEFAULT_ALGORITHMS]
        if refused:
            raise ValueError(
                f"not an accepted JWT algorithm: {', '.join(refused)} "
                f"(accepted: {', '.join(DEFAULT_ALGORITHMS)})"
            )
        return value

    @model_validator(mode="after")
    def _jwt_together(self) -> ServeSettings:
        if self.jwks_url and self.jwks_file:
            raise ValueError("give jwks_url or jwks_file, not both")
        configured = [self.jwt_issuer, self.jwt_audience, self.jwks_url or self.jwks_file]
        if any(configured) and not all(configured):
            raise ValueError("JWTs need jwt_issuer, jwt_audience and jwks_url (or jwks_file)")
        if self.released and self.frameworks:
            raise ValueError("give framework files or released (the store's versions), not both")
        if (self.roles is None) != (self.people is None):
            raise ValueError("give roles and people together (gap analysis and teams)")
        return self

    @property
    def jwt_enabled(self) -> bool:
        return self.jwt_issuer is not None
