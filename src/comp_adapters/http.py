"""HTTP plumbing every client shares: sessions, timeouts, retries, error mapping, redaction.

Clients never call ``requests`` directly: they hold an :class:`HttpTransport`, which

* refuses ``http://`` URLs unless the caller explicitly allowed them, and URLs without a
  usable host or port;
* keeps TLS verification on (a private CA is trusted with ``ca_bundle`` or
  ``REQUESTS_CA_BUNDLE``); a TLS failure is fatal at once, with its reason;
* follows redirects itself: within the origin only (unless a GET opts in, and then with no
  credential), never from https to http, never more than ``max_redirects``;
* checks every link a server hands out with one same-origin rule (:meth:`HttpTransport.follow`);
* bounds every request by an overall ``deadline`` and every answer by ``max_answer_bytes``;
* retries connection failures, throttling (429, or a vendor's own spelling of it) and 5xx
  with exponential backoff, honouring ``Retry-After``; a non-idempotent request is retried
  only where the server cannot have processed it (connect failures, throttling);
* maps failures into the :mod:`comp_adapters.errors` tree with adapter, operation,
  redacted URL, status, remote code and request id;
* never lets a secret reach a log line or an error message.

Retries are written here rather than taken from urllib3's ``Retry`` because they must
classify responses the way each vendor answers (Canvas throttles with a 403, Moodle fails
with HTTP 200), know which requests are safe to repeat, and run without real sleeps in tests.
The policy is explained for users in ``docs/security.md``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from comp_adapters import __version__
from comp_adapters._http.body import AnswerCutOff, AnswerTooLarge, DeadlineExceeded, read_body
from comp_adapters._http.oauth import TOKEN_OPERATION, ClientCredentials
from comp_adapters._http.origin import BadUrlError, origin_of, resolve_link, same_origin
from comp_adapters._http.redaction import (
    MASK,
    SENSITIVE_PARAMS,
    RedactingFilter,
    Redactor,
    install_log_redaction,
    redact_url,
)
from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RemoteError,
    RetriableRemoteError,
    TLSError,
)

log = logging.getLogger("comp_adapters.http")

USER_AGENT = f"comp-adapters/{__version__} (+https://pypi.org/project/comp-adapters/)"
DEFAULT_TIMEOUT = (10.0, 60.0)
"""(connect, read) seconds: how long one connect, and one wait for data, may take."""
DEFAULT_DEADLINE = 600.0
"""Seconds one request (redirects and the whole answer included) may take in all."""
DEFAULT_MAX_ANSWER_BYTES = 512 * 1024 * 1024
"""Largest answer read (after decompression): large for any real page, but finite."""
DEFAULT_MAX_REDIRECTS = 10

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
_REQUEST_ID_HEADERS = (
    "X-Request-Id",
    "X-Request-Context-Id",
    "X-Canvas-Request-Id",
    "X-Correlation-Id",
    "Request-Id",
)
_TLS_REASON = re.compile(r"(certificate verify failed: [^(\]'\"]+|[A-Z_]+\] [^(\]'\"]+)")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    ``attempts`` counts the first try. Waits grow as ``backoff * 2**(n-1)`` up to
    ``max_backoff`` (with full jitter unless disabled); a server's ``Retry-After`` wins,
    up to ``max_retry_after``.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    jitter: bool = True
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def wait(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return rng.uniform(0, ceiling) if self.jitter else ceiling


NO_RETRY = RetryPolicy(attempts=1)


def make_session(
    *, user_agent: str = USER_AGENT, ca_bundle: str | Path | None = None
) -> requests.Session:
    """A session with TLS verification on and our User-Agent; auth is added by the client.

    ``ca_bundle`` is a PEM file of the certificate authorities to trust instead of the
    default ones (a private CA); without it ``REQUESTS_CA_BUNDLE`` is honoured.
    """
    session = requests.Session()
    session.verify = True
    if ca_bundle is not None:
        bundle = Path(ca_bundle).expanduser()
        if not bundle.is_file():
            raise ConfigurationError(
                f"ca_bundle {bundle}: no such file (give a PEM file of the CA certificates "
                "to trust)"
            )
        session.verify = str(bundle)
    session.headers["User-Agent"] = user_agent
    return session


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


def request_id_of(response: requests.Response) -> str | None:
    for header in _REQUEST_ID_HEADERS:
        value = response.headers.get(header)
        if value:
            return value
    return None


ErrorDescriber = Callable[[requests.Response], tuple[str, str | None]]
"""Extracts (message, remote error code) from an error response."""


def describe_error_body(response: requests.Response) -> tuple[str, str | None]:
    """A generic (message, code) from an error body: JSON ``message``/``error``, else text."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:300] or response.reason or "error"), None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errors"):
            value = body.get(key)
            if isinstance(value, str) and value:
                code = body.get("code") or body.get("errorcode")
                return value, str(code) if code is not None else None
    return str(body)[:300], None


