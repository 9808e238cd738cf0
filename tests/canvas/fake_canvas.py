"""A stateful fake Canvas on ``responses`` that enforces what the real one documents.

It holds outcome groups, outcomes and links per context, outcome imports that run as a
background job (advancing one step per request Canvas receives, so a client must poll and
a crashed client's import still completes), the outcome export report, results with
paging, rollups, course users, assignments, rubrics and submissions. Behaviour encoded
from the reference (``shared/reference/canvas.md``):

* REST outcome creation never de-duplicates by vendor_guid (a careless client duplicates);
* CSV imports match outcomes by vendor_guid across the instance (an outcome of the
  course's account is only linked, and a row changing it is refused; one of an unrelated
  context is refused) and groups within the context; they set an outcome's links in the
  context to exactly its parent_guids, which must name groups of earlier rows of the same
  file; they report row errors in ``processing_errors`` (the first 25, by row) while still
  ending ``succeeded``, fail only for file-level problems, and take UTF-8 ``text/csv`` only;
* ratings are stored highest first, mastery defaults to the top rating and is reset to it
  when ratings come without it, a blank CSV method resets to the default, a CSV without
  ratings keeps the stored ones, ``standard_decaying_average`` is stored as
  ``decaying_average`` and ``weighted_average`` kept as written unless the new-decay flag
  is on (then the reverse), calculation_int ranges are checked;
* with account-level mastery scales on, per-outcome ratings/methods are refused with 403
  and ignored by imports, outcomes read in a context carry the context's scale, and
  ``GET /outcomes/:id`` leaves the scale out;
* throttling answers 403 "Rate Limit Exceeded" (older) or 429 (newer) without processing;
* every list is paginated (default 10, cap 100) with opaque Link headers.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import responses

BASE = "https://canvas.test"
API = BASE + "/api/v1"
TOKEN = "fake-canvas-token-0123456789"

Reply = tuple[int, dict[str, str], str]
Handler = Callable[["_Call"], Reply]

DEFAULT_PROFICIENCY = [
    {"description": "Exceeds Mastery", "points": 4.0, "mastery": False, "color": "0374B5"},
    {"description": "Mastery", "points": 3.0, "mastery": True, "color": "0B874B"},
    {"description": "Near Mastery", "points": 2.0, "mastery": False, "color": "FAB901"},
    {"description": "Below Mastery", "points": 1.0, "mastery": False, "color": "D97900"},
    {"description": "No Evidence", "points": 0.0, "mastery": False, "color": "E0061F"},
]
INT_RANGES = {
    "decaying_average": (1, 99),
    "weighted_average": (1, 99),
    "standard_decaying_average": (50, 99),
    "n_mastery": (1, 10),
}
NO_INT = ("highest", "latest", "average")
SCALE_FIELDS = (
    "points_possible",
    "mastery_points",
    "ratings",
    "calculation_method",
    "calculation_int",
)
MAX_IMPORT_ERRORS = 25
PARENT_ACCOUNT = "accounts/1"
"""Every course of the fake belongs to this account (its only ancestor)."""


@dataclass
class _Call:
    request: requests.PreparedRequest
    match: re.Match[str]
    query: dict[str, list[str]]
    body: Any

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Job:
    id: int
    context: str
    kind: str  # "import" | "report"
    state: str
    payload: str = ""
    ticks: int = 0
    errors: list[list[Any]] = field(default_factory=list)


class FakeCanvas:
    """Canvas's outcome, result and rubric endpoints over in-memory state."""

    def __init__(
        self,
        *,
        mastery_scales: bool = False,
        new_decay: bool = False,
        import_ticks: int = 2,
        report_ticks: int = 1,
        features_forbidden: bool = False,
    ) -> None:
        self.mastery_scales = mastery_scales
        self.new_decay = new_decay
        self.import_ticks = import_ticks
        self.report_ticks = report_ticks
        self.features_forbidden = features_forbidden
        self.reset()

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        self.ids = itertools.count(1)
        self.groups: dict[int, dict[str, Any]] = {}
        self.outcomes: dict[int, dict[str, Any]] = {}
        self.links: dict[int, dict[str, Any]] = {}
        self.jobs: dict[int, Job] = {}
        self.proficiency: dict[str, list[dict[str, Any]]] = {}
        self.calc_method: dict[str, tuple[str, int | None]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.results: list[dict[str, Any]] = []
        self.rollups: list[dict[str, Any]] = []
        self.assignments: dict[int, dict[str, Any]] = {}
        self.rubrics: dict[int, dict[str, Any]] = {}
        self.assessments: dict[tuple[int, str], dict[str, float]] = {}
        self.log: list[tuple[str, str]] = []
        self.throttle_queue: list[int] = []
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    @property
    def writes(self) -> int:
        """Requests that change state (everything but GET)."""
        return sum(1 for method, _ in self.log if method != "GET")

    def root_id(self, context: str) -> int:
        for group in self.groups.values():
            if group["context"] == context and group["parent_id"] is None:
                return int(group["id"])
        gid = next(self.ids)
        self.groups[gid] = {
            "id": gid,
            "context": context,
            "title": "ROOT",
            "description": None,
            "vendor_guid": None,
            "parent_id": None,
            "active": True,
        }
        return gid

    def snapshot(self) -> tuple[Any, ...]:
        """Comparable state that exposes duplicates (a sorted tuple of every active record)."""
        by_id = {g["id"]: g for g in self.groups.values()}

        def guid(gid: int | None) -> str:
            group = by_id.get(gid) if gid is not None else None
            if group is None or group["parent_id"] is None:
                return "<root>"
            return str(group["vendor_guid"] or group["title"])

        groups = sorted(
            (
                g["context"],
                str(g["vendor_guid"]),
                g["title"],
                g["description"] or "",
                guid(g["parent_id"]),
            )
            for g in self.groups.values()
            if g["active"] and g["parent_id"] is not None
        )
        outcomes = sorted(
            (
                str(o["vendor_guid"]),
                o["title"],
                o["display_name"] or "",
                o["description"] or "",
                o["mastery_points"],
                json.dumps(o["ratings"]),
                o["calculation_method"],
                o["calculation_int"],
                tuple(sorted(guid(link["group_id"]) for link in self._links_of(o["id"]))),
            )
            for o in self.outcomes.values()
            if o["active"]
        )
        return (tuple(groups), tuple(outcomes))

    def _links_of(self, outcome_id: int) -> list[dict[str, Any]]:
        return [
            link
            for link in self.links.values()
            if link["outcome_id"] == outcome_id and link["active"]
        ]

    # -- registration --------------------------------------------------------------------------

    def register(self, rsps: responses.RequestsMock) -> None:
        for method in ("GET", "POST", "PUT", "DELETE"):
            rsps.add_callback(method, re.compile(re.escape(BASE) + r"/.*"), callback=self._handle)

    def _handle(self, request: requests.PreparedRequest) -> Reply:
        method = request.method or "GET"
        parts = urlsplit(request.url or "")
        path = parts.path
        self.log.append((method, path))
        self.now += timedelta(minutes=1)
        headers = {"X-Request-Context-Id": f"req-{len(self.log)}"}
        if self.throttle_queue:
            status = self.throttle_queue.pop(0)
            body = "403 Forbidden (Rate Limit Exceeded)" if status == 403 else "Too Many Requests"
            return status, {**headers, "X-Rate-Limit-Remaining": "0.0"}, body
        self._tick()
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return (
                401,
                {**headers, "WWW-Authenticate": 'Bearer realm="canvas-lms"'},
                json.dumps({"errors": [{"message": "Invalid access token."}]}),
            )
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        body: Any = None
        raw = request.body
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        content_type = request.headers.get("Content-Type", "")
        if raw and "json" in content_type:
            body = json.loads(raw)
        elif raw:
            body = raw
        for verb, pattern, handler in self._routes():
            if verb != method:
                continue
            match = re.fullmatch(pattern, path)
            if match:
                status, extra, text = handler(_Call(request, match, query, body))
                return status, {**headers, **extra}, text
        return (
            404,
            headers,
            json.dumps({"errors": [{"message": "The specified resource does not exist."}]}),
        )

    def throttle(self, *statuses: int) -> None:
        """Answer the next requests throttled (403 Rate Limit Exceeded or 429), unprocessed."""
        self.throttle_queue.extend(statuses)

    def _routes(self) -> list[tuple[str, str, Handler]]:
        ctx = r"/api/v1/(?P<ctx>(?:accounts|courses)/\d+)"
        return [
            ("GET", ctx + r"/features/enabled", self.features),
            ("GET", ctx + r"/root_outcome_group", self.root_group),
            ("GET", ctx + r"/outcome_groups", self.list_groups),
            ("GET", ctx + r"/outcome_groups/(?P<gid>\d+)", self.get_group),
            ("PUT", ctx + r"/outcome_groups/(?P<gid>\d+)", self.update_group),
            ("DELETE", ctx + r"/outcome_groups/(?P<gid>\d+)", self.delete_group),
            ("POST", ctx + r"/outcome_groups/(?P<gid>\d+)/subgroups", self.create_subgroup),
            ("POST", ctx + r"/outcome_groups/(?P<gid>\d+)/outcomes", self.create_outcome),
            ("PUT", ctx + r"/outcome_groups/(?P<gid>\d+)/outcomes/(?P<oid>\d+)", self.link),
            ("DELETE", ctx + r"/outcome_groups/(?P<gid>\d+)/outcomes/(?P<oid>\d+)", self.unlink),
            ("GET", ctx + r"/outcome_group_links", self.list_links),
            ("GET", r"/api/v1/outcomes/(?P<oid>\d+)", self.get_outcome),
            ("PUT", r"/api/v1/outcomes/(?P<oid>\d+)", self.update_outcome),
            ("POST", ctx + r"/outcome_imports", self.start_import),
            ("GET", ctx + r"/outcome_imports/(?P<iid>\d+)", self.import_status),
            (
                "POST",
                r"/api/v1/(?P<ctx>accounts/\d+)/reports/outcome_export_csv",
                self.start_report,
            ),
            (
                "GET",
                r"/api/v1/(?P<ctx>accounts/\d+)/reports/outcome_export_csv/(?P<rid>\d+)",
                self.report_status,
            ),
            ("GET", r"/files/report-(?P<rid>\d+)\.csv", self.report_file),
            ("GET", ctx + r"/outcome_proficiency", self.get_proficiency),
            ("POST", ctx + r"/outcome_proficiency", self.set_proficiency),
            ("POST", r"/api/graphql", self.graphql),
            ("GET", ctx + r"/outcome_results", self.list_results),
            ("GET", ctx + r"/outcome_rollups", self.list_rollups),
            ("GET", ctx + r"/users", self.list_users),
            ("GET", ctx + r"/assignments", self.list_assignments),
            ("POST", ctx + r"/assignments", self.create_assignment),
            ("POST", ctx + r"/rubrics", self.create_rubric),
            ("GET", ctx + r"/assignments/(?P<aid>\d+)/submissions", self.list_submissions),
            ("PUT", ctx + r"/assignments/(?P<aid>\d+)/submissions/(?P<uid>\d+)", self.grade),
        ]

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)

    @staticmethod
    def _page(call: _Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page (default 10, cap 100) and its Link header (the next URL is opaque)."""
        per_page = min(int(call.arg("per_page", "10") or 10), 100)
        page = int(call.arg("page", "1") or 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        parts = urlsplit(call.request.url or "")
        links = []
        if page * per_page < len(items):
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"]
            query.append(("page", str(page + 1)))
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
            links.append(f'<{url}>; rel="next"')
        links.append(f'<{call.request.url}>; rel="current"')
        return chunk, {"Link": ", ".join(links)}

    def _paged(self, call: _Call, items: list[Any], key: str | None = None) -> Reply:
        chunk, headers = self._page(call, items)
        return self._json(200, chunk if key is None else {key: chunk}, headers)

    def _group(self, call: _Call) -> dict[str, Any] | None:
        group = self.groups.get(int(call.match["gid"]))
        if group is None or not group["active"] or group["context"] != call.match["ctx"]:
            return None
        return group

    @staticmethod
    def _invalid(attribute: str, kind: str, message: str) -> Reply:
        """Canvas's 400 for a failed model validation (title errors are short_description's)."""
        return FakeCanvas._json(
            400,
            {"errors": {attribute: [{"attribute": attribute, "type": kind, "message": message}]}},
        )

    @staticmethod
    def _not_found() -> Reply:
        return FakeCanvas._json(
            404, {"errors": [{"message": "The specified resource does not exist."}]}
        )

    def _abbrev_group(self, group: dict[str, Any]) -> dict[str, Any]:
        base = f"/api/v1/{group['context']}/outcome_groups/{group['id']}"
        return {
            "id": group["id"],
            "title": group["title"],
            "vendor_guid": group["vendor_guid"],
            "url": base,
            "subgroups_url": base + "/subgroups",
            "outcomes_url": base + "/outcomes",
            "can_edit": True,
        }

    def _full_group(self, group: dict[str, Any]) -> dict[str, Any]:
        parent = self.groups.get(group["parent_id"]) if group["parent_id"] else None
        kind, _, cid = group["context"].partition("/")
        return {
            **self._abbrev_group(group),
            "description": group["description"],
            "context_id": int(cid),
            "context_type": "Account" if kind == "accounts" else "Course",
            "parent_outcome_group": self._abbrev_group(parent) if parent else None,
            "import_url": f"/api/v1/{group['context']}/outcome_groups/{group['id']}/import",
        }

    def _outcome_json(self, outcome: dict[str, Any], *, full: bool, context: str) -> dict[str, Any]:
        kind, _, cid = outcome["context"].partition("/")
        data: dict[str, Any] = {
            "id": outcome["id"],
            "title": outcome["title"],
            "display_name": outcome["display_name"],
            "vendor_guid": outcome["vendor_guid"],
            "context_id": int(cid),
            "context_type": "Account" if kind == "accounts" else "Course",
            "url": f"/api/v1/outcomes/{outcome['id']}",
            "can_edit": outcome["context"] == context,
        }
        if not full:
            return data
        data["description"] = outcome["description"]
        if self.mastery_scales:
            scale = self.proficiency.get(context, DEFAULT_PROFICIENCY)
            method = self.calc_method.get(context, ("highest", None))
            data.update(
                points_possible=max(r["points"] for r in scale),
                mastery_points=next(r["points"] for r in scale if r["mastery"]),
                ratings=[{"description": r["description"], "points": r["points"]} for r in scale],
                calculation_method=method[0],
                calculation_int=method[1],
            )
        else:
            data.update(
                points_possible=outcome["ratings"][0]["points"] if outcome["ratings"] else 5.0,
                mastery_points=outcome["mastery_points"],
                ratings=outcome["ratings"],
                calculation_method=outcome["calculation_method"],
            )
            if outcome["calculation_method"] not in NO_INT:
                data["calculation_int"] = outcome["calculation_int"]
        return data

    def _link_json(self, link: dict[str, Any], *, full: bool) -> dict[str, Any]:
        group = self.groups[link["group_id"]]
        kind, _, cid = link["context"].partition("/")
        base = f"/api/v1/{link['context']}/outcome_groups/{group['id']}"
        return {
            "url": f"{base}/outcomes/{link['outcome_id']}",
            "context_id": int(cid),
            "context_type": "Account" if kind == "accounts" else "Course",
            "outcome_group": self._abbrev_group(group),
            "outcome": self._outcome_json(
                self.outcomes[link["outcome_id"]], full=full, context=link["context"]
            ),
            "assessed": False,
            "can_unlink": True,
        }

    # -- the outcome model (shared by REST and imports) ---------------------------------------

    def _check_method(self, method: str | None, value: Any) -> str | None:
        if method is None:
            return None
        if method not in (*INT_RANGES, *NO_INT):
            return f"calculation_method '{method}' is not valid"
        if method in NO_INT:
            return (
                None
                if value in (None, "")
                else "A calculation value is not used with this calculation method"
            )
        if value in (None, ""):
            return None
        low, high = INT_RANGES[method]
        if not low <= int(value) <= high:
            return (
                f"'{value}' is not a valid value for this calculation method. The value "
                f"must be between '{low}' and '{high}'"
            )
        return None

    def _store_method(self, method: str | None, value: Any) -> tuple[str, int | None]:
        if method is None:
            method = "standard_decaying_average" if self.new_decay else "decaying_average"
        if method == "standard_decaying_average" and not self.new_decay:
            method = "decaying_average"
        if method == "weighted_average" and self.new_decay:
            method = "decaying_average"  # kept as-is (still the legacy maths) without the flag
        if method in NO_INT:
            return method, None
        default = 5 if method == "n_mastery" else 65
        return method, default if value in (None, "") else int(value)

    @staticmethod
    def _ratings(ratings: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        stored = [
            {
                "description": r.get("description") or "No description",
                "points": float(r.get("points") or 0.0),
            }
            for r in ratings or []
        ]
        return sorted(stored, key=lambda r: -r["points"])

    def _new_outcome(self, context: str, fields: dict[str, Any]) -> dict[str, Any]:
        oid = next(self.ids)
        ratings = self._ratings(fields.get("ratings"))
        if ratings:
            top = ratings[0]["points"]
            mastery = fields.get("mastery_points")
            mastery = float(mastery) if mastery not in (None, "") else top
        else:
            ratings = [
                {"description": "Exceeds Expectations", "points": 5.0},
                {"description": "Meets Expectations", "points": 3.0},
                {"description": "Does Not Meet Expectations", "points": 0.0},
            ]
            mastery = 3.0
        method, value = self._store_method(
            fields.get("calculation_method"), fields.get("calculation_int")
        )
        outcome = {
            "id": oid,
            "context": context,
            "title": fields["title"],
            "display_name": fields.get("display_name"),
            "description": fields.get("description"),
            "vendor_guid": fields.get("vendor_guid"),
            "mastery_points": mastery,
            "ratings": ratings,
            "calculation_method": method,
            "calculation_int": value,
            "active": True,
        }
        self.outcomes[oid] = outcome
        return outcome

    def _apply_outcome_fields(self, outcome: dict[str, Any], fields: dict[str, Any]) -> None:
        for name in ("title", "display_name", "description", "vendor_guid"):
            if name in fields:
                outcome[name] = fields[name]
        if "ratings" in fields:
            outcome["ratings"] = self._ratings(fields["ratings"])
            outcome["mastery_points"] = (
                outcome["ratings"][0]["points"] if outcome["ratings"] else 3.0
            )
        if fields.get("mastery_points") not in (None, ""):
            outcome["mastery_points"] = float(fields["mastery_points"])
        if "calculation_method" in fields:
            outcome["calculation_method"], outcome["calculation_int"] = self._store_method(
                fields["calculation_method"], fields.get("calculation_int")
            )
        elif "calculation_int" in fields:
            outcome["calculation_int"] = int(fields["calculation_int"])

    def _link_outcome(self, context: str, group_id: int, outcome_id: int) -> dict[str, Any]:
        for link in self.links.values():
            if link["active"] and link["group_id"] == group_id and link["outcome_id"] == outcome_id:
                return link  # re-linking returns the existing link
        lid = next(self.ids)
        link = {
            "id": lid,
            "context": context,
            "group_id": group_id,
            "outcome_id": outcome_id,
            "active": True,
        }
        self.links[lid] = link
        return link

    def _unlink(self, link: dict[str, Any]) -> None:
        link["active"] = False
        if not self._links_of(link["outcome_id"]):
            self.outcomes[link["outcome_id"]]["active"] = False

    def _delete_group(self, group: dict[str, Any]) -> None:
        group["active"] = False
        for link in list(self.links.values()):
            if link["group_id"] == group["id"] and link["active"]:
                self._unlink(link)
        for child in list(self.groups.values()):
            if child["parent_id"] == group["id"] and child["active"]:
                self._delete_group(child)

    def _scale_fields_refused(self, fields: dict[str, Any]) -> bool:
        names = ("mastery_points", "ratings", "calculation_method", "calculation_int")
        return self.mastery_scales and any(fields.get(n) not in (None, "", []) for n in names)

    @staticmethod
    def _refused() -> Reply:
        return FakeCanvas._json(
            403,
            {"error": "Individual outcome mastery scales cannot be modified."},
        )

    # -- routes: features, groups, outcomes ------------------------------------------------------

    def features(self, call: _Call) -> Reply:
        if self.features_forbidden:
            return self._json(
                403,
                {
                    "status": "unauthorized",
                    "errors": [{"message": "user not authorized to perform that action"}],
                },
            )
        enabled = ["outcome_gradebook"]
        if self.mastery_scales:
            enabled.append("account_level_mastery_scales")
        if self.new_decay:
            enabled.append("outcomes_new_decaying_average_calculation")
        return self._json(200, enabled)

    def root_group(self, call: _Call) -> Reply:
        gid = self.root_id(call.match["ctx"])
        return 302, {"Location": f"{API}/{call.match['ctx']}/outcome_groups/{gid}"}, ""

    def list_groups(self, call: _Call) -> Reply:
        ctx = call.match["ctx"]
        self.root_id(ctx)
        items = [
            self._full_group(g)
            for g in sorted(self.groups.values(), key=lambda g: g["id"])
            if g["context"] == ctx and g["active"]
        ]
        return self._paged(call, items)

    def get_group(self, call: _Call) -> Reply:
        group = self._group(call)
        return self._json(200, self._full_group(group)) if group else self._not_found()

    def update_group(self, call: _Call) -> Reply:
        group = self._group(call)
        if group is None:
            return self._not_found()
        if group["parent_id"] is None:
            return self._json(400, "error")
        body = call.body or {}
        for name in ("title", "description", "vendor_guid"):
            if name in body:
                group[name] = body[name]
        if "parent_outcome_group_id" in body:
            parent = self.groups.get(int(body["parent_outcome_group_id"]))
            if parent is None or parent["context"] != group["context"] or not parent["active"]:
                return self._json(400, "error")
            group["parent_id"] = parent["id"]
        return self._json(200, self._full_group(group))

    def delete_group(self, call: _Call) -> Reply:
        group = self._group(call)
        if group is None:
            return self._not_found()
        if group["parent_id"] is None:
            return self._json(400, "error")
        self._delete_group(group)
        return self._json(200, self._full_group(group))

    def create_subgroup(self, call: _Call) -> Reply:
        parent = self._group(call)
        if parent is None:
            return self._not_found()
        body = call.body or {}
        if not body.get("title"):
            return self._json(400, "error")
        gid = next(self.ids)
        self.groups[gid] = {
            "id": gid,
            "context": parent["context"],
            "title": body["title"],
            "description": body.get("description"),
            "vendor_guid": body.get("vendor_guid"),
            "parent_id": parent["id"],
            "active": True,
        }
        return self._json(200, self._full_group(self.groups[gid]))

    def create_outcome(self, call: _Call) -> Reply:
        group = self._group(call)
        if group is None:
            return self._not_found()
        body = call.body or {}
        if "outcome_id" in body:
            outcome = self.outcomes.get(int(body["outcome_id"]))
            if outcome is None or not outcome["active"]:
                return self._not_found()
        else:
            if not body.get("title"):
                return self._invalid("short_description", "blank", "blank")
            if self._scale_fields_refused(body):
                return self._refused()
            problem = self._check_method(
                body.get("calculation_method"), body.get("calculation_int")
            )
            if problem:
                return self._invalid("calculation_int", "invalid", problem)
            outcome = self._new_outcome(group["context"], body)  # never de-duplicated
        link = self._link_outcome(group["context"], group["id"], outcome["id"])
        return self._json(200, self._link_json(link, full=False))

    def link(self, call: _Call) -> Reply:
        group = self._group(call)
        outcome = self.outcomes.get(int(call.match["oid"]))
        if group is None or outcome is None or not outcome["active"]:
            return self._not_found()
        move_from = call.arg("move_from")
        link = self._link_outcome(group["context"], group["id"], outcome["id"])
        if move_from:
            for old in self.links.values():
                if (
                    old["active"]
                    and old["group_id"] == int(move_from)
                    and old["outcome_id"] == outcome["id"]
                ):
                    old["active"] = False
        return self._json(200, self._link_json(link, full=False))

    def unlink(self, call: _Call) -> Reply:
        group = self._group(call)
        if group is None:
            return self._not_found()
        for link in self.links.values():
            if (
                link["active"]
                and link["group_id"] == group["id"]
                and link["outcome_id"] == int(call.match["oid"])
            ):
                self._unlink(link)
                return self._json(200, self._link_json(link, full=False))
        return self._not_found()

    def list_links(self, call: _Call) -> Reply:
        ctx = call.match["ctx"]
        full = call.arg("outcome_style") == "full"
        items = [
            self._link_json(link, full=full)
            for link in sorted(self.links.values(), key=lambda k: k["id"])
            if link["context"] == ctx and link["active"]
        ]
        return self._paged(call, items)

    def get_outcome(self, call: _Call) -> Reply:
        outcome = self.outcomes.get(int(call.match["oid"]))
        if outcome is None or not outcome["active"]:
            return self._not_found()
        data = self._outcome_json(outcome, full=True, context=outcome["context"])
        if self.mastery_scales:  # no context to resolve the scale from: Canvas leaves it out
            for name in SCALE_FIELDS:
                data.pop(name, None)
        return self._json(200, data)

    def update_outcome(self, call: _Call) -> Reply:
        outcome = self.outcomes.get(int(call.match["oid"]))
        if outcome is None or not outcome["active"]:
            return self._not_found()
        body = call.body or {}
        if self._scale_fields_refused(body):
            return self._refused()
        problem = self._check_method(
            body.get("calculation_method", outcome["calculation_method"]),
            body.get("calculation_int"),
        )
        if problem:
            return self._invalid("calculation_int", "invalid", problem)
        self._apply_outcome_fields(outcome, body)
        return self._json(200, self._outcome_json(outcome, full=True, context=outcome["context"]))

    # -- routes: imports and export reports ---------------------------------------------------

    def _tick(self) -> None:
        """Background jobs advance one step per request Canvas receives (imports serialised)."""
        for job in sorted(self.jobs.values(), key=lambda j: j.id):
            if job.state in ("succeeded", "failed", "complete"):
                continue
            job.ticks += 1
            if job.kind == "report":
                if job.ticks >= self.report_ticks:
                    job.state = "complete"
                continue
            if job.ticks >= self.import_ticks:
                self._run_import(job)
            else:
                job.state = "importing"
            return  # one import at a time per root account

    def start_import(self, call: _Call) -> Reply:
        content_type = call.request.headers.get("Content-Type", "").lower()
        if "text/csv" not in content_type or "charset=utf-8" not in content_type.replace(" ", ""):
            return self._json(400, {"message": "Invalid content type, UTF-8 required"})
        jid = next(self.ids)
        self.jobs[jid] = Job(jid, call.match["ctx"], "import", "created", payload=call.body or "")
        return self._json(200, self._import_json(self.jobs[jid]))

    @staticmethod
    def _import_json(job: Job) -> dict[str, Any]:
        done = job.state in ("succeeded", "failed")
        return {
            "id": job.id,
            "workflow_state": job.state,
            "progress": 100 if done else (50 if job.state == "importing" else 0),
            "processing_errors": job.errors,
            "data": {"import_type": "instructure_csv"},
        }

    def import_status(self, call: _Call) -> Reply:
        job = self.jobs.get(int(call.match["iid"]))
        if job is None or job.kind != "import" or job.context != call.match["ctx"]:
            return self._json(404, {"message": "Import not found"})
        return self._json(200, self._import_json(job))

    def _run_import(self, job: Job) -> None:
        reader = csv.reader(io.StringIO(job.payload.lstrip("\ufeff"), newline=""))
        rows = list(reader)
        if not rows:
            job.state, job.errors = "failed", [[1, "File has no data"]]
            return
        header = [h.strip() for h in rows[0]]
        allowed = {
            "vendor_guid",
            "object_type",
            "title",
            "description",
            "display_name",
            "calculation_method",
            "calculation_int",
            "parent_guids",
            "workflow_state",
            "mastery_points",
            "ratings",
            "friendly_description",
            "canvas_id",
            "course_id",
        }
        at = header.index("ratings") if "ratings" in header else len(header)
        invalid = [h for h in header[: at + 1] if h not in allowed]
        if invalid:
            job.state, job.errors = "failed", [[1, f"Invalid fields: {invalid}"]]
            return
        missing = [h for h in ("vendor_guid", "object_type", "title") if h not in header]
        if missing:
            job.state, job.errors = "failed", [[1, f"Missing required fields: {missing}"]]
            return
        seen: set[str] = set()
        imported: dict[str, dict[str, Any]] = {}  # groups of this import, by guid
        for number, cells in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in cells):
                continue
            row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header[:at])}
            rating_cells = cells[at:] if at < len(header) else []
            error = self._import_row(job.context, row, rating_cells, seen, imported)
            if error:
                job.errors.append([number, error])
        job.errors = sorted(job.errors)[:MAX_IMPORT_ERRORS]  # Canvas keeps the first 25
        job.state = "succeeded"  # row errors do not fail the import

    def _import_row(
        self,
        context: str,
        row: dict[str, str],
        rating_cells: list[str],
        seen: set[str],
        imported: dict[str, dict[str, Any]],
    ) -> str | None:
        guid = row["vendor_guid"].strip()
        if not guid or not row["title"].strip():
            return 'The "vendor_guid" and "title" fields are required'
        if any(ch.isspace() for ch in guid):
            return 'The "vendor_guid" field must have no spaces'
        if guid in seen:
            return f'"{guid}" has already appeared in this import'
        seen.add(guid)
        kind = row["object_type"].strip()
        # Parents are groups of *this* import (earlier rows), not any group of the context.
        wanted = row.get("parent_guids", "").split()
        missing = [pguid for pguid in wanted if pguid not in imported]
        if missing:
            return f"Parent references not found prior to this row: {missing!r}"
        parents = [imported[pguid] for pguid in wanted]
        deleted = row.get("workflow_state", "").strip() == "deleted"
        if kind == "group":
            return self._import_group(context, guid, row, parents, deleted, imported)
        if kind != "outcome":
            return f'Invalid object_type: "{kind}"'
        return self._import_outcome(context, guid, row, rating_cells, parents, deleted)

    def _import_group(
        self,
        context: str,
        guid: str,
        row: dict[str, str],
        parents: list[dict[str, Any]],
        deleted: bool,
        imported: dict[str, dict[str, Any]],
    ) -> str | None:
        if len(parents) > 1:
            return "An outcome group can only have one parent"
        existing = [  # groups match by vendor_guid within the importing context only
            g
            for g in self.groups.values()
            if g["active"] and g["context"] == context and g["vendor_guid"] == guid
        ]
        if deleted:
            for group in existing:
                self._delete_group(group)
            return None
        parent_id = parents[0]["id"] if parents else self.root_id(context)
        if existing:
            group = existing[0]
        else:
            gid = next(self.ids)
            group = {"id": gid, "context": context, "vendor_guid": guid, "active": True}
            self.groups[gid] = group
        group.update(
            title=row["title"], description=row.get("description") or None, parent_id=parent_id
        )
        imported[guid] = group
        return None

    def _visible_from(self, context: str, owner: str) -> bool:
        """Whether an outcome owned by ``owner`` may be linked in ``context`` (same or above)."""
        return owner == context or (context.startswith("courses/") and owner == PARENT_ACCOUNT)

    def _import_outcome(
        self,
        context: str,
        guid: str,
        row: dict[str, str],
        rating_cells: list[str],
        parents: list[dict[str, Any]],
        deleted: bool,
    ) -> str | None:
        # Outcomes match by vendor_guid across the whole instance, active first.
        matches = [o for o in self.outcomes.values() if o["active"] and o["vendor_guid"] == guid]
        prior = matches[0] if matches else None
        if prior is not None and not self._visible_from(context, prior["context"]):
            return f"Outcome with ID {guid} already exists in another unrelated course or account"
        if deleted:
            if prior is not None:
                for link in self._links_of(prior["id"]):
                    link["active"] = False
                prior["active"] = False
            return None
        fields: dict[str, Any] = {"title": row["title"]}
        for name in ("description", "display_name"):
            # A blank cell empties the field; Canvas only avoids flipping None <-> "".
            if row.get(name) or (prior is not None and prior[name]):
                fields[name] = row.get(name) or None
        if not self.mastery_scales:  # under account mastery scales these columns are ignored
            method = row.get("calculation_method") or None
            value = row.get("calculation_int") or None
            problem = self._check_method(method, value)
            if problem:
                return problem
            cells = [c.strip() for c in rating_cells]
            while cells and not cells[-1]:
                cells.pop()
            ratings = [
                {
                    "points": float(cells[i]),
                    "description": cells[i + 1] if i + 1 < len(cells) else "",
                }
                for i in range(0, len(cells), 2)
            ]
            points = [r["points"] for r in ratings]
            if points != sorted(points, reverse=True):
                return "Points for ratings must be in non-increasing order"
            # A blank method resets to the default; ratings are rewritten only when given.
            fields["calculation_method"], fields["calculation_int"] = self._store_method(
                method, value
            )
            if ratings:
                fields["ratings"] = ratings
                fields["mastery_points"] = row.get("mastery_points") or None
        if prior is None:
            outcome = self._new_outcome(context, {**fields, "vendor_guid": guid})
        elif prior["context"] == context:
            outcome = prior
            self._apply_outcome_fields(outcome, fields)
        else:
            changed = self._changes(prior, fields)
            if changed:
                return (
                    f"Cannot modify outcome from another context: {changed!r}; outcome must "
                    f"be modified in {prior['context']}"
                )
            outcome = prior  # an ancestor account's outcome: only (re)linked here
        targets = [p["id"] for p in parents] or [self.root_id(context)]
        for link in self._links_of(outcome["id"]):
            if link["context"] == context and link["group_id"] not in targets:
                link["active"] = False
        for gid in targets:
            self._link_outcome(context, gid, outcome["id"])
        return None

    def _changes(self, outcome: dict[str, Any], fields: dict[str, Any]) -> list[str]:
        """The fields an import row would change on ``outcome`` (compared as stored)."""
        copy = json.loads(json.dumps(outcome))
        self._apply_outcome_fields(copy, fields)
        return sorted(k for k in copy if copy[k] != outcome[k])

    def start_report(self, call: _Call) -> Reply:
        rid = next(self.ids)
        self.jobs[rid] = Job(rid, call.match["ctx"], "report", "running")
        return self._json(200, self._report_json(self.jobs[rid]))

    def _report_json(self, job: Job) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": job.id,
            "status": job.state,
            "progress": 100 if job.state == "complete" else 10,
        }
        if job.state == "complete":
            data["attachment"] = {"url": f"{BASE}/files/report-{job.id}.csv"}
            if not job.payload:
                job.payload = self.export_csv(job.context)
        return data

    def report_status(self, call: _Call) -> Reply:
        job = self.jobs.get(int(call.match["rid"]))
        if job is None or job.kind != "report":
            return self._not_found()
        return self._json(200, self._report_json(job))

    def report_file(self, call: _Call) -> Reply:
        job = self.jobs.get(int(call.match["rid"]))
        if job is None or job.state != "complete":
            return self._not_found()
        return 200, {"Content-Type": "text/csv; charset=utf-8"}, job.payload

    def export_csv(self, context: str) -> str:
        """Canvas's outcome_export_csv of a context (scale columns omitted under mastery scales)."""
        root = self.root_id(context)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        header = ["vendor_guid", "object_type", "title", "description", "display_name"]
        if not self.mastery_scales:
            header += ["calculation_method", "calculation_int", "mastery_points"]
        header += ["parent_guids", "workflow_state"]
        outcomes = [
            o
            for o in self.outcomes.values()
            if o["active"] and any(k["context"] == context for k in self._links_of(o["id"]))
        ]
        width = max((len(o["ratings"]) for o in outcomes), default=0) * 2
        if not self.mastery_scales:
            header += ["ratings"] + [""] * max(width - 1, 0)
        writer.writerow(header)

        def gguid(group: dict[str, Any]) -> str:
            return group["vendor_guid"] or f"canvas_outcome_group:{group['id']}"

        def emit(parent_id: int) -> None:
            for group in sorted(self.groups.values(), key=lambda g: g["id"]):
                if group["active"] and group["parent_id"] == parent_id:
                    parent = self.groups[parent_id]
                    row = [gguid(group), "group", group["title"], group["description"] or "", ""]
                    if not self.mastery_scales:
                        row += ["", "", ""]
                    row += ["" if parent_id == root else gguid(parent), "active"]
                    writer.writerow(row)
                    emit(group["id"])

        emit(root)
        for outcome in outcomes:
            parents = [
                self.groups[k["group_id"]]
                for k in self._links_of(outcome["id"])
                if k["context"] == context
            ]
            row = [
                outcome["vendor_guid"] or f"canvas_outcome:{outcome['id']}",
                "outcome",
                outcome["title"],
                outcome["description"] or "",
                outcome["display_name"] or "",
            ]
            if not self.mastery_scales:
                value = outcome["calculation_int"]
                row += [
                    outcome["calculation_method"],
                    "" if value is None else str(value),
                    f"{outcome['mastery_points']:g}",
                ]
            row += [
                " ".join("" if g["id"] == root else gguid(g) for g in parents).strip(),
                "active",
            ]
            if not self.mastery_scales:
                for rating in outcome["ratings"]:
                    row += [f"{rating['points']:g}", rating["description"]]
            writer.writerow(row)
        return buffer.getvalue()

    # -- routes: mastery scale, GraphQL --------------------------------------------------------

    def get_proficiency(self, call: _Call) -> Reply:
        ctx = call.match["ctx"]
        if ctx in self.proficiency:
            return self._json(200, {"ratings": self.proficiency[ctx]})
        if self.mastery_scales:
            return self._json(200, {"ratings": DEFAULT_PROFICIENCY})
        return self._json(404, {"message": "No proficiency found"})

    def set_proficiency(self, call: _Call) -> Reply:
        ratings = (call.body or {}).get("ratings") or []
        if not ratings:
            return self._json(422, {"errors": [{"message": "Missing required ratings"}]})
        if sum(1 for r in ratings if r.get("mastery")) != 1:
            return self._json(422, {"errors": [{"message": "Exactly one rating can have mastery"}]})
        points = [float(r["points"]) for r in ratings]
        if any(b >= a for a, b in itertools.pairwise(points)):
            return self._json(
                422, {"errors": [{"message": "Points should be strictly decreasing"}]}
            )
        self.proficiency[call.match["ctx"]] = [
            {
                "description": r["description"],
                "points": float(r["points"]),
                "mastery": bool(r["mastery"]),
                "color": r["color"],
            }
            for r in ratings
        ]
        return self._json(200, {"ratings": self.proficiency[call.match["ctx"]]})

    def graphql(self, call: _Call) -> Reply:
        body = call.body or {}
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        if "createOutcomeCalculationMethod" in query:
            kind = "accounts" if variables["type"] == "Account" else "courses"
            ctx = f"{kind}/{variables['id']}"
            problem = self._check_method(variables["method"], variables.get("int"))
            if problem:
                return self._json(
                    200,
                    {
                        "data": {
                            "createOutcomeCalculationMethod": {
                                "outcomeCalculationMethod": None,
                                "errors": [{"attribute": "calculation_int", "message": problem}],
                            }
                        }
                    },
                )
            self.calc_method[ctx] = (variables["method"], variables.get("int"))
            return self._json(
                200,
                {
                    "data": {
                        "createOutcomeCalculationMethod": {
                            "outcomeCalculationMethod": {"_id": "1"},
                            "errors": None,
                        }
                    }
                },
            )
        field_name = "account" if "account(" in query else "course"
        ctx = f"{field_name}s/{variables['id']}"
        found = self.calc_method.get(ctx)
        value = (
            None if found is None else {"calculationMethod": found[0], "calculationInt": found[1]}
        )
        return self._json(200, {"data": {field_name: {"outcomeCalculationMethod": value}}})

    # -- routes: results, rollups, users -------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        login_id: str | None = None,
        sis_user_id: str | None = None,
        email: str | None = None,
        name: str | None = None,
    ) -> None:
        self.users[user_id] = {
            "id": int(user_id),
            "name": name or f"User {user_id}",
            "login_id": login_id,
            "sis_user_id": sis_user_id,
            "email": email,
        }

    def add_result(
        self,
        *,
        user: str,
        outcome_id: int,
        score: float | None,
        possible: float | None,
        when: str,
        percent: float | None = None,
        hidden: bool = False,
        alignment: str = "assignment_900",
        alignment_name: str = "Quiz",
        alignment_mastery: float | None = None,
    ) -> dict[str, Any]:
        result = {
            "id": next(self.ids),
            "score": score,
            "possible": possible,
            "percent": percent,
            "mastery": None,
            "hide_points": False,
            "hidden": hidden,
            "submitted_or_assessed_at": when,
            "links": {"user": user, "learning_outcome": str(outcome_id), "alignment": alignment},
            "_alignment_name": alignment_name,
            "_alignment_mastery": alignment_mastery,
        }
        self.results.append(result)
        return result

    def list_results(self, call: _Call) -> Reply:
        chunk, headers = self._page(call, self.results)
        include = call.query.get("include[]", [])
        linked: dict[str, Any] = {}
        ctx = call.match["ctx"]
        if "users" in include:
            ids = sorted({r["links"]["user"] for r in chunk})
            linked["users"] = [
                {
                    "id": int(u),
                    "name": self.users.get(u, {}).get("name", u),
                    "display_name": u,
                    "sortable_name": u,
                }
                for u in ids
            ]
        if "outcomes" in include:
            ids = sorted({int(r["links"]["learning_outcome"]) for r in chunk})
            linked["outcomes"] = [
                self._outcome_json(self.outcomes[i], full=True, context=ctx)
                for i in ids
                if i in self.outcomes
            ]
        if "alignments" in include:
            seen = {
                r["links"]["alignment"]: (r["_alignment_name"], r["_alignment_mastery"])
                for r in chunk
            }
            linked["alignments"] = [
                {"id": a, "name": n, **({"mastery_score": m} if m is not None else {})}
                for a, (n, m) in sorted(seen.items())
            ]
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in chunk]
        return self._json(200, {"outcome_results": public, "linked": linked}, headers)

    def list_rollups(self, call: _Call) -> Reply:
        return self._paged(call, self.rollups, key="rollups")

    def list_users(self, call: _Call) -> Reply:
        items = [u for _, u in sorted(self.users.items())]
        if "email" not in call.query.get("include[]", []):
            items = [{k: v for k, v in u.items() if k != "email"} for u in items]
        return self._paged(call, items)

    # -- routes: assignments, rubrics, submissions -------------------------------------------

    def _assignment_json(self, assignment: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in assignment.items() if k != "rubric_id"}
        rubric = self.rubrics.get(assignment.get("rubric_id") or -1)
        if rubric is not None:
            data["rubric"] = rubric["data"]
            data["rubric_settings"] = {
                "id": rubric["id"],
                "title": rubric["title"],
                "points_possible": sum(c["points"] for c in rubric["data"]),
            }
        return data

    def list_assignments(self, call: _Call) -> Reply:
        term = (call.arg("search_term") or "").lower()
        items = [
            self._assignment_json(a)
            for _, a in sorted(self.assignments.items())
            if term in a["name"].lower()
        ]
        return self._paged(call, items)

    def create_assignment(self, call: _Call) -> Reply:
        body = (call.body or {}).get("assignment") or {}
        if not body.get("name"):
            return self._json(400, {"errors": {"name": [{"message": "blank"}]}})
        aid = next(self.ids)
        self.assignments[aid] = {
            "id": aid,
            "name": body["name"],
            "points_possible": body.get("points_possible"),
            "published": body.get("published", False),
            "rubric_id": None,
        }
        return self._json(200, self._assignment_json(self.assignments[aid]))

    def create_rubric(self, call: _Call) -> Reply:
        body = call.body or {}
        rubric_in = body.get("rubric") or {}
        association = body.get("rubric_association") or {}
        assignment = self.assignments.get(int(association.get("association_id") or -1))
        if assignment is None:
            return self._not_found()
        rid = next(self.ids)
        data = []
        for key in sorted(rubric_in.get("criteria", {}), key=int):
            crit = rubric_in["criteria"][key]
            outcome = self.outcomes.get(int(crit["learning_outcome_id"]))
            if outcome is None or not outcome["active"]:
                return self._json(400, {"errors": [{"message": "outcome not found"}]})
            data.append(
                {
                    "id": f"_{next(self.ids)}",
                    "points": float(crit["points"]),
                    "description": crit["description"],
                    "outcome_id": outcome["id"],
                    "mastery_points": float(crit["mastery_points"]),
                    "ratings": [{"id": f"r{i}", **r} for i, r in sorted(crit["ratings"].items())],
                }
            )
        self.rubrics[rid] = {"id": rid, "title": rubric_in.get("title"), "data": data}
        assignment["rubric_id"] = rid
        return self._json(
            200,
            {
                "rubric": self.rubrics[rid],
                "rubric_association": {
                    "id": next(self.ids),
                    "association_id": assignment["id"],
                    "association_type": "Assignment",
                },
            },
        )

    def list_submissions(self, call: _Call) -> Reply:
        aid = int(call.match["aid"])
        if aid not in self.assignments:
            return self._not_found()
        rubric = self.rubrics.get(self.assignments[aid].get("rubric_id") or -1)
        criteria = {c["id"] for c in rubric["data"]} if rubric else set()
        items = []
        for uid in sorted(self.users):
            marks = self.assessments.get((aid, uid))
            data: dict[str, Any] = {"id": next(self.ids), "user_id": int(uid), "assignment_id": aid}
            if "rubric_assessment" in call.query.get("include[]", []) and marks:
                data["rubric_assessment"] = {
                    c: {"points": p, "rating_id": None, "comments": ""}
                    for c, p in marks.items()
                    if c in criteria
                }
            items.append(data)
        return self._paged(call, items)

    def grade(self, call: _Call) -> Reply:
        aid, uid = int(call.match["aid"]), call.match["uid"]
        assignment = self.assignments.get(aid)
        if assignment is None or uid not in self.users:
            return self._not_found()
        rubric = self.rubrics.get(assignment.get("rubric_id") or -1)
        marks = (call.body or {}).get("rubric_assessment") or {}
        if rubric is None:
            return self._json(400, {"errors": [{"message": "no rubric"}]})
        by_id = {c["id"]: c for c in rubric["data"]}
        stored: dict[str, float] = {}
        for cid, mark in marks.items():
            if cid not in by_id:
                return self._json(400, {"errors": [{"message": f"unknown criterion {cid}"}]})
            stored[cid] = float(mark["points"])
        self.assessments[(aid, uid)] = stored
        when = self.now.isoformat().replace("+00:00", "Z")
        for cid, points in stored.items():
            crit = by_id[cid]
            existing = next(
                (
                    r
                    for r in self.results
                    if r["links"]["user"] == uid
                    and r["links"]["learning_outcome"] == str(crit["outcome_id"])
                    and r["links"]["alignment"] == f"assignment_{aid}"
                ),
                None,
            )
            values = {
                "score": points,
                "possible": crit["points"],
                "percent": round(points / crit["points"], 4) if crit["points"] else None,
                "mastery": points >= crit["mastery_points"],
                "submitted_or_assessed_at": when,
            }
            if existing is not None:
                existing.update(values)  # re-grading overwrites the same result
            else:
                self.add_result(
                    user=uid,
                    outcome_id=crit["outcome_id"],
                    score=points,
                    possible=crit["points"],
                    when=when,
                    alignment=f"assignment_{aid}",
                    alignment_name=assignment["name"],
                )
                self.results[-1].update(values)
        return self._json(
            200,
            {
                "id": next(self.ids),
                "user_id": int(uid),
                "assignment_id": aid,
                "rubric_assessment": {c: {"points": p} for c, p in stored.items()},
            },
        )
