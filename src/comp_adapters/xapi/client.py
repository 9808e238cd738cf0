"""HTTP client of the xAPI Statement API (1.0.3 and 2.0.0), as a consumer and a writer.

One method per remote route. Timeouts, retries (429 with ``Retry-After``, 5xx on idempotent
requests), error mapping and redaction come from :class:`~comp_adapters.http.HttpTransport`.
Authentication is HTTP Basic (key/secret) or OAuth 2.0 client credentials (a bearer token
fetched from a token URL and fetched again when it expires or the LRS answers 401). The xAPI
version is negotiated through ``GET /about`` unless it is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal

import orjson
import requests
from pydantic import SecretStr

from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalRemoteError,
    NotFoundError,
)
from comp_adapters.http import TOKEN_OPERATION, ClientCredentials, HttpTransport, redact_url
from comp_adapters.xapi import wire
from comp_adapters.xapi.instant import Instant

log = logging.getLogger("comp_adapters.xapi")

ADAPTER = "xapi"


@dataclass(frozen=True, slots=True)
class StatementPage:
    """One page of ``GET /statements``: parsed statements, the ``more`` link (``None`` when
    done) and ``X-Experience-API-Consistent-Through`` (``None`` when the LRS omits it)."""

    statements: list[Any]
    more: str | None
    consistent_through: Instant | None


class BasicAuth(requests.auth.AuthBase):
    """HTTP Basic with an LRS key and secret; the secret never appears in a repr."""

    def __init__(self, key: str, secret: SecretStr) -> None:
        self._auth = requests.auth.HTTPBasicAuth(key, secret.get_secret_value())

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        prepared: requests.PreparedRequest = self._auth(request)
        return prepared

    def __repr__(self) -> str:
        return "BasicAuth(***)"


class BearerAuth(requests.auth.AuthBase):
    """Sends the client's current OAuth 2.0 access token (fetching one when needed)."""

    def __init__(self, client: XapiClient) -> None:
        self._client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._client.access_token()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


@dataclass(frozen=True, slots=True)
class OAuth2Credentials:
    """OAuth 2.0 client credentials: client id/secret (the LRS key/secret) and token URL."""

    token_url: str
    client_id: str
    client_secret: SecretStr
    scope: str | None = None


