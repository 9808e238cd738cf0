"""Pydantic models of Canvas's JSON payloads: lenient inbound, strict outbound.

Inbound models ignore fields they do not know (Canvas adds fields between releases) and
accept ids as numbers or strings. Outbound models forbid unknown fields, so a typo in the
adapter is a bug found by the tests, not a parameter Canvas silently ignores. Shapes are
those of Canvas's Outcomes, Outcome Groups, Outcome Imports, Outcome Results, Proficiency
Ratings, Account Reports, Assignments, Rubrics and Submissions APIs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Inbound(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class _Outbound(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def payload(self) -> dict[str, Any]:
        """The JSON body: fields left at ``None`` are not sent."""
        return self.model_dump(mode="json", exclude_none=True)


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# -- outcomes and groups ---------------------------------------------------------------------


class WireRating(_Inbound):
    """One rating of an outcome's criterion or of a context's mastery scale."""

    description: str | None = None
    points: float | None = None
    mastery: bool | None = None
    color: str | None = None


class WireOutcome(_Inbound):
    """An outcome, abbreviated (links) or full (``GET /outcomes/:id``, ``outcome_style=full``)."""

    id: int
    title: str = ""
    display_name: str | None = None
    description: str | None = None
    friendly_description: str | None = None
    vendor_guid: str | None = None
    context_id: int | None = None
    context_type: str | None = None
    points_possible: float | None = None
    mastery_points: float | None = None
    ratings: list[WireRating] | None = None
    calculation_method: str | None = None
    calculation_int: int | None = None
    can_edit: bool | None = None
    assessed: bool | None = None


class WireGroupRef(_Inbound):
    """An abbreviated outcome group (inside links and as a parent)."""

    id: int
    title: str = ""
    vendor_guid: str | None = None


class WireGroup(_Inbound):
    """An outcome group (full form: parent, description, context)."""

    id: int
    title: str = ""
    vendor_guid: str | None = None
    description: str | None = None
    parent_outcome_group: WireGroupRef | None = None
    context_id: int | None = None
    context_type: str | None = None


class WireOutcomeLink(_Inbound):
    """An outcome linked into a group (OutcomeLink)."""

    context_id: int | None = None
    context_type: str | None = None
    outcome_group: WireGroupRef
    outcome: WireOutcome
    assessed: bool | None = None
    can_unlink: bool | None = None


class GroupWrite(_Outbound):
    """Body of POST ``.../subgroups`` and PUT ``.../outcome_groups/:id``."""

    title: str | None = None
    description: str | None = None
    vendor_guid: str | None = None
    parent_outcome_group_id: int | None = None


class RatingWrite(_Outbound):
    description: str
    points: float


class OutcomeWrite(_Outbound):
    """Body of POST ``.../outcome_groups/:id/outcomes`` and PUT ``/outcomes/:id``.

    Canvas resets mastery to the top rating when ratings come without ``mastery_points``,
    so the adapter always sends both together.
    """

    title: str | None = None
    display_name: str | None = None
    description: str | None = None
    vendor_guid: str | None = None
    mastery_points: float | None = None
    ratings: list[RatingWrite] | None = None
    calculation_method: str | None = None
    calculation_int: int | None = None


# -- outcome imports and account reports -----------------------------------------------------


class WireOutcomeImport(_Inbound):
    """An OutcomeImport: ``workflow_state`` goes created -> importing -> succeeded | failed.

    ``processing_errors`` holds ``[row, message]`` pairs (the first 25); an import that
    ``succeeded`` may still have row errors.
    """

    id: int
    workflow_state: str
    progress: float | None = None
    processing_errors: list[tuple[int, str]] = Field(default_factory=list)

    @field_validator("processing_errors", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class WireAttachment(_Inbound):
    url: str | None = None


class WireReport(_Inbound):
    """An account report run (``outcome_export_csv``)."""

    id: int
    status: str
    progress: float | None = None
    file_url: str | None = None
    attachment: WireAttachment | None = None


# -- results and rollups ---------------------------------------------------------------------


class ResultLinks(_Inbound):
    user: str
    learning_outcome: str
    alignment: str | None = None
    assignment: str | None = None

    _ids = field_validator("user", "learning_outcome", "alignment", "assignment", mode="before")(
        _id_text
    )


class WireOutcomeResult(_Inbound):
    """One learning outcome result (one assessment of one user on one outcome).

    ``id`` is null for New Quizzes results, which Canvas merges in from the Outcomes
    Service (``Outcomes::ResultAnalytics#handle_outcomes_service_results`` builds them
    unsaved); ``submitted_or_assessed_at`` is null for a result with neither time.
    """

    id: int | None = None
    score: float | None = None
    possible: float | None = None
    percent: float | None = None
    mastery: bool | None = None
    hide_points: bool | None = None
    hidden: bool | None = None
    submitted_or_assessed_at: str | None = None
    links: ResultLinks


class WireLinkedUser(_Inbound):
    id: str
    name: str | None = None
    display_name: str | None = None
    sortable_name: str | None = None

    _id = field_validator("id", mode="before")(_id_text)


class WireAlignment(_Inbound):
    """A linked alignment (``include[]=alignments``): an assignment or assessment."""

    id: str
    name: str | None = None
    html_url: str | None = None
    mastery_score: float | None = None

    _id = field_validator("id", mode="before")(_id_text)


class WireLinked(_Inbound):
    users: list[WireLinkedUser] = Field(default_factory=list)
    outcomes: list[WireOutcome] = Field(default_factory=list)
    alignments: list[WireAlignment] = Field(default_factory=list)


class WireOutcomeResultsPage(_Inbound):
    outcome_results: list[WireOutcomeResult] = Field(default_factory=list)
    linked: WireLinked = Field(default_factory=WireLinked)


class RollupScoreLinks(_Inbound):
    outcome: str

    _id = field_validator("outcome", mode="before")(_id_text)


class WireRollupScore(_Inbound):
    score: float | None = None
    count: int | None = None
    title: str | None = None
    submitted_at: str | None = None
    links: RollupScoreLinks


class RollupLinks(_Inbound):
    user: str | None = None
    section: str | None = None
    course: str | None = None

    _ids = field_validator("user", "section", "course", mode="before")(_id_text)


class WireRollup(_Inbound):
    scores: list[WireRollupScore] = Field(default_factory=list)
    links: RollupLinks = Field(default_factory=RollupLinks)


class WireRollupsPage(_Inbound):
    rollups: list[WireRollup] = Field(default_factory=list)


class WireUser(_Inbound):
    """A course user (``GET /courses/:id/users``); login_id, sis_user_id and email need rights."""

    id: str
    name: str | None = None
    login_id: str | None = None
    sis_user_id: str | None = None
    email: str | None = None

    _id = field_validator("id", mode="before")(_id_text)


# -- mastery scale (account/course proficiency) ------------------------------------------------


class WireProficiency(_Inbound):
    ratings: list[WireRating] = Field(default_factory=list)


class ProficiencyRatingWrite(_Outbound):
    description: str
    points: float
    mastery: bool
    color: str


class ProficiencyWrite(_Outbound):
    """Body of POST ``{ctx}/outcome_proficiency`` (creates or replaces the context's scale)."""

    ratings: list[ProficiencyRatingWrite]


# -- assignments, rubrics, submissions (the mastery write-back path) ---------------------------


class WireCriterionRating(_Inbound):
    id: str | None = None
    description: str | None = None
    points: float | None = None


class WireCriterion(_Inbound):
    """A rubric criterion as listed in ``assignment.rubric`` (``outcome_id`` when aligned)."""

    id: str
    points: float | None = None
    description: str | None = None
    outcome_id: int | None = None
    mastery_points: float | None = None
    ratings: list[WireCriterionRating] = Field(default_factory=list)


class WireRubricSettings(_Inbound):
    id: int | None = None
    title: str | None = None
    points_possible: float | None = None


class WireAssignment(_Inbound):
    id: int
    name: str = ""
    points_possible: float | None = None
    rubric: list[WireCriterion] | None = None
    rubric_settings: WireRubricSettings | None = None


class AssignmentWrite(_Outbound):
    """Body of POST ``/courses/:id/assignments`` (wrapped as ``{"assignment": ...}``)."""

    name: str
    description: str
    submission_types: list[str]
    points_possible: float
    grading_type: str
    published: bool
    omit_from_final_grade: bool


class CriterionRatingWrite(_Outbound):
    description: str
    points: float


class CriterionWrite(_Outbound):
    description: str
    points: float
    learning_outcome_id: int
    mastery_points: float
    ratings: dict[str, CriterionRatingWrite]


class RubricWrite(_Outbound):
    title: str
    criteria: dict[str, CriterionWrite]
    free_form_criterion_comments: bool = False


class RubricAssociationWrite(_Outbound):
    association_type: str
    association_id: int
    purpose: str
    use_for_grading: bool
    hide_outcome_results: bool


class WireRubric(_Inbound):
    id: int
    title: str | None = None
    data: list[WireCriterion] = Field(default_factory=list)


class WireRubricAssociation(_Inbound):
    id: int
    association_id: int | None = None
    association_type: str | None = None


class WireRubricCreated(_Inbound):
    """Response of POST ``/courses/:id/rubrics``: the rubric and its association."""

    rubric: WireRubric
    rubric_association: WireRubricAssociation | None = None


class WireAssessedCriterion(_Inbound):
    points: float | None = None
    rating_id: str | None = None
    comments: str | None = None


class WireSubmission(_Inbound):
    id: int | None = None
    user_id: str
    assignment_id: int | None = None
    rubric_assessment: dict[str, WireAssessedCriterion] | None = None

    _id = field_validator("user_id", mode="before")(_id_text)
