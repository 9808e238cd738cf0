"""HTTP client for Canvas's REST API: one method per endpoint, nothing else.

Every request goes through the foundation's :class:`~comp_adapters.http.HttpTransport`:
bearer token (added per request, never logged, masked in every message), Link-header
pagination with ``per_page=100``, throttling recognised as 429 *or* 403 "Rate Limit
Exceeded" (self-hosted and older Canvas) and retried with backoff - POSTs included, since a
throttled request was never processed - and failures mapped into the error tree with the
request id Canvas sends (``X-Request-Context-Id``).

Outcome endpoints work in an account or a course context (:class:`CanvasContext`);
results, rollups, users, assignments and submissions need a course.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from comp_adapters.canvas import wire
from comp_adapters.errors import (
    ConfigurationError,
    FatalRemoteError,
    PermissionDeniedError,
    RemoteError,
)
from comp_adapters.http import HttpTransport, Redactor, next_link

PER_PAGE = 100
"""Canvas caps pages at 100 items (older installs at 50); the Link header is always followed."""


class MasteryScalesEnabledError(PermissionDeniedError):
    """Canvas refused a per-outcome scale or method: account-level mastery scales are on."""


@dataclass(frozen=True, slots=True)
class CanvasContext:
    """Where outcomes live: an account or a course (``account:1``, ``course:42``)."""

    kind: Literal["account", "course"]
    id: str

    @classmethod
    def parse(cls, text: str) -> CanvasContext:
        """``account:ID`` or ``course:ID`` (ids may be ``sis_account_id:X`` style)."""
        kind, sep, ident = text.strip().partition(":")
        if not sep or kind not in ("account", "course") or not ident:
            raise ConfigurationError(
                f"canvas context {text!r}: expected account:ID or course:ID (e.g. account:1)"
            )
        return cls(kind, ident)  # type: ignore[arg-type]

    @property
    def path(self) -> str:
        """``accounts/1`` or ``courses/42``: the prefix of context routes."""
        return f"{self.kind}s/{self.id}"

    @property
    def graphql_type(self) -> str:
        return "Account" if self.kind == "account" else "Course"

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def is_throttled(response: requests.Response) -> bool:
    """Canvas throttling: 429 (hosted, since 2025), or 403 with "Rate Limit Exceeded"."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text.lower()


def describe_canvas_error(response: requests.Response) -> tuple[str, str | None]:
    """(message, code) from Canvas's many error bodies.

    ``{"errors":[{"message":..}]}``, ``{"errors":{"attr":[{"message":..}]}}``,
    ``{"message":..}``, ``{"error":..}``, the bare JSON string ``"error"``, or plain text.
    """
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:300] or response.reason or "error"), None
    if isinstance(body, str):
        return body[:300] or "error", None
    if not isinstance(body, dict):
        return str(body)[:300], None
    errors = body.get("errors")
    if isinstance(errors, list):
        messages = [str(e.get("message", e)) for e in errors if isinstance(e, dict)]
        if messages:
            return "; ".join(messages)[:300], None
    if isinstance(errors, dict):
        parts = []
        for attribute, items in errors.items():
            for item in items if isinstance(items, list) else [items]:
                message = item.get("message", item) if isinstance(item, dict) else item
                parts.append(f"{attribute}: {message}")
        if parts:
            return "; ".join(parts)[:300], str(next(iter(errors)))
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:300], None
    return json.dumps(body)[:300], None


def refine_canvas_error(error: RemoteError, response: requests.Response) -> RemoteError:
    """Canvas's readings of 401 and 403, given the transport's generic error.

    A 401 without ``WWW-Authenticate`` is older Canvas saying "not permitted" (the token is
    fine), and so is "Insufficient scopes on access token." (a scoped developer key that
    lacks the route); a 403 saying an individual outcome "cannot be modified" means
    account-level mastery scales are on.
    """
    if not isinstance(error, FatalRemoteError):
        return error
    facts: dict[str, Any] = {
        "adapter": error.adapter,
        "operation": error.operation,
        "url": error.url,
        "status": error.status,
        "code": error.code,
        "request_id": error.request_id,
    }
    if response.status_code == 401 and "insufficient scopes" in error.detail.lower():
        method = response.request.method if response.request is not None else "?"
        path = urlsplit(response.url or "").path
        return PermissionDeniedError(
            f"{error.detail} - the developer key's scopes do not include {method} {path} "
            f"(scope url:{method}|<route>); add it to the key, then get a new token",
            **facts,
        )
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        return PermissionDeniedError(error.detail, **facts)
    if response.status_code == 403 and "cannot be modified" in error.detail:
        return MasteryScalesEnabledError(
            error.detail + " - account-level mastery scales are on: per-outcome ratings and "
            "calculation methods are set by the account/course mastery scale instead",
            **facts,
        )
    return error


