"""The one error a route raises: an HTTP status, a code and a message for the client.

On the CASE routes it is answered as an ``imsx_StatusInfo`` body (the minor code in the
spelling of the CASE version asked: ``unauthorisedrequest`` and ``invaliduuid`` in 1.0);
on the proficiency API as ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServeError(Exception):
    """An answer that is not a success."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def not_found(message: str) -> ServeError:
    return ServeError(404, "unknownobject", message)


def bad_request(message: str, code: str = "invalid_query_parameter") -> ServeError:
    return ServeError(400, code, message)
