"""HTTP plumbing every client shares: sessions, timeouts, retries, error mapping, redaction.

Clients never call ``requests`` directly: they hold an :class:`HttpTransport`, which

* refuses ``http://`` URLs unless the caller explicitly allowed them;
* always sends a timeout and keeps TLS verification on;
* retries connection failures, throttling (429, or a vendor's own spelling of it) and 5xx
  with exponential backoff, honouring ``Retry-After``; a non-idempotent request is retried
  only where the server cannot have processed it (connect failures, throttling);
* maps failures into the :mod:`comp_adapters.errors` tree with adapter, operation,
  redacted URL, status, remote code and request id;
* never lets a secret reach a log line or an error message.

Retries are written here rather than taken from urllib3's ``Retry`` because they must
classify responses the way each vendor answers (Canvas throttles with a 403, Moodle fails
with HTTP 200), know which requests are safe to repeat, and run without real sleeps in tests.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from comp_adapters import __version__
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
)

log = logging.getLogger("comp_adapters.http")

USER_AGENT = f"comp-adapters/{__version__} (+https://pypi.org/project/comp-adapters/)"
DEFAULT_TIMEOUT = (10.0, 60.0)
"""(connect, read) seconds."""

SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
        "wstoken",
    }
)
"""Query parameters whose values are replaced by ``***`` in every URL we show."""

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REQUEST_ID_HEADERS = (
    "X-Request-Id",
    "X-Request-Context-Id",
    "X-Canvas-Request-Id",
    "X-Correlation-Id",
    "Request-Id",
)
MASK = "***"


def redact_url(url: str) -> str:
    """``url`` without user info, and with sensitive query values replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [
            (name, MASK if name.lower() in SENSITIVE_PARAMS else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*/:",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Redactor:
    """Replaces known secret values in text; add every token, password and key you use."""

    MIN_LENGTH = 4  # shorter values would mask ordinary words

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= self.MIN_LENGTH:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's rendered message."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


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


def make_session(*, user_agent: str = USER_AGENT) -> requests.Session:
    """A session with TLS verification on and our User-Agent; auth is added by the client."""
    session = requests.Session()
    session.verify = True
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
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    requests_sent: int = 0

    def __post_init__(self) -> None:
        self.base_url = self.check_url(self.base_url)

    def __repr__(self) -> str:
        return f"HttpTransport(adapter={self.adapter!r}, base_url={redact_url(self.base_url)!r})"

    def check_url(self, url: str) -> str:
        """Refuse anything but https (and http when allowed); return the URL unchanged."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "https" or (scheme == "http" and self.allow_http):
            return url
        if scheme == "http":
            raise ConfigurationError(
                f"{self.adapter}: refusing plain http URL {redact_url(url)}; use https, or "
                "allow http explicitly (allow_http=True / --allow-http) for a trusted network"
            )
        raise ConfigurationError(f"{self.adapter}: not an http(s) URL: {redact_url(url)}")

    def url(self, path_or_url: str) -> str:
        """Absolute URL for a path relative to the base URL (absolute URLs are checked)."""
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return self.check_url(urljoin(base, path_or_url))

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        operation: str,
        idempotent: bool | None = None,
        expected: Iterable[int] = (),
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request; return the response if its status is 2xx or in ``expected``.

        ``idempotent`` defaults to the HTTP method's nature; pass ``True`` for a POST the
        server de-duplicates (or that only reads), so 5xx and read timeouts may repeat it.
        """
        method = method.upper()
        url = self.url(path_or_url)
        safe_url = redact_url(url)
        repeatable = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        accepted = set(expected)
        attempt = 0
        while True:
            attempt += 1
            failure: RetriableRemoteError
            try:
                self.requests_sent += 1
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.exceptions.ConnectTimeout:
                failure = self._transport_error("connection timed out", operation, safe_url)
                can_repeat = True
            except requests.exceptions.ConnectionError as exc:
                # Refused before sending is safe to repeat; a dropped connection may not be.
                failure = self._transport_error(
                    f"connection failed: {type(exc).__name__}", operation, safe_url
                )
                can_repeat = repeatable or _never_sent(exc)
            except requests.exceptions.Timeout:
                failure = self._transport_error("read timed out", operation, safe_url)
                can_repeat = repeatable
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

    def _transport_error(self, message: str, operation: str, url: str) -> RetriableRemoteError:
        return RetriableRemoteError(message, adapter=self.adapter, operation=operation, url=url)

    def error_for(self, response: requests.Response, *, operation: str) -> RemoteError:
        """The error-tree exception for a failed response (nothing secret in it)."""
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


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether the connection failed before the request could reach the server."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "Name or service not known")
    )


def next_link(response: requests.Response) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header, if any."""
    link = response.links.get("next")
    return link.get("url") if link else None
