"""Gaps: every (assignment, requirement) with its standing, gap, priority and due date.

One row per person, role they hold and requirement of that role, as NumPy columns (a
report covers 100,000 learners and millions of rows). For each row:

- ``level``/``points``: the current result's level (a position in the competency's scale,
  ``-1`` for none) and points (its score, else its level's points, else 0);
- ``met``: the current level is at or above the target level;
- ``gap_points`` = max(0, target points - current points), and ``gap`` = gap_points /
  target points (the share of the target missing, 0..1; 0 when met);
- ``priority`` = impact x criticality x gap (0..25), the risk-weighted priority: business
  impact of the gap times how critical and frequent the need is, scaled by how much is
  missing. Unmet rows are listed by priority, then by due date;
- ``due``: the reassessment date, last evidence + cadence (the requirement's, else the
  role's); without evidence, the role's start + cadence; with neither, ``as_of`` (due now);
- ``first_proficient`` and ``start`` (the role's start, else the first evidence): their
  difference, never below 0, is the row's time to competence.

Pure: the inputs are computed results (the rules engine's), a timeline
(:mod:`comp_adapters.rules.first_proficient`), the assignments and ``as_of``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.reports.people import Assignment
from comp_adapters.reports.profiles import Requirement, Role, RoleProfiles
from comp_adapters.rules.columnar import _numpy, to_micros
from comp_adapters.rules.first_proficient import NO_LEVEL, Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

NONE_AT = -(2**63)
"""An absent instant in the int64 microsecond columns."""
DAY_US = 86_400_000_000
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class RequirementSlot:
    """One requirement of one role, with what the computation needs of it."""

    role: Role
    requirement: Requirement
    competency_code: int
    target: int
    target_points: float
    months: int
    days: int


@dataclass(frozen=True, eq=False)
class Placement:
    """Where values keyed by (person, competency) land: on each row of an assignment of
    that person whose role requires that competency."""

    people: dict[str, int]
    competencies: dict[str, int]
    per_person: Any
    first_of_person: Any
    by_person: Any
    slot_of: Any
    row_start: Any
    assignment_role: Any
    _codes: dict[int, tuple[Timeline, Any, Any]] = field(default_factory=dict)

    def rows(self, person: Any, competency: Any) -> tuple[Any, Any]:
        """(row, entry) for every entry (person code, competency code) that lands on a row."""
        np = _numpy()
        entries = np.flatnonzero((person >= 0) & (competency >= 0))
        person, competency = person[entries], competency[entries]
        counts = self.per_person[person]
        entries = np.repeat(entries, counts)
        offset = np.arange(len(entries)) - np.repeat(np.cumsum(counts) - counts, counts)
        assignment = self.by_person[np.repeat(self.first_of_person[person], counts) + offset]
        slot = self.slot_of[self.assignment_role[assignment], np.repeat(competency, counts)]
        hit = slot >= 0
        return self.row_start[assignment[hit]] + slot[hit], entries[hit]

    def codes_of(self, timeline: Timeline) -> tuple[Any, Any]:
        """Person and competency codes of the timeline's learner and competency codes
        (``-1`` where none), worked out once per timeline."""
        cached = self._codes.get(id(timeline))
        if cached is None or cached[0] is not timeline:
            np = _numpy()
            to_person = np.array([self.people.get(n, -1) for n in timeline.learners] or [-1])
            to_comp = np.array(
                [self.competencies.get(k, -1) for k in timeline.competencies] or [-1]
            )
            cached = (timeline, to_person, to_comp)
            self._codes[id(timeline)] = cached
        return cached[1], cached[2]

    def spread(
        self, timeline: Timeline, learner: Any, competency: Any, value: Any, size: int, default: int
    ) -> Any:
        """Values keyed by the timeline's codes, one per row (``default`` where none lands)."""
        np = _numpy()
        to_person, to_comp = self.codes_of(timeline)
        rows, entries = self.rows(to_person[learner], to_comp[competency])
        out = np.full(size, default, dtype=np.int64)
        out[rows] = np.asarray(value)[entries]
        return out


