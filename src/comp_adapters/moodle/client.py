"""HTTP client for Moodle's REST web services (``POST /webservice/rest/server.php``).

Everything Moodle-protocol lives here and nothing else does:

* parameters are form-encoded in PHP bracket syntax (``competency[shortname]=X``,
  ``filters[0][column]=idnumber``); booleans are ``1``/``0``; a ``None`` field is left
  out, never sent empty (form encoding cannot express NULL);
* every request asks for JSON (``moodlewsrestformat=json``, the default is XML); calls
  whose answers are compared with what we want to write ask for raw text
  (``moodlewssettingraw=1``), so descriptions and names come back exactly as stored.
  Calls that answer evidence records do NOT: in raw mode Moodle 5.0 fails them with
  ``invalidresponse`` once a rating exists, after doing the write (recordings 44, 46);
  :attr:`Call.raw` says which;
* Moodle answers errors with HTTP 200 and ``{"exception", "errorcode", "message"}``;
  with web services or the REST protocol off it answers HTTP 403 with an empty body
  (Moodle 5.0, recording 50; older sites HTTP 200 and an empty body); a URL that is not
  the site root gets the web server's 404 page. All of these become one-line errors of
  :mod:`comp_adapters.errors` here;
* the token travels in the POST body (never in the URL), is registered with the
  transport's :class:`~comp_adapters.http.Redactor`, and appears in no log line, error,
  plan or ``repr``;
* several calls go out in one HTTP request through
  ``tool_mobile_call_external_functions`` when the token's service offers it (detected
  with ``core_webservice_get_site_info``), else one request per call. That function runs
  the calls in order and stops at the first error (it is not transactional; recording 49
  has one answer for two calls), and reports a failed call's error as a JSON *string*
  holding ``message`` and ``errorcode`` (recording 48), so
  :meth:`MoodleClient.run_many` returns the answers of the calls that ran and the error
  that stopped it, with Moodle's error code.

Each remote function has one builder in :class:`Calls` (its docstring names the
function); :meth:`MoodleClient.run` sends one, :meth:`MoodleClient.run_many` several.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import requests
from pydantic import SecretStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
)
from comp_adapters.http import (
    DEFAULT_TIMEOUT,
    HttpTransport,
    Redactor,
    RetryPolicy,
    make_session,
    redact_url,
)
from comp_adapters.moodle.wire import (
    BATCH_FUNCTION,
    BatchAnswer,
    CompetencyCreate,
    CompetencyUpdate,
    ContextRef,
    CourseCompetencyEntry,
    FrameworkCreate,
    FrameworkUpdate,
    MoodleException,
    PlanCompetency,
    RelatedSection,
    ScaleValue,
    SiteInfo,
    UserCompetencySummary,
    UserCompetencySummaryInCourse,
    UserField,
    WireCompetency,
    WireEvidence,
    WireFramework,
    WirePlan,
    WireUser,
)

log = logging.getLogger("comp_adapters.moodle")

ENDPOINT = "webservice/rest/server.php"
ADAPTER = "moodle"
DEFAULT_BATCH_SIZE = 50
"""Calls per ``tool_mobile_call_external_functions`` request: 3 form fields each, far
below PHP's ``max_input_vars`` (Moodle wants >= 5000), and short enough to stay well
inside ``max_execution_time``."""

T = TypeVar("T")


# -- form encoding -----------------------------------------------------------------------


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested parameters into PHP bracket form fields, in order.

    ``{"competency": {"id": 5}, "filters": [{"column": "idnumber", "value": "X"}]}`` gives
    ``competency[id]=5``, ``filters[0][column]=idnumber``, ``filters[0][value]=X``.
    Booleans become ``1``/``0``; ``None`` values are left out (Moodle then applies the
    default or keeps the stored value). An empty list or structure cannot be expressed in
    form encoding (Moodle would read it as missing), so it is refused.
    """
    fields: list[tuple[str, str]] = []

    def walk(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            if not value:
                raise ValueError(f"cannot send an empty structure for {name!r}")
            for key, item in value.items():
                walk(f"{name}[{key}]", item)
        elif isinstance(value, list | tuple):
            if not value:
                raise ValueError(f"cannot send an empty list for {name!r}")
            for index, item in enumerate(value):
                walk(f"{name}[{index}]", item)
        elif isinstance(value, bool):
            fields.append((name, "1" if value else "0"))
        elif isinstance(value, int | str):
            fields.append((name, str(value)))
        else:
            raise TypeError(f"cannot form-encode {type(value).__name__} for {name!r}")

    for key, value in params.items():
        walk(key, value)
    return fields


def _json_ready(value: Any) -> Any:
    """Arguments for a batched call: ``None`` left out, booleans as 1/0 (as in the form)."""
    if isinstance(value, Mapping):
        return {k: _json_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bool):
        return int(value)
    return value


# -- errors ------------------------------------------------------------------------------

_ERROR_CLASSES: Mapping[str, type[FatalRemoteError]] = {
    "invalidtoken": AuthenticationError,
    "invalidlogin": AuthenticationError,
    "accessexception": PermissionDeniedError,
    "nopermissions": PermissionDeniedError,
    "restrictedcontextexception": PermissionDeniedError,
    "servicenotavailable": PermissionDeniedError,
    "invalidrecord": NotFoundError,
    "invalidrecordunknown": NotFoundError,
}

_HINTS: Mapping[str, str] = {
    "invalidtoken": "check the token (COMP_ADAPTERS_MOODLE_TOKEN)",
    "accessexception": (
        "the token's service may lack this function, or the token expired, is restricted "
        "to other IP addresses, or belongs to a suspended user"
    ),
    "competenciesarenotenabled": "enable competencies (Site administration > Advanced features)",
}


_DEFAULT_MESSAGES: Mapping[str, str] = {
    "accessexception": "Access control exception",
}
"""Messages for error payloads that carry only a code (a batched call outside the service
answers ``{"errorcode": "accessexception", "module": "webservice"}``,
``tool_mobile\\external::call_external_functions``)."""


def error_from_payload(
    payload: Mapping[str, Any],
    *,
    operation: str,
    url: str | None,
    status: int | None = 200,
    redactor: Redactor | None = None,
) -> RemoteError:
    """The error-tree exception for a Moodle error answer: a top-level error
    (``exception``, ``errorcode``, ``message``) or a batched call's decoded ``exception``
    string (``message``, ``errorcode``, ``link``, ``moreinfourl``; recording 48)."""
    parsed = MoodleException.model_validate(payload)
    code = parsed.errorcode or parsed.exception or "unknown"
    message = parsed.message or _DEFAULT_MESSAGES.get(code) or parsed.exception or code
    hint = _HINTS.get(code)
    if hint:
        message = f"{message} ({hint})"
    if redactor is not None:
        message = redactor(message)
    error_class: type[FatalRemoteError] = _ERROR_CLASSES.get(code, FatalRemoteError)
    if code == "invalidpersistenterror" and "already in use" in message.lower():
        error_class = ConflictError
    return error_class(
        message, adapter=ADAPTER, operation=operation, url=url, status=status, code=code
    )


def describe_moodle_error(response: requests.Response) -> tuple[str, str | None]:
    """(message, code) of a non-2xx answer, for the transport's error mapping: one line,
    never the web server's HTML error page."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if not text or text.startswith("<"):
            return f"the web server answered {response.reason or 'an error'}, not Moodle", None
        return " ".join(text.split())[:200], None
    if isinstance(body, dict):
        code = body.get("errorcode") or body.get("exception")
        message = body.get("message") or body.get("error") or str(body)[:300]
        return str(message), str(code) if code is not None else None
    return str(body)[:300], None


# -- calls -------------------------------------------------------------------------------


def _as_bool(value: Any) -> bool:
    return bool(value)


def _parser(model: Any) -> Callable[[Any], Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    return adapter.validate_python


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One remote function call: its name, its arguments and how to read its answer.

    ``reads`` marks calls that change nothing, so the transport may repeat them after a
    5xx or a read timeout. ``raw`` asks Moodle for text as stored
    (``moodlewssettingraw``): on for what is compared, off for calls that answer
    evidence, which raw mode breaks (recordings 44-47).
    """

    function: str
    args: Mapping[str, Any]
    parse: Callable[[Any], T]
    reads: bool = False
    raw: bool = True

    def __repr__(self) -> str:
        return f"Call({self.function})"


class Calls:
    """Builders of every remote function the adapter uses (one per function, named alike)."""

    @staticmethod
    def get_site_info() -> Call[SiteInfo]:
        """``core_webservice_get_site_info``: the site, the user and the allowed functions."""
        return Call("core_webservice_get_site_info", {}, SiteInfo.model_validate, reads=True)

    @staticmethod
    def list_competency_frameworks(
        *, query: str = "", context: ContextRef | None = None, includes: str = "children"
    ) -> Call[list[WireFramework]]:
        """``core_competency_list_competency_frameworks``: frameworks in a context and below.

        ``query`` is a case-insensitive LIKE on shortname OR idnumber: filter exactly after.
        """
        return Call(
            "core_competency_list_competency_frameworks",
            {
                "sort": "shortname",
                "order": "ASC",
                "skip": 0,
                "limit": 0,
                "context": (context or ContextRef()).to_params(),
                "includes": includes,
                "onlyvisible": False,
                "query": query,
            },
            _parser(list[WireFramework]),
            reads=True,
        )

    @staticmethod
    def read_competency_framework(framework_id: int) -> Call[WireFramework]:
        """``core_competency_read_competency_framework``."""
        return Call(
            "core_competency_read_competency_framework",
            {"id": framework_id},
            WireFramework.model_validate,
            reads=True,
        )

    @staticmethod
    def create_competency_framework(framework: FrameworkCreate) -> Call[WireFramework]:
        """``core_competency_create_competency_framework``: returns the new framework."""
        return Call(
            "core_competency_create_competency_framework",
            {"competencyframework": framework.to_params()},
            WireFramework.model_validate,
        )

    @staticmethod
    def update_competency_framework(framework: FrameworkUpdate) -> Call[bool]:
        """``core_competency_update_competency_framework``: returns a bare ``true``."""
        return Call(
            "core_competency_update_competency_framework",
            {"competencyframework": framework.to_params()},
            _as_bool,
        )

    @staticmethod
    def delete_competency_framework(framework_id: int) -> Call[bool]:
        """``core_competency_delete_competency_framework``: ``false`` when it is in use."""
        return Call("core_competency_delete_competency_framework", {"id": framework_id}, _as_bool)

    @staticmethod
    def get_scale_values(scale_id: int) -> Call[list[ScaleValue]]:
        """``core_competency_get_scale_values``: the items of a scale, 1-based ids."""
        return Call(
            "core_competency_get_scale_values",
            {"scaleid": scale_id},
            _parser(list[ScaleValue]),
            reads=True,
        )

    @staticmethod
    def list_competencies(
        filters: Mapping[str, str | int], *, sort: str = "", order: str = ""
    ) -> Call[list[WireCompetency]]:
        """``core_competency_list_competencies``: exact, ANDed filters (at least one)."""
        if not filters:
            raise ValueError("list_competencies needs at least one filter")
        return Call(
            "core_competency_list_competencies",
            {
                "filters": [{"column": k, "value": str(v)} for k, v in filters.items()],
                "sort": sort,
                "order": order,
                "skip": 0,
                "limit": 0,
            },
            _parser(list[WireCompetency]),
            reads=True,
        )

    @staticmethod
    def read_competency(competency_id: int) -> Call[WireCompetency]:
        """``core_competency_read_competency``."""
        return Call(
            "core_competency_read_competency",
            {"id": competency_id},
            WireCompetency.model_validate,
            reads=True,
        )

    @staticmethod
    def create_competency(competency: CompetencyCreate) -> Call[WireCompetency]:
        """``core_competency_create_competency``; resets the parent's rule (Moodle does)."""
        return Call(
            "core_competency_create_competency",
            {"competency": competency.to_params()},
            WireCompetency.model_validate,
        )

    @staticmethod
    def update_competency(competency: CompetencyUpdate) -> Call[bool]:
        """``core_competency_update_competency``: returns a bare ``true``."""
        return Call(
            "core_competency_update_competency", {"competency": competency.to_params()}, _as_bool
        )

    @staticmethod
    def delete_competency(competency_id: int) -> Call[bool]:
        """``core_competency_delete_competency``: deletes the subtree; ``false`` if in use."""
        return Call("core_competency_delete_competency", {"id": competency_id}, _as_bool)

    @staticmethod
    def set_parent_competency(competency_id: int, parent_id: int) -> Call[bool]:
        """``core_competency_set_parent_competency`` (0: top level); resets both parents' rules."""
        return Call(
            "core_competency_set_parent_competency",
            {"competencyid": competency_id, "parentid": parent_id},
            _as_bool,
        )

    @staticmethod
    def add_related_competency(competency_id: int, related_id: int) -> Call[bool]:
        """``core_competency_add_related_competency`` (symmetric; true if it already exists)."""
        return Call(
            "core_competency_add_related_competency",
            {"competencyid": competency_id, "relatedcompetencyid": related_id},
            _as_bool,
        )

    @staticmethod
    def remove_related_competency(competency_id: int, related_id: int) -> Call[bool]:
        """``core_competency_remove_related_competency``."""
        return Call(
            "core_competency_remove_related_competency",
            {"competencyid": competency_id, "relatedcompetencyid": related_id},
            _as_bool,
        )

    @staticmethod
    def related_competencies(competency_id: int) -> Call[RelatedSection]:
        """``tool_lp_data_for_related_competencies_section``: the only way to read relations."""
        return Call(
            "tool_lp_data_for_related_competencies_section",
            {"competencyid": competency_id},
            RelatedSection.model_validate,
            reads=True,
        )

    @staticmethod
    def list_course_competencies(course_id: int) -> Call[list[CourseCompetencyEntry]]:
        """``core_competency_list_course_competencies``: links with their record ids."""
        return Call(
            "core_competency_list_course_competencies",
            {"id": course_id},
            _parser(list[CourseCompetencyEntry]),
            reads=True,
        )

    @staticmethod
    def add_competency_to_course(course_id: int, competency_id: int) -> Call[bool]:
        """``core_competency_add_competency_to_course``: ``false`` if already linked."""
        return Call(
            "core_competency_add_competency_to_course",
            {"courseid": course_id, "competencyid": competency_id},
            _as_bool,
        )

    @staticmethod
    def remove_competency_from_course(course_id: int, competency_id: int) -> Call[bool]:
        """``core_competency_remove_competency_from_course``."""
        return Call(
            "core_competency_remove_competency_from_course",
            {"courseid": course_id, "competencyid": competency_id},
            _as_bool,
        )

    @staticmethod
    def set_course_competency_ruleoutcome(link_id: int, outcome: int) -> Call[bool]:
        """``core_competency_set_course_competency_ruleoutcome``: takes the LINK record id."""
        return Call(
            "core_competency_set_course_competency_ruleoutcome",
            {"coursecompetencyid": link_id, "ruleoutcome": outcome},
            _as_bool,
        )

    @staticmethod
    def get_users_by_field(field: UserField, values: Sequence[str]) -> Call[list[WireUser]]:
        """``core_user_get_users_by_field``: the users found (unknown values are left out)."""
        return Call(
            "core_user_get_users_by_field",
            {"field": field, "values": list(values)},
            _parser(list[WireUser]),
            reads=True,
        )

    @staticmethod
    def grade_competency(
        user_id: int, competency_id: int, grade: int, note: str | None
    ) -> Call[WireEvidence]:
        """``core_competency_grade_competency``: rates the site-level user competency.

        Not raw: the answer is an evidence record, which raw mode fails (recording 44).
        """
        return Call(
            "core_competency_grade_competency",
            {"userid": user_id, "competencyid": competency_id, "grade": grade, "note": note},
            WireEvidence.model_validate,
            raw=False,
        )

    @staticmethod
    def grade_competency_in_course(
        course_id: int, user_id: int, competency_id: int, grade: int, note: str | None
    ) -> Call[WireEvidence]:
        """``core_competency_grade_competency_in_course``: rates the course-level record."""
        return Call(
            "core_competency_grade_competency_in_course",
            {
                "courseid": course_id,
                "userid": user_id,
                "competencyid": competency_id,
                "grade": grade,
                "note": note,
            },
            WireEvidence.model_validate,
            raw=False,
        )

    @staticmethod
    def grade_competency_in_plan(
        plan_id: int, competency_id: int, grade: int, note: str | None
    ) -> Call[WireEvidence]:
        """``core_competency_grade_competency_in_plan``: the competency must be in the plan."""
        return Call(
            "core_competency_grade_competency_in_plan",
            {"planid": plan_id, "competencyid": competency_id, "grade": grade, "note": note},
            WireEvidence.model_validate,
            raw=False,
        )

    @staticmethod
    def user_competency_summary(user_id: int, competency_id: int) -> Call[UserCompetencySummary]:
        """``tool_lp_data_for_user_competency_summary``: rating and evidence of one pair.

        WRITES: it creates an empty user_competency record when none exists. Not raw: raw
        mode fails it with ``invalidresponse`` once there is evidence (recordings 46, 47).
        """
        return Call(
            "tool_lp_data_for_user_competency_summary",
            {"userid": user_id, "competencyid": competency_id},
            UserCompetencySummary.model_validate,
            reads=True,
            raw=False,
        )

    @staticmethod
    def user_competency_summary_in_course(
        user_id: int, competency_id: int, course_id: int
    ) -> Call[UserCompetencySummaryInCourse]:
        """``tool_lp_data_for_user_competency_summary_in_course``: the course-level rating.

        WRITES: it creates an empty course rating record when none exists. Not raw (its
        answer holds evidence, like the site-level summary's).
        """
        return Call(
            "tool_lp_data_for_user_competency_summary_in_course",
            {"userid": user_id, "competencyid": competency_id, "courseid": course_id},
            UserCompetencySummaryInCourse.model_validate,
            reads=True,
            raw=False,
        )

    @staticmethod
    def list_user_plans(user_id: int) -> Call[list[WirePlan]]:
        """``core_competency_list_user_plans``."""
        return Call(
            "core_competency_list_user_plans",
            {"userid": user_id},
            _parser(list[WirePlan]),
            reads=True,
        )

    @staticmethod
    def list_plan_competencies(plan_id: int) -> Call[list[PlanCompetency]]:
        """``core_competency_list_plan_competencies``: ratings without creating records."""
        return Call(
            "core_competency_list_plan_competencies",
            {"id": plan_id},
            _parser(list[PlanCompetency]),
            reads=True,
        )


@dataclass(slots=True)
class BatchResult:
    """Answers of the calls that ran, in order, and the error that stopped the rest."""

    values: list[Any] = field(default_factory=list)
    error: RemoteError | None = None

    def raise_for_error(self) -> list[Any]:
        """The values if every call ran, else the error."""
        if self.error is not None:
            raise self.error
        return self.values


class MoodleClient:
    """A Moodle site reached with one web-service token.

    ``batch``: ``None`` detects ``tool_mobile_call_external_functions`` in the token's
    service (from the site info); ``True`` requires it; ``False`` sends one request per call.
    Inject ``session`` (and ``sleep``) in tests. The site info is read once per client.
    """

    def __init__(
        self,
        url: str,
        token: str | SecretStr,
        *,
        session: requests.Session | None = None,
        allow_http: bool = False,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch: bool | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value().strip():
            raise ConfigurationError("moodle: the web-service token is empty")
        if batch_size < 1:
            raise ConfigurationError("moodle: batch_size must be at least 1")
        self._token = secret
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        self.transport = HttpTransport(
            adapter=ADAPTER,
            base_url=url,
            session=session if session is not None else make_session(),
            timeout=timeout,
            retry=retry or RetryPolicy(),
            allow_http=allow_http,
            redactor=Redactor([secret.get_secret_value()]),
            describe_error=describe_moodle_error,
            **extra,
        )
        self._batch = batch
        self.batch_size = batch_size
        self._site_info: SiteInfo | None = None

    def __repr__(self) -> str:
        return f"MoodleClient(url={redact_url(self.transport.base_url)!r})"

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.transport.requests_sent

    # -- site ---------------------------------------------------------------------------

    def site_info(self) -> SiteInfo:
        """``core_webservice_get_site_info``, read once per client."""
        if self._site_info is None:
            self._site_info = self.run(Calls.get_site_info())
        return self._site_info

    @property
    def batching(self) -> bool:
        """Whether calls are batched through ``tool_mobile_call_external_functions``."""
        if self._batch is None:
            try:
                self._batch = BATCH_FUNCTION in self.site_info().function_names
            except PermissionDeniedError:
                self._batch = False  # site info itself is not in the service
        elif self._batch and BATCH_FUNCTION not in self.site_info().function_names:
            raise ConfigurationError(
                f"moodle: batching was requested but the token's service does not offer "
                f"{BATCH_FUNCTION}; add it to the service or turn batching off"
            )
        return self._batch

    def missing_functions(self, names: Sequence[str]) -> list[str]:
        """The functions of ``names`` the token's service does not offer (sorted)."""
        offered = self.site_info().function_names
        return sorted(set(names) - offered)

    # -- sending ------------------------------------------------------------------------

    def run(self, call: Call[T]) -> T:
        """Send one call and return its parsed answer; Moodle errors are raised."""
        answer = self._post(call.function, dict(call.args), reads=call.reads, raw=call.raw)
        return self._parse(call, answer)

    def run_many(self, calls: Sequence[Call[Any]]) -> BatchResult:
        """Send several calls in order, batched when possible; stop at the first error.

        Returns the parsed answers of the calls that ran and the error (if any) that
        stopped the rest. Calls before the error took effect: nothing is rolled back.
        """
        result = BatchResult()
        if not calls:
            return result
        if not self.batching:
            for call in calls:
                try:
                    result.values.append(self.run(call))
                except RemoteError as exc:
                    result.error = exc
                    break
            return result
        for start in range(0, len(calls), self.batch_size):
            chunk = calls[start : start + self.batch_size]
            try:
                values = self._run_chunk(chunk)
            except RemoteError as exc:
                result.error = exc
                return result
            result.values.extend(values.values)
            if values.error is not None:
                result.error = values.error
                return result
        return result

    def _run_chunk(self, chunk: Sequence[Call[Any]]) -> BatchResult:
        requests_ = [
            {
                "function": call.function,
                "arguments": json.dumps(_json_ready(dict(call.args)), separators=(",", ":")),
                "settingraw": call.raw,
            }
            for call in chunk
        ]
        raw = self._post(
            BATCH_FUNCTION,
            {"requests": requests_},
            reads=all(call.reads for call in chunk),
            raw=True,
        )
        answer = self._validate(BatchAnswer.model_validate, raw, BATCH_FUNCTION)
        url = redact_url(self.transport.url(ENDPOINT))
        result = BatchResult()
        for call, response in zip(chunk, answer.responses, strict=False):
            if response.error:
                payload = _loads(response.exception)
                if not isinstance(payload, dict):
                    payload = {"message": " ".join(str(payload).split())[:300]}
                result.error = error_from_payload(
                    payload, operation=call.function, url=url, redactor=self.transport.redactor
                )
                return result
            result.values.append(self._parse(call, _loads(response.data)))
        if len(answer.responses) < len(chunk):
            missing = chunk[len(answer.responses)].function
            result.error = FatalRemoteError(
                f"the batch stopped before {missing} without reporting an error",
                adapter=ADAPTER,
                operation=BATCH_FUNCTION,
                url=url,
                status=200,
            )
        return result

    def _parse(self, call: Call[T], raw: Any) -> T:
        return self._validate(call.parse, raw, call.function)

    def _validate(self, parse: Callable[[Any], T], raw: Any, operation: str) -> T:
        try:
            return parse(raw)
        except (PydanticValidationError, TypeError, ValueError) as exc:
            raise FatalRemoteError(
                f"unexpected answer shape: {str(exc).splitlines()[0]}",
                adapter=ADAPTER,
                operation=operation,
                url=redact_url(self.transport.url(ENDPOINT)),
                status=200,
            ) from None

    def _post(self, function: str, args: Mapping[str, Any], *, reads: bool, raw: bool) -> Any:
        fields = [
            ("wstoken", self._token.get_secret_value()),
            ("wsfunction", function),
            ("moodlewsrestformat", "json"),
            *([("moodlewssettingraw", "1")] if raw else []),
            *encode_form(args),
        ]
        log.debug("moodle %s (%d fields)", function, len(fields))
        response = self.transport.request(
            "POST", ENDPOINT, operation=function, idempotent=reads, data=fields, expected=(403, 404)
        )
        url = redact_url(response.url or self.transport.url(ENDPOINT))
        text = response.text
        if response.status_code == 404:
            raise NotFoundError(
                "no Moodle web service at this URL: give the site root (the address of "
                "Moodle's front page)",
                adapter=ADAPTER,
                operation=function,
                url=url,
                status=404,
                code="nowebservice",
            )
        if not text.strip():
            # webservice/rest/server.php: "HTTP/1.0 403 Forbidden" and die when web
            # services or REST are off (Moodle 5.0, recording 50); older sites answer 200.
            raise FatalRemoteError(
                "web services or the REST protocol are disabled on this site: enable them "
                "(Site administration > Advanced features > Enable web services; Server > "
                "Web services > Manage protocols > REST)",
                adapter=ADAPTER,
                operation=function,
                url=url,
                status=response.status_code,
                code="webservicesdisabled",
            )
        if response.status_code == 403:
            raise self.transport.error_for(response, operation=function)
        try:
            body = json.loads(text)
        except ValueError:
            raise FatalRemoteError(
                "the answer is not JSON (is the URL the Moodle site root?)",
                adapter=ADAPTER,
                operation=function,
                url=url,
                status=response.status_code,
            ) from None
        if isinstance(body, dict) and "exception" in body:
            raise error_from_payload(
                body,
                operation=function,
                url=url,
                status=response.status_code,
                redactor=self.transport.redactor,
            )
        if isinstance(body, dict) and "errorcode" in body and "error" in body:
            raise error_from_payload(
                {"exception": "error", "errorcode": body["errorcode"], "message": body["error"]},
                operation=function,
                url=url,
                status=response.status_code,
                redactor=self.transport.redactor,
            )
        return body


def _loads(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
