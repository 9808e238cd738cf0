"""JSON answers with an ETag: a client that polls sends ``If-None-Match`` and gets a 304
with no body when nothing changed.

The ETag is a digest of the body itself (strong: the same bytes, the same tag), so it
changes exactly when the answer does, whatever changed behind it: a new result, a new
framework release, another viewer's scope. Answers depend on who asks, so they are marked
``Cache-Control: private, no-cache`` (a cache may keep them but must ask again) and vary
on the credential headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

VARY = "Authorization, X-API-Key"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: ``*`` or a list of tags, compared weakly (``W/`` ignored)."""
    wanted = if_none_match.strip()
    if wanted == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in wanted.split(","))


def json_answer(
    request: Request,
    data: Any,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``data`` as JSON with its ETag, or 304 when the client holds it already."""
    body = orjson.dumps(data)
    etag = etag_of(body)
    common = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": VARY}
    given = request.headers.get("if-none-match")
    if given is not None and matches(given, etag):
        return Response(status_code=304, headers=common)
    return Response(body, media_type="application/json", headers={**common, **(headers or {})})