class XapiClient:
    """The Statement API of one LRS endpoint (e.g. ``https://lrs.example.org/xAPI/``)."""

    def __init__(
        self,
        transport: HttpTransport,
        *,
        key: str | None = None,
        secret: SecretStr | None = None,
        oauth2: OAuth2Credentials | None = None,
        version: str | None = None,
    ) -> None:
        if not transport.base_url.endswith("/"):
            transport.base_url += "/"
        self._transport = transport
        self._oauth2: ClientCredentials | None = None
        self._auth: requests.auth.AuthBase | None
        if oauth2 is not None:
            transport.check_url(oauth2.token_url)
            self._oauth2 = ClientCredentials(
                token_url=oauth2.token_url,
                client_id=oauth2.client_id,
                client_secret=oauth2.client_secret.get_secret_value(),
                scope=oauth2.scope,
            )
            transport.redactor.add_basic(oauth2.client_id, self._oauth2.client_secret)
            self._auth = BearerAuth(self)
        elif key is not None and secret is not None:
            transport.redactor.add_basic(key, secret.get_secret_value())
            self._auth = BasicAuth(key, secret)
        elif key is None and secret is None:
            self._auth = None
        else:
            raise ConfigurationError("xapi: give both key and secret (or neither)")
        if version is not None and version not in wire.SUPPORTED_VERSIONS:
            raise ConfigurationError(
                f"xapi: version {version!r} is not supported "
                f"(supported: {', '.join(wire.SUPPORTED_VERSIONS)})"
            )
        self._version = version
        self.ignores_voided_lookup = False
        """Set once the LRS answered ``voidedStatementId`` with other statements (Ralph
        ignores the parameter): it is not asked again by this client."""

    def __repr__(self) -> str:
        return f"XapiClient({redact_url(self._transport.base_url)!r})"

    @property
    def transport(self) -> HttpTransport:
        return self._transport

    # -- plumbing ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        versioned: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if versioned:
            headers[wire.VERSION_HEADER] = self.version
        for attempt in (1, 2):
            try:
                return self._transport.request(
                    method, path, operation=operation, headers=headers, auth=self._auth, **kwargs
                )
            except AuthenticationError as exc:
                # An OAuth token may have expired early or been revoked: fetch a new one once
                # (unless the token endpoint itself refused).
                if self._oauth2 is None or attempt == 2 or exc.operation == TOKEN_OPERATION:
                    raise
                log.info("xapi %s: 401 with a bearer token; fetching a new token", operation)
                self._oauth2.invalidate()
        raise AssertionError("unreachable")  # pragma: no cover

    def access_token(self) -> str:
        """The current OAuth 2.0 access token, fetched when missing or about to expire."""
        if self._oauth2 is None:
            raise ConfigurationError("xapi: no OAuth 2.0 credentials configured")
        return self._oauth2.access_token(self._transport)

    # -- routes --------------------------------------------------------------------------

    def fetch_token(self) -> None:
        """``POST <token_url>`` (OAuth 2.0 client credentials grant, RFC 6749 §4.4)."""
        if self._oauth2 is None:
            raise ConfigurationError("xapi: no OAuth 2.0 credentials configured")
        self._oauth2.fetch(self._transport)

    def about(self) -> wire.About:
        """``GET about``: the xAPI versions the LRS speaks (no version header needed)."""
        response = self._send("GET", "about", operation="about", versioned=False)
        try:
            return wire.About.model_validate(orjson.loads(response.content))
        except (orjson.JSONDecodeError, ValueError):
            raise _bad_answer("the About resource is not valid JSON", response, "about") from None

    @property
    def version(self) -> str:
        """The xAPI version sent on every request (negotiated on first use)."""
        if self._version is None:
            self._version = self.negotiate_version()
        return self._version

    def negotiate_version(self) -> str:
        """The highest version both sides speak, from ``GET about``.

        An LRS without an About resource (Ralph answers 404 ``{"detail": "Not Found"}``)
        is spoken to in 1.0.3, the version every 1.0.x LRS accepts, with a warning that
        says how to choose another one.
        """
        try:
            offered = self.about().version
        except NotFoundError:
            log.warning(
                "xapi: the LRS has no About resource (GET about: 404), so the xAPI version "
                "cannot be negotiated; using %s. Set the version to use another one "
                "(--xapi-version, [xapi] version or COMP_ADAPTERS_XAPI_VERSION)",
                wire.FALLBACK_VERSION,
            )
            return wire.FALLBACK_VERSION
        for version in wire.SUPPORTED_VERSIONS:
            major_minor = version.rsplit(".", 1)[0]
            if any(v == version or v.rsplit(".", 1)[0] == major_minor for v in offered):
                log.debug("xapi: using version %s (LRS offers %s)", version, offered)
                return version
        raise ConfigurationError(
            f"xapi: the LRS speaks {', '.join(offered) or 'no version'}; this library speaks "
            f"{', '.join(wire.SUPPORTED_VERSIONS)}"
        )

    def get_statements(self, query: wire.StatementQuery) -> StatementPage:
        """``GET statements`` with filters: one page (follow :attr:`StatementPage.more`)."""
        if query.statement_id is not None or query.voided_statement_id is not None:
            raise ConfigurationError("xapi: use get_statement / get_voided_statement for ids")
        response = self._send(
            "GET", "statements", operation="get statements", params=query.to_params()
        )
        return self._page(response, "get statements")

    def get_more(self, more: str) -> StatementPage:
        """``GET <more>``: the next page; the link is resolved against the server root.

        A link that leads to another server (scheme, host or port) is refused by the
        transport's one origin rule: following it would send our credentials there, and the
        spec makes ``more`` a server-relative path anyway.
        """
        operation = "get more statements"
        url = self._transport.follow(more, operation=operation)
        response = self._send("GET", url, operation=operation)
        return self._page(response, operation)

    def get_statement(self, statement_id: str) -> dict[str, Any] | None:
        """``GET statements?statementId=``: one statement, ``None`` if absent (or voided).

        The answer counts only if it is the statement asked for (its ``id``): an LRS that
        ignores the parameter answers with other statements, which mean "not known".
        """
        return self._single("statementId", statement_id, "get statement")

    def get_voided_statement(self, statement_id: str) -> dict[str, Any] | None:
        """``GET statements?voidedStatementId=``: a voided statement, ``None`` if the LRS
        has no voided statement with that id, or cannot look one up.

        Ralph ignores ``voidedStatementId`` and answers with the first statements of the
        store; taking the first of them withdrew another learner's evidence. The answer's
        id is checked, and after one such answer this client stops asking
        (:attr:`ignores_voided_lookup`).
        """
        if self.ignores_voided_lookup:
            return None
        return self._single("voidedStatementId", statement_id, "get voided statement")

    def put_statement(self, statement_id: str, statement: dict[str, Any]) -> bool:
        """``PUT statements?statementId=``: store under a chosen id. ``True`` when stored now
        (204), ``False`` when the LRS already holds that id (409): both mean done."""
        response = self._send(
            "PUT",
            "statements",
            operation="put statement",
            params={"statementId": statement_id},
            data=orjson.dumps(statement),
            headers={"Content-Type": "application/json"},
            expected=(409,),
        )
        if response.status_code == 409:
            log.info("xapi: statement %s already in the LRS (409)", statement_id)
            return False
        return True

    def post_statements(self, statements: list[dict[str, Any]]) -> list[str]:
        """``POST statements``: store a batch; returns the ids the LRS says it stored.

        The spec answers 200 with the ids in order (LRS-assigned ones included). Ralph
        leaves out the ids it already held (and answers 204 when it held them all), so the
        answer may be shorter than the batch; an id we did not send, or a count that does
        not match a batch without ids, is refused. A statement with the same id but other
        content than one the LRS holds makes it answer 409
        (:class:`~comp_adapters.errors.ConflictError`), and the spec lets it answer 409 for
        a batch holding an id it has at all. Repeatable when every statement has an id
        (the LRS de-duplicates).
        """
        operation = "post statements"
        with_ids = all("id" in s for s in statements)
        response = self._send(
            "POST",
            "statements",
            operation=operation,
            idempotent=with_ids,
            data=orjson.dumps(statements),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code == 204:
            return []
        answer = self._json(response, operation)
        if not isinstance(answer, list) or not all(isinstance(i, str) for i in answer):
            raise _bad_answer("POST statements did not answer with ids", response, operation)
        if with_ids:
            sent = {str(s["id"]).lower() for s in statements}
            if any(i.lower() not in sent for i in answer):
                raise _bad_answer(
                    "POST statements answered with ids that were not sent", response, operation
                )
        elif len(answer) != len(statements):
            raise _bad_answer(
                f"POST statements answered {len(answer)} id(s) for {len(statements)} statement(s)",
                response,
                operation,
            )
        return answer

    # -- parsing -------------------------------------------------------------------------

    def _single(
        self, param: Literal["statementId", "voidedStatementId"], value: str, operation: str
    ) -> dict[str, Any] | None:
        try:
            response = self._send("GET", "statements", operation=operation, params={param: value})
        except NotFoundError:
            return None
        body = self._json(response, operation)
        if isinstance(body, dict) and isinstance(body.get("statements"), list):
            # Ralph wraps a single statement in a StatementResult (xapi.md §5.4).
            candidates: list[Any] = body["statements"]
        else:
            candidates = [body]
        wanted = value.lower()
        found = next(
            (
                c
                for c in candidates
                if isinstance(c, dict) and str(c.get("id", "")).lower() == wanted
            ),
            None,
        )
        if found is None and not candidates:
            return None
        if found is None or len(candidates) > 1:
            # Not the one statement asked for: the LRS ignored the parameter.
            log.warning(
                "xapi %s: the LRS answered %s=%s with %d statement(s)%s; it does not honour "
                "%s, so only an answer with that id counts",
                operation,
                param,
                value,
                len(candidates),
                "" if found is not None else ", none of them the one asked for",
                param,
            )
            if param == "voidedStatementId":
                self.ignores_voided_lookup = True
        return found

    def _json(self, response: requests.Response, operation: str) -> Any:
        try:
            return orjson.loads(_json_part(response))
        except orjson.JSONDecodeError:
            raise _bad_answer("the LRS answered with invalid JSON", response, operation) from None

    def _page(self, response: requests.Response, operation: str) -> StatementPage:
        body = self._json(response, operation)
        if not isinstance(body, dict) or not isinstance(body.get("statements", []), list):
            raise _bad_answer("the LRS answered without a StatementResult", response, operation)
        more = body.get("more")
        through = response.headers.get(wire.CONSISTENT_THROUGH_HEADER)
        return StatementPage(
            statements=body.get("statements", []),
            more=more if isinstance(more, str) and more else None,
            consistent_through=Instant.parse(through) if through else None,
        )


def _json_part(response: requests.Response) -> bytes:
    """The JSON of an answer: the body, or the first part of a ``multipart/mixed`` answer
    (what ``attachments=true`` gets: statements first, then the attachments, which
    evidence does not need). Unparseable input yields ``b""`` (invalid JSON downstream)."""
    content_type = response.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/"):
        return response.content
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        return b""
    body = response.content
    delimiter = b"--" + boundary.encode()
    start = body.find(delimiter)
    head_end = body.find(b"\r\n\r\n", start) if start >= 0 else -1
    if head_end < 0:
        return b""
    end = body.find(b"\r\n" + delimiter, head_end)
    return body[head_end + 4 : end if end >= 0 else len(body)]


def _bad_answer(message: str, response: requests.Response, operation: str) -> FatalRemoteError:
    """The error for an answer we cannot use (no secret in it: the URL is redacted)."""
    return FatalRemoteError(
        message,
        adapter=ADAPTER,
        operation=operation,
        url=redact_url(response.url or ""),
        status=response.status_code,
    )