@dataclass(frozen=True, eq=False)
class GapRows:
    """Every (assignment, requirement), as columns (see the module doc)."""

    people: list[str]
    """Person keys; ``person`` holds codes into this list."""
    assignments: Sequence[Assignment]
    """``assignment`` holds positions in this list."""
    slots: list[RequirementSlot]
    """Every requirement of every role, role by role; ``slot`` holds positions here."""
    competencies: list[str]
    """Competency keys in framework order; ``competency`` holds codes into this list."""
    teams: list[str]
    """Team names; ``team`` holds codes into this list (``-1``: no team)."""
    roles: list[str]
    placement: Placement
    assignment: npt.NDArray[np.int64]
    person: npt.NDArray[np.int64]
    slot: npt.NDArray[np.int64]
    role: npt.NDArray[np.int64]
    team: npt.NDArray[np.int64]
    competency: npt.NDArray[np.int64]
    target: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    since: npt.NDArray[np.int64]
    level: npt.NDArray[np.int64]
    points: npt.NDArray[np.float64]
    met: npt.NDArray[np.bool_]
    gap_points: npt.NDArray[np.float64]
    gap: npt.NDArray[np.float64]
    priority: npt.NDArray[np.float64]
    last_seen: npt.NDArray[np.int64]
    due: npt.NDArray[np.int64]
    first_proficient: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    result: npt.NDArray[np.int64]
    """Position of the row's result in the results given (``-1``: none)."""
    unassigned_learners: int
    """Learners with results who hold no role in the assignments (left out, counted)."""

    def __len__(self) -> int:
        return len(self.slot)

    def ordered(self, rows: Any) -> Any:
        """``rows`` (positions) by priority (highest first), due date, person, requirement."""
        np = _numpy()
        rows = np.asarray(rows, dtype=np.int64)
        keys = (self.slot[rows], self.person[rows], self.due[rows], -self.priority[rows])
        return rows[np.lexsort(keys)]

    def met_at(self, timeline: Timeline, instant: int) -> Any:
        """Whether each row's requirement was met by the timeline's levels as of ``instant``."""
        return self.met_over(timeline, [instant])[0]

    def met_over(self, timeline: Timeline, instants: Sequence[int]) -> list[Any]:
        """:meth:`met_at` of each instant, placing the timeline's pairs on rows once."""
        np = _numpy()
        keys = timeline.competency.astype(np.int64) * max(len(timeline.learners), 1)
        keys += timeline.learner
        heads = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys
        to_person, to_comp = self.placement.codes_of(timeline)
        rows, pairs = self.placement.rows(
            to_person[timeline.learner[heads]], to_comp[timeline.competency[heads]]
        )
        ends = np.r_[heads[1:], len(keys)]
        found = []
        for instant in instants:
            # The pair's last change at or before the instant (changes are in time order).
            count = (
                np.add.reduceat((timeline.at <= instant).astype(np.int64), heads)
                if len(heads)
                else heads
            )
            last = heads + count - 1
            level = np.where(count > 0, timeline.level[np.minimum(last, ends - 1)], NO_LEVEL)
            row_level = np.full(len(self), NO_LEVEL, dtype=np.int64)
            row_level[rows] = level[pairs]
            found.append(row_level >= self.target)
        return found