@dataclass
class HttpTransport:
    """Sends one adapter's requests with the policies above. Inject ``session`` to test."""

    adapter: str
    base_url: str
    session: requests.Session = field(default_factory=make_session)
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allow_http: bool = False
    redactor: Redactor = field(default_factory=Redactor)
    describe_error: ErrorDescriber = describe_error_body
    is_throttled: Callable[[requests.Response], bool] = lambda response: response.status_code == 429
    refine_error: Callable[[RemoteError, requests.Response], RemoteError] | None = None
    """An adapter's own reading of a failed response, given the generic error (optional)."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    deadline: float = DEFAULT_DEADLINE
    """Seconds one request may take in all (redirects and reading the answer included)."""
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    requests_sent: int = 0

    def __post_init__(self) -> None:
        self.base_url = self.check_url(self.base_url)

    def __repr__(self) -> str:
        return f"HttpTransport(adapter={self.adapter!r}, base_url={redact_url(self.base_url)!r})"

    def check_url(self, url: str) -> str:
        """Refuse anything but https (and http when allowed), and URLs without a usable
        host or port; return the URL unchanged."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "http" and not self.allow_http:
            raise ConfigurationError(
                f"{self.adapter}: refusing plain http URL {redact_url(url)}; use https, or "
                "allow http explicitly (allow_http=True / --allow-http) for a trusted network"
            )
        if scheme not in ("https", "http"):
            raise ConfigurationError(f"{self.adapter}: not an http(s) URL: {redact_url(url)}")
        try:
            origin_of(url)
        except BadUrlError as exc:
            raise ConfigurationError(f"{self.adapter}: bad URL: {exc}") from None
        return url

    def url(self, path_or_url: str) -> str:
        """Absolute URL for a path relative to the base URL (absolute URLs are checked)."""
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return self.check_url(urljoin(base, path_or_url))

    def follow(self, link: str, *, operation: str) -> str:
        """The absolute URL of a link a server handed out (a next page, a ``more`` link, a
        file), refused unless it is on the base URL's origin: following it would send our
        credentials wherever the server (or whoever tampered with the answer) says."""
        url = resolve_link(self.base_url, link)
        if not same_origin(url, self.base_url):
            raise FatalRemoteError(
                f"the server's link leads to another server ({_origin_text(url)}) than the one "
                f"the credentials are for ({_origin_text(self.base_url)}); not followed",
                adapter=self.adapter,
                operation=operation,
                url=redact_url(url),
            )
        if urlsplit(url).scheme.lower() == "http" and not self.allow_http:
            raise FatalRemoteError(
                "the server's link is plain http; not followed",
                adapter=self.adapter,
                operation=operation,
                url=redact_url(url),
            )
        return url

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        operation: str,
        idempotent: bool | None = None,
        expected: Iterable[int] = (),
        foreign_redirects: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request; return the response if its status is 2xx or in ``expected``.

        ``idempotent`` defaults to the HTTP method's nature; pass ``True`` for a POST the
        server de-duplicates (or that only reads), so 5xx and read timeouts may repeat it.
        ``foreign_redirects`` lets a GET follow a redirect to another origin (a file store),
        without any credential; by default a redirect must stay on the origin.
        """
        method = method.upper()
        url = self.url(path_or_url)
        safe_url = redact_url(url)
        self._register_basic(kwargs.get("auth"))
        repeatable = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        accepted = set(expected)
        attempt = 0
        while True:
            attempt += 1
            failure: RetriableRemoteError
            try:
                response = self._exchange(method, url, operation, foreign_redirects, kwargs)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(exc, operation, safe_url) from None
            except requests.exceptions.ConnectTimeout:
                failure = self._transport_error("connection timed out", operation, safe_url)
                can_repeat = True
            except requests.exceptions.ConnectionError as exc:
                # Refused before sending is safe to repeat; a dropped connection may not be.
                failure = self._transport_error(_connection_failure(exc), operation, safe_url)
                can_repeat = repeatable or _never_sent(exc)
            except requests.exceptions.Timeout:
                failure = self._transport_error("read timed out", operation, safe_url)
                can_repeat = repeatable
            except DeadlineExceeded:
                raise self._transport_error(
                    f"no complete answer within the deadline of {self.deadline:g} s",
                    operation,
                    safe_url,
                ) from None
            except AnswerCutOff as exc:
                failure = self._transport_error(
                    f"the answer was cut off after {exc.received} bytes ({exc.reason})",
                    operation,
                    safe_url,
                )
                can_repeat = repeatable
            except requests.exceptions.ChunkedEncodingError:
                failure = self._transport_error("the answer was cut off", operation, safe_url)
                can_repeat = repeatable
            except AnswerTooLarge as exc:
                size = f" (it declares {exc.declared} bytes)" if exc.declared else ""
                raise FatalRemoteError(
                    f"the answer is larger than the limit of {exc.limit} bytes{size}; raise "
                    "max_answer_bytes if it is expected",
                    adapter=self.adapter,
                    operation=operation,
                    url=safe_url,
                ) from None
            except (requests.exceptions.InvalidURL, urllib3.exceptions.LocationParseError) as exc:
                raise ConfigurationError(
                    f"{self.adapter}: bad URL {safe_url}: {self.redactor(str(exc))[:200]}"
                ) from None
            else:
                if response.ok or response.status_code in accepted:
                    return response
                error = self.error_for(response, operation=operation)
                if not isinstance(error, RetriableRemoteError):
                    raise error
                failure = error
                can_repeat = isinstance(error, RateLimitedError) or repeatable
            if not can_repeat or attempt >= self.retry.attempts:
                raise failure
            wait = self.retry.wait(attempt, failure.retry_after, self.rng)
            log.warning(
                "%s %s: %s; retry %d/%d in %.1fs",
                self.adapter,
                operation,
                self.redactor(failure.detail),
                attempt,
                self.retry.attempts - 1,
                wait,
            )
            self.sleep(wait)

    def _exchange(
        self,
        method: str,
        url: str,
        operation: str,
        foreign_redirects: bool,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        """One attempt: send, follow redirects under the policy, read the whole answer."""
        deadline_at = time.monotonic() + self.deadline
        start = url
        seen = {url}
        options = dict(kwargs)
        if isinstance(self.session.verify, str):
            # requests lets REQUESTS_CA_BUNDLE override a session's own bundle: a configured
            # ca_bundle must win, so it is passed with each request.
            options.setdefault("verify", self.session.verify)
        while True:
            left = max(deadline_at - time.monotonic(), 0.001)
            timeout = urllib3.Timeout(
                connect=min(self.timeout[0], left), read=min(self.timeout[1], left)
            )
            self.requests_sent += 1
            response = self.session.request(
                method,
                url,
                timeout=timeout,  # type: ignore[arg-type]  # requests passes it to urllib3 as is
                allow_redirects=False,
                stream=True,
                **options,
            )
            response.__class__ = _BoundedResponse
            read_body(
                response,
                deadline_at=deadline_at,
                read_timeout=self.timeout[1],
                max_bytes=self.max_answer_bytes,
            )
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            target = resolve_link(url, location)
            method, options = self._redirected(
                method,
                url,
                start,
                target,
                response.status_code,
                foreign_redirects,
                options,
                operation,
            )
            if target in seen or len(seen) > self.max_redirects:
                raise FatalRemoteError(
                    f"redirect loop or more than {self.max_redirects} redirects, last to "
                    f"{redact_url(target)}",
                    adapter=self.adapter,
                    operation=operation,
                    url=redact_url(start),
                    status=response.status_code,
                )
            seen.add(target)
            options.pop("params", None)  # the Location carries the whole query
            url = target

    def _redirected(
        self,
        method: str,
        url: str,
        start: str,
        target: str,
        status: int,
        foreign_redirects: bool,
        options: dict[str, Any],
        operation: str,
    ) -> tuple[str, dict[str, Any]]:
        """The method and options for following a redirect, or a refusal naming the target."""

        def refuse(why: str) -> FatalRemoteError:
            return FatalRemoteError(
                f"redirect to {redact_url(target)} refused: {why}",
                adapter=self.adapter,
                operation=operation,
                url=redact_url(url),
                status=status,
            )

        scheme = urlsplit(target).scheme.lower()
        if scheme not in ("https", "http"):
            raise refuse("not an http(s) URL")
        if scheme == "http" and (urlsplit(url).scheme.lower() == "https" or not self.allow_http):
            raise refuse("it leaves https for plain http")
        try:
            origin_of(target)
        except BadUrlError as exc:
            raise refuse(str(exc)) from None
        if status == 303 or (status in (301, 302) and method == "POST"):
            method = "GET"  # RFC 9110 §15.4: the body is not sent again
            options = {k: v for k, v in options.items() if k not in ("data", "json", "files")}
        if same_origin(target, start):
            return method, options
        if not foreign_redirects or method not in ("GET", "HEAD"):
            raise refuse(
                f"it leaves {_origin_text(start)} for {_origin_text(target)}, and the request's "
                "credentials and body stay on their origin"
            )
        bare = {k: v for k, v in options.items() if k not in ("auth", "cookies")}
        headers = {
            name: value
            for name, value in dict(options.get("headers") or {}).items()
            if name.lower() not in _CREDENTIAL_HEADERS
        }
        bare["headers"] = headers
        bare["auth"] = _strip_credentials
        return method, bare

    def _register_basic(self, auth: Any) -> None:
        """Mask Basic credentials (and their Base64 header form) in what servers echo."""
        if isinstance(auth, tuple) and len(auth) == 2:
            self.redactor.add_basic(str(auth[0]), str(auth[1]))
        elif isinstance(auth, requests.auth.HTTPBasicAuth):
            self.redactor.add_basic(str(auth.username), str(auth.password))

    def _tls_error(self, exc: Exception, operation: str, url: str) -> TLSError:
        found = _TLS_REASON.search(str(exc))
        reason = found.group(1).strip() if found else "TLS handshake failed"
        return TLSError(
            f"TLS failed: {reason}; to trust a private CA set ca_bundle (or REQUESTS_CA_BUNDLE) "
            "to its PEM file",
            adapter=self.adapter,
            operation=operation,
            url=url,
        )

    def _transport_error(self, message: str, operation: str, url: str) -> RetriableRemoteError:
        return RetriableRemoteError(message, adapter=self.adapter, operation=operation, url=url)

    def error_for(self, response: requests.Response, *, operation: str) -> RemoteError:
        """The error-tree exception for a failed response (nothing secret in it), as the
        adapter's ``refine_error`` reads it."""
        error = self._generic_error(response, operation=operation)
        return error if self.refine_error is None else self.refine_error(error, response)

    def _generic_error(self, response: requests.Response, *, operation: str) -> RemoteError:
        status = response.status_code
        message, code = self.describe_error(response)
        facts: dict[str, Any] = {
            "adapter": self.adapter,
            "operation": operation,
            "url": redact_url(response.url or ""),
            "status": status,
            "code": code,
            "request_id": request_id_of(response),
        }
        message = self.redactor(message)
        if self.is_throttled(response):
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self.clock())
            return RateLimitedError(message, retry_after=retry_after, **facts)
        if status in self.retry.retry_statuses or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self.clock())
            return RetriableRemoteError(message, retry_after=retry_after, **facts)
        error_class: type[FatalRemoteError] = _FATAL_BY_STATUS.get(status, FatalRemoteError)
        return error_class(message, **facts)


