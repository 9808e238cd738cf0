"""OAuth 2.0 client credentials (RFC 6749 §4.4), the one implementation every adapter uses.

A bearer token is fetched from the token URL on first use, reused, and fetched again
``margin`` seconds before it expires or when the server rejects it (:meth:`invalidate`).
The client authenticates with HTTP Basic (RFC 6749's recommendation) or, for servers that
want it, with ``client_id``/``client_secret`` in the form body. The token request goes
through the adapter's transport, so it gets the same TLS, redirect (same origin only: the
body holds the secret), deadline and redaction rules as every other request.

A granted scope that differs from the requested one is normal (RFC 6749 §3.3: the server
may grant more or less; Keycloak adds its default scopes): it is recorded in
:attr:`ClientCredentials.granted_scope` and logged, never raised. oauthlib signals it with
a bare ``Warning`` exception when it is told the requested scope, so the answer is parsed
without it and the scopes are compared here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from oauthlib.oauth2 import BackendApplicationClient
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from comp_adapters._http.redaction import redact_url
from comp_adapters.errors import AuthenticationError, FatalRemoteError

if TYPE_CHECKING:
    from comp_adapters.http import HttpTransport

log = logging.getLogger("comp_adapters.http")

TOKEN_OPERATION = "token"  # noqa: S105 - an operation name, not a secret


@dataclass
class ClientCredentials:
    """OAuth 2.0 client credentials: a bearer token fetched (and re-fetched) on demand.

    ``scope`` is sent as given (space-separated). Neither the secret nor a token appears
    in the repr.
    """

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    client_auth: Literal["basic", "body"] = "basic"
    margin: float = 30.0
    """Seconds before expiry at which a token counts as expired."""
    granted_scope: str | None = None
    """The scope the server granted with the current token (``None``: as requested)."""
    _token: str | None = field(default=None, repr=False)
    _expires_at: float | None = field(default=None, repr=False)

    def authorization(self, transport: HttpTransport) -> str:
        """The ``Authorization`` header value, fetching a token when there is none valid."""
        return f"Bearer {self.access_token(transport)}"

    def access_token(self, transport: HttpTransport) -> str:
        """The current access token, fetched when missing or about to expire."""
        now = transport.clock()
        expired = self._expires_at is not None and now >= self._expires_at - self.margin
        if self._token is None or expired:
            self.fetch(transport)
        assert self._token is not None  # noqa: S101 - fetch() sets it or raises
        return self._token

    def invalidate(self) -> None:
        """Forget the token (the server rejected it): the next use fetches a new one."""
        self._token = None
        self._expires_at = None

    def fetch(self, transport: HttpTransport) -> None:
        """``POST <token_url>`` with ``grant_type=client_credentials``; keeps the token."""
        transport.redactor.add_basic(self.client_id, self.client_secret)
        oauth = BackendApplicationClient(client_id=self.client_id)
        in_body = self.client_auth == "body"
        extra = {"client_secret": self.client_secret} if in_body else {}
        body = oauth.prepare_request_body(scope=self.scope, include_client_id=in_body, **extra)
        requested_at = transport.clock()
        try:
            response = transport.request(
                "POST",
                transport.check_url(self.token_url),
                operation=TOKEN_OPERATION,
                idempotent=True,
                data=body,
                auth=None if in_body else (self.client_id, self.client_secret),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
            )
        except FatalRemoteError as exc:
            if isinstance(exc, AuthenticationError) or exc.status != 400:
                raise
            raise self._refused(transport, exc.detail, exc.status, exc.code) from None
        try:
            token = oauth.parse_request_body_response(response.text)
        except (OAuth2Error, ValueError) as exc:
            reason = getattr(exc, "error", None) or type(exc).__name__
            raise self._refused(
                transport,
                f"the token endpoint's answer is not a usable token: {reason}",
                response.status_code,
                None,
            ) from None
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise self._refused(
                transport, "the token answer has no access_token", response.status_code
            )
        transport.redactor.add(access)
        self._token = access
        self.granted_scope = self._granted(token)
        expires_in = token.get("expires_in")
        self._expires_at = (
            requested_at + float(expires_in) if isinstance(expires_in, int | float) else None
        )

    def _granted(self, token: Any) -> str | None:
        granted = token.get("scope")
        if not granted:
            return None
        text = " ".join(granted) if isinstance(granted, list) else str(granted)
        if self.scope is not None and set(text.split()) != set(self.scope.split()):
            log.info(
                "OAuth 2.0: asked for scope %r, the server granted %r (that is allowed)",
                self.scope,
                text,
            )
        return text

    def _refused(
        self, transport: HttpTransport, message: str, status: int | None, code: str | None = None
    ) -> AuthenticationError:
        """A refused token request (400 ``invalid_client``, an unusable answer)."""
        return AuthenticationError(
            message,
            adapter=transport.adapter,
            operation=TOKEN_OPERATION,
            url=redact_url(self.token_url),
            status=status,
            code=code,
        )


__all__ = ["TOKEN_OPERATION", "ClientCredentials"]
