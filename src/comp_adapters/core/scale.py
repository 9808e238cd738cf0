"""Proficiency scales: ordered levels with points, a proficient flag and one default level."""

from __future__ import annotations

from bisect import bisect_right
from functools import cached_property
from itertools import pairwise
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Key = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
"""A natural key: 1-100 characters, no leading or trailing whitespace (Moodle's idnumber limit)."""


class ScaleLevel(BaseModel):
    """One level of a scale, e.g. ``competent`` worth 3 points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key
    name: str = Field(min_length=1)
    points: float = Field(ge=0, allow_inf_nan=False)
    proficient: bool = False
    description: str | None = None


class ProficiencyScale(BaseModel):
    """Ordered levels, lowest first (Moodle's scale item order; Canvas lists them reversed).

    ``default_level`` is the level Moodle gives a competency completed by a rule.
    ``mastery_points`` is the score from which a learner counts as mastering (Canvas's
    ``mastery_points``); when omitted it is the points of the lowest proficient level.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key | None = None
    name: str | None = None
    levels: tuple[ScaleLevel, ...] = Field(min_length=1)
    default_level: Key
    mastery_points: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> ProficiencyScale:
        problems: list[str] = []
        keys = [level.key for level in self.levels]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            problems.append(f"duplicate level keys: {', '.join(duplicates)}")
        if self.default_level not in keys:
            problems.append(f"default_level {self.default_level!r} is not one of the levels")
        if not any(level.proficient for level in self.levels):
            problems.append("the scale has no proficient level")
        points = [level.points for level in self.levels]
        if any(b <= a for a, b in pairwise(points)):
            problems.append("levels must be listed lowest first with strictly increasing points")
        if self.mastery_points is not None and not (points[0] <= self.mastery_points <= points[-1]):
            problems.append(
                f"mastery_points {self.mastery_points:g} is outside the scale "
                f"({points[0]:g}-{points[-1]:g})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def by_key(self) -> dict[str, ScaleLevel]:
        return {level.key: level for level in self.levels}

    @property
    def min_points(self) -> float:
        return self.levels[0].points

    @property
    def max_points(self) -> float:
        """Canvas's ``points_possible``: the top level's points."""
        return self.levels[-1].points

    @cached_property
    def effective_mastery_points(self) -> float:
        """``mastery_points`` if set, else the points of the lowest proficient level."""
        if self.mastery_points is not None:
            return self.mastery_points
        return min(level.points for level in self.levels if level.proficient)

    @property
    def default(self) -> ScaleLevel:
        return self.by_key[self.default_level]

    @cached_property
    def _floors(self) -> list[float]:
        return [level.points for level in self.levels]

    def level_index_for_points(self, points: float) -> int:
        """Position (0-based, lowest first) of the level :meth:`level_for_points` picks."""
        return max(bisect_right(self._floors, points) - 1, 0)

    def level_for_points(self, points: float) -> ScaleLevel:
        """Canvas's bucketing: the highest level whose points are <= ``points``.

        A score below the lowest level falls into the lowest level.
        """
        return self.levels[self.level_index_for_points(points)]

    def index_of(self, key: str) -> int:
        """1-based position of a level (Moodle's grade value for it)."""
        for position, level in enumerate(self.levels, start=1):
            if level.key == key:
                return position
        raise KeyError(key)

    def consistency_warnings(self) -> list[str]:
        """Legal but surprising configurations worth telling the author about."""
        warnings: list[str] = []
        mastery = self.effective_mastery_points
        for level in self.levels:
            if level.proficient and level.points < mastery:
                warnings.append(
                    f"level {level.key!r} is proficient but below mastery_points {mastery:g}"
                )
            if not level.proficient and level.points >= mastery:
                warnings.append(
                    f"level {level.key!r} reaches mastery_points {mastery:g} "
                    "but is not flagged proficient"
                )
        return warnings
