"""Reading an answer's body within an overall deadline and a size cap.

``requests`` applies its read timeout to each socket read, so a server that sends a byte
just before every timeout holds a request for ever, and ``response.content`` keeps whatever
size the server sends. Here the body is read with ``stream=True`` in small reads: before
each one the socket's timeout is cut to the time left, a declared ``Content-Length`` above
the cap is refused before reading, and the running total (after decompression, so a gzip
bomb is bounded too) is checked after each read.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import requests
import urllib3.exceptions

CHUNK = 64 * 1024


class DeadlineExceeded(Exception):  # noqa: N818 - reads as what happened
    """The answer did not arrive completely within the deadline."""


class AnswerTooLarge(Exception):  # noqa: N818 - reads as what happened
    """The answer is larger than the cap (declared or as received)."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        super().__init__(limit)
        self.limit = limit
        self.declared = declared


class AnswerCutOff(Exception):  # noqa: N818 - reads as what happened
    """The connection ended before the answer was complete (truncated chunked body...)."""

    def __init__(self, received: int, reason: str) -> None:
        super().__init__(reason)
        self.received = received
        self.reason = reason


def remaining(deadline_at: float, clock: Callable[[], float] = time.monotonic) -> float:
    """Seconds left before ``deadline_at`` (never negative)."""
    return max(deadline_at - clock(), 0.0)


def _clamp_socket(raw: Any, seconds: float) -> None:
    """Let the next socket read wait at most ``seconds`` (when the socket is reachable)."""
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(max(seconds, 0.001))


def read_body(
    response: requests.Response,
    *,
    deadline_at: float,
    read_timeout: float,
    max_bytes: int,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The whole (decoded) body of a streamed response, or one of the errors above.

    The body is stored on the response too, so ``.content``, ``.text`` and ``.json()``
    work as usual afterwards.
    """
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        response.close()
        raise AnswerTooLarge(max_bytes, int(declared))
    try:
        chunks = _read_chunks(response.raw, deadline_at, read_timeout, max_bytes, clock)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        response.close()
        if remaining(deadline_at, clock) <= 0:
            raise DeadlineExceeded from None
        raise requests.exceptions.ReadTimeout("read timed out") from None
    except _Cut as exc:
        response.close()
        raise AnswerCutOff(exc.received, exc.reason) from None
    except BaseException:
        response.close()
        raise
    body = b"".join(chunks)
    response._content = body  # what Response.content fills in itself
    response._content_consumed = True  # type: ignore[attr-defined]
    return body


class _Cut(Exception):  # noqa: N818 - internal signal
    def __init__(self, received: int, reason: str) -> None:
        super().__init__(reason)
        self.received = received
        self.reason = reason


def _read_chunks(
    raw: Any, deadline_at: float, read_timeout: float, max_bytes: int, clock: Callable[[], float]
) -> list[bytes]:
    chunks: list[bytes] = []
    size = 0
    while True:
        left = remaining(deadline_at, clock)
        if left <= 0:
            raise DeadlineExceeded
        _clamp_socket(raw, min(read_timeout, left))
        try:
            chunk = raw.read1(CHUNK, decode_content=True) if raw is not None else b""
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError) as exc:
            raise _Cut(size, type(exc).__name__) from None
        if not chunk:
            return chunks
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(max_bytes)
        chunks.append(chunk)


__all__ = ["AnswerCutOff", "AnswerTooLarge", "DeadlineExceeded", "read_body", "remaining"]
