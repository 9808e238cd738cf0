"""A stateful fake LRS: a real HTTP server on 127.0.0.1 (port 0), conformant by default, with
switchable quirks of real LRSs that bend the specification.

Conformant behaviour follows the xAPI 1.0.3 Statement Resource (adlnet/xAPI-Spec,
``xAPI-Communication.md`` §2.1) the way the suite's real LRS, npm xapi-statements 5.0.1,
implements it (its code under ``tests/lrs/node_modules/xapi-statements/dist``):

- ``stored`` set by the LRS, milliseconds, UTC ``Z`` (``createStatements``);
- ``since`` strictly after / ``until`` at or before, on ``stored``; newest first unless
  ``ascending=true``; ``limit=0`` means 100; paging through an opaque, server-relative
  ``more`` link that re-runs the query (spec §2.1.3, "more");
- voided statements hidden from every query but ``voidedStatementId``; a voiding statement
  marks only targets the LRS holds (``voidStatements``: it updates stored statements, so a
  target that arrives later is not hidden); ``statementId`` of a voided one is 404;
- ``POST``: a batch with two statements of one id is 400; a statement the LRS holds with
  the same content is skipped, other content is 409 for the whole batch, nothing stored
  (``getUnstoredModels`` ``repoConflicts``); the answer lists every id sent, in order;
- ``PUT ?statementId=``: 204, or 409 for other content (spec §2.1.1);
- ``X-Experience-API-Version`` required on requests (400 without), sent on answers, with
  ``X-Experience-API-Consistent-Through`` (spec §2.1.3; xapi-statements sends "now");
- unknown query parameters are 400 (both xapi-statements and Ralph do so);
- Basic auth checked (401).

Quirks (:class:`Quirks`), each from what issue 12 reports of a real server or from its code:

- Ralph 5.1 (``openfun/ralph`` ``src/ralph/api/routers/statements.py``, run on its file
  backend): ``voidedStatementId`` is ignored and the answer is the first statements of the
  store (``get``: the parameter is "**Not implemented**"; issue 12 item 1); no
  ``/xAPI/about``, FastAPI's 404 ``{"detail": "Not Found"}`` (item 6); ``since``/``until``
  filter ``timestamp``, not ``stored`` (item 10); ``statementId`` answers a StatementResult
  wrapper; voided statements stay visible; no version or Consistent-Through headers and any
  version header accepted; ``verb``/``activity`` filters find nothing on the file backend;
  ``POST`` leaves out the ids it held already and answers 204 when it held them all
  (``_filter_existing_statements``, ``_post_statements_standard``); the file backend
  answers in file order (oldest first) and ``ascending=true`` only reverses each page.
- ADL LRS (Django on PostgreSQL): ``stored`` with microseconds, ``+00:00`` (item 4).
- ``conflict_on_any_held``: 409 for a batch holding any id the LRS has, as the spec allows
  ("Whether it responds with 409 Conflict or 204 No Content, it MUST NOT modify").
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from comp_adapters.xapi.client import XapiClient
from comp_adapters.xapi.settings import XapiSettings, connect

KEY, SECRET = "fake-key", "fake-secret-7"
PREFIX = "/xAPI/"
_PARAMS = frozenset(
    {
        "statementId",
        "voidedStatementId",
        "agent",
        "verb",
        "activity",
        "registration",
        "related_activities",
        "related_agents",
        "since",
        "until",
        "limit",
        "format",
        "attachments",
        "ascending",
    }
)
_LRS_SET = ("stored", "authority", "version")  # not part of a statement's content


@dataclass(frozen=True)
class Quirks:
    """Ways a real LRS departs from the spec (all off: conformant)."""

    ignores_voided_statement_id: bool = False
    no_about: bool = False
    since_until_on_timestamp: bool = False
    wraps_single_statement: bool = False
    shows_voided: bool = False
    no_lrs_headers: bool = False
    verb_activity_filters_empty: bool = False
    post_omits_held: bool = False
    conflict_on_any_held: bool = False
    stored_microseconds: bool = False
    file_order: bool = False


RALPH = Quirks(
    ignores_voided_statement_id=True,
    no_about=True,
    since_until_on_timestamp=True,
    wraps_single_statement=True,
    shows_voided=True,
    no_lrs_headers=True,
    verb_activity_filters_empty=True,
    post_omits_held=True,
    file_order=True,
)
ADL = Quirks(stored_microseconds=True)


@dataclass
class Row:
    statement: dict[str, Any]
    stored: datetime
    voided: bool = False


@dataclass
class FakeLrs:
    """The LRS's state, and the server answering for it."""

    quirks: Quirks = field(default_factory=Quirks)
    now: datetime = datetime(2026, 3, 1, 0, 0, 0, 123_456, tzinfo=UTC)
    step: timedelta = timedelta(milliseconds=1, microseconds=7)
    through: datetime | None = None
    """Consistent-Through to announce (``None``: now, i.e. after everything)."""
    rows: list[Row] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    endpoint: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- state -------------------------------------------------------------------------------

    def stamp(self, moment: datetime) -> str:
        """``stored`` as this LRS writes it."""
        if self.quirks.stored_microseconds:
            return moment.isoformat(timespec="microseconds")
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def store(self, statement: dict[str, Any], stored: datetime | None = None) -> dict[str, Any]:
        """Store a statement as a POST would (``stored`` from the clock unless given)."""
        if stored is None:
            stored = self.now
        self.now = max(self.now, stored + self.step)  # the clock never runs backwards
        if not self.quirks.stored_microseconds:
            # xapi-statements: new Date().toISOString(), milliseconds. The ADL LRS
            # (PostgreSQL) keeps microseconds (issue 12 item 4).
            stored = stored.replace(microsecond=stored.microsecond // 1000 * 1000)
        row = Row({**statement, "stored": self.stamp(stored)}, stored)
        if _is_void(statement):
            # xapi-statements voidStatements: marks the targets it holds; one that
            # arrives later is not hidden.
            target = statement["object"]["id"]
            for other in self.rows:
                if other.statement["id"] == target:
                    other.voided = True
        self.rows.append(row)
        return row.statement

    def find(self, statement_id: str) -> Row | None:
        return next((r for r in self.rows if r.statement["id"] == statement_id), None)

    def ids(self) -> list[str]:
        return [r.statement["id"] for r in self.rows]

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.requests if m == method)

    # -- the server --------------------------------------------------------------------------

    def start(self) -> FakeLrs:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def log_message(self, fmt: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def settings(self, **options: Any) -> XapiSettings:
        """Settings for this LRS (plain http allowed: it is on 127.0.0.1)."""
        values: dict[str, Any] = {
            "endpoint": self.endpoint,
            "key": KEY,
            "secret": SECRET,
            "allow_http": True,
            **options,
        }
        return XapiSettings.model_validate(values)

    def client(self, *, session: Any = None, **options: Any) -> XapiClient:
        """Our client for this LRS, built the one way (:func:`connect`)."""
        return connect(self.settings(**options), session=session)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = b""
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            body = handler.rfile.read(length)
        with self._lock:
            self.requests.append((method, parts.path, query))
            status, headers, payload = self._answer(method, parts.path, query, handler, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        handler: BaseHTTPRequestHandler,
        body: bytes,
    ) -> tuple[int, dict[str, str], Any]:
        quirks = self.quirks
        if path == PREFIX + "about" and method == "GET":
            if quirks.no_about:
                # Ralph has no About route: FastAPI's 404 body (issue 12 item 6).
                return 404, {}, {"detail": "Not Found"}
            # Spec §2.8 About; xapi-statements answers {"version": ["1.0.3"]}.
            return 200, {}, {"version": ["1.0.3"]}
        if path.rstrip("/") != PREFIX + "statements":
            return 404, {}, {"detail": "Not Found"}
        if handler.headers.get("Authorization") != _basic(KEY, SECRET):
            # xapi-statements dist/service/getClient.js: an unknown client is 401.
            return 401, {}, {"message": "Unauthorised"}
        headers: dict[str, str] = {}
        if not quirks.no_lrs_headers:
            # Spec §3.3 Versioning: a missing or unsupported version header is 400, and
            # answers carry the version and (§2.1.3) Consistent-Through. Ralph sends
            # neither and accepts any header (its routes never read it).
            version = handler.headers.get("X-Experience-API-Version", "")
            if not version.startswith("1.0"):
                return 400, {}, {"message": f"unsupported version {version!r}"}
            through = self.through or self.now
            headers = {
                "X-Experience-API-Version": "1.0.3",
                "X-Experience-API-Consistent-Through": self.stamp(through),
            }
        if method == "POST":
            return self._post(json.loads(body), headers)
        if method == "PUT":
            return self._put(query.get("statementId", ""), json.loads(body), headers)
        # Unknown parameters: 400 in xapi-statements and in Ralph (strict_query_params).
        # "page" is this fake's own opaque paging parameter, only ever in its more links.
        unknown = set(query) - _PARAMS - {"page"}
        if unknown:
            return 400, headers, {"message": f"unknown parameters {sorted(unknown)}"}
        if "voidedStatementId" in query and not quirks.ignores_voided_statement_id:
            # Spec §2.1.3: the only way to read a voided statement; 404 for one not voided.
            row = self.find(query["voidedStatementId"])
            if row is None or not row.voided:
                return 404, headers, {"message": "no such voided statement"}
            return 200, headers, row.statement
        if "statementId" in query:
            row = self.find(query["statementId"])
            visible = row is not None and (not row.voided or quirks.shows_voided)
            if quirks.wraps_single_statement:
                # Ralph's get() answers statementId through query_statements: a wrapper.
                return 200, headers, {"statements": [row.statement] if visible and row else []}
            if not visible or row is None:
                return 404, headers, {"message": "no such statement"}
            return 200, headers, row.statement
        # Ralph's get(): voidedStatementId is "**Not implemented**", so the query runs
        # without it and answers the first statements of the store (issue 12 item 1).
        query.pop("voidedStatementId", None)
        return 200, headers, self._list(query)

    def _list(self, query: dict[str, str]) -> dict[str, Any]:
        quirks = self.quirks
        # Spec §2.1.4 (voided statements are hidden); Ralph keeps showing them.
        rows = [r for r in self.rows if not r.voided or quirks.shows_voided]
        # Spec §2.1.3: since/until compare stored; Ralph's backends compare timestamp
        # (issue 12 item 10).
        key = (
            (lambda r: _instant(r.statement.get("timestamp")) or r.stored)
            if quirks.since_until_on_timestamp
            else (lambda r: r.stored)
        )
        if "since" in query:
            since = _instant(query["since"])
            rows = [r for r in rows if since is not None and key(r) > since]
        if "until" in query:
            until = _instant(query["until"])
            rows = [r for r in rows if until is not None and key(r) <= until]
        if "verb" in query:
            # Ralph's file backend compares an IRI object with a string: never equal.
            rows = [
                r
                for r in rows
                if not quirks.verb_activity_filters_empty
                and r.statement["verb"]["id"] == query["verb"]
            ]
        if "activity" in query:
            rows = [
                r
                for r in rows
                if not quirks.verb_activity_filters_empty
                and r.statement["object"].get("id") == query["activity"]
            ]
        if "agent" in query:
            agent = json.loads(query["agent"])
            rows = [r for r in rows if _same_agent(r.statement.get("actor"), agent)]
        if "registration" in query:
            wanted = query["registration"]
            rows = [
                r for r in rows if (r.statement.get("context") or {}).get("registration") == wanted
            ]
        # Spec: newest stored first unless ascending; Ralph's file backend keeps file
        # order and only reverses each page for ascending=true.
        ascending = query.get("ascending") == "true"
        if not quirks.file_order:
            rows.sort(key=lambda r: r.stored, reverse=not ascending)
        limit = int(query.get("limit") or 0) or 100  # xapi-statements: limit=0 is 100
        skip = int(query.get("page", "0"))
        chosen = rows[skip : skip + limit]
        if quirks.file_order and ascending:
            chosen.reverse()
        statements = [
            _ids_format(r.statement) if query.get("format") == "ids" else r.statement
            for r in chosen
        ]
        # Spec §2.1.3 "more": a server-relative link that may re-run the query.
        more = ""
        if skip + limit < len(rows):
            more = PREFIX + "statements?" + urlencode({**query, "page": str(skip + limit)})
        return {"statements": statements, "more": more}

    def _post(self, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        batch = body if isinstance(body, list) else [body]
        for item in batch:
            item.setdefault("id", str(uuid.uuid4()))
        ids = [item["id"] for item in batch]
        if len(set(ids)) != len(ids):
            # Spec §2.1.2; xapi-statements getUnstoredModels (DuplicateId).
            return 400, headers, {"message": "duplicate ids in the batch"}
        new: list[dict[str, Any]] = []
        for item in batch:
            row = self.find(item["id"])
            if row is None:
                new.append(item)
            elif not _same_content(row.statement, item) or self.quirks.conflict_on_any_held:
                # xapi-statements getUnstoredModels repoConflicts (and Ralph's
                # _filter_existing_statements): other content is 409 for the whole batch,
                # checked before anything is stored. The spec also allows 409 for any id
                # held ("Whether it responds with 409 Conflict or 204 No Content").
                return 409, headers, {"message": f"conflict on statement {item['id']}"}
        for item in new:
            self.store(item)
        if self.quirks.post_omits_held:
            # Ralph's _post_statements_standard: held statements are dropped from the
            # answer, and an empty remainder is 204.
            if not new:
                return 204, headers, None
            return 200, headers, [item["id"] for item in new]
        # Spec §2.1.2: 200 with every id, in order (xapi-statements storeStatements/index.js).
        return 200, headers, ids

    def _put(
        self, statement_id: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        row = self.find(statement_id)
        if row is not None:  # Spec §2.1.1: held with the same content 204, else 409.
            return (204 if _same_content(row.statement, body) else 409), headers, None
        self.store({**body, "id": statement_id})
        return 204, headers, None


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_void(statement: dict[str, Any]) -> bool:
    return (
        statement.get("verb", {}).get("id", "").endswith("/voided")
        and statement.get("object", {}).get("objectType") == "StatementRef"
    )


def _same_content(held: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Statement equivalence, leaving out what the LRS sets (spec Data §2.5)."""
    return _content(held) == _content(sent)


def _content(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if k not in _LRS_SET}


def _same_agent(actor: Any, agent: dict[str, Any]) -> bool:
    if not isinstance(actor, dict):
        return False
    return any(actor.get(k) == agent.get(k) is not None for k in _IFIS)


_IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


def _ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    """``format=ids``: verb and activity reduced to their ids (spec §2.1.3)."""
    reduced = dict(statement)
    reduced["verb"] = {"id": statement["verb"]["id"]}
    obj = statement.get("object", {})
    if obj.get("objectType", "Activity") == "Activity":
        reduced["object"] = {"objectType": "Activity", "id": obj.get("id")}
    return reduced
