"""A stateful fake Canvas on ``responses`` that behaves as Canvas's own code does.

Every behaviour names the Canvas code it follows (canvas-lms, read through the search
tool; ``shared/reference/canvas.md`` where noted). It holds outcome groups, outcomes,
links, alignments and friendly descriptions per context, outcome imports that run as a
background job (advancing one step per request Canvas receives, so a client must poll and
a crashed client's import still completes), the outcome export report, results with
paging, rollups, course users, assignments, rubrics and submissions.

* REST (``OutcomeGroupsApiController``, ``OutcomesApiController``): creation never
  de-duplicates by vendor_guid; only outcomes available to a context can be linked there
  (``Context#available_outcome``); ``move_from`` must name the group the link is in;
  unlinking the last link of an aligned outcome answers 400 and the last link in the
  outcome's own context deletes it, with every other link (``ContentTag#can_destroy?``,
  ``#destroy``, ``LearningOutcome#destroy``); deleting a group that would do that answers
  400 and changes nothing; under account-level mastery scales only ``PUT /outcomes/:id``
  refuses ratings, mastery and methods (403).
* The outcome model (``LearningOutcome``): ratings stored highest first, ``No Comment`` for
  a rating without a description, mastery defaulting to the top rating, the method adjusted
  for the new-decay flag *before* its int is checked, the int reset to the method's default
  when the method changes alone, Canvas's validation texts.
* Imports (``OutcomeImportsApiController``, ``OutcomeImport#run``,
  ``Outcomes::CSVImporter``, ``Outcomes::Import``): in :mod:`.fake_canvas_import`.
* The export report (``AccountReports::OutcomeExport``): Canvas's columns, numbers in the
  account's locale, id references for objects without a vendor_guid.
* Throttling answers 403 "Rate Limit Exceeded" (older) or 429 (newer) without processing;
  every list is paginated (default 10, cap 100) with opaque Link headers.
"""

from __future__ import annotations

import copy
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

from .fake_canvas_import import ImportRun, i18n_n

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
CALCULATION_METHODS = (
    "decaying_average",
    "weighted_average",
    "standard_decaying_average",
    "n_mastery",
    "highest",
    "latest",
    "average",
)
"""``OutcomeCalculationMethod::CALCULATION_METHODS``."""
INT_RANGES = {
    "decaying_average": (1, 99),
    "weighted_average": (1, 99),
    "standard_decaying_average": (50, 99),
    "n_mastery": (1, 10),
}
"""``OutcomeCalculationMethod::VALID_CALCULATION_INTS`` (the others take none)."""
NO_INT = ("highest", "latest", "average")
SCALE_FIELDS = (
    "points_possible",
    "mastery_points",
    "ratings",
    "calculation_method",
    "calculation_int",
)
DEFAULT_CRITERION = {
    "ratings": [
        {"description": "Exceeds Expectations", "points": 5},
        {"description": "Meets Expectations", "points": 3},
        {"description": "Does Not Meet Expectations", "points": 0},
    ],
    "mastery_points": 3,
    "points_possible": 5,
}
"""``LearningOutcome.default_rubric_criterion`` (integers, as Canvas writes them)."""
MAX_IMPORT_ERRORS = 25
PARENT_ACCOUNT = "accounts/1"
"""Every course of the fake belongs to this account (its only ancestor)."""


class LastLinkToOutcomeNotDestroyed(Exception):  # noqa: N818 - Canvas's name
    """``ContentTag::LastLinkToOutcomeNotDestroyed``."""


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


def context_name(context: str) -> str:
    kind, _, ident = context.partition("/")
    return f"{'Account' if kind == 'accounts' else 'Course'} {ident}"


