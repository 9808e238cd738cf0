"""Proficiency: the computed standing of one learner on one competency, with its reasons."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from comp_adapters.core.scale import Key
from comp_adapters.core.timeutil import UtcDatetime


class Proficiency(BaseModel):
    """What the rules engine concluded for one (learner, competency) as of a time.

    ``score`` is in the competency's scale points (``None`` when the method gives no score,
    e.g. n_mastery with too few results, or a rule completion). ``method`` names what
    decided it: a calculation method, or ``rule:all_children`` / ``rule:points``.
    ``explanation`` says why, in words a learner or an auditor can read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    learner: str
    competency: Key
    score: float | None
    level: Key | None
    proficient: bool
    method: str
    evidence_ids: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    as_of: UtcDatetime
    explanation: str
    review_requested: bool = False
