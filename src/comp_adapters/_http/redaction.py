"""Secrets out of everything we show: URLs, error texts, plans and log records.

Pure (no I/O), so the core's plan model can use it. Three layers:

* :func:`redact_url` drops user info and masks the values of sensitive query parameters
  (tokens, keys, and capability parameters such as pre-signed URL signatures);
* :class:`Redactor` masks known secret values (each client registers its token, password
  and the Base64 form of its Basic credentials) and any ``Basic``/``Bearer`` credential
  echoed in a text;
* :class:`RedactingFilter` applies both to every log record; the CLI installs it.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "code",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "state",
        "token",
        "verifier",
        "wstoken",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
    }
)
"""Query parameters (compared case-insensitively) whose values are replaced by ``***`` in
every URL we show: credentials, OAuth codes and state, and the capability parameters of
signed download links (Canvas ``verifier``, S3 ``X-Amz-*``, Azure ``sig``)."""

_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>()\[\]{}]+")
_AUTH_IN_TEXT = re.compile(r"(?i)\b(basic|bearer)(\s+)([A-Za-z0-9._~+/=-]{8,})")

_registered: set[str] = set()
"""Every secret any :class:`Redactor` of this process was given (for the log filter)."""


def redact_url(url: str) -> str:
    """``url`` without user info, and with sensitive query values replaced by ``***``.

    Never raises: a URL too broken to parse (a port that is no number) keeps only what
    can be shown safely.
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.hostname is not None and (port is not None or ":" not in netloc):
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"{host}:{port}" if port is not None else host
    query = urlencode(
        [
            (name, MASK if name.lower() in SENSITIVE_PARAMS else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*/:",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_urls_in_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def basic_credentials(user: str, password: str) -> str:
    """The Base64 form of HTTP Basic credentials, as it travels in the header."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Redactor:
    """Replaces known secret values in text; add every token, password and key you use.

    Whatever a redactor masks is also masked in log records by :class:`RedactingFilter`.
    """

    MIN_LENGTH = 4  # shorter values would mask ordinary words

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= self.MIN_LENGTH:
            self._secrets.add(secret)
            _registered.add(secret)

    def add_basic(self, user: str, password: str) -> None:
        """Register a Basic password and its Base64 header form (servers echo headers)."""
        self.add(password)
        self.add(basic_credentials(user, password))

    def __call__(self, text: str) -> str:
        return _mask(text, self._secrets)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


def _mask(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _AUTH_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return redact_urls_in_text(text)


def redact_text(text: str) -> str:
    """``text`` with every registered secret, echoed credential and URL secret masked."""
    return _mask(text, _registered)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's rendered message.

    With a ``redactor`` it masks that redactor's secrets; without one, every secret
    registered in this process. Either way echoed credentials and URL secrets go too.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor(message) if self.redactor is not None else redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach a process-wide :class:`RedactingFilter` to every handler of ``logger``
    (the root logger by default), so no record reaches a stream unredacted."""
    target = logger or logging.getLogger()
    found = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(found)
    return found


__all__ = [
    "MASK",
    "SENSITIVE_PARAMS",
    "RedactingFilter",
    "Redactor",
    "basic_credentials",
    "install_log_redaction",
    "redact_text",
    "redact_url",
    "redact_urls_in_text",
]