_FATAL_BY_STATUS: Mapping[int, type[FatalRemoteError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}


class _BoundedResponse(requests.Response):
    """A response whose ``json()`` turns "nested too deeply" into a ``ValueError`` (what
    every client already handles as "not JSON", with operation and URL), not a
    ``RecursionError`` that would end the program as an internal error."""

    def json(self, **kwargs: Any) -> Any:
        try:
            return super().json(**kwargs)
        except RecursionError:
            raise ValueError("the answer's JSON is nested too deeply to read") from None


def _strip_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An ``auth`` that sends none: overrides session auth and ``.netrc`` on a foreign hop."""
    for name in ("Authorization", "Proxy-Authorization", "Cookie"):
        request.headers.pop(name, None)
    return request


def _origin_text(url: str) -> str:
    try:
        return str(origin_of(url))
    except BadUrlError:
        return "(a malformed URL)"


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether the connection failed before the request could reach the server."""
    text = repr(exc)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "Connection refused",
            "Name or service not known",
            "NameResolutionError",
        )
    )


def _connection_failure(exc: requests.exceptions.ConnectionError) -> str:
    text = repr(exc)
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "connection failed: the host name does not resolve"
    if "Connection refused" in text:
        return "connection failed: connection refused"
    if "RemoteDisconnected" in text or "Connection reset" in text:
        return "connection failed: the server closed the connection"
    return f"connection failed: {type(exc).__name__}"


def next_link(response: requests.Response) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header, if any (check it with
    :meth:`HttpTransport.follow` before following it)."""
    link = response.links.get("next")
    return link.get("url") if link else None


__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "MASK",
    "NO_RETRY",
    "SENSITIVE_PARAMS",
    "TOKEN_OPERATION",
    "USER_AGENT",
    "ClientCredentials",
    "HttpTransport",
    "RedactingFilter",
    "Redactor",
    "RetryPolicy",
    "describe_error_body",
    "install_log_redaction",
    "make_session",
    "next_link",
    "parse_retry_after",
    "redact_url",
    "request_id_of",
]
