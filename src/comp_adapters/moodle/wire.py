"""Pydantic models of Moodle web-service payloads: lenient inbound, strict outbound.

Inbound models (what Moodle answers) ignore fields we do not use, so a newer Moodle that
adds fields keeps working, and secrets some answers carry (``userprivateaccesskey`` in the
site info) are dropped at the edge. Outbound models (what we send) forbid unknown fields,
because Moodle rejects unknown keys ("Unexpected keys (x) detected in parameter array"); a
field left ``None`` is *omitted* from the request, never sent empty, because form encoding
cannot express NULL and an empty string is a value Moodle validates (and often refuses).

Names follow Moodle's own (``idnumber``, ``scaleconfiguration``, ``ruleoutcome``...), so a
model can be compared with the reference at a glance.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RULE_ALL = "core_competency\\competency_rule_all"
"""Moodle's ``ruletype`` for "all children are complete" (single backslash)."""
RULE_POINTS = "core_competency\\competency_rule_points"
"""Moodle's ``ruletype`` for "points required are met"."""

BATCH_FUNCTION = "tool_mobile_call_external_functions"
"""Runs several functions in one HTTP request (Moodle 3.7+, when the service offers it)."""


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_params(self) -> dict[str, Any]:
        """The fields to send: ``None`` left out (Moodle then keeps or defaults them)."""
        return self.model_dump(exclude_none=True)


# -- inbound -----------------------------------------------------------------------------


class MoodleException(_Inbound):
    """An error answer (HTTP 200): ``{"exception", "errorcode", "message", "debuginfo"?}``;
    a batched call's error has no ``exception`` class (recording 48)."""

    exception: str | None = None
    errorcode: str | None = None
    message: str = ""
    debuginfo: str | None = None


class FunctionInfo(_Inbound):
    name: str
    version: str | None = None


class SiteInfo(_Inbound):
    """``core_webservice_get_site_info``: who we are and which functions the token may call."""

    sitename: str = ""
    siteurl: str = ""
    release: str | None = None
    version: str | None = None
    userid: int | None = None
    username: str | None = None
    functions: tuple[FunctionInfo, ...] = ()

    @property
    def function_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.functions)


class ScaleValue(_Inbound):
    """One item of a scale (``core_competency_get_scale_values``): 1-based ``id`` and name."""

    id: int
    name: str


class WireFramework(_Inbound):
    """A competency framework as the exporter returns it."""

    id: int
    shortname: str
    idnumber: str
    description: str = ""
    descriptionformat: int = 1
    visible: bool = True
    scaleid: int
    scaleconfiguration: str
    contextid: int | None = None
    taxonomies: str = ""
    timecreated: int | None = None
    timemodified: int | None = None


class WireCompetency(_Inbound):
    """A competency as the exporter returns it (``path`` is ``/0/`` or ``/0/<ancestors>/``)."""

    id: int
    shortname: str
    idnumber: str
    description: str = ""
    descriptionformat: int = 1
    sortorder: int = 0
    parentid: int = 0
    path: str = "/0/"
    ruleoutcome: int = 0
    ruletype: str | None = None
    ruleconfig: str | None = None
    scaleid: int | None = None
    scaleconfiguration: str | None = None
    competencyframeworkid: int
    timecreated: int | None = None
    timemodified: int | None = None


class RelatedSection(_Inbound):
    """``tool_lp_data_for_related_competencies_section``: the competencies related to one."""

    relatedcompetencies: tuple[WireCompetency, ...] = ()


class CourseCompetency(_Inbound):
    """A course link record; ``ruleoutcome`` uses the COURSE numbering (2 recommend, 3 complete)."""

    id: int
    courseid: int
    competencyid: int
    sortorder: int = 0
    ruleoutcome: int = 1


class CourseCompetencyEntry(_Inbound):
    """One item of ``core_competency_list_course_competencies``."""

    competency: WireCompetency
    coursecompetency: CourseCompetency


class WireUser(_Inbound):
    """A user from ``core_user_get_users_by_field`` (fields present depend on permissions)."""

    id: int
    username: str | None = None
    email: str | None = None
    idnumber: str | None = None
    fullname: str | None = None


class UserCompetency(_Inbound):
    """A rating record: ``grade`` is the 1-based scale item, ``None`` when not rated."""

    id: int | None = None
    userid: int
    competencyid: int
    status: int = 0
    proficiency: bool | None = None
    grade: int | None = None
    timecreated: int | None = None
    timemodified: int | None = None


class UserCompetencyCourse(_Inbound):
    """A course-level rating (``competency_usercompcourse``)."""

    id: int | None = None
    userid: int
    courseid: int
    competencyid: int
    proficiency: bool | None = None
    grade: int | None = None
    timemodified: int | None = None


class UserCompetencyPlan(_Inbound):
    """The frozen rating of a completed plan (``competency_usercompplan``)."""

    id: int | None = None
    userid: int
    competencyid: int
    planid: int
    proficiency: bool | None = None
    grade: int | None = None
    timemodified: int | None = None


