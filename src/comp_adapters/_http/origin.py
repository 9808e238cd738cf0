"""Which URLs we talk to: the scheme rule, well-formed hosts and ports, and one origin rule.

A credential belongs to the origin (scheme, host, port) it was configured for. Every link a
server hands us (a next page, a ``more`` link, a file to download, a redirect) is checked
here, with the same semantics everywhere: same origin, or refused with an error naming both.
Pure: nothing here sends a request.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from comp_adapters._http.redaction import redact_url

DEFAULT_PORTS = {"https": 443, "http": 80}


class Origin(NamedTuple):
    """Scheme, host and port of a URL, default ports spelled out (RFC 6454)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class BadUrlError(ValueError):
    """A URL without a usable host or port (the message says which, without secrets)."""


def origin_of(url: str) -> Origin:
    """The origin of an absolute http(s) URL; :class:`BadUrlError` when it has none."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = redact_url(url)
    if not parts.hostname:
        raise BadUrlError(f"{shown} has no host name")
    if any(ch.isspace() for ch in parts.netloc):
        raise BadUrlError(f"{shown}: the host part contains white space")
    try:
        port = parts.port
    except ValueError:
        raise BadUrlError(f"{shown}: the port is not a number from 1 to 65535") from None
    if port is None:
        if scheme not in DEFAULT_PORTS:
            raise BadUrlError(f"{shown}: not an http(s) URL")
        port = DEFAULT_PORTS[scheme]
    elif port == 0:
        raise BadUrlError(f"{shown}: the port is not a number from 1 to 65535")
    return Origin(scheme, parts.hostname.lower(), port)


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs share scheme, host and port (a malformed one shares nothing)."""
    try:
        return origin_of(url) == origin_of(other)
    except BadUrlError:
        return False


def resolve_link(base: str, link: str) -> str:
    """A server's link (absolute, or relative to ``base``) as an absolute URL."""
    return urljoin(base, link.strip())


__all__ = ["DEFAULT_PORTS", "BadUrlError", "Origin", "origin_of", "resolve_link", "same_origin"]
