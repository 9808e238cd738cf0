"""A stateful fake Moodle behind ``responses``: competencies, scales, courses, ratings.

It behaves the way the recorded Moodle 5.0 answers and the reference say, and enforces it:

* every answer is HTTP 200; errors are ``{"exception", "errorcode", "message"}``; an
  empty body when web services are off; an unknown token or a function outside the
  service are refused like Moodle does;
* parameters are validated like ``external_api::validate_parameters``: unknown keys are
  rejected ("Unexpected keys"), required keys must be present, booleans are 0/1, lists
  must be arrays, form encoding cannot carry NULL;
* framework idnumbers are unique site-wide, competency idnumbers per framework;
* creating a child resets its parent's rule; moving or deleting a child resets the old
  parent's rule; an all-children rule needs a NULL config (an empty string is refused),
  a config without a rule type is refused, points configs must name existing direct
  children and are validated like ``competency_rule_points::validate_config`` (PHP's
  ``validate_param``: ``"required": false`` fails, ``"2"`` passes as points);
* text comes back raw only with ``moodlewssettingraw=1`` (``settingraw`` in a batch);
  otherwise descriptions are formatted to HTML and reported as format 1, as Moodle's
  ``external_format_text`` does, so a client that diffs non-raw text sees changes;
* deletes answer ``false`` while something is in use (ratings, course links, plans);
  a used scale cannot change; a hidden framework cannot be linked to a course;
* ratings: 1-based grades, proficiency from the scale configuration, rules cascade to
  the parent (outcome "complete" gives the DEFAULT item), summaries create empty user
  competency records (as Moodle's tool_lp summaries do);
* ``tool_mobile_call_external_functions`` runs JSON-encoded calls in order and stops at
  the first error (not transactional).

Counters (``http_requests``, ``calls``, ``writes``) feed the tests and the benchmark.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import responses

from tests.moodle.fake_cleaning import (
    clean_email,
    clean_html_param,
    clean_text_param,
    clean_username,
    fix_utf8,
    format_string,
)

URL = "https://moodle.test"
ENDPOINT = f"{URL}/webservice/rest/server.php"
TOKEN = "0123456789abcdef0123456789abcdef"
RULE_ALL = "core_competency\\competency_rule_all"
RULE_POINTS = "core_competency\\competency_rule_points"
BATCH = "tool_mobile_call_external_functions"
TAXONOMY_TERMS = {
    "behaviour",
    "competency",
    "concept",
    "domain",
    "indicator",
    "level",
    "outcome",
    "practice",
    "proficiency",
    "skill",
    "value",
}
START_TIME = 1_795_905_284
DESCRIPTIONS = {
    "evidence_manualoverride": "The competency rating was manually set.",
    "evidence_manualoverrideincourse": "The competency rating was manually set in the course.",
    "evidence_manualoverrideinplan": "The competency rating was manually set in the plan.",
    "evidence_competencyrule": "The rule of the competency was met.",
}


class MoodleError(Exception):
    """An error Moodle reports in its JSON error shape (Moodle 5.0's namespaced classes,
    recordings 35, 36, 44); ``debuginfo`` is only answered with site debugging on."""

    def __init__(self, exception: str, errorcode: str, message: str, debuginfo: str = "") -> None:
        super().__init__(message)
        self.exception, self.errorcode, self.message = exception, errorcode, message
        self.debuginfo = debuginfo

    def payload(self, *, debugging: bool) -> dict[str, str]:
        """The top-level error answer (``{"exception", "errorcode", "message"}``)."""
        found = {"exception": self.exception, "errorcode": self.errorcode, "message": self.message}
        if debugging and self.debuginfo:
            found["debuginfo"] = self.debuginfo
        return found

    def batch_info(self, *, debugging: bool) -> dict[str, str]:
        """A batched call's error (``get_exception_info``: no class; recording 48)."""
        found = {
            "message": self.message,
            "errorcode": self.errorcode,
            "link": f"{URL}/",
            "moreinfourl": f"https://docs.moodle.org/500/en/error/moodle/{self.errorcode}",
        }
        if debugging and self.debuginfo:
            found["debuginfo"] = self.debuginfo
        return found


def invalid(debuginfo: str = "") -> MoodleError:
    """``invalid_parameter_exception``: the reason is only in debuginfo (recording 36)."""
    return MoodleError(
        "core\\exception\\invalid_parameter_exception",
        "invalidparameter",
        "Invalid parameter value detected",
        debuginfo,
    )


def invalid_response(debuginfo: str) -> MoodleError:
    """``invalid_response_exception`` of ``clean_returnvalue`` (recordings 44, 46)."""
    return MoodleError(
        "core\\exception\\invalid_response_exception",
        "invalidresponse",
        "Invalid response value detected",
        debuginfo,
    )


def persistent(message: str) -> MoodleError:
    return MoodleError(
        "core\\invalid_persistent_exception", "invalidpersistenterror", f"Error: {message}"
    )


def missing_record() -> MoodleError:
    return MoodleError(
        "dml_missing_record_exception",
        "invalidrecordunknown",
        "Can't find data record in database.",
    )


def coding(message: str) -> MoodleError:
    return MoodleError(
        "core\\exception\\coding_exception", "codingerror", f"Coding error detected: {message}"
    )


# -- parameter specs ---------------------------------------------------------------------

_MISSING = object()


class P:
    """A scalar parameter: type, required or default, NULL allowed."""

    def __init__(
        self, kind: str, default: Any = _MISSING, *, required: bool = False, null: bool = False
    ) -> None:
        self.kind, self.default, self.required, self.null = kind, default, required, null


def req(kind: str) -> P:
    return P(kind, required=True)


def opt(kind: str, default: Any = _MISSING, *, null: bool = False) -> P:
    return P(kind, default, null=null)


class Many:
    """A multiple structure (list) of ``item``."""

    def __init__(self, item: Any, *, required: bool = True) -> None:
        self.item, self.required = item, required


class One:
    """A single structure of named fields."""

    def __init__(self, fields: dict[str, Any], *, required: bool = True) -> None:
        self.fields, self.required = fields, required