class WireEvidence(_Inbound):
    """One evidence record of a user competency.

    ``action``: 0 log, 2 complete (a rule or a completion; default grade), 3 override (a
    rating). ``grade`` is set for 2 and 3.
    """

    id: int
    usercompetencyid: int
    contextid: int | None = None
    action: int
    actionuserid: int | None = None
    descidentifier: str = ""
    desccomponent: str = ""
    desca: str | None = None
    url: str | None = None
    grade: int | None = None
    note: str | None = None
    description: str | None = None
    timecreated: int
    timemodified: int | None = None


class UserCompetencySummary(_Inbound):
    """``tool_lp_data_for_user_competency_summary`` (the parts we use).

    Careful: calling it CREATES an empty user_competency record when none exists, which
    locks the competency's scale (see the adapter's documentation).
    """

    usercompetency: UserCompetency | None = None
    evidence: tuple[WireEvidence, ...] = ()


class UserCompetencySummaryCourseBody(_Inbound):
    usercompetencycourse: UserCompetencyCourse | None = None
    usercompetency: UserCompetency | None = None


class UserCompetencySummaryInCourse(_Inbound):
    """``tool_lp_data_for_user_competency_summary_in_course`` (the part we use).

    Careful: it CREATES an empty course rating record when none exists (it does not lock
    the scale, unlike the site-level summary).
    """

    usercompetencysummary: UserCompetencySummaryCourseBody | None = None


class WirePlan(_Inbound):
    """A learning plan; ``status`` 0 draft, 1 active, 2 complete, 3/4 in review."""

    id: int
    name: str = ""
    userid: int
    templateid: int | None = None
    status: int = 0


class PlanCompetency(_Inbound):
    """One item of ``core_competency_list_plan_competencies``."""

    competency: WireCompetency
    usercompetency: UserCompetency | None = None
    usercompetencyplan: UserCompetencyPlan | None = None


class BatchResponse(_Inbound):
    """One inner answer of ``tool_mobile_call_external_functions`` (JSON strings inside)."""

    error: bool = False
    data: str | None = None
    exception: str | None = None


class BatchAnswer(_Inbound):
    responses: tuple[BatchResponse, ...] = ()


# -- outbound ----------------------------------------------------------------------------


ContextLevel = Literal["system", "coursecat"]


class ContextRef(_Outbound):
    """A context parameter: frameworks live in the system or a course-category context."""

    contextlevel: ContextLevel = "system"
    instanceid: int = 0


class FrameworkCreate(_Outbound):
    """``competencyframework`` of ``core_competency_create_competency_framework``."""

    shortname: str = Field(min_length=1, max_length=100)
    idnumber: str = Field(min_length=1, max_length=100)
    description: str | None = None
    descriptionformat: int | None = None
    visible: bool | None = None
    scaleid: int
    scaleconfiguration: str
    contextlevel: ContextLevel = "system"
    instanceid: int = 0
    taxonomies: str | None = Field(default=None, max_length=255)


class FrameworkUpdate(_Outbound):
    """``competencyframework`` of ``update_competency_framework``: only the fields to change.

    The context keys are not accepted here on purpose: a framework's context never changes.
    """

    id: int
    shortname: str | None = Field(default=None, min_length=1, max_length=100)
    idnumber: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None
    descriptionformat: int | None = None
    visible: bool | None = None
    scaleid: int | None = None
    scaleconfiguration: str | None = None
    taxonomies: str | None = Field(default=None, max_length=255)


class CompetencyCreate(_Outbound):
    """``competency`` of ``core_competency_create_competency``.

    Rules are never set here: they are written once all children exist, because creating a
    child resets its parent's rule.
    """

    shortname: str = Field(min_length=1, max_length=100)
    idnumber: str = Field(min_length=1, max_length=100)
    description: str | None = None
    descriptionformat: int | None = None
    competencyframeworkid: int
    parentid: int = 0
    scaleid: int | None = None
    scaleconfiguration: str | None = None


class CompetencyUpdate(_Outbound):
    """``competency`` of ``core_competency_update_competency``: only the fields to change.

    ``ruleconfig`` stays ``None`` (omitted) for an all-children rule: Moodle wants NULL there
    and refuses an empty string.
    """

    id: int
    shortname: str | None = Field(default=None, min_length=1, max_length=100)
    idnumber: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = None
    descriptionformat: int | None = None
    ruletype: str | None = None
    ruleoutcome: int | None = Field(default=None, ge=0, le=3)
    ruleconfig: str | None = None
    scaleid: int | None = None
    scaleconfiguration: str | None = None


UserField = Literal["email", "username", "idnumber", "id"]
"""How learner keys name Moodle users (``core_user_get_users_by_field``'s ``field``)."""
RateIn = Literal["site", "course", "plan"]
"""Where ratings are written: the user competency, a course, or a learning plan."""