def gap_rows(
    framework: Framework,
    profiles: RoleProfiles,
    assignments: Sequence[Assignment],
    results: Sequence[Proficiency],
    timeline: Timeline,
    *,
    as_of: datetime,
) -> GapRows:
    """Every (assignment, requirement) with its standing (see the module doc)."""
    np = _numpy()
    competencies = [c.key for c in framework.walk()]
    comp_code = {key: i for i, key in enumerate(competencies)}
    slots = _slots(framework, profiles, comp_code)
    roles = [role.key for role in profiles.roles]
    role_code = {key: i for i, key in enumerate(roles)}
    role_size = np.array([len(role.requirements) for role in profiles.roles], dtype=np.int64)
    role_first = np.cumsum(role_size) - role_size

    person_code: dict[str, int] = {}
    team_code: dict[str, int] = {}
    a_person = np.array(
        [person_code.setdefault(a.person, len(person_code)) for a in assignments], dtype=np.int64
    )
    a_role = np.array([role_code[a.role] for a in assignments], dtype=np.int64)
    a_team = np.array(
        [
            -1 if a.team is None else team_code.setdefault(a.team, len(team_code))
            for a in assignments
        ],
        dtype=np.int64,
    )
    a_since = np.array(
        [NONE_AT if a.since is None else to_micros(a.since) for a in assignments], dtype=np.int64
    )
    counts = role_size[a_role]
    assignment = np.repeat(np.arange(len(assignments), dtype=np.int64), counts)
    row_start = np.cumsum(counts) - counts
    slot = role_first[a_role][assignment] + np.arange(len(assignment)) - row_start[assignment]

    slot_of = np.full((len(roles), len(competencies)), -1, dtype=np.int64)
    for position, item in enumerate(slots):
        slot_of[role_code[item.role.key], item.competency_code] = (
            position - role_first[role_code[item.role.key]]
        )
    per_person = np.bincount(a_person, minlength=len(person_code))
    placement = Placement(
        people=person_code,
        competencies=comp_code,
        per_person=per_person,
        first_of_person=np.cumsum(per_person) - per_person,
        by_person=np.argsort(a_person, kind="stable"),
        slot_of=slot_of,
        row_start=row_start,
        assignment_role=a_role,
    )

    def per_slot(values: list[Any], dtype: Any) -> Any:
        return np.array(values, dtype=dtype)[slot] if len(slot) else np.zeros(0, dtype)

    competency = per_slot([s.competency_code for s in slots], np.int64)
    target = per_slot([s.target for s in slots], np.int64)
    target_points = per_slot([s.target_points for s in slots], np.float64)
    size = len(slot)

    level, points, result, strangers = _standing(
        np, framework, results, placement, competencies, size
    )
    level_points = _level_points(np, framework, competencies)
    by_level = np.where(level >= 0, level_points[competency, np.maximum(level, 0)], 0.0)
    points = np.where(np.isnan(points), by_level, points)
    met = level >= target
    gap_points = np.where(met, 0.0, np.maximum(target_points - points, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(target_points > 0, gap_points / target_points, 0.0)
    impact = per_slot([s.requirement.impact for s in slots], np.float64)
    criticality = per_slot([s.requirement.criticality for s in slots], np.float64)

    def spread(learner: Any, comp: Any, value: Any) -> Any:
        return placement.spread(timeline, learner, comp, value, size, NONE_AT)

    last_seen = spread(timeline.seen_learner, timeline.seen_competency, timeline.last_seen)
    first_seen = spread(timeline.seen_learner, timeline.seen_competency, timeline.first_seen)
    since = a_since[assignment]
    due = _due(
        np,
        last_seen,
        since,
        per_slot([s.months for s in slots], np.int64),
        per_slot([s.days for s in slots], np.int64),
        to_micros(as_of),
    )
    return GapRows(
        people=list(person_code),
        assignments=assignments,
        slots=slots,
        competencies=competencies,
        teams=list(team_code),
        roles=roles,
        placement=placement,
        assignment=assignment,
        person=a_person[assignment],
        slot=slot,
        role=a_role[assignment],
        team=a_team[assignment],
        competency=competency,
        target=target,
        weight=per_slot([s.requirement.weight for s in slots], np.float64),
        since=since,
        level=level,
        points=points,
        met=met,
        gap_points=gap_points,
        gap=gap,
        priority=np.round(impact * criticality * gap, 2),
        last_seen=last_seen,
        due=due,
        first_proficient=spread(*timeline.first_proficient()),
        start=np.where(since != NONE_AT, since, first_seen),
        result=result,
        unassigned_learners=strangers,
    )


def _standing(
    np: Any,
    framework: Framework,
    results: Sequence[Proficiency],
    placement: Placement,
    competencies: list[str],
    size: int,
) -> tuple[Any, Any, Any, int]:
    """Each row's current level code, score (NaN: none) and result (its position in
    ``results``, -1: none), and how many learners with results hold no role."""
    level_code = {
        (key, level.key): i
        for key in competencies
        for i, level in enumerate(framework.scale_for(key).levels)
    }
    person_of, comp_of, code_of = placement.people.get, placement.competencies.get, level_code.get
    # One pass per field: list comprehensions over the results are the fastest Python has.
    learners = [result.learner for result in results]
    keys = [result.competency for result in results]
    levels = [result.level for result in results]
    scores = [result.score for result in results]
    people = [person_of(learner, -1) for learner in learners]
    r_at = [i for i, who in enumerate(people) if who >= 0]
    strangers = {learners[i] for i, who in enumerate(people) if who < 0}
    r_person = [people[i] for i in r_at]
    r_comp = [comp_of(keys[i], -1) for i in r_at]
    r_level = [
        NO_LEVEL if levels[i] is None else code_of((keys[i], levels[i] or ""), -1) for i in r_at
    ]
    r_score = [_NAN if scores[i] is None else scores[i] for i in r_at]
    rows, entries = placement.rows(
        np.array(r_person, dtype=np.int64), np.array(r_comp, dtype=np.int64)
    )
    level = np.full(size, NO_LEVEL, dtype=np.int64)
    level[rows] = np.array(r_level, dtype=np.int64)[entries]
    score = np.full(size, np.nan)
    score[rows] = np.array(r_score, dtype=np.float64)[entries]
    result = np.full(size, -1, dtype=np.int64)
    result[rows] = np.array(r_at, dtype=np.int64)[entries]
    return level, score, result, len(strangers)


def _due(np: Any, last_seen: Any, since: Any, months: Any, days: Any, as_of_us: int) -> Any:
    """Last evidence + cadence; else the role's start + cadence; else as_of (due now)."""
    base = np.where(last_seen != NONE_AT, last_seen, since)
    due = np.full(len(base), as_of_us, dtype=np.int64)
    known = base != NONE_AT
    due[known] = add_period(np, base[known], months[known], days[known])
    return due


def _slots(
    framework: Framework, profiles: RoleProfiles, comp_code: dict[str, int]
) -> list[RequirementSlot]:
    slots: list[RequirementSlot] = []
    for role in profiles.roles:
        for requirement in role.requirements:
            scale = framework.scale_for(requirement.competency)
            target = [level.key for level in scale.levels].index(requirement.target)
            cadence = role.cadence_for(requirement)
            slots.append(
                RequirementSlot(
                    role=role,
                    requirement=requirement,
                    competency_code=comp_code[requirement.competency],
                    target=target,
                    target_points=scale.levels[target].points,
                    months=cadence.months,
                    days=cadence.days,
                )
            )
    return slots


def _level_points(np: Any, framework: Framework, competencies: list[str]) -> Any:
    width = max(len(framework.scale_for(key).levels) for key in competencies) if competencies else 1
    table = np.zeros((max(len(competencies), 1), width))
    for code, key in enumerate(competencies):
        for i, level in enumerate(framework.scale_for(key).levels):
            table[code, i] = level.points
    return table


def add_period(np: Any, instants: Any, months: Any, days: Any) -> Any:
    """``instants`` (microseconds) plus whole calendar months (a day past the end of the
    target month becomes its last day, time of day kept) plus days."""
    stamps = instants.astype("datetime64[us]")
    month = stamps.astype("datetime64[M]")
    offset = (stamps - month.astype("datetime64[us]")).astype(np.int64)
    target = month + months.astype("timedelta64[M]")
    start = target.astype("datetime64[us]").astype(np.int64)
    length = (target + np.timedelta64(1, "M")).astype("datetime64[us]").astype(np.int64) - start
    clamped = np.where(offset >= length, length - DAY_US + offset % DAY_US, offset)
    return start + clamped + days * DAY_US
