"""Evidence: one observed fact about a learner on a competency, from any source system."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from comp_adapters.core.scale import Key
from comp_adapters.core.timeutil import UtcDatetime


class EvidenceKind(StrEnum):
    """The evidence taxonomy: what sort of fact this is."""

    OBSERVATION = "observation"
    ASSESSMENT = "assessment"
    PROJECT_ARTIFACT = "project_artifact"
    CERTIFICATION = "certification"
    ATTESTATION = "attestation"
    COURSE_COMPLETION = "course_completion"
    LMS_RATING = "lms_rating"
    OTHER = "other"


class Visibility(StrEnum):
    """Who may see a piece of evidence, from widest to narrowest audience."""

    PUBLIC = "public"
    ORGANISATION = "organisation"
    MANAGERS = "managers"
    LEARNER = "learner"
    PRIVATE = "private"


LearnerKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class Evidence(BaseModel):
    """A fact about one learner on one competency, at one time.

    The result is a ``score`` (a fraction of the scale's top points: usually 0..1, above 1
    where the source grants extra credit, as Canvas does for a result above the outcome's
    points), a ``level`` (a key of the competency's scale), or only ``success``; at least one
    of them is present. Times are timezone-aware and held in UTC. Voided evidence is kept (so
    a later re-read does not bring it back) but never counts.

    ``sequence`` is the source's own order among evidence observed at the same instant (for
    Canvas, the result id: Canvas sorts results by time in whole seconds, ties by id). The
    engine orders evidence by ``observed_at``, ties by ``sequence`` (evidence without one
    after evidence with one), then by ``id``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    learner: LearnerKey
    competency: Key
    kind: EvidenceKind = EvidenceKind.OTHER
    score: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    level: Key | None = None
    success: bool | None = None
    observed_at: UtcDatetime
    recorded_at: UtcDatetime | None = None
    sequence: int | None = Field(default=None, ge=-(2**63), lt=2**63 - 1)
    source_system: str | None = None
    source_id: str | None = None
    expires_at: UtcDatetime | None = None
    voided: bool = False
    visibility: Visibility = Visibility.ORGANISATION
    note: str | None = None

    @model_validator(mode="after")
    def _has_result(self) -> Evidence:
        if self.score is None and self.level is None and self.success is None:
            raise ValueError("evidence needs a result: score, level or success")
        if self.expires_at is not None and self.expires_at <= self.observed_at:
            raise ValueError("expires_at must be after observed_at")
        return self