def make_transport(
    base_url: str,
    token: SecretStr | str,
    *,
    session: requests.Session | None = None,
    allow_http: bool = False,
    **options: Any,
) -> HttpTransport:
    """A transport for a Canvas host (``https://canvas.example.edu``); the token is redacted.

    Canvas's ways are given as the transport's callables (error bodies, throttling, the
    readings of 401 and 403), not by subclassing it."""
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    root = base_url.rstrip("/")
    if not root.endswith("/api/v1"):
        root += "/api/v1"
    extra: dict[str, Any] = dict(options)
    if session is not None:
        extra["session"] = session
    return HttpTransport(
        adapter="canvas",
        base_url=root + "/",
        allow_http=allow_http,
        redactor=Redactor([secret]),
        describe_error=describe_canvas_error,
        is_throttled=is_throttled,
        refine_error=refine_canvas_error,
        **extra,
    )


class CanvasClient:
    """Canvas REST endpoints for outcomes, results and the rubric write-back path.

    Holds the token only inside a header built per request; ``repr`` shows no secret.
    """

    def __init__(
        self,
        transport: HttpTransport,
        token: SecretStr | str,
        *,
        context: CanvasContext,
    ) -> None:
        self.transport = transport
        self.context = context
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        transport.redactor.add(self._token.get_secret_value())

    def __repr__(self) -> str:
        return f"CanvasClient({self.transport!r}, context={self.context})"

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    # -- plumbing ------------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": "application/json",
        }
        headers.update(extra or {})
        return headers

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {"headers": self._headers(headers)}
        if params is not None:
            kwargs["params"] = params
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        response = self.transport.request(
            method, path, operation=operation, idempotent=idempotent, **kwargs
        )
        return _json(response)

    def _pages(
        self,
        path: str,
        *,
        operation: str,
        params: Sequence[tuple[str, Any]] = (),
    ) -> Iterator[Any]:
        """Each page's JSON, following ``rel="next"`` until there is none."""
        url: str | None = path
        query: list[tuple[str, Any]] | None = [*params, ("per_page", PER_PAGE)]
        while url is not None:
            response = self.transport.request(
                "GET", url, operation=operation, headers=self._headers(), params=query
            )
            yield _json(response)
            link = next_link(response)
            url = self.transport.follow(link, operation=operation) if link else None
            query = None  # the next link carries every parameter already

    def _items(
        self, path: str, *, operation: str, params: Sequence[tuple[str, Any]] = ()
    ) -> Iterator[Any]:
        for page in self._pages(path, operation=operation, params=params):
            if not isinstance(page, list):
                raise _shape_error(operation, "a JSON array")
            yield from page

    def _ctx(self, route: str) -> str:
        return f"{self.context.path}/{route}"

    def _course(self, route: str, operation: str) -> str:
        if self.context.kind != "course":
            raise ConfigurationError(
                f"canvas {operation} needs a course context (course:ID), not {self.context}"
            )
        return self._ctx(route)

    # -- features --------------------------------------------------------------------------------

    def enabled_features(self) -> list[str]:
        """GET ``{ctx}/features/enabled``: names of the feature flags on in this context."""
        body = self._call("GET", self._ctx("features/enabled"), operation="features")
        if not isinstance(body, list):
            raise _shape_error("features", "a JSON array")
        return [str(name) for name in body]

    # -- outcome groups --------------------------------------------------------------------------

    def root_outcome_group(self) -> wire.WireGroup:
        """GET ``{ctx}/root_outcome_group`` (Canvas redirects to the root group)."""
        body = self._call("GET", self._ctx("root_outcome_group"), operation="root group")
        return wire.WireGroup.model_validate(body)

    def list_outcome_groups(self) -> Iterator[wire.WireGroup]:
        """GET ``{ctx}/outcome_groups``: every active group of the context, all pages."""
        for item in self._items(self._ctx("outcome_groups"), operation="list groups"):
            yield wire.WireGroup.model_validate(item)

    def list_outcome_links(self) -> Iterator[wire.WireOutcomeLink]:
        """GET ``{ctx}/outcome_group_links?outcome_style=full``: every link, all pages."""
        params = [("outcome_style", "full")]
        for item in self._items(
            self._ctx("outcome_group_links"), operation="list links", params=params
        ):
            yield wire.WireOutcomeLink.model_validate(item)

    def create_subgroup(self, parent_id: int, group: wire.GroupWrite) -> wire.WireGroup:
        """POST ``{ctx}/outcome_groups/:id/subgroups`` (not idempotent: look up first)."""
        body = self._call(
            "POST",
            self._ctx(f"outcome_groups/{parent_id}/subgroups"),
            operation="create group",
            json_body=group.payload(),
        )
        return wire.WireGroup.model_validate(body)

    def update_outcome_group(self, group_id: int, group: wire.GroupWrite) -> wire.WireGroup:
        """PUT ``{ctx}/outcome_groups/:id`` (title, description, vendor_guid, parent)."""
        body = self._call(
            "PUT",
            self._ctx(f"outcome_groups/{group_id}"),
            operation="update group",
            json_body=group.payload(),
        )
        return wire.WireGroup.model_validate(body)

    def delete_outcome_group(self, group_id: int) -> None:
        """DELETE ``{ctx}/outcome_groups/:id`` (its subgroups and links go with it)."""
        self._call("DELETE", self._ctx(f"outcome_groups/{group_id}"), operation="delete group")

    # -- outcomes ------------------------------------------------------------------------------

    def create_outcome(self, group_id: int, outcome: wire.OutcomeWrite) -> wire.WireOutcomeLink:
        """POST ``{ctx}/outcome_groups/:id/outcomes``: create an outcome and link it here.

        Not idempotent: Canvas never de-duplicates by vendor_guid on this route.
        """
        body = self._call(
            "POST",
            self._ctx(f"outcome_groups/{group_id}/outcomes"),
            operation="create outcome",
            json_body=outcome.payload(),
        )
        return wire.WireOutcomeLink.model_validate(body)

    def link_outcome(
        self, group_id: int, outcome_id: int, *, move_from: int | None = None
    ) -> wire.WireOutcomeLink:
        """PUT ``{ctx}/outcome_groups/:id/outcomes/:outcome_id`` (``move_from`` moves a link)."""
        params = {"move_from": move_from} if move_from is not None else None
        body = self._call(
            "PUT",
            self._ctx(f"outcome_groups/{group_id}/outcomes/{outcome_id}"),
            operation="link outcome",
            params=params,
        )
        return wire.WireOutcomeLink.model_validate(body)

    def unlink_outcome(self, group_id: int, outcome_id: int) -> None:
        """DELETE ``{ctx}/outcome_groups/:id/outcomes/:outcome_id`` (last link deletes it)."""
        self._call(
            "DELETE",
            self._ctx(f"outcome_groups/{group_id}/outcomes/{outcome_id}"),
            operation="unlink outcome",
        )

    def get_outcome(self, outcome_id: int) -> wire.WireOutcome:
        """GET ``/outcomes/:id``."""
        body = self._call("GET", f"outcomes/{outcome_id}", operation="get outcome")
        return wire.WireOutcome.model_validate(body)

    def update_outcome(self, outcome_id: int, outcome: wire.OutcomeWrite) -> wire.WireOutcome:
        """PUT ``/outcomes/:id`` (403 for ratings/method under account-level mastery scales)."""
        body = self._call(
            "PUT", f"outcomes/{outcome_id}", operation="update outcome", json_body=outcome.payload()
        )
        return wire.WireOutcome.model_validate(body)

    # -- outcomes CSV import and export --------------------------------------------------------

    def start_outcome_import(self, csv_text: str) -> wire.WireOutcomeImport:
        """POST ``{ctx}/outcome_imports`` with the CSV as a raw ``text/csv`` UTF-8 body."""
        body = self._call(
            "POST",
            self._ctx("outcome_imports"),
            operation="start import",
            params={"import_type": "instructure_csv", "extension": "csv"},
            data=csv_text.encode("utf-8"),
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )
        return wire.WireOutcomeImport.model_validate(body)

    def get_outcome_import(self, import_id: int) -> wire.WireOutcomeImport:
        """GET ``{ctx}/outcome_imports/:id``: the import's state and row errors."""
        body = self._call(
            "GET", self._ctx(f"outcome_imports/{import_id}"), operation="import status"
        )
        return wire.WireOutcomeImport.model_validate(body)

    def start_outcome_export(self) -> wire.WireReport:
        """POST ``/accounts/:id/reports/outcome_export_csv`` (accounts only)."""
        path = self._account_report_path("export outcomes")
        body = self._call("POST", path, operation="export outcomes", idempotent=False)
        return wire.WireReport.model_validate(body)

    def get_outcome_export(self, report_id: int) -> wire.WireReport:
        """GET ``/accounts/:id/reports/outcome_export_csv/:report_id``."""
        path = self._account_report_path("export status") + f"/{report_id}"
        return wire.WireReport.model_validate(self._call("GET", path, operation="export status"))

    def download_text(self, url: str) -> str:
        """GET a report file; UTF-8 text. The file's URL must be on the Canvas host; its
        redirect to the file store is followed without the token."""
        operation = "download report"
        response = self.transport.request(
            "GET",
            self.transport.follow(url, operation=operation),
            operation=operation,
            headers=self._headers(),
            foreign_redirects=True,
        )
        return response.content.decode("utf-8-sig")

    def _account_report_path(self, operation: str) -> str:
        if self.context.kind != "account":
            raise ConfigurationError(f"canvas {operation}: account reports need account:ID")
        return f"{self.context.path}/reports/outcome_export_csv"

    # -- context mastery scale and calculation method -------------------------------------------

    def get_outcome_proficiency(self) -> wire.WireProficiency | None:
        """GET ``{ctx}/outcome_proficiency``; ``None`` when the context has none (404)."""
        response = self.transport.request(
            "GET",
            self._ctx("outcome_proficiency"),
            operation="get mastery scale",
            headers=self._headers(),
            expected=(404,),
        )
        if response.status_code == 404:
            return None
        return wire.WireProficiency.model_validate(_json(response))

    def set_outcome_proficiency(self, proficiency: wire.ProficiencyWrite) -> wire.WireProficiency:
        """POST ``{ctx}/outcome_proficiency``: create or replace the mastery scale (an upsert)."""
        body = self._call(
            "POST",
            self._ctx("outcome_proficiency"),
            operation="set mastery scale",
            json_body=proficiency.payload(),
            idempotent=True,
        )
        return wire.WireProficiency.model_validate(body)

    def get_calculation_method(self) -> tuple[str | None, int | None]:
        """The context's own calculation method via GraphQL (no REST route exists)."""
        field = "account" if self.context.kind == "account" else "course"
        query = (
            f"query($id: ID!) {{ {field}(id: $id) {{ outcomeCalculationMethod "
            "{ calculationMethod calculationInt } } }"
        )
        data = self._graphql(query, {"id": self.context.id}, operation="get calculation method")
        found = (data.get(field) or {}).get("outcomeCalculationMethod") or {}
        method = found.get("calculationMethod")
        value = found.get("calculationInt")
        return (str(method) if method else None, int(value) if value is not None else None)

    def set_calculation_method(self, method: str, calculation_int: int | None) -> None:
        """GraphQL ``createOutcomeCalculationMethod`` (an upsert per context)."""
        query = (
            "mutation($type: String!, $id: ID!, $method: String!, $int: Int) { "
            "createOutcomeCalculationMethod(input: {contextType: $type, contextId: $id, "
            "calculationMethod: $method, calculationInt: $int}) { "
            "outcomeCalculationMethod { _id } errors { attribute message } } }"
        )
        variables = {
            "type": self.context.graphql_type,
            "id": self.context.id,
            "method": method,
            "int": calculation_int,
        }
        data = self._graphql(query, variables, operation="set calculation method")
        errors = (data.get("createOutcomeCalculationMethod") or {}).get("errors") or []
        if errors:
            raise FatalRemoteError(
                "; ".join(str(e.get("message")) for e in errors),
                adapter="canvas",
                operation="set calculation method",
            )

    def _graphql(self, query: str, variables: dict[str, Any], *, operation: str) -> dict[str, Any]:
        """POST ``/api/graphql``; GraphQL errors become a :class:`FatalRemoteError`."""
        body = self._call(
            "POST",
            "/api/graphql",
            operation=operation,
            json_body={"query": query, "variables": variables},
            idempotent=True,
        )
        if not isinstance(body, dict):
            raise _shape_error(operation, "a JSON object")
        if body.get("errors"):
            messages = "; ".join(str(e.get("message", e)) for e in body["errors"])
            raise FatalRemoteError(messages, adapter="canvas", operation=operation)
        data = body.get("data") or {}
        return data if isinstance(data, dict) else {}

    # -- results, rollups, users ---------------------------------------------------------------

    def outcome_result_pages(
        self, *, user_ids: Sequence[str] = (), outcome_ids: Sequence[int] = ()
    ) -> Iterator[wire.WireOutcomeResultsPage]:
        """GET ``/courses/:id/outcome_results`` with users, outcomes and alignments, all pages."""
        path = self._course("outcome_results", "results")
        params: list[tuple[str, Any]] = [
            ("include[]", "users"),
            ("include[]", "outcomes"),
            ("include[]", "alignments"),
        ]
        params += [("user_ids[]", user) for user in user_ids]
        params += [("outcome_ids[]", outcome) for outcome in outcome_ids]
        for page in self._pages(path, operation="results", params=params):
            yield wire.WireOutcomeResultsPage.model_validate(page)

    def outcome_rollup_pages(
        self, *, user_ids: Sequence[str] = (), outcome_ids: Sequence[int] = ()
    ) -> Iterator[wire.WireRollupsPage]:
        """GET ``/courses/:id/outcome_rollups?sort_by=student``, all pages."""
        path = self._course("outcome_rollups", "rollups")
        params: list[tuple[str, Any]] = [("sort_by", "student")]
        params += [("user_ids[]", user) for user in user_ids]
        params += [("outcome_ids[]", outcome) for outcome in outcome_ids]
        for page in self._pages(path, operation="rollups", params=params):
            yield wire.WireRollupsPage.model_validate(page)

    def list_course_users(self) -> Iterator[wire.WireUser]:
        """GET ``/courses/:id/users?enrollment_type[]=student&include[]=email``, all pages."""
        path = self._course("users", "users")
        params = [("enrollment_type[]", "student"), ("include[]", "email")]
        for item in self._items(path, operation="users", params=params):
            yield wire.WireUser.model_validate(item)

    # -- the rubric write-back path ------------------------------------------------------------

    def find_assignments(self, search_term: str) -> Iterator[wire.WireAssignment]:
        """GET ``/courses/:id/assignments?search_term=``, all pages."""
        path = self._course("assignments", "find assignment")
        for item in self._items(
            path, operation="find assignment", params=[("search_term", search_term)]
        ):
            yield wire.WireAssignment.model_validate(item)

    def create_assignment(self, assignment: wire.AssignmentWrite) -> wire.WireAssignment:
        """POST ``/courses/:id/assignments`` (not idempotent: look up by name first)."""
        body = self._call(
            "POST",
            self._course("assignments", "create assignment"),
            operation="create assignment",
            json_body={"assignment": assignment.payload()},
        )
        return wire.WireAssignment.model_validate(body)

    def create_rubric(
        self, rubric: wire.RubricWrite, association: wire.RubricAssociationWrite
    ) -> wire.WireRubricCreated:
        """POST ``/courses/:id/rubrics`` with its association to the assignment."""
        body = self._call(
            "POST",
            self._course("rubrics", "create rubric"),
            operation="create rubric",
            json_body={
                "rubric": rubric.payload(),
                "rubric_association": association.payload(),
            },
        )
        return wire.WireRubricCreated.model_validate(body)

    def list_submissions(self, assignment_id: int) -> Iterator[wire.WireSubmission]:
        """GET ``/courses/:id/assignments/:id/submissions?include[]=rubric_assessment``."""
        path = self._course(f"assignments/{assignment_id}/submissions", "submissions")
        for item in self._items(
            path, operation="submissions", params=[("include[]", "rubric_assessment")]
        ):
            yield wire.WireSubmission.model_validate(item)

    def grade_with_rubric(
        self, assignment_id: int, user_id: str, points: Mapping[str, float]
    ) -> wire.WireSubmission:
        """PUT ``/courses/:id/assignments/:id/submissions/:user_id`` with ``rubric_assessment``.

        ``points`` maps criterion ids to points; the whole assessment is replaced, so send
        every criterion the learner should keep. A PUT: repeating it changes nothing.
        """
        body = self._call(
            "PUT",
            self._course(f"assignments/{assignment_id}/submissions/{user_id}", "grade"),
            operation="grade",
            json_body={
                "rubric_assessment": {
                    criterion: {"points": value} for criterion, value in sorted(points.items())
                }
            },
        )
        return wire.WireSubmission.model_validate(body)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise RemoteError(
            "Canvas answered with a body that is not JSON",
            adapter="canvas",
            operation="read response",
            status=response.status_code,
        ) from None


def _shape_error(operation: str, expected: str) -> RemoteError:
    return RemoteError(
        f"Canvas answered with something other than {expected}",
        adapter="canvas",
        operation=operation,
    )