class FakeCanvas:
    """Canvas's outcome, result and rubric endpoints over in-memory state.

    ``locale`` is the accounts' ``default_locale`` (imports parse numbers with it,
    exports write them in it). ``friendly_descriptions_listed``: Canvas's REST lists look
    friendly descriptions up with string ids in a map keyed by integers
    (``Api::V1::Outcome#outcome_json``), so they list none; set it to pretend they did.
    """

    def __init__(
        self,
        *,
        mastery_scales: bool = False,
        new_decay: bool = False,
        import_ticks: int = 2,
        report_ticks: int = 1,
        features_forbidden: bool = False,
        locale: str | None = None,
    ) -> None:
        self.mastery_scales = mastery_scales
        self.new_decay = new_decay
        self.import_ticks = import_ticks
        self.report_ticks = report_ticks
        self.features_forbidden = features_forbidden
        self.locale = locale
        self.reset()

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        self.ids = itertools.count(1)
        self.groups: dict[int, dict[str, Any]] = {}
        self.outcomes: dict[int, dict[str, Any]] = {}
        self.links: dict[int, dict[str, Any]] = {}
        self.alignments: list[dict[str, Any]] = []
        self.friendly: dict[tuple[str, int], dict[str, Any]] = {}
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

    def state(self) -> dict[str, Any]:
        """A copy of the outcome state (what an import's transaction rolls back to)."""
        return copy.deepcopy(
            {
                "groups": self.groups,
                "outcomes": self.outcomes,
                "links": self.links,
                "alignments": self.alignments,
                "friendly": self.friendly,
            }
        )

    def restore(self, saved: dict[str, Any]) -> None:
        """Back to ``saved``, in place: records held elsewhere see the rollback too."""
        for name in ("groups", "outcomes", "links", "friendly"):
            current: dict[Any, dict[str, Any]] = getattr(self, name)
            for key in [k for k in current if k not in saved[name]]:
                del current[key]
            for key, record in saved[name].items():
                if key in current:
                    current[key].clear()
                    current[key].update(record)
                else:
                    current[key] = record
        self.alignments[:] = saved["alignments"]

    @property
    def writes(self) -> int:
        """Requests that change state (everything but GET)."""
        return sum(1 for method, _ in self.log if method != "GET")

    def root_id(self, context: str) -> int:
        """``LearningOutcomeGroup.find_or_create_root``: the context's root, made on demand."""
        for group in self.groups.values():
            if group["context"] == context and group["parent_id"] is None and group["active"]:
                return int(group["id"])
        gid = next(self.ids)
        self.groups[gid] = {
            "id": gid,
            "context": context,
            "title": context_name(context),
            "description": None,
            "vendor_guid": None,
            "parent_id": None,
            "active": True,
            "import_id": None,
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

    def align(self, outcome_id: int, context: str) -> None:
        """Align an outcome to content in ``context`` (an assignment's rubric, a quiz bank):
        a ``learning_outcome`` ContentTag, which blocks removing its last link."""
        self.alignments.append({"outcome_id": outcome_id, "context": context, "active": True})

    def account_chain(self, context: str) -> list[str]:
        """``Context#account_chain``: a course's account, then its parents; an account itself."""
        if context.startswith("courses/"):
            return [PARENT_ACCOUNT]
        return [context]

    def child_context(self, child: str, *, of: str | None) -> bool:
        """``Outcomes::Import#child_context?``: ``of`` is ``child`` or above it."""
        return of is None or of == child or of in self.account_chain(child)

    def default_locale(self, context: str) -> str | None:
        """``OutcomeImport#locale``: the account's ``default_locale`` (a course's account's)."""
        del context
        return self.locale

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
            raw = raw.decode("utf-8", "surrogateescape")
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

    def _group(self, call: _Call, name: str = "gid") -> dict[str, Any] | None:
        """``context_outcome_groups.find``: an active group of the route's context."""
        group = self.groups.get(int(call.match[name]))
        if group is None or not group["active"] or group["context"] != call.match["ctx"]:
            return None
        return group

    @staticmethod
    def _invalid(errors: dict[str, str]) -> Reply:
        """Canvas's 400 for a failed model validation (title errors are short_description's)."""
        return FakeCanvas._json(
            400,
            {
                "errors": {
                    attribute: [{"attribute": attribute, "type": "invalid", "message": message}]
                    for attribute, message in errors.items()
                }
            },
        )

    @staticmethod
    def _not_found() -> Reply:
        return FakeCanvas._json(
            404, {"errors": [{"message": "The specified resource does not exist."}]}
        )

    @staticmethod
    def _error() -> Reply:
        """The bare JSON string "error" the outcome group controller answers 400 with."""
        return FakeCanvas._json(400, "error")

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

    def _assessed(self, outcome_id: int, context: str | None = None) -> bool:
        return any(
            r["links"]["learning_outcome"] == str(outcome_id)
            and (context is None or context.startswith("courses/"))
            for r in self.results
        )

    def _outcome_json(self, outcome: dict[str, Any], *, full: bool, context: str) -> dict[str, Any]:
        """``Api::V1::Outcome#outcome_json``."""
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
            "has_updateable_rubrics": False,
        }
        if not full:
            return data
        data["description"] = outcome["description"]
        # Looked up by a string id in a map keyed by integer ids: always null.
        data["friendly_description"] = None
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
                points_possible=outcome["points_possible"],
                mastery_points=outcome["mastery_points"],
                ratings=copy.deepcopy(outcome["ratings"]),
                calculation_method=outcome["calculation_method"] or "highest",
            )
            if outcome["calculation_method"] in INT_RANGES:
                data["calculation_int"] = outcome["calculation_int"]
        data["assessed"] = self._assessed(outcome["id"])
        return data

    def _link_json(self, link: dict[str, Any], *, full: bool) -> dict[str, Any]:
        """``Api::V1::Outcome#outcome_link_json``: ``can_unlink`` is ``can_destroy?``."""
        group = self.groups[link["group_id"]]
        kind, _, cid = link["context"].partition("/")
        base = f"/api/v1/{link['context']}/outcome_groups/{group['id']}"
        data = {
            "url": f"{base}/outcomes/{link['outcome_id']}",
            "context_id": int(cid),
            "context_type": "Account" if kind == "accounts" else "Course",
            "outcome_group": self._abbrev_group(group),
            "outcome": self._outcome_json(
                self.outcomes[link["outcome_id"]], full=full, context=link["context"]
            ),
            "assessed": self._assessed(link["outcome_id"], link["context"]),
        }
        if link["active"]:
            data["can_unlink"] = self._can_destroy(link)[0]
        return data

    # -- the outcome model (shared by REST and imports) ---------------------------------------

    def default_method(self) -> str:
        """``LearningOutcome#default_calculation_method``."""
        return "standard_decaying_average" if self.new_decay else "decaying_average"

    @staticmethod
    def default_int(method: str | None) -> int | None:
        """``LearningOutcome#default_calculation_int``."""
        if method in ("decaying_average", "standard_decaying_average", "weighted_average"):
            return 65
        return 5 if method == "n_mastery" else None

    def save_method(
        self,
        outcome: dict[str, Any],
        method: Any,
        value: Any,
        *,
        new_record: bool,
        int_given: bool | None = None,
    ) -> dict[str, str]:
        """Assign method and int as ``LearningOutcome``'s callbacks do, then validate.

        ``before_validation``: ``adjust_calculation_method`` (with the new-decay flag on,
        ``weighted_average`` becomes ``decaying_average``; off, ``standard_decaying_average``
        does), ``infer_default_calculation_method``, ``adjust_calculation_int`` (a method
        changed without its int resets the int); then ``validate_calculation_int``.
        Returns the validation errors by attribute; nothing is stored when there are some.
        ``int_given``: the int was assigned (an import assigns one always, maybe nil).
        """
        prior_method, prior_int = outcome.get("calculation_method"), outcome.get("calculation_int")
        new_method = prior_method if method is None else str(method)
        if int_given is None:
            int_given = value is not None
        new_int = (None if value is None else _to_i(value)) if int_given else prior_int
        legacy_name = "weighted_average" if self.new_decay else "standard_decaying_average"
        if new_method == legacy_name:
            new_method = "decaying_average"
        method_changed = new_method != prior_method or new_record
        if new_record or not method_changed:
            new_method = new_method or self.default_method()
            new_int = new_int if new_int is not None else self.default_int(new_method)
        int_changed = new_int != prior_int
        if (
            not new_record
            and new_method != prior_method
            and (not int_changed or new_method in ("highest", "latest"))
        ):
            new_int = self.default_int(new_method)
        errors: dict[str, str] = {}
        if new_method not in CALCULATION_METHODS:
            errors["calculation_method"] = (
                "calculation_method must be one of the following: "
                + json.dumps(list(CALCULATION_METHODS)).replace('","', '", "')
            )
        elif new_method in INT_RANGES:
            low, high = INT_RANGES[new_method]
            if new_int is None or not low <= new_int <= high:
                errors["calculation_int"] = (
                    f"'{'' if new_int is None else new_int}' is not a valid value for this "
                    f"calculation method. The value must be between '{low}' and '{high}'"
                )
        elif new_int is not None:
            errors["calculation_int"] = (
                "A calculation value is not used with this calculation method"
            )
        if not errors:
            outcome["calculation_method"], outcome["calculation_int"] = new_method, new_int
        return errors

    @staticmethod
    def criterion(ratings: list[dict[str, Any]] | None, mastery: Any) -> dict[str, Any]:
        """``LearningOutcome#rubric_criterion=``: a rating's missing description becomes
        "No Comment" (an empty one stays), points become floats, highest first; mastery
        defaults to the top rating."""
        stored = [
            {
                "description": "No Comment" if r.get("description") is None else r["description"],
                "points": float(r.get("points") or 0.0),
            }
            for r in ratings or []
        ]
        stored = sorted(stored, key=lambda r: r["points"])[::-1]  # Ruby: sort_by.reverse
        top = stored[0]["points"] if stored else 0
        return {
            "ratings": stored,
            "mastery_points": float(mastery if mastery not in (None, "") else top),
            "points_possible": top,
        }

    def _new_outcome(self, context: str, fields: dict[str, Any]) -> dict[str, Any]:
        """``context_create_outcome``: a new outcome (never de-duplicated by vendor_guid)."""
        outcome: dict[str, Any] = {
            "id": next(self.ids),
            "context": context,
            "title": fields["title"],
            "display_name": fields.get("display_name"),
            "description": fields.get("description"),
            "vendor_guid": fields.get("vendor_guid"),
            "calculation_method": None,
            "calculation_int": None,
            "active": True,
            "import_id": None,
            **copy.deepcopy(DEFAULT_CRITERION),
        }
        if fields.get("ratings") is not None:
            outcome.update(self.criterion(fields["ratings"], fields.get("mastery_points")))
        errors = self.save_method(
            outcome,
            fields.get("calculation_method"),
            fields.get("calculation_int") if fields.get("calculation_method") else None,
            new_record=True,
        )
        if errors:
            raise ModelInvalid(errors)
        self.outcomes[outcome["id"]] = outcome
        return outcome

    def _apply_outcome_fields(self, outcome: dict[str, Any], fields: dict[str, Any]) -> None:
        """``OutcomesApiController#update``: criterion, then the direct fields and method."""
        if "ratings" in fields or fields.get("mastery_points") not in (None, ""):
            ratings = fields.get("ratings", outcome["ratings"])
            outcome.update(self.criterion(ratings, fields.get("mastery_points")))
        for name in ("title", "display_name", "description", "vendor_guid"):
            if name in fields:
                outcome[name] = fields[name]
        if "calculation_method" in fields or "calculation_int" in fields:
            errors = self.save_method(
                outcome,
                fields.get("calculation_method"),
                fields.get("calculation_int"),
                new_record=False,
            )
            if errors:
                raise ModelInvalid(errors)

    def _link_outcome(self, context: str, group_id: int, outcome_id: int) -> dict[str, Any]:
        """``LearningOutcomeGroup#add_outcome``: the group's active link, or a new one."""
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

    def _aligned(self, outcome_id: int, context: str | None) -> bool:
        return any(
            a["active"]
            and a["outcome_id"] == outcome_id
            and (context is None or a["context"] == context)
            for a in self.alignments
        )

    def _can_destroy(self, link: dict[str, Any]) -> tuple[bool, bool]:
        """``ContentTag#can_destroy?``: (may the link go, does the outcome go with it).

        With no other link to the outcome in the link's context, an alignment blocks it
        (in any context for the outcome's own context, in the link's context otherwise),
        and the last link in the outcome's own context deletes the outcome.
        """
        outcome = self.outcomes[link["outcome_id"]]
        other = any(
            k["id"] != link["id"] and k["context"] == link["context"]
            for k in self._links_of(outcome["id"])
        )
        if other:
            return True, False
        native = outcome["context"] == link["context"]
        if self._aligned(outcome["id"], None if native else link["context"]):
            return False, False
        return True, native

    def destroy_link(self, link: dict[str, Any]) -> None:
        """``ContentTag#destroy``; :class:`LastLinkToOutcomeNotDestroyed` when refused."""
        allowed, destroys_outcome = self._can_destroy(link)
        outcome = self.outcomes[link["outcome_id"]]
        if not allowed:
            raise LastLinkToOutcomeNotDestroyed(
                f"Outcome '{outcome['title']}' cannot be deleted because it is aligned to content."
            )
        link["active"] = False
        fd = self.friendly.get((link["context"], outcome["id"]))
        if fd is not None:  # delete_outcome_friendly_description
            fd["active"] = False
        if destroys_outcome:
            self.destroy_outcome(outcome)

    def destroy_outcome(self, outcome: dict[str, Any]) -> None:
        """``LearningOutcome#destroy``: every link and alignment goes, in every context."""
        for link in self.links.values():
            if link["outcome_id"] == outcome["id"]:
                link["active"] = False
        for alignment in self.alignments:
            if alignment["outcome_id"] == outcome["id"]:
                alignment["active"] = False
        outcome["active"] = False

    def destroy_group(self, group: dict[str, Any]) -> None:
        """``LearningOutcomeGroup#destroy``: its links, then its subgroups, then itself."""
        for link in list(self.links.values()):
            if link["group_id"] == group["id"] and link["active"]:
                self.destroy_link(link)
        for child in list(self.groups.values()):
            if child["parent_id"] == group["id"] and child["active"]:
                self.destroy_group(child)
        group["active"] = False

    def available_outcome(self, context: str, outcome_id: int) -> dict[str, Any] | None:
        """``Context#available_outcome``: linked in the context or in an account above it."""
        outcome = self.outcomes.get(outcome_id)
        if outcome is None:
            return None
        contexts = {context, *self.account_chain(context)}
        linked = any(k["context"] in contexts for k in self._links_of(outcome_id))
        return outcome if linked else None

    def _scale_refusal(self, body: dict[str, Any]) -> str | None:
        """``OutcomesApiController#update`` under account-level mastery scales."""
        if not self.mastery_scales:
            return None
        if body.get("mastery_points") is not None:
            return "Individual outcome mastery points cannot be modified."
        if body.get("ratings") is not None:
            return "Individual outcome ratings cannot be modified."
        if body.get("calculation_method") is not None or body.get("calculation_int") is not None:
            return "Individual outcome calculation values cannot be modified."
        return None

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
            return self._error()
        body = call.body or {}
        for name in ("title", "description", "vendor_guid"):
            if name in body:
                group[name] = body[name]
        if "parent_outcome_group_id" in body:
            parent = self.groups.get(int(body["parent_outcome_group_id"]))
            if parent is None or parent["context"] != group["context"] or not parent["active"]:
                return self._not_found()
            if parent["id"] in self._subtree(group["id"]):
                return self._error()  # adopt_outcome_group refuses cycles
            group["parent_id"] = parent["id"]
        return self._json(200, self._full_group(group))

    def _subtree(self, group_id: int) -> set[int]:
        found = {group_id}
        for child in self.groups.values():
            if child["parent_id"] == group_id and child["active"]:
                found |= self._subtree(child["id"])
        return found

    def delete_group(self, call: _Call) -> Reply:
        """``OutcomeGroupsApiController#destroy``: in one transaction; a refused last link
        answers 400 with the message as a JSON string and changes nothing."""
        group = self._group(call)
        if group is None:
            return self._not_found()
        if group["parent_id"] is None:
            return self._error()
        saved = self.state()
        try:
            self.destroy_group(group)
        except LastLinkToOutcomeNotDestroyed as exc:
            self.restore(saved)
            return self._json(400, str(exc))
        return self._json(200, self._full_group(group))

    def create_subgroup(self, call: _Call) -> Reply:
        parent = self._group(call)
        if parent is None:
            return self._not_found()
        body = call.body or {}
        if not body.get("title"):
            return self._error()
        gid = next(self.ids)
        self.groups[gid] = {
            "id": gid,
            "context": parent["context"],
            "title": body["title"],
            "description": body.get("description"),
            "vendor_guid": body.get("vendor_guid"),
            "parent_id": parent["id"],
            "active": True,
            "import_id": None,
        }
        return self._json(200, self._full_group(self.groups[gid]))

    def create_outcome(self, call: _Call) -> Reply:
        """``OutcomeGroupsApiController#link`` (POST): a new outcome, linked here.

        Not refused under account-level mastery scales: only ``PUT /outcomes/:id`` is."""
        group = self._group(call)
        if group is None:
            return self._not_found()
        body = call.body or {}
        if "outcome_id" in body:
            outcome = self.available_outcome(group["context"], int(body["outcome_id"]))
            if outcome is None:
                return self._error()
        else:
            if not body.get("title"):
                return self._invalid({"short_description": "blank"})
            try:
                outcome = self._new_outcome(group["context"], body)  # never de-duplicated
            except ModelInvalid as exc:
                return self._invalid(exc.errors)
        link = self._link_outcome(group["context"], group["id"], outcome["id"])
        return self._json(200, self._link_json(link, full=False))

    def link(self, call: _Call) -> Reply:
        """``OutcomeGroupsApiController#link`` (PUT): ``move_from`` moves the link that is in
        that group (400 "error" if there is none); otherwise the outcome must be available
        to the context (400 "error")."""
        group = self._group(call)
        if group is None:
            return self._not_found()
        outcome_id = int(call.match["oid"])
        move_from = call.arg("move_from")
        if move_from:
            old = self.groups.get(int(move_from))
            if old is None or not old["active"] or old["context"] != call.match["ctx"]:
                return self._not_found()
            link = next(
                (k for k in self._links_of(outcome_id) if k["group_id"] == old["id"]),
                None,
            )
            if link is None:
                return self._error()
            if link["context"] == group["context"]:  # adopt_outcome_link
                link["group_id"] = group["id"]
            return self._json(200, self._link_json(link, full=False))
        outcome = self.available_outcome(group["context"], outcome_id)
        if outcome is None:
            return self._error()
        link = self._link_outcome(group["context"], group["id"], outcome["id"])
        return self._json(200, self._link_json(link, full=False))

    def unlink(self, call: _Call) -> Reply:
        """``OutcomeGroupsApiController#unlink``: 400 ``{"message": ...}`` for the last link
        of an aligned outcome; the last link in the outcome's own context deletes it."""
        group = self._group(call)
        if group is None:
            return self._not_found()
        outcome_id = int(call.match["oid"])
        link = next((k for k in self._links_of(outcome_id) if k["group_id"] == group["id"]), None)
        if link is None:
            return self._not_found()
        try:
            self.destroy_link(link)
        except LastLinkToOutcomeNotDestroyed as exc:
            return self._json(400, {"message": str(exc)})
        return self._json(200, self._link_json(link, full=False))

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
        refusal = self._scale_refusal(body)
        if refusal:
            return self._json(403, {"error": refusal})
        saved = copy.deepcopy(outcome)
        try:
            self._apply_outcome_fields(outcome, body)
        except ModelInvalid as exc:
            outcome.clear()
            outcome.update(saved)
            return self._invalid(exc.errors)
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
                ImportRun(self, job).run()
            else:
                job.state = "importing"
            return  # one import at a time per root account

    def start_import(self, call: _Call) -> Reply:
        """``OutcomeImportsApiController#create``: a raw body's charset must be UTF-8 when
        given (``body_file``, checked only without ``extension``); anything else is taken."""
        content_type = call.request.headers.get("Content-Type", "")
        params = dict(
            part.strip().split("=", 1) for part in content_type.split(";")[1:] if "=" in part
        )
        charset = params.get("charset", "").strip('"')
        if call.arg("extension") is None and charset and charset.lower() != "utf-8":
            return self._json(400, {"error": "Invalid content type, UTF-8 required"})
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
            "processing_errors": sorted(job.errors, key=lambda e: e[0])[:MAX_IMPORT_ERRORS],
            "data": {"import_type": "instructure_csv"},
        }

    def import_status(self, call: _Call) -> Reply:
        job = self.jobs.get(int(call.match["iid"]))
        if job is None or job.kind != "import" or job.context != call.match["ctx"]:
            return self._json(
                404, {"message": f"Couldn't find OutcomeImport with 'id'={call.match['iid']}"}
            )
        return self._json(200, self._import_json(job))

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
        """``AccountReports::OutcomeExport#outcome_export``.

        Columns as Canvas's (without the score columns under account-level mastery scales);
        groups from the root down, then outcomes linked in the account by id, their
        ``parent_guids`` the groups they are linked in (the root left out); objects without
        a vendor_guid as ``canvas_outcome_group:<id>`` / ``canvas_outcome:<id>``; points with
        ``I18n.n`` in the account's locale.
        """
        root = self.root_id(context)
        locale = self.default_locale(context)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        scores = not self.mastery_scales
        header = ["vendor_guid", "object_type", "title", "description", "friendly_description"]
        header.append("display_name")
        if scores:
            header += ["calculation_method", "calculation_int"]
        header += ["parent_guids", "workflow_state"]
        if scores:
            header += ["mastery_points", "ratings"]
        writer.writerow(header)

        def gguid(group: dict[str, Any]) -> str:
            return group["vendor_guid"] or f"canvas_outcome_group:{group['id']}"

        def emit(parent_id: int) -> None:
            for group in sorted(self.groups.values(), key=lambda g: g["id"]):
                if group["active"] and group["parent_id"] == parent_id:
                    parent = self.groups[parent_id]
                    row = [gguid(group), "group", group["title"], group["description"] or ""]
                    row += ["", ""]
                    if scores:
                        row += ["", ""]
                    row += ["" if parent_id == root else gguid(parent), "active"]
                    if scores:
                        row.append("")
                    writer.writerow(row)
                    emit(group["id"])

        emit(root)
        outcomes = sorted(
            (
                o
                for o in self.outcomes.values()
                if o["active"] and any(k["context"] == context for k in self._links_of(o["id"]))
            ),
            key=lambda o: o["id"],
        )
        for outcome in outcomes:
            parents = sorted(
                (
                    self.groups[k["group_id"]]
                    for k in self._links_of(outcome["id"])
                    if k["context"] == context and k["group_id"] != root
                ),
                key=lambda g: g["id"],
            )
            fd = self.friendly.get((context, outcome["id"]))
            row = [
                outcome["vendor_guid"] or f"canvas_outcome:{outcome['id']}",
                "outcome",
                outcome["title"],
                outcome["description"] or "",
                fd["description"] if fd and fd["active"] else "",
                outcome["display_name"] or "",
            ]
            if scores:
                value = outcome["calculation_int"]
                row += [outcome["calculation_method"] or "", "" if value is None else str(value)]
            row += [" ".join(gguid(g) for g in parents), "active"]
            if scores:
                row.append(i18n_n(outcome["mastery_points"], locale))
                for rating in outcome["ratings"]:
                    row += [i18n_n(rating["points"], locale), rating["description"]]
            writer.writerow(row)
        return buffer.getvalue()

    # -- routes: mastery scale, GraphQL --------------------------------------------------------

    def _check_method(self, method: str | None, value: Any) -> str | None:
        """``OutcomeCalculationMethod``'s validation (the context's method, GraphQL)."""
        if method is None:
            return None
        if method not in CALCULATION_METHODS:
            return f"calculation_method must be one of {list(CALCULATION_METHODS)}"
        allowed = INT_RANGES.get(method)
        if (allowed is None and value is not None) or (
            allowed is not None and (value is None or not allowed[0] <= int(value) <= allowed[1])
        ):
            return "invalid calculation_int for this calculation_method"
        return None

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


class ModelInvalid(Exception):  # noqa: N818 - ActiveRecord::RecordInvalid
    """A model failed validation: ``errors`` by attribute."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k} {v}" for k, v in errors.items()))
        self.errors = errors


def _to_i(value: Any) -> int:
    """Ruby's ``String#to_i`` as ActiveRecord casts an integer column: leading digits, else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    found = re.match(r"\s*([+-]?\d+)", str(value))
    return int(found.group(1)) if found else 0