def _scalar(spec: P, value: Any, name: str) -> Any:
    if value is None:
        if spec.null:
            return None
        raise invalid(f"{name} => Null is not allowed")
    if spec.kind == "int":
        if isinstance(value, bool):
            raise invalid(f"{name} => Invalid integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        raise invalid(f"{name} => Invalid integer")
    if spec.kind == "bool":
        if value in (True, False, 0, 1, "0", "1"):
            return bool(int(value))
        raise invalid(f"{name} => Invalid boolean")
    if isinstance(value, dict | list):
        raise invalid(f"{name} => Scalar type expected")
    text = value if isinstance(value, str) else str(value)
    cleaning = _CLEANING.get(spec.kind)
    if cleaning is not None and cleaning(text) != text:
        # validate_param: a value its type's cleaning changes is refused (36, 37, 39).
        raise invalid(f'Invalid external api parameter: the value is "{text[:40]}"')
    return text


_CLEANING: dict[str, Callable[[str], str]] = {
    "text": clean_text_param,  # PARAM_TEXT (short names; 39 refused, 40 accepted)
    "notags": clean_text_param,  # PARAM_NOTAGS (grading notes)
    "cleanhtml": clean_html_param,  # PARAM_CLEANHTML (descriptions; 36, 37 refused, 38 kept)
    "raw": fix_utf8,  # PARAM_RAW
}


def validate(spec: Any, value: Any, name: str = "") -> Any:
    if isinstance(spec, P):
        return _scalar(spec, value, name)
    if isinstance(spec, Many):
        if isinstance(value, dict) and all(k.isdigit() for k in value):
            value = [value[k] for k in sorted(value, key=int)]
        if not isinstance(value, list):
            raise invalid(f"{name} => Only arrays accepted.")
        return [validate(spec.item, item, f"{name}[{i}]") for i, item in enumerate(value)]
    if isinstance(spec, One):
        if not isinstance(value, dict):
            raise invalid(f"{name} => Only arrays accepted.")
        unknown = sorted(set(value) - set(spec.fields))
        if unknown:
            raise invalid(f"Unexpected keys ({', '.join(unknown)}) detected in parameter array.")
        result: dict[str, Any] = {}
        for key, field_spec in spec.fields.items():
            if key in value:
                result[key] = validate(field_spec, value[key], key)
                continue
            required = getattr(field_spec, "required", False)
            if required:
                raise invalid(f"Missing required key in single structure: {key}")
            default = getattr(field_spec, "default", _MISSING)
            if default is not _MISSING:
                result[key] = default
        return result
    raise TypeError(spec)


def parse_php_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP's ``$_POST`` from form fields: ``a[b][0]=x`` becomes nested dicts."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        base, _, rest = name.partition("[")
        parts = [base, *re.findall(r"\[?([^\[\]]*)\]", rest)] if rest else [base]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise invalid()
        node[parts[-1]] = value
    return root


CONTEXT = One(
    {"contextid": opt("int", 0), "contextlevel": opt("text", ""), "instanceid": opt("int", 0)}
)
# Field types follow the persistents (competency/classes/competency_framework.php and
# competency.php): shortname PARAM_TEXT, idnumber PARAM_RAW, description PARAM_CLEANHTML;
# the create/update structures come from core\external\exporter::get_create_structure
# and get_update_structure.
FRAMEWORK_FIELDS = {
    "shortname": req("text"),
    "idnumber": req("raw"),
    "description": opt("cleanhtml", ""),
    "descriptionformat": opt("int", 1),
    "visible": opt("bool", True),
    "scaleid": req("int"),
    "scaleconfiguration": req("raw"),
    "contextid": opt("int", 0),
    "contextlevel": opt("text", ""),
    "instanceid": opt("int", 0),
    "taxonomies": opt("raw", ""),
    "timecreated": opt("int"),
    "timemodified": opt("int"),
    "usermodified": opt("int"),
}
# In an update structure every field is optional and keeps its stored value when left
# out -- except the description format, an external_format_value with a default: left
# out, it is reset to 1 (HTML). Recordings 42 (update without it) and 43 (format 2 -> 1).
FRAMEWORK_UPDATE = {
    "id": req("int"),
    "shortname": opt("text"),
    "idnumber": opt("raw"),
    "description": opt("cleanhtml"),
    "descriptionformat": opt("int", 1),
    "visible": opt("bool"),
    "scaleid": opt("int"),
    "scaleconfiguration": opt("raw"),
    "taxonomies": opt("raw"),
    "timecreated": opt("int"),
    "timemodified": opt("int"),
    "usermodified": opt("int"),
}
COMPETENCY_FIELDS = {
    "shortname": req("text"),
    "idnumber": req("raw"),
    "description": opt("cleanhtml", ""),
    "descriptionformat": opt("int", 1),
    "sortorder": opt("int"),
    "parentid": opt("int", 0),
    "path": opt("raw"),
    "ruleoutcome": opt("int", 0),
    "ruletype": opt("raw", None, null=True),
    "ruleconfig": opt("raw", None, null=True),
    "scaleid": opt("int", None, null=True),
    "scaleconfiguration": opt("raw", None, null=True),
    "competencyframeworkid": opt("int", 0),
    "timecreated": opt("int"),
    "timemodified": opt("int"),
    "usermodified": opt("int"),
}
COMPETENCY_UPDATE = {
    key: (
        req("int")
        if key == "id"
        else opt("int", 1)  # the format's default (42, 43)
        if key == "descriptionformat"
        else opt(spec.kind, null=spec.null)
    )
    for key, spec in {"id": req("int"), **COMPETENCY_FIELDS}.items()
}

WRITE_FUNCTIONS = frozenset(
    {
        "core_competency_create_competency_framework",
        "core_competency_update_competency_framework",
        "core_competency_delete_competency_framework",
        "core_competency_create_competency",
        "core_competency_update_competency",
        "core_competency_delete_competency",
        "core_competency_set_parent_competency",
        "core_competency_add_related_competency",
        "core_competency_remove_related_competency",
        "core_competency_add_competency_to_course",
        "core_competency_remove_competency_from_course",
        "core_competency_set_course_competency_ruleoutcome",
        "core_competency_grade_competency",
        "core_competency_grade_competency_in_course",
        "core_competency_grade_competency_in_plan",
    }
)


class FakeMoodle:
    """The fake site. ``install(rsps)`` routes ``ENDPOINT`` to it."""

    def __init__(
        self,
        *,
        batching: bool = True,
        functions: set[str] | None = None,
        web_services: bool = True,
        scales: dict[int, list[str]] | None = None,
    ) -> None:
        self.batching = batching
        self.idnumber_taken = "This ID number is already in use"  # translated on real sites
        self.admin_email = "admin@example.org"  # the rater (user 2) in evidence answers
        self.extra_scales = dict(scales or {})
        self.web_services = web_services
        self.handlers: dict[str, tuple[One, Callable[[dict[str, Any]], Any]]] = self._handlers()
        names = set(self.handlers) | ({BATCH} if batching else set())
        self.functions = functions if functions is not None else names
        if not batching:
            self.functions.discard(BATCH)
        self.reset()

    def reset(self) -> None:
        """Back to a fresh site (scales 1, 2 and the extra ones, category 1, no users)."""
        self.clock = START_TIME
        self.ids: dict[str, int] = {}
        self.scales: dict[int, list[str]] = {
            1: ["Mostly separate knowing", "Separate and connected", "Mostly connected knowing"],
            2: ["Not yet competent", "Competent"],
            **self.extra_scales,
        }
        self.categories = {1: 3}  # course category id -> its context id
        self.frameworks: dict[int, dict[str, Any]] = {}
        self.competencies: dict[int, dict[str, Any]] = {}
        self.related: set[frozenset[int]] = set()
        self.courses: dict[int, set[int]] = {}  # course id -> enrolled user ids
        self.course_links: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.user_competencies: dict[tuple[int, int], dict[str, Any]] = {}
        self.user_competency_courses: dict[tuple[int, int, int], dict[str, Any]] = {}
        self.plans: dict[int, dict[str, Any]] = {}
        self.evidence: list[dict[str, Any]] = []
        self.evidence_of: dict[int, list[dict[str, Any]]] = {}  # by user competency id
        self._counted: tuple[tuple[int, int], dict[int, int]] = ((-1, -1), {})
        self.http_requests = 0
        self.calls: list[str] = []
        self.bodies: list[list[tuple[str, str]]] = []
        self.created_by_reads = 0
        self.raw = False  # moodlewssettingraw of the call being answered
        self.debugging = False  # site debugging: error answers carry debuginfo

    # -- plumbing ---------------------------------------------------------------------------

    def install(self, rsps: responses.RequestsMock) -> None:
        rsps.add_callback(responses.POST, ENDPOINT, callback=self._callback)

    @property
    def writes(self) -> int:
        return sum(1 for name in self.calls if name in WRITE_FUNCTIONS)

    def _next(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def _now(self) -> int:
        self.clock += 1
        return self.clock

    def _callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.http_requests += 1
        body = request.body or ""
        if isinstance(body, bytes):
            body = body.decode()
        pairs = parse_qsl(body, keep_blank_values=True)
        self.bodies.append(pairs)
        if not self.web_services:
            # webservice/rest/server.php: "HTTP/1.0 403 Forbidden" and an empty body when
            # web services or the REST protocol are off (recording 50).
            return 403, {}, ""
        params = parse_php_form(pairs)
        token = params.pop("wstoken", None)
        function = params.pop("wsfunction", None)
        if params.pop("moodlewsrestformat", "xml") != "json":
            return 200, {}, "<?xml version='1.0'?><RESPONSE/>"
        self.raw = params.pop("moodlewssettingraw", "0") == "1"
        for reserved in (
            "moodlewssettingfilter",
            "moodlewssettingfileurl",
            "moodlewssettinglang",
        ):
            params.pop(reserved, None)
        try:
            self._check_token(token)
            value = self.dispatch(str(function), params)
        except MoodleError as fault:
            value = fault.payload(debugging=self.debugging)
        finally:
            self.raw = False  # calls a test makes directly (dispatch) are not raw
        return 200, {"Content-Type": "application/json"}, json.dumps(value)

    @staticmethod
    def _check_token(token: str | None) -> None:
        if token != TOKEN:
            raise MoodleError(
                "core\\exception\\moodle_exception",
                "invalidtoken",
                "Invalid token - token not found",
            )

    def dispatch(self, function: str, params: Any) -> Any:
        if function not in self.functions:
            raise MoodleError(
                "webservice_access_exception", "accessexception", "Access control exception"
            )
        if function == BATCH:
            self.calls.append(function)
            return self._batch(params)
        spec, handler = self.handlers[function]
        args = validate(spec, params)
        self.calls.append(function)
        value = handler(args)
        if self.raw and _holds_evidence(function, value):
            # Raw mode cannot return an evidence record (clean_returnvalue: "Scalar type
            # expected, array or object received" on its description), AFTER the function
            # ran: 44 stored the rating it failed to answer; 46 fails once rated.
            raise invalid_response("evidence => description: Scalar type expected")
        return value

    def _batch(self, params: Any) -> dict[str, Any]:
        """``tool_mobile\\external::call_external_functions``: in order, each with its own
        settingraw; the first error stops the batch (49), and is reported as a JSON
        string without exception class (48); a function outside the service answers
        ``{"errorcode": "accessexception", "module": "webservice"}``."""
        spec = One(
            {
                "requests": Many(
                    One(
                        {
                            "function": req("text"),
                            "arguments": opt("raw", "{}"),
                            "settingraw": opt("bool", False),
                            "settingfilter": opt("bool", False),
                            "settingfileurl": opt("bool", True),
                            "settinglang": opt("text", ""),
                        }
                    )
                )
            }
        )
        args = validate(spec, params)
        responses_: list[dict[str, Any]] = []
        for item in args["requests"]:
            self.raw = item["settingraw"]
            if item["function"] not in self.functions:
                responses_.append(
                    {
                        "error": True,
                        "exception": json.dumps(
                            {"errorcode": "accessexception", "module": "webservice"}
                        ),
                    }
                )
                break
            try:
                arguments = json.loads(item["arguments"])
                data = self.dispatch(item["function"], arguments)
            except MoodleError as fault:
                info = fault.batch_info(debugging=self.debugging)
                responses_.append({"error": True, "exception": json.dumps(info)})
                break
            responses_.append({"error": False, "data": json.dumps(data)})
        return {"responses": responses_}

    # -- records ------------------------------------------------------------------------

    def framework_record(self, fw: dict[str, Any]) -> dict[str, Any]:
        return {
            **{
                k: fw[k]
                for k in (
                    "shortname",
                    "idnumber",
                    "description",
                    "descriptionformat",
                    "visible",
                    "scaleid",
                    "scaleconfiguration",
                    "contextid",
                    "taxonomies",
                    "id",
                    "timecreated",
                    "timemodified",
                    "usermodified",
                )
            },
            "canmanage": True,
            "competenciescount": self._competencies_in(fw["id"]),
            "contextname": "System",
            "contextnamenoprefix": "System",
            **self._text(fw),
        }

    def _competencies_in(self, framework_id: int) -> int:
        """How many competencies a framework holds (counted once per state of the site)."""
        state = (len(self.competencies), self.ids.get("competency", 0))
        if self._counted[0] != state:
            counts: dict[int, int] = {}
            for c in self.competencies.values():
                counts[c["competencyframeworkid"]] = counts.get(c["competencyframeworkid"], 0) + 1
            self._counted = (state, counts)
        return self._counted[1].get(framework_id, 0)

    def competency_record(self, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, **self._text(c)}

    def _text(self, record: dict[str, Any]) -> dict[str, Any]:
        """Texts as answered: stored when raw, else as the exporter formats them
        (``core\\external\\exporter::export``): the short name through
        ``format_string``, the description through ``external_format_text`` (HTML,
        reported as format 1)."""
        text, fmt = record["description"], record["descriptionformat"]
        if self.raw:
            return {"description": text, "descriptionformat": fmt}
        if fmt == 1:
            return {"shortname": format_string(record["shortname"]), "description": text}
        escaped = html.escape(text).replace("\n", "<br />\n")
        shown = {
            0: f'<div class="text_to_html">{escaped}</div>',
            2: escaped,
            4: f"<p>{escaped}</p>",
        }[fmt]
        return {
            "shortname": format_string(record["shortname"]),
            "description": shown,
            "descriptionformat": 1,
        }

    def add_user(
        self, username: str, *, email: str | None = None, idnumber: str = "", fullname: str = ""
    ) -> int:
        uid = self._next("user") + 2  # 1 guest, 2 admin
        self.users[uid] = {
            "id": uid,
            "username": username,
            "email": email or f"{username}@example.com",
            "idnumber": idnumber,
            "fullname": fullname or username.title(),
        }
        return uid

    def add_course(self, course_id: int, enrolled: set[int] | None = None) -> None:
        self.courses[course_id] = set(enrolled or ())

    def add_plan(self, user_id: int, competency_ids: list[int], *, status: int = 1) -> int:
        pid = self._next("plan")
        self.plans[pid] = {
            "id": pid,
            "name": f"Plan {pid}",
            "userid": user_id,
            "status": status,
            "templateid": None,
            "competencies": list(competency_ids),
        }
        return pid

    def competency_by_idnumber(self, idnumber: str) -> dict[str, Any]:
        return next(c for c in self.competencies.values() if c["idnumber"] == idnumber)

    # -- validation helpers -------------------------------------------------------------

    def _check_scale(self, scaleid: int, config: str | None) -> None:
        if scaleid not in self.scales:
            raise persistent("Invalid scale")
        if config is None or config == "":
            raise persistent("The scale configuration is required")
        if not self._scale_config_ok(scaleid, config):
            raise persistent("The scale configuration is invalid")

    def _scale_config_ok(self, scaleid: int, config: str) -> bool:
        try:
            data = json.loads(config)
            entries = data[1:]
            items = {int(e["id"]) for e in entries}
            return (
                str(data[0]["scaleid"]) == str(scaleid)
                and items <= set(range(1, len(self.scales[scaleid]) + 1))
                and any(int(e.get("scaledefault", 0)) for e in entries)
                and any(int(e.get("proficient", 0)) for e in entries)
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return False

    def _check_format(self, fmt: int) -> None:
        if fmt not in (0, 1, 2, 4):
            raise persistent("Invalid description format")

    def _check_name(self, value: str) -> None:
        if len(value) > 100:
            raise MoodleError(
                "dml_write_exception", "dmlwriteexception", "Error writing to database"
            )

    def _context(self, args: dict[str, Any]) -> int:
        if args.get("contextid"):
            if args["contextid"] == 1 or args["contextid"] in self.categories.values():
                return int(args["contextid"])
            raise missing_record()
        level, instance = args.get("contextlevel", ""), args.get("instanceid", 0)
        if level == "system":
            return 1
        if level == "coursecat" and instance in self.categories:
            return self.categories[instance]
        if level:
            raise invalid("Invalid context level")
        raise invalid(
            "Missing parameters, please provide either context level with instance id or contextid"
        )

    def _in_use(self, competency_ids: set[int]) -> bool:
        return (
            any(cid in competency_ids for (_, cid) in self.user_competencies)
            or any(link["competencyid"] in competency_ids for link in self.course_links.values())
            or any(set(p["competencies"]) & competency_ids for p in self.plans.values())
        )

    def _subtree(self, cid: int) -> set[int]:
        found = {cid}
        changed = True
        while changed:
            changed = False
            for c in self.competencies.values():
                if c["parentid"] in found and c["id"] not in found:
                    found.add(c["id"])
                    changed = True
        return found

    def _reset_rule(self, cid: int) -> None:
        if cid in self.competencies:
            parent = self.competencies[cid]
            parent.update(ruleoutcome=0, ruletype=None, ruleconfig=None)

    def _path(self, parentid: int) -> str:
        if parentid == 0:
            return "/0/"
        parent = self.competencies[parentid]
        return f"{parent['path']}{parentid}/"

    def _check_rule(self, c: dict[str, Any]) -> None:
        ruletype, config = c["ruletype"], c["ruleconfig"]
        if c["ruleoutcome"] not in (0, 1, 2, 3):
            raise persistent("Data submitted is invalid")
        if ruletype is None:
            if config is not None:  # "Config but no rules, whoops!"
                raise persistent("Data submitted is invalid")
            return
        if ruletype == RULE_ALL:
            if config is not None:
                raise persistent("Data submitted is invalid")
            return
        if ruletype != RULE_POINTS:
            raise persistent("Data submitted is invalid")
        if not self._points_config_ok(c["id"], config):
            raise persistent("Data submitted is invalid")

    def _points_config_ok(self, parent_id: int, config: str | None) -> bool:
        """``competency_rule_points::validate_config``: numbers and flags checked with
        PHP's ``validate_param``, every entry a direct child (``is_parent_of``)."""
        try:
            data = json.loads(config or "")
            base = _php_int(data["base"]["points"])
            entries = data["competencies"]
            ids = [_php_int(entry["id"]) for entry in entries]
            points = [_php_int(entry["points"]) for entry in entries]
            children = [self.competencies.get(cid) for cid in ids if cid is not None]
            return (
                base is not None
                and base >= 1
                and bool(entries)
                and None not in ids
                and len(set(ids)) == len(ids)
                and parent_id not in ids
                and all(p is not None and p >= 0 for p in points)
                and all(_php_bool_ok(entry["required"]) for entry in entries)
                and all(child is not None and child["parentid"] == parent_id for child in children)
                and sum(p or 0 for p in points) >= base
            )
        except (ValueError, KeyError, TypeError):
            return False

    def _scale_of(self, c: dict[str, Any]) -> tuple[int, str]:
        if c["scaleid"] is not None:
            return c["scaleid"], c["scaleconfiguration"]
        fw = self.frameworks[c["competencyframeworkid"]]
        return fw["scaleid"], fw["scaleconfiguration"]

    def _proficient(self, c: dict[str, Any], grade: int) -> bool:
        _, config = self._scale_of(c)
        return any(
            int(e["id"]) == grade and int(e.get("proficient", 0)) for e in json.loads(config)[1:]
        )

    def _default_grade(self, c: dict[str, Any]) -> int:
        _, config = self._scale_of(c)
        return min(int(e["id"]) for e in json.loads(config)[1:] if int(e.get("scaledefault", 0)))

    # -- handlers -----------------------------------------------------------------------

    def _handlers(self) -> dict[str, tuple[One, Callable[[dict[str, Any]], Any]]]:
        h: dict[str, tuple[One, Callable[[dict[str, Any]], Any]]] = {
            "core_webservice_get_site_info": (One({}), self.site_info),
            "core_competency_list_competency_frameworks": (
                One(
                    {
                        "sort": opt("text", "shortname"),
                        "order": opt("text", ""),
                        "skip": opt("int", 0),
                        "limit": opt("int", 0),
                        "context": CONTEXT,
                        "includes": opt("text", "children"),
                        "onlyvisible": opt("bool", False),
                        "query": opt("text", ""),
                    }
                ),
                self.list_frameworks,
            ),
            "core_competency_read_competency_framework": (
                One({"id": req("int")}),
                lambda a: self.framework_record(self._framework(a["id"])),
            ),
            "core_competency_create_competency_framework": (
                One({"competencyframework": One(FRAMEWORK_FIELDS)}),
                self.create_framework,
            ),
            "core_competency_update_competency_framework": (
                One({"competencyframework": One(FRAMEWORK_UPDATE)}),
                self.update_framework,
            ),
            "core_competency_delete_competency_framework": (
                One({"id": req("int")}),
                self.delete_framework,
            ),
            "core_competency_get_scale_values": (One({"scaleid": req("int")}), self.scale_values),
            "core_competency_list_competencies": (
                One(
                    {
                        "filters": Many(One({"column": req("text"), "value": req("raw")})),
                        "sort": opt("text", ""),
                        "order": opt("text", ""),
                        "skip": opt("int", 0),
                        "limit": opt("int", 0),
                    }
                ),
                self.list_competencies,
            ),
            "core_competency_read_competency": (
                One({"id": req("int")}),
                lambda a: self.competency_record(self._competency(a["id"])),
            ),
            "core_competency_create_competency": (
                One({"competency": One(COMPETENCY_FIELDS)}),
                self.create_competency,
            ),
            "core_competency_update_competency": (
                One({"competency": One(COMPETENCY_UPDATE)}),
                self.update_competency,
            ),
            "core_competency_delete_competency": (One({"id": req("int")}), self.delete_competency),
            "core_competency_set_parent_competency": (
                One({"competencyid": req("int"), "parentid": req("int")}),
                self.set_parent,
            ),
            "core_competency_add_related_competency": (
                One({"competencyid": req("int"), "relatedcompetencyid": req("int")}),
                self.add_related,
            ),
            "core_competency_remove_related_competency": (
                One({"competencyid": req("int"), "relatedcompetencyid": req("int")}),
                self.remove_related,
            ),
            "tool_lp_data_for_related_competencies_section": (
                One({"competencyid": req("int")}),
                self.related_section,
            ),
            "core_competency_list_course_competencies": (
                One({"id": req("int")}),
                self.list_course_competencies,
            ),
            "core_competency_add_competency_to_course": (
                One({"courseid": req("int"), "competencyid": req("int")}),
                self.add_to_course,
            ),
            "core_competency_remove_competency_from_course": (
                One({"courseid": req("int"), "competencyid": req("int")}),
                self.remove_from_course,
            ),
            "core_competency_set_course_competency_ruleoutcome": (
                One({"coursecompetencyid": req("int"), "ruleoutcome": req("int")}),
                self.set_course_outcome,
            ),
            "core_user_get_users_by_field": (
                One({"field": req("text"), "values": Many(req("raw"))}),
                self.users_by_field,
            ),
            "core_competency_grade_competency": (
                One(
                    {
                        "userid": req("int"),
                        "competencyid": req("int"),
                        "grade": req("int"),
                        "note": opt("notags", None, null=True),
                    }
                ),
                self.grade,
            ),
            "core_competency_grade_competency_in_course": (
                One(
                    {
                        "courseid": req("int"),
                        "userid": req("int"),
                        "competencyid": req("int"),
                        "grade": req("int"),
                        "note": opt("notags", None, null=True),
                    }
                ),
                self.grade_in_course,
            ),
            "core_competency_grade_competency_in_plan": (
                One(
                    {
                        "planid": req("int"),
                        "competencyid": req("int"),
                        "grade": req("int"),
                        "note": opt("notags", None, null=True),
                    }
                ),
                self.grade_in_plan,
            ),
            "tool_lp_data_for_user_competency_summary": (
                One({"userid": req("int"), "competencyid": req("int")}),
                self.summary,
            ),
            "tool_lp_data_for_user_competency_summary_in_course": (
                One({"userid": req("int"), "competencyid": req("int"), "courseid": req("int")}),
                self.summary_in_course,
            ),
            "core_competency_list_user_plans": (One({"userid": req("int")}), self.user_plans),
            "core_competency_list_plan_competencies": (
                One({"id": req("int")}),
                self.plan_competencies,
            ),
        }
        return h

    def site_info(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "sitename": "Fake Moodle",
            "username": "admin",
            "userid": 2,
            "siteurl": URL,
            "release": "5.0.6+ (Build: 20260403)",
            "version": "2025041406.11",
            "userprivateaccesskey": "e22f48c11c2d5887c19a5dc7a57da558",
            "functions": [{"name": n, "version": "2025041406.11"} for n in sorted(self.functions)],
        }

    def _framework(self, fid: int) -> dict[str, Any]:
        if fid not in self.frameworks:
            raise missing_record()
        return self.frameworks[fid]

    def _competency(self, cid: int) -> dict[str, Any]:
        if cid not in self.competencies:
            raise missing_record()
        return self.competencies[cid]

    def list_frameworks(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        self._context(a["context"])
        if a["order"] not in ("ASC", "DESC", ""):
            raise invalid("Invalid order")
        if a["includes"] not in ("children", "parents", "self"):
            raise invalid("Invalid includes")
        query = a["query"].lower()
        found = [
            fw
            for fw in self.frameworks.values()
            if not query or query in fw["shortname"].lower() or query in fw["idnumber"].lower()
        ]
        if a["onlyvisible"]:
            found = [fw for fw in found if fw["visible"]]
        found.sort(key=lambda fw: (str(fw.get(a["sort"] or "shortname", "")), fw["id"]))
        if a["order"] == "DESC":
            found.reverse()
        return [self.framework_record(fw) for fw in found]

    def _check_taxonomies(self, text: str) -> None:
        for term in [t for t in text.split(",") if t]:
            if term not in TAXONOMY_TERMS:
                raise persistent("Invalid taxonomy")

    def create_framework(self, a: dict[str, Any]) -> dict[str, Any]:
        f = a["competencyframework"]
        contextid = self._context(f)
        self._check_name(f["shortname"])
        self._check_name(f["idnumber"])
        if any(fw["idnumber"] == f["idnumber"] for fw in self.frameworks.values()):
            raise persistent(self.idnumber_taken)
        self._check_scale(f["scaleid"], f["scaleconfiguration"])
        self._check_format(f["descriptionformat"])
        self._check_taxonomies(f["taxonomies"])
        now = self._now()
        fid = self._next("framework")
        self.frameworks[fid] = {
            "id": fid,
            "shortname": f["shortname"],
            "idnumber": f["idnumber"],
            "description": f["description"],
            "descriptionformat": f["descriptionformat"],
            "visible": f["visible"],
            "scaleid": f["scaleid"],
            "scaleconfiguration": f["scaleconfiguration"],
            "contextid": contextid,
            "taxonomies": f["taxonomies"],
            "timecreated": now,
            "timemodified": now,
            "usermodified": 2,
        }
        return self.framework_record(self.frameworks[fid])

    def update_framework(self, a: dict[str, Any]) -> bool:
        f = a["competencyframework"]
        fw = self._framework(f["id"])
        new = {
            **fw,
            **{
                k: v
                for k, v in f.items()
                if k not in ("timecreated", "timemodified", "usermodified")
            },
        }
        if new["idnumber"] != fw["idnumber"] and any(
            other["idnumber"] == new["idnumber"] for other in self.frameworks.values()
        ):
            raise persistent(self.idnumber_taken)
        self._check_name(new["shortname"])
        self._check_scale(new["scaleid"], new["scaleconfiguration"])
        self._check_format(new["descriptionformat"])
        self._check_taxonomies(new["taxonomies"])
        if new["scaleid"] != fw["scaleid"]:
            ids = {
                c["id"]
                for c in self.competencies.values()
                if c["competencyframeworkid"] == fw["id"]
            }
            if any(cid in ids for (_, cid) in self.user_competencies):
                raise persistent("The scale is already in use")
        new["timemodified"] = self._now()
        self.frameworks[fw["id"]] = new
        return True

    def delete_framework(self, a: dict[str, Any]) -> bool:
        fw = self._framework(a["id"])
        ids = {
            c["id"] for c in self.competencies.values() if c["competencyframeworkid"] == fw["id"]
        }
        if self._in_use(ids):
            return False
        for cid in ids:
            del self.competencies[cid]
        self.related = {pair for pair in self.related if not pair & ids}
        del self.frameworks[fw["id"]]
        return True

    def scale_values(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        if a["scaleid"] not in self.scales:
            raise missing_record()
        return [{"id": i, "name": n} for i, n in enumerate(self.scales[a["scaleid"]], start=1)]

    def list_competencies(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        columns = {
            "id",
            "shortname",
            "description",
            "sortorder",
            "idnumber",
            "parentid",
            "competencyframeworkid",
        }
        found = list(self.competencies.values())
        for flt in a["filters"]:
            if flt["column"] not in columns:
                raise invalid("Invalid filter column")
            found = [c for c in found if str(c[flt["column"]]) == flt["value"]]
        if a["order"] not in ("ASC", "DESC", ""):
            raise invalid("Invalid order")
        if a["sort"]:
            found.sort(key=lambda c: (str(c.get(a["sort"], "")), c["id"]))
        else:
            found.sort(key=lambda c: c["id"])
        if a["order"] == "DESC":
            found.reverse()
        return [self.competency_record(c) for c in found]

    def create_competency(self, a: dict[str, Any]) -> dict[str, Any]:
        f = a["competency"]
        fw = self._framework(f["competencyframeworkid"])
        self._check_name(f["shortname"])
        self._check_name(f["idnumber"])
        if any(
            c["idnumber"] == f["idnumber"] and c["competencyframeworkid"] == fw["id"]
            for c in self.competencies.values()
        ):
            raise persistent(self.idnumber_taken)
        parentid = f["parentid"]
        if parentid:
            parent = self._competency(parentid)
            if parent["competencyframeworkid"] != fw["id"]:
                raise persistent("Invalid parent")
        if f["scaleid"] is not None:
            self._check_scale(f["scaleid"], f["scaleconfiguration"])
        self._check_format(f["descriptionformat"])
        now = self._now()
        cid = self._next("competency")
        record = {
            "shortname": f["shortname"],
            "idnumber": f["idnumber"],
            "description": f["description"],
            "descriptionformat": f["descriptionformat"],
            "sortorder": sum(
                1
                for c in self.competencies.values()
                if c["parentid"] == parentid and c["competencyframeworkid"] == fw["id"]
            ),
            "parentid": parentid,
            "path": self._path(parentid),
            "ruleoutcome": f["ruleoutcome"],
            "ruletype": f["ruletype"],
            "ruleconfig": f["ruleconfig"],
            "scaleid": f["scaleid"],
            "scaleconfiguration": f["scaleconfiguration"],
            "competencyframeworkid": fw["id"],
            "id": cid,
            "timecreated": now,
            "timemodified": now,
            "usermodified": 2,
        }
        self._check_rule(record)
        self.competencies[cid] = record
        if parentid:
            self._reset_rule(parentid)  # Moodle: a new child resets its parent's rule
        return self.competency_record(record)

    def update_competency(self, a: dict[str, Any]) -> bool:
        f = a["competency"]
        c = self._competency(f["id"])
        ignored = {
            "sortorder",
            "parentid",
            "competencyframeworkid",
            "path",
            "timecreated",
            "timemodified",
            "usermodified",
        }
        new = {**c, **{k: v for k, v in f.items() if k not in ignored}}
        if new["idnumber"] != c["idnumber"] and any(
            o["idnumber"] == new["idnumber"]
            and o["competencyframeworkid"] == c["competencyframeworkid"]
            for o in self.competencies.values()
        ):
            raise persistent(self.idnumber_taken)
        self._check_name(new["shortname"])
        self._check_format(new["descriptionformat"])
        if new["scaleid"] is not None:
            self._check_scale(new["scaleid"], new["scaleconfiguration"])
        if new["scaleid"] != c["scaleid"] and any(
            cid == c["id"] for (_, cid) in self.user_competencies
        ):
            raise persistent("The scale is already in use")
        self._check_rule(new)
        new["timemodified"] = self._now()
        self.competencies[c["id"]] = new
        return True

    def delete_competency(self, a: dict[str, Any]) -> bool:
        c = self._competency(a["id"])
        ids = self._subtree(c["id"])
        if self._in_use(ids):
            return False
        for cid in ids:
            del self.competencies[cid]
        self.related = {pair for pair in self.related if not pair & ids}
        if c["parentid"]:
            self._reset_rule(c["parentid"])
        return True

    def _repath(self, cid: int) -> None:
        c = self.competencies[cid]
        c["path"] = self._path(c["parentid"])
        for child in [x for x in self.competencies.values() if x["parentid"] == cid]:
            self._repath(child["id"])

    def set_parent(self, a: dict[str, Any]) -> bool:
        c = self._competency(a["competencyid"])
        new_parent = a["parentid"]
        if new_parent == c["parentid"]:
            return True
        if new_parent:
            parent = self._competency(new_parent)
            if (
                parent["competencyframeworkid"] != c["competencyframeworkid"]
                or new_parent == c["id"]
            ):
                raise persistent("Invalid parent")
            if new_parent in self._subtree(c["id"]):
                # Moodle first promotes the children, then clears the node's own rule.
                for child in [x for x in self.competencies.values() if x["parentid"] == c["id"]]:
                    child["parentid"] = c["parentid"]
                    self._repath(child["id"])
                self._reset_rule(c["id"])
        old = c["parentid"]
        c["parentid"] = new_parent
        c["sortorder"] = sum(
            1
            for x in self.competencies.values()
            if x["parentid"] == new_parent
            and x["competencyframeworkid"] == c["competencyframeworkid"]
            and x["id"] != c["id"]
        )
        self._repath(c["id"])
        if old:
            self._reset_rule(old)
        if new_parent:
            self._reset_rule(new_parent)
        return True

    def add_related(self, a: dict[str, Any]) -> bool:
        one, two = self._competency(a["competencyid"]), self._competency(a["relatedcompetencyid"])
        if one["id"] == two["id"] or one["competencyframeworkid"] != two["competencyframeworkid"]:
            raise coding("Invalid related competency")
        self.related.add(frozenset((one["id"], two["id"])))
        return True

    def remove_related(self, a: dict[str, Any]) -> bool:
        pair = frozenset((a["competencyid"], a["relatedcompetencyid"]))
        if pair in self.related:
            self.related.discard(pair)
            return True
        return False

    def related_section(self, a: dict[str, Any]) -> dict[str, Any]:
        c = self._competency(a["competencyid"])
        others = sorted(o for pair in self.related if c["id"] in pair for o in pair if o != c["id"])
        return {
            "relatedcompetencies": [self.competency_record(self.competencies[o]) for o in others],
            "showdeleterelatedaction": True,
        }

    def _course(self, course_id: int) -> set[int]:
        if course_id not in self.courses:
            raise missing_record()
        return self.courses[course_id]

    def list_course_competencies(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        self._course(a["id"])
        links = sorted(
            (link for link in self.course_links.values() if link["courseid"] == a["id"]),
            key=lambda link: link["sortorder"],
        )
        return [
            {
                "competency": self.competency_record(self.competencies[link["competencyid"]]),
                "coursecompetency": dict(link),
            }
            for link in links
        ]

    def add_to_course(self, a: dict[str, Any]) -> bool:
        self._course(a["courseid"])
        c = self._competency(a["competencyid"])
        if not self.frameworks[c["competencyframeworkid"]]["visible"]:
            raise coding("A competency belonging to hidden framework can not be linked to course")
        if any(
            link["courseid"] == a["courseid"] and link["competencyid"] == c["id"]
            for link in self.course_links.values()
        ):
            return False
        lid = self._next("coursecompetency")
        self.course_links[lid] = {
            "id": lid,
            "courseid": a["courseid"],
            "competencyid": c["id"],
            "sortorder": sum(
                1 for link in self.course_links.values() if link["courseid"] == a["courseid"]
            ),
            "ruleoutcome": 1,
            "timecreated": self._now(),
            "timemodified": self.clock,
            "usermodified": 2,
        }
        return True

    def remove_from_course(self, a: dict[str, Any]) -> bool:
        for lid, link in list(self.course_links.items()):
            if link["courseid"] == a["courseid"] and link["competencyid"] == a["competencyid"]:
                del self.course_links[lid]
                return True
        return False

    def set_course_outcome(self, a: dict[str, Any]) -> bool:
        link = self.course_links.get(a["coursecompetencyid"])
        if link is None:
            raise missing_record()
        if a["ruleoutcome"] not in (0, 1, 2, 3):
            raise persistent("Invalid rule outcome")
        link["ruleoutcome"] = a["ruleoutcome"]
        return True

    def users_by_field(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        """``core_user_external::get_users_by_field``: every value is cleaned with its
        field's type and one the cleaning changes fails the whole call
        (``user/externallib.php``); the lookup is an exact ``IN`` (case-sensitive on
        PostgreSQL, which the recorded site ran)."""
        cleaners: dict[str, Callable[[str], str]] = {
            "id": lambda v: v if re.fullmatch(r"\d+", v) else "0",
            "idnumber": fix_utf8,
            "username": clean_username,
            "email": clean_email,
        }
        if a["field"] not in cleaners:
            raise coding("invalid field parameter")
        values = [str(v) for v in a["values"]]
        for value in values:
            if cleaners[a["field"]](value) != value:
                raise invalid(f"The field '{a['field']}' value is invalid: {value}")
        return [
            self.user_details(u["id"])
            for u in sorted(self.users.values(), key=lambda u: u["id"])
            if str(u[a["field"]]) in values and u[a["field"]] != ""
        ]

    def user_details(self, uid: int) -> dict[str, Any]:
        """The user as ``user_get_user_details`` gives it to an administrator."""
        user = self.users[uid]
        return {
            "id": uid,
            "username": user["username"],
            "fullname": user["fullname"],
            "email": user["email"],
            "idnumber": user["idnumber"],
        }

    def user_summary(self, uid: int) -> dict[str, Any]:
        """The user as ``core_user\\external\\user_summary_exporter`` answers it (47)."""
        user = self.users.get(uid) or {"fullname": "Admin User", "email": self.admin_email}
        return {
            "id": uid,
            "email": user["email"],
            "idnumber": user.get("idnumber", ""),
            "phone1": "",
            "phone2": "",
            "department": "",
            "institution": "",
            "fullname": user["fullname"],
            "identity": user["email"],
            "profileurl": f"{URL}/user/profile.php?id={uid}",
            "profileimageurl": f"{URL}/theme/image.php/boost/core/1/u/f1",
            "profileimageurlsmall": f"{URL}/theme/image.php/boost/core/1/u/f2",
        }

    # -- ratings ------------------------------------------------------------------------

    def _user_competency(self, uid: int, cid: int, *, create: bool = True) -> dict[str, Any]:
        key = (uid, cid)
        if key not in self.user_competencies and create:
            now = self._now()
            self.user_competencies[key] = {
                "id": self._next("usercompetency"),
                "userid": uid,
                "competencyid": cid,
                "status": 0,
                "reviewerid": None,
                "proficiency": None,
                "grade": None,
                "timecreated": now,
                "timemodified": now,
                "usermodified": 2,
            }
        return self.user_competencies[key]

    def _add_evidence(
        self,
        uc: dict[str, Any],
        *,
        action: int,
        grade: int | None,
        note: str | None,
        contextid: int,
        ident: str,
    ) -> dict[str, Any]:
        now = self._now()
        record = {
            "usercompetencyid": uc["id"],
            "contextid": contextid,
            "action": action,
            "actionuserid": 2 if action == 3 else None,
            "descidentifier": ident,
            "desccomponent": "core_competency",
            "desca": None,
            "url": None,
            "grade": grade,
            "note": note,
            "id": self._next("evidence"),
            "timecreated": now,
            "timemodified": now,
            "usermodified": 2,
        }
        if action == 3:  # a rating names who rated (recording 45); a rule's evidence not (28)
            record["actionuser"] = self.user_summary(2)
        record |= {
            "description": DESCRIPTIONS.get(ident, ident),
            "gradename": "-" if grade is None else self._grade_name(uc["competencyid"], grade),
            "userdate": "Wednesday, 2 December 2026, 3:48 AM",
            "candelete": True,
        }
        self.evidence.append(record)
        self.evidence_of.setdefault(uc["id"], []).append(record)
        return record

    def _grade_name(self, cid: int, grade: int) -> str:
        scaleid, _ = self._scale_of(self.competencies[cid])
        return self.scales[scaleid][grade - 1]

    def _rate(
        self, uid: int, cid: int, grade: int, note: str | None, *, contextid: int, ident: str
    ) -> dict[str, Any]:
        c = self._competency(cid)
        if uid not in self.users:
            raise missing_record()
        scaleid, _ = self._scale_of(c)
        if not 1 <= grade <= len(self.scales[scaleid]):
            raise persistent("Invalid rating")
        uc = self._user_competency(uid, cid)
        was = bool(uc["proficiency"])
        uc["grade"] = grade
        uc["proficiency"] = self._proficient(c, grade)
        uc["timemodified"] = self._now()
        evidence = self._add_evidence(
            uc, action=3, grade=grade, note=note, contextid=contextid, ident=ident
        )
        if uc["proficiency"] and not was:
            self._cascade(uid, c)
        return evidence

    def _cascade(self, uid: int, child: dict[str, Any]) -> None:
        """Moodle's rule run: only the parent of a competency that became proficient."""
        if not child["parentid"]:
            return
        parent = self.competencies[child["parentid"]]
        if parent["ruleoutcome"] == 0 or parent["ruletype"] is None:
            return
        kids = [c for c in self.competencies.values() if c["parentid"] == parent["id"]]

        def proficient(cid: int) -> bool:
            uc = self.user_competencies.get((uid, cid))
            return bool(uc and uc["proficiency"])

        if parent["ruletype"] == RULE_ALL:
            matched = bool(kids) and all(proficient(k["id"]) for k in kids)
        else:
            config = json.loads(parent["ruleconfig"])
            entries = config["competencies"]
            matched = all(
                proficient(int(e["id"])) for e in entries if _php_text(e["required"]) == "1"
            ) and sum(int(e["points"]) for e in entries if proficient(int(e["id"]))) >= int(
                config["base"]["points"]
            )
        if not matched:
            return
        uc = self._user_competency(uid, parent["id"])
        if parent["ruleoutcome"] == 2 and uc["grade"] is None:
            grade = self._default_grade(parent)
            uc["grade"] = grade
            uc["proficiency"] = self._proficient(parent, grade)
            uc["timemodified"] = self._now()
            self._add_evidence(
                uc, action=2, grade=grade, note=None, contextid=1, ident="evidence_competencyrule"
            )
            if uc["proficiency"]:
                self._cascade(uid, parent)
        else:
            self._add_evidence(
                uc, action=0, grade=None, note=None, contextid=1, ident="evidence_competencyrule"
            )
            if parent["ruleoutcome"] == 3 and uc["status"] == 0:
                uc["status"] = 1

    def grade(self, a: dict[str, Any]) -> dict[str, Any]:
        return self._rate(
            a["userid"],
            a["competencyid"],
            a["grade"],
            a["note"],
            contextid=11,
            ident="evidence_manualoverride",
        )

    def _linked(self, course_id: int, competency_id: int) -> tuple[set[int], dict[str, Any]]:
        """The course's enrolled users and the competency, which must be linked to it."""
        enrolled = self._course(course_id)
        c = self._competency(competency_id)
        if not any(
            link["courseid"] == course_id and link["competencyid"] == c["id"]
            for link in self.course_links.values()
        ):
            raise coding("The competency does not belong to this course")
        return enrolled, c

    def _course_rating(self, user_id: int, course_id: int, competency_id: int) -> dict[str, Any]:
        """The course rating record, created on first use (as Moodle's reads do)."""
        return self.user_competency_courses.setdefault(
            (user_id, course_id, competency_id),
            {
                "id": self._next("usercompetencycourse"),
                "userid": user_id,
                "courseid": course_id,
                "competencyid": competency_id,
                "proficiency": None,
                "grade": None,
            },
        )

    def grade_in_course(self, a: dict[str, Any]) -> dict[str, Any]:
        enrolled, c = self._linked(a["courseid"], a["competencyid"])
        if a["userid"] not in enrolled:
            raise coding("The competency may not be rated at this time.")
        scaleid, _ = self._scale_of(c)
        if not 1 <= a["grade"] <= len(self.scales[scaleid]):
            raise persistent("Invalid rating")
        ucc = self._course_rating(a["userid"], a["courseid"], c["id"])
        ucc["grade"] = a["grade"]
        ucc["proficiency"] = self._proficient(c, a["grade"])
        ucc["timemodified"] = self._now()
        # pushratingstouserplans is on by default: the site-level rating follows.
        return self._rate(
            a["userid"],
            c["id"],
            a["grade"],
            a["note"],
            contextid=_course_context(a["courseid"]),
            ident="evidence_manualoverrideincourse",
        )

    def grade_in_plan(self, a: dict[str, Any]) -> dict[str, Any]:
        plan = self.plans.get(a["planid"])
        if plan is None:
            raise missing_record()
        if a["competencyid"] not in plan["competencies"]:
            raise coding("The competency does not belong to this plan")
        if plan["status"] != 1:
            raise coding("The plan must be active")
        return self._rate(
            plan["userid"],
            a["competencyid"],
            a["grade"],
            a["note"],
            contextid=11,
            ident="evidence_manualoverrideinplan",
        )

    def summary(self, a: dict[str, Any]) -> dict[str, Any]:
        """``tool_lp\\external::data_for_user_competency_summary`` in the shape of
        recordings 25-30 and 47; it creates the user competency it reports (26)."""
        c = self._competency(a["competencyid"])
        if a["userid"] not in self.users:
            raise missing_record()
        if (a["userid"], c["id"]) not in self.user_competencies:
            self.created_by_reads += 1  # Moodle creates the record on read
        uc = self._user_competency(a["userid"], c["id"])
        evidence = sorted(
            self.evidence_of.get(uc["id"], ()),
            key=lambda e: (e["timecreated"], e["id"]),
            reverse=True,
        )
        fw = self.frameworks[c["competencyframeworkid"]]
        scaleid, configuration = self._scale_of(c)
        ancestors = [int(part) for part in c["path"].strip("/").split("/") if part != "0"]
        return {
            "showrelatedcompetencies": True,
            "cangrade": True,
            "competency": {
                "linkedcourses": [],
                "relatedcompetencies": [],
                "competency": self.competency_record(c),
                "framework": self.framework_record(fw),
                "hascourses": False,
                "hasrelatedcompetencies": False,
                "scaleid": scaleid,
                "scaleconfiguration": configuration,
                "taxonomyterm": self._taxonomy_term(fw, len(ancestors) + 1),
                "comppath": {
                    "ancestors": [
                        {
                            "id": ancestor,
                            "name": self.competencies[ancestor]["idnumber"],
                            "first": n == 0,
                            "last": n == len(ancestors) - 1,
                            "position": n + 1,
                        }
                        for n, ancestor in enumerate(ancestors)
                    ],
                    "framework": {
                        "id": fw["id"],
                        "name": format_string(fw["shortname"]),
                        "first": False,
                        "last": False,
                        "position": -1,
                    },
                    "pluginbaseurl": f"{URL}/admin/tool/lp",
                    "pagecontextid": 1,
                    "showlinks": True,
                },
                "pluginbaseurl": f"{URL}/admin/tool/lp",
            },
            "user": self.user_summary(a["userid"]),
            "usercompetency": self.user_competency_record(uc),
            "evidence": evidence,
            "commentarea": {
                "component": "competency",
                "commentarea": "user_competency",
                "itemid": uc["id"],
                "courseid": 1,
                "contextid": 11,
                "cid": "6b0f95124fa91",
                "autostart": False,
                "canpost": True,
                "canview": True,
                "count": 0,
                "collapsediconkey": "t/collapsed",
                "displaytotalcount": True,
                "displaycancel": False,
                "fullwidth": True,
                "linktext": "Comments",
                "notoggle": False,
                "template": "",
                "canpostorhascomments": True,
            },
        }

    @staticmethod
    def _taxonomy_term(fw: dict[str, Any], level: int) -> str:
        """``competency_framework::get_taxonomy`` of a level, as its English string."""
        terms = fw["taxonomies"].split(",")
        term = terms[level - 1] if level <= len(terms) and terms[level - 1] else "competency"
        return term.capitalize()

    def user_competency_record(self, uc: dict[str, Any]) -> dict[str, Any]:
        """``user_competency_exporter``: the record and what the page shows of it (47)."""
        grade, proficiency = uc["grade"], uc["proficiency"]
        return {
            **uc,
            "canrequestreview": True,
            "canreview": True,
            "gradename": "-" if grade is None else self._grade_name(uc["competencyid"], grade),
            "isrequestreviewallowed": uc["status"] == 0,
            "iscancelreviewrequestallowed": uc["status"] == 1,
            "isstartreviewallowed": uc["status"] == 1,
            "isstopreviewallowed": uc["status"] == 2,
            "isstatusidle": uc["status"] == 0,
            "isstatusinreview": uc["status"] == 2,
            "isstatuswaitingforreview": uc["status"] == 1,
            "proficiencyname": "Yes" if proficiency else "No",  # "No" when unrated too (26)
            "statusname": "-" if uc["status"] == 0 else "Waiting for review",
            "url": f"{URL}/admin/tool/lp/user_competency.php?id={uc['id']}",
        }

    def summary_in_course(self, a: dict[str, Any]) -> dict[str, Any]:
        enrolled, c = self._linked(a["courseid"], a["competencyid"])
        if a["userid"] not in enrolled:
            raise MoodleError(
                "core\\exception\\required_capability_exception",
                "nopermissions",
                "Sorry, but you do not currently have permissions to do that.",
            )
        ucc = self._course_rating(a["userid"], a["courseid"], c["id"])
        uc = self.user_competencies.get((a["userid"], c["id"]))
        evidence = [
            e
            for e in self.evidence
            if uc is not None
            and e["usercompetencyid"] == uc["id"]
            and e["contextid"] == _course_context(a["courseid"])
        ]
        return {
            "usercompetencysummary": {"usercompetencycourse": dict(ucc), "evidence": evidence},
            "course": {"id": a["courseid"]},
        }

    def user_plans(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {k: p[k] for k in ("id", "name", "userid", "status", "templateid")}
            for p in self.plans.values()
            if p["userid"] == a["userid"]
        ]

    def plan_competencies(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        plan = self.plans.get(a["id"])
        if plan is None:
            raise missing_record()
        out = []
        for cid in plan["competencies"]:
            uc = self.user_competencies.get((plan["userid"], cid))
            # Moodle builds a missing one in memory (id 0, no grade) without saving it.
            shown = (
                dict(uc)
                if uc
                else {
                    "id": 0,
                    "userid": plan["userid"],
                    "competencyid": cid,
                    "status": 0,
                    "proficiency": None,
                    "grade": None,
                }
            )
            out.append(
                {
                    "competency": self.competency_record(self.competencies[cid]),
                    "usercompetency": shown,
                }
            )
        return out

    # -- views for assertions -----------------------------------------------------------

    def snapshot(self) -> tuple[Any, ...]:
        """The site's competency data by natural keys, duplicates visible (sorted tuples)."""
        by_id = self.competencies
        frameworks = tuple(
            sorted(
                (
                    fw["idnumber"],
                    fw["shortname"],
                    fw["description"],
                    fw["descriptionformat"],
                    fw["scaleid"],
                    fw["scaleconfiguration"],
                    fw["taxonomies"],
                    fw["visible"],
                )
                for fw in self.frameworks.values()
            )
        )

        def key(cid: int) -> str:
            return by_id[cid]["idnumber"] if cid in by_id else f"#{cid}"

        competencies = tuple(
            sorted(
                (
                    self.frameworks[c["competencyframeworkid"]]["idnumber"],
                    c["idnumber"],
                    key(c["parentid"]) if c["parentid"] else "",
                    c["sortorder"],
                    c["shortname"],
                    c["description"],
                    c["descriptionformat"],
                    c["ruletype"] or "",
                    c["ruleoutcome"],
                    _config_by_key(c["ruleconfig"], key),
                    c["scaleid"] or 0,
                )
                for c in by_id.values()
            )
        )
        related = tuple(sorted(tuple(sorted(key(i) for i in pair)) for pair in self.related))
        links = tuple(
            sorted(
                (link["courseid"], key(link["competencyid"]), link["ruleoutcome"])
                for link in self.course_links.values()
            )
        )
        ratings = tuple(
            sorted(
                (uid, key(cid), uc["grade"]) for (uid, cid), uc in self.user_competencies.items()
            )
        )
        return frameworks, competencies, related, links, ratings


def _course_context(course_id: int) -> int:
    """The fake's context id of a course."""
    return 50 + course_id


EVIDENCE_FUNCTIONS = frozenset(
    {
        "core_competency_grade_competency",
        "core_competency_grade_competency_in_course",
        "core_competency_grade_competency_in_plan",
    }
)


def _holds_evidence(function: str, value: Any) -> bool:
    """Whether an answer holds an evidence record (which raw mode cannot answer)."""
    if function in EVIDENCE_FUNCTIONS:
        return True
    if function == "tool_lp_data_for_user_competency_summary":
        return bool(value.get("evidence"))
    if function == "tool_lp_data_for_user_competency_summary_in_course":
        return bool(value.get("usercompetencysummary", {}).get("evidence"))
    return False


def _php_text(value: Any) -> str | None:
    """PHP's ``(string)`` of a JSON-decoded scalar (``None`` for arrays and objects)."""
    if isinstance(value, bool):
        return "1" if value else ""
    if value is None:
        return ""
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _php_int(value: Any) -> int | None:
    """``validate_param($value, PARAM_INT)``: the int, or ``None`` where PHP throws."""
    text = _php_text(value)
    if text is None or not re.fullmatch(r"-?\d+", text):
        return None
    return int(text)


def _php_bool_ok(value: Any) -> bool:
    """``validate_param($value, PARAM_BOOL)`` passes: only ``true``, 0, 1, "0" and "1";
    ``false`` fails, because ``(string) false`` is "" and the cleaned value is 0."""
    return _php_text(value) in ("0", "1")


def _config_by_key(config: str | None, key: Callable[[int], str]) -> str:
    if not config:
        return ""
    data = json.loads(config)
    return json.dumps(
        [
            data["base"]["points"],
            sorted(
                (key(int(e["id"])), e["points"], int(e["required"])) for e in data["competencies"]
            ),
        ]
    )
