"""First time proficient: when each result first became proficient, and every level it held.

Time-to-competence needs more than the standing as of now: it needs the instant at which a
learner's result on a competency *first* became proficient. The engine's result for one
(learner, competency) as of an instant ``t`` can only change at an instant where a piece of
that learner's evidence is observed or expires, so replaying each pair's evidence in time
order and computing the result after each such instant gives every level it ever held.

**Definition.** The level of (learner, competency) at an instant ``t <= as_of`` is the level
``evaluate(framework, evidence, as_of=t)`` gives it, with what is only known as of
``as_of`` applied at every instant: a voided id is withdrawn everywhere, and of a duplicated
id one copy is kept, chosen as the engine chooses (recorded last, then by content; among
identical candidates the first in input order), but among every copy observed by
``as_of``, expired or not. Parents follow from their children at each instant exactly as the
engine rolls them up (a ``complete`` rule gives an unrated parent the scale's default level).

:func:`proficiency_timeline` returns a :class:`Timeline`: the changes of level of every pair
(instant, level; a lost level is a change to "no level"), the first and last evidence of each
pair (a parent's include its descendants'), and :meth:`Timeline.first_proficient`. Given
:class:`~comp_adapters.core.Evidence` objects it replays row by row in Python; given an
:class:`~comp_adapters.rules.columnar.EvidenceTable` it replays whole columns at once with
NumPy (pairs whose evidence expires before ``as_of`` are replayed row by row there too: their
results are not prefixes of one sequence). Both give identical timelines.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import Framework, RuleOutcome
from comp_adapters.core.timeutil import to_utc
from comp_adapters.rules.calculate import calculate_unchecked
from comp_adapters.rules.columnar import (
    EvidenceTable,
    _numpy,
    _pick,
    _segments,
    from_micros,
    ruby_round_array,
    to_micros,
)
from comp_adapters.rules.engine import _WEIGHTED_METHODS, _check_weights, _plans

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from comp_adapters.rules.engine import _CompetencyPlan

NO_LEVEL = -1
"""Level code of "no level": no result, not rated, or a level lost."""

# One usable piece of evidence of a pair: (observed, id, points, weight, expires or None).
# Instants are datetimes in the row replay and int64 microseconds in the columnar one.
_Row = tuple[Any, str, float, float, Any]


@dataclass(frozen=True, eq=False)
class Timeline:
    """Every change of level of every (learner, competency), as columns.

    Change ``i`` says that from instant ``at[i]`` (microseconds since the epoch, UTC) the
    result of learner ``learners[learner[i]]`` on ``competencies[competency[i]]`` has level
    ``level[i]`` (a position in that competency's scale, lowest first; :data:`NO_LEVEL` for
    none) until the pair's next change. Changes are ordered by competency, learner and time;
    a pair without any level never appears. ``first_seen``/``last_seen`` give, for each pair
    listed in ``seen_learner``/``seen_competency``, the first and last instant at which
    evidence on it (or, for a parent, on it or anything under it) was observed.
    """

    learners: list[str]
    competencies: list[str]
    level_keys: list[tuple[str, ...]]
    level_proficient: list[tuple[bool, ...]]
    learner: npt.NDArray[np.int32]
    competency: npt.NDArray[np.int32]
    at: npt.NDArray[np.int64]
    level: npt.NDArray[np.int16]
    seen_learner: npt.NDArray[np.int32]
    seen_competency: npt.NDArray[np.int32]
    first_seen: npt.NDArray[np.int64]
    last_seen: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.at)

    def proficient_mask(self) -> Any:
        """Which changes are to a proficient level."""
        np = _numpy()
        width = max((len(p) for p in self.level_proficient), default=0) + 1
        table = np.zeros((max(len(self.competencies), 1), width), dtype=bool)
        for code, flags in enumerate(self.level_proficient):
            table[code, : len(flags)] = flags
        # NO_LEVEL (-1) indexes the last column, which is always False.
        return table[self.competency, self.level]

    def first_proficient(self) -> tuple[Any, Any, Any]:
        """(learner codes, competency codes, instants): the first proficient change of
        every pair that was ever proficient, in the timeline's order."""
        np = _numpy()
        hits = np.flatnonzero(self.proficient_mask())
        keys = self._pair_keys()[hits]
        first = hits[np.r_[True, keys[1:] != keys[:-1]]] if len(hits) else hits
        return self.learner[first], self.competency[first], self.at[first]

    def first_proficient_map(self) -> dict[tuple[str, str], datetime]:
        """``{(learner, competency): first instant proficient}``."""
        learner, competency, at = self.first_proficient()
        return {
            (self.learners[lc], self.competencies[cc]): from_micros(t)
            for lc, cc, t in zip(learner.tolist(), competency.tolist(), at.tolist(), strict=True)
        }

    def levels_at(self, instant: int) -> tuple[Any, Any, Any]:
        """(learner codes, competency codes, level codes) of every pair with a change at or
        before ``instant`` (microseconds): its level then (:data:`NO_LEVEL` if lost)."""
        np = _numpy()
        rows = np.flatnonzero(self.at <= instant)
        keys = self._pair_keys()[rows]
        last = rows[np.r_[keys[1:] != keys[:-1], True]] if len(rows) else rows
        return self.learner[last], self.competency[last], self.level[last]

    def changes(self) -> dict[tuple[str, str], tuple[tuple[datetime, str | None], ...]]:
        """``{(learner, competency): ((instant, level key or None), ...)}``, for reading."""
        found: dict[tuple[str, str], list[tuple[datetime, str | None]]] = {}
        rows = zip(
            self.learner.tolist(),
            self.competency.tolist(),
            self.at.tolist(),
            self.level.tolist(),
            strict=True,
        )
        for lc, cc, t, level in rows:
            key = None if level == NO_LEVEL else self.level_keys[cc][level]
            found.setdefault((self.learners[lc], self.competencies[cc]), []).append(
                (from_micros(t), key)
            )
        return {pair: tuple(items) for pair, items in found.items()}

    def seen(self) -> dict[tuple[str, str], tuple[datetime, datetime]]:
        """``{(learner, competency): (first evidence, last evidence)}``."""
        rows = zip(
            self.seen_learner.tolist(),
            self.seen_competency.tolist(),
            self.first_seen.tolist(),
            self.last_seen.tolist(),
            strict=True,
        )
        return {
            (self.learners[lc], self.competencies[cc]): (from_micros(a), from_micros(b))
            for lc, cc, a, b in rows
        }

    def _pair_keys(self) -> Any:
        return self.competency.astype("int64") * max(len(self.learners), 1) + self.learner


def proficiency_timeline(
    framework: Framework,
    evidence: Iterable[Evidence] | EvidenceTable,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> Timeline:
    """Every level each (learner, competency) held up to ``as_of`` (see the module doc).

    Takes the same arguments as :func:`~comp_adapters.rules.evaluate`; the last level of
    each pair is the level ``evaluate`` gives it as of ``as_of``.
    """
    as_of = to_utc(as_of)
    if min_evidence < 1:
        raise ValueError("min_evidence must be >= 1")
    weights = _check_weights(kind_weights)
    plans = _plans(framework)
    if isinstance(evidence, EvidenceTable):
        return _ColumnarReplay(framework, plans, evidence, as_of, weights, min_evidence).run()
    return _row_timeline(framework, plans, evidence, as_of, weights, min_evidence)


def first_proficient(
    framework: Framework,
    evidence: Iterable[Evidence] | EvidenceTable,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> dict[tuple[str, str], datetime]:
    """``{(learner, competency): the first instant its result was proficient}``, up to
    ``as_of``, for every pair that ever was (see :func:`proficiency_timeline`)."""
    return proficiency_timeline(
        framework, evidence, as_of=as_of, kind_weights=kind_weights, min_evidence=min_evidence
    ).first_proficient_map()


# -- shared by both replays ---------------------------------------------------------------


def _leaf_level(
    plan: _CompetencyPlan, rows: Sequence[_Row], min_evidence: int, *, weighted: bool
) -> int:
    """The level code the engine gives these rows (time order), as ``_leaf_result`` does."""
    if len(rows) < min_evidence:
        return NO_LEVEL
    method = plan.method
    scores = [row[2] for row in rows]
    weights = [row[3] for row in rows] if weighted and method in _WEIGHTED_METHODS else None
    if weights is not None and all(w == 1.0 for w in weights):
        weights = None
    score = calculate_unchecked(method, scores, plan.n, plan.mastery, weights)
    if score is None:
        return NO_LEVEL
    return plan.scale.level_index_for_points(score)


def _leaf_changes(
    plan: _CompetencyPlan,
    rows: list[_Row],
    as_of: Any,
    min_evidence: int,
    *,
    weighted: bool,
) -> list[tuple[Any, int]]:
    """(instant, level) at each change of one pair's level, replaying its rows in full at
    every instant where one is observed or expires (exact, and fine for the few pairs with
    expiring evidence; quadratic in the pair's rows)."""
    rows.sort(key=lambda row: (row[0], row[1]))
    instants = sorted(
        {row[0] for row in rows}
        | {row[4] for row in rows if row[4] is not None and row[4] <= as_of}
    )
    changes: list[tuple[Any, int]] = []
    current = NO_LEVEL
    for instant in instants:
        active = [r for r in rows if r[0] <= instant and (r[4] is None or r[4] > instant)]
        level = _leaf_level(plan, active, min_evidence, weighted=weighted)
        if level != current:
            changes.append((instant, level))
            current = level
    return changes


def _pick_copy(candidates: list[tuple[tuple[Any, ...], int]]) -> int:
    """Of the usable copies of one id, ``(engine's sort key, input position)``, the position
    of the one kept: the greatest key (recorded last, then by content), then the first."""
    best = max(candidates, key=lambda c: (c[0], -c[1]))
    return best[1]


@dataclass(frozen=True, slots=True)
class _RuleShape:
    """What rolling one parent up needs, looked up once."""

    key: str
    children: tuple[str, ...]
    all_children: bool
    required: tuple[str, ...]
    points: tuple[tuple[str, int], ...]
    base: int
    completes_to: int
    """Level code a ``complete`` rule gives an unrated parent; NO_LEVEL if not ``complete``."""


def _rule_shapes(framework: Framework, plans: Mapping[str, _CompetencyPlan]) -> list[_RuleShape]:
    """The parents whose rule can change a level, children before parents (engine order)."""
    shapes: list[_RuleShape] = []
    for competency in reversed(list(framework.walk())):
        rule = competency.rollup
        children = tuple(child.key for child in framework.children_of(competency.key))
        if rule is None or rule.outcome is RuleOutcome.NONE or not children:
            continue
        plan = plans[competency.key]
        completes = rule.outcome is RuleOutcome.COMPLETE
        shapes.append(
            _RuleShape(
                key=competency.key,
                children=children,
                all_children=rule.type == "all_children",
                required=tuple(child.key for child in rule.children if child.required),
                points=tuple((child.key, child.points) for child in rule.children),
                base=rule.base_points or 0,
                completes_to=(
                    plan.scale.levels.index(plan.scale.default) if completes else NO_LEVEL
                ),
            )
        )
    return shapes


def _subtree_parents(framework: Framework) -> list[tuple[str, tuple[str, ...]]]:
    """(parent, direct children) of every competency with children, children first."""
    return [
        (c.key, tuple(child.key for child in framework.children_of(c.key)))
        for c in reversed(list(framework.walk()))
        if framework.children_of(c.key)
    ]


# -- the row replay ------------------------------------------------------------------------


def _row_timeline(
    framework: Framework,
    plans: Mapping[str, _CompetencyPlan],
    evidence: Iterable[Evidence],
    as_of: datetime,
    weights: Mapping[str, float] | None,
    min_evidence: int,
) -> Timeline:
    buckets = _collect_rows(evidence, plans, weights, as_of)
    levels: dict[str, dict[str, list[tuple[datetime, int]]]] = {key: {} for key in plans}
    seen: dict[str, dict[str, tuple[datetime, datetime]]] = {key: {} for key in plans}
    for key, by_learner in buckets.items():
        for learner, rows in by_learner.items():
            changes = _leaf_changes(
                plans[key], rows, as_of, min_evidence, weighted=weights is not None
            )
            if changes:
                levels[key][learner] = changes
            seen[key][learner] = (rows[0][0], rows[-1][0])  # sorted by _leaf_changes
    for shape in _rule_shapes(framework, plans):
        _roll_up_rows(shape, plans, levels)
    for parent, children in _subtree_parents(framework):
        for child in children:
            for learner, (first, last) in seen[child].items():
                known = seen[parent].get(learner)
                if known is None:
                    seen[parent][learner] = (first, last)
                else:
                    seen[parent][learner] = (min(known[0], first), max(known[1], last))
    return _timeline_from_rows(plans, levels, seen)


def _collect_rows(
    evidence: Iterable[Evidence],
    plans: Mapping[str, _CompetencyPlan],
    weights: Mapping[str, float] | None,
    as_of: datetime,
) -> dict[str, dict[str, list[_Row]]]:
    """Usable rows per competency and learner: the engine's filters, but for every instant
    up to ``as_of`` (expiry is applied per instant by the replay, not here)."""
    voided: set[str] = set()
    copies: dict[str, list[tuple[tuple[Any, ...], int]]] = {}
    kept: list[tuple[str, str, _Row]] = []
    for item in evidence:
        if item.voided:
            voided.add(item.id)
            continue
        plan = plans.get(item.competency)
        if plan is None or item.observed_at > as_of:
            continue
        weight = 1.0 if weights is None else weights.get(item.kind, 1.0)
        if weight == 0.0:
            continue
        if item.score is not None:
            points = item.score * plan.possible
        elif item.level is not None:
            found = plan.level_points.get(item.level)
            if found is None:
                continue
            points = found
        else:
            points = plan.mastery if item.success else plan.minimum
        recorded = item.recorded_at or item.observed_at
        engine_row = (item.observed_at, item.id, points, weight, item.kind.value, recorded)
        copies.setdefault(item.id, []).append(
            ((recorded, item.competency, item.learner, engine_row), len(kept))
        )
        kept.append(
            (
                item.competency,
                item.learner,
                (item.observed_at, item.id, points, weight, item.expires_at),
            )
        )
    keep = [True] * len(kept)
    for item_id, candidates in copies.items():
        if item_id in voided:
            for _, at in candidates:
                keep[at] = False
        elif len(candidates) > 1:
            winner = _pick_copy(candidates)
            for _, at in candidates:
                keep[at] = at == winner
    buckets: dict[str, dict[str, list[_Row]]] = {}
    for (competency, learner, row), use in zip(kept, keep, strict=True):
        if use:
            buckets.setdefault(competency, {}).setdefault(learner, []).append(row)
    return buckets


def _level_at(changes: list[tuple[datetime, int]], instants: list[datetime], t: datetime) -> int:
    at = bisect_right(instants, t) - 1
    return NO_LEVEL if at < 0 else changes[at][1]


def _roll_up_rows(
    shape: _RuleShape,
    plans: Mapping[str, _CompetencyPlan],
    levels: dict[str, dict[str, list[tuple[datetime, int]]]],
) -> None:
    """One parent's changes from its own and its children's, instant by instant."""
    flags = {key: [level[1] for level in plans[key].levels] for key in shape.children}
    learners = sorted({learner for child in shape.children for learner in levels[child]})
    own_all = levels[shape.key]
    for learner in learners:
        tracks = {child: levels[child].get(learner, []) for child in shape.children}
        own = own_all.get(learner, [])
        instants = sorted({t for track in (*tracks.values(), own) for t, _ in track})
        times = {child: [t for t, _ in track] for child, track in tracks.items()}
        own_times = [t for t, _ in own]
        changes: list[tuple[datetime, int]] = []
        current = NO_LEVEL
        for instant in instants:
            proficient = set()
            for child in shape.children:
                level = _level_at(tracks[child], times[child], instant)
                if level != NO_LEVEL and flags[child][level]:
                    proficient.add(child)
            if shape.all_children:
                matched = len(proficient) == len(shape.children)
            else:
                matched = (
                    all(child in proficient for child in shape.required)
                    and sum(points for child, points in shape.points if child in proficient)
                    >= shape.base
                )
            level = _level_at(own, own_times, instant)
            if level == NO_LEVEL and matched:
                level = shape.completes_to
            if level != current:
                changes.append((instant, level))
                current = level
        if changes:
            own_all[learner] = changes


def _timeline_from_rows(
    plans: Mapping[str, _CompetencyPlan],
    levels: Mapping[str, Mapping[str, list[tuple[datetime, int]]]],
    seen: Mapping[str, Mapping[str, tuple[datetime, datetime]]],
) -> Timeline:
    np = _numpy()
    learners = sorted({learner for by in seen.values() for learner in by})
    code = {learner: i for i, learner in enumerate(learners)}
    change_cols: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
    seen_cols: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
    for competency_code, key in enumerate(plans):
        for learner in sorted(levels[key]):
            for instant, level in levels[key][learner]:
                for column, value in zip(
                    change_cols,
                    (code[learner], competency_code, to_micros(instant), level),
                    strict=True,
                ):
                    column.append(value)
        for learner in sorted(seen[key]):
            first, last = seen[key][learner]
            for column, value in zip(
                seen_cols,
                (code[learner], competency_code, to_micros(first), to_micros(last)),
                strict=True,
            ):
                column.append(value)
    return _make_timeline(np, plans, learners, change_cols, seen_cols)


def _make_timeline(
    np: Any,
    plans: Mapping[str, _CompetencyPlan],
    learners: list[str],
    changes: Sequence[Any],
    seen: Sequence[Any],
) -> Timeline:
    return Timeline(
        learners=learners,
        competencies=list(plans),
        level_keys=[tuple(level[0] for level in plan.levels) for plan in plans.values()],
        level_proficient=[tuple(level[1] for level in plan.levels) for plan in plans.values()],
        learner=np.asarray(changes[0], dtype=np.int32),
        competency=np.asarray(changes[1], dtype=np.int32),
        at=np.asarray(changes[2], dtype=np.int64),
        level=np.asarray(changes[3], dtype=np.int16),
        seen_learner=np.asarray(seen[0], dtype=np.int32),
        seen_competency=np.asarray(seen[1], dtype=np.int32),
        first_seen=np.asarray(seen[2], dtype=np.int64),
        last_seen=np.asarray(seen[3], dtype=np.int64),
    )


# -- the columnar replay -------------------------------------------------------------------


class _ColumnarReplay:
    """The row replay's results, computed a column (one position of every pair) at a time."""

    def __init__(
        self,
        framework: Framework,
        plans: Mapping[str, _CompetencyPlan],
        table: EvidenceTable,
        as_of: datetime,
        weights: Mapping[str, float] | None,
        min_evidence: int,
    ) -> None:
        self.np = _numpy()
        self.framework = framework
        self.plans = plans
        self.order = list(plans.values())
        self.table = table
        self.as_of_us = to_micros(as_of)
        self.weights = weights
        self.min_evidence = min_evidence

    def run(self) -> Timeline:
        np, table = self.np, self.table
        plan_code = {key: code for code, key in enumerate(self.plans)}
        to_plan = np.array([plan_code.get(key, -1) for key in table.competencies] or [0])
        plan_of = to_plan[table.competency] if len(table) else np.zeros(0, dtype=np.int64)
        alive, points, row_weight = self._usable(plan_of)
        rows, starts, lengths = _segments(np, table, alive, plan_of)
        seg_plan = plan_of[rows[starts]].astype(np.int64)
        seg_learner = table.learner[rows[starts]].astype(np.int64)
        observed = table.observed_at[rows]
        ends = starts + lengths
        expires = table.expires_at[rows]
        expiring_row = expires <= self.as_of_us
        expiring = (
            np.add.reduceat(expiring_row.astype(np.int64), starts) > 0
            if len(starts)
            else np.zeros(0, dtype=bool)
        )
        levels = self._replay(seg_plan, starts, lengths, points[rows], row_weight[rows])
        # A state is observable only after the last row of its instant.
        last_of_instant = np.ones(len(rows), dtype=bool)
        if len(rows) > 1:
            last_of_instant[:-1] = observed[1:] != observed[:-1]
        last_of_instant[ends - 1] = True
        seg_of_row = np.repeat(np.arange(len(starts)), lengths)
        state = np.flatnonzero(last_of_instant & ~expiring[seg_of_row])
        state_seg = seg_of_row[state]
        state_level = levels[state]
        previous = np.full(len(state), NO_LEVEL, dtype=np.int64)
        if len(state) > 1:
            same = state_seg[1:] == state_seg[:-1]
            previous[1:] = np.where(same, state_level[:-1], NO_LEVEL)
        change = state[state_level != previous]
        cols = [
            seg_plan[seg_of_row[change]],
            seg_learner[seg_of_row[change]],
            observed[change],
            levels[change],
        ]
        slow = self._replay_expiring(
            np.flatnonzero(expiring), rows, starts, lengths, seg_plan, points, row_weight
        )
        tracks = self._by_competency(np, cols, slow)
        for shape in _rule_shapes(self.framework, self.plans):
            tracks[plan_code[shape.key]] = self._roll_up(np, shape, plan_code, tracks)
        seen = self._seen(np, seg_plan, seg_learner, observed[starts], observed[ends - 1])
        return self._assemble(np, tracks, seen)

    def _usable(self, plan_of: Any) -> tuple[Any, Any, Any]:
        """Rows that count at some instant up to as_of, their points and kind weights."""
        np, table, order = self.np, self.table, self.order
        known = plan_of >= 0
        alive = ~table.voided & known & (table.observed_at <= self.as_of_us)
        kind_weight = np.array(
            [
                1.0 if self.weights is None else self.weights.get(kind.value, 1.0)
                for kind in EvidenceKind
            ]
        )
        row_weight = kind_weight[table.kind]
        alive &= row_weight != 0.0
        safe = np.where(known, plan_of, 0)
        level_points = np.full((len(order), max(len(table.levels), 1) + 1), np.nan)
        for code, plan in enumerate(order):
            for level_code, key in enumerate(table.levels):
                level_points[code, level_code] = plan.level_points.get(key, np.nan)
        by_level = level_points[safe, table.level]  # -1 picks the last (NaN) column
        has_score = ~np.isnan(table.score)
        by_success = np.where(
            table.success == 1,
            np.array([p.mastery for p in order])[safe],
            np.array([p.minimum for p in order])[safe],
        )
        points = np.where(
            has_score,
            table.score * np.array([p.possible for p in order])[safe],
            np.where(table.level >= 0, by_level, by_success),
        )
        alive &= has_score | (table.level < 0) | ~np.isnan(by_level)
        voided = set(_pick(table.ids, np.flatnonzero(table.voided)))
        if voided:
            candidates = np.flatnonzero(alive)
            hit = np.fromiter((table.ids[i] in voided for i in candidates.tolist()), dtype=bool)
            alive[candidates[hit]] = False
        if not table.ids_unique:
            self._keep_one_copy(alive, plan_of, points, row_weight)
        return alive, points, row_weight

    def _keep_one_copy(self, alive: Any, plan_of: Any, points: Any, row_weight: Any) -> None:
        """Of each id several usable rows share, keep the one the row replay keeps."""
        np, table = self.np, self.table
        positions: dict[str, list[int]] = {}
        usable = np.flatnonzero(alive).tolist()
        for i in usable:
            positions.setdefault(table.ids[i], []).append(i)
        kinds = [kind.value for kind in EvidenceKind]
        for item_id, rows in positions.items():
            if len(rows) < 2:
                continue
            candidates = []
            for i in rows:
                observed = from_micros(int(table.observed_at[i]))
                recorded = from_micros(int(table.recorded_at[i]))
                engine_row = (
                    observed,
                    item_id,
                    float(points[i]),
                    float(row_weight[i]),
                    kinds[table.kind[i]],
                    recorded,
                )
                competency = self.order[int(plan_of[i])].competency.key
                learner = table.learners[int(table.learner[i])]
                candidates.append(((recorded, competency, learner, engine_row), i))
            winner = _pick_copy(candidates)
            for i in rows:
                alive[i] = i == winner

    def _replay(self, seg_plan: Any, starts: Any, lengths: Any, values: Any, weights: Any) -> Any:
        """The level code after each row of each segment (its prefix), every method at once."""
        np = self.np
        raw = np.full(len(values), np.nan)
        seg_method = np.array([self.order[c].method.value for c in seg_plan.tolist()], dtype=object)
        with np.errstate(divide="ignore", invalid="ignore"):  # n_mastery before n: NaN
            for method in CalculationMethod:
                segs = np.flatnonzero(seg_method == method.value) if len(seg_plan) else seg_plan
                if len(segs):
                    self._prefix_scores(
                        method, segs, seg_plan, starts, lengths, values, weights, raw
                    )
        position = np.arange(len(values)) - np.repeat(starts, lengths)
        raw[position + 1 < self.min_evidence] = np.nan
        scores = ruby_round_array(np, raw)
        levels = np.full(len(values), NO_LEVEL, dtype=np.int64)
        row_plan = np.repeat(seg_plan, lengths)
        floors_of: dict[tuple[float, ...], list[int]] = {}
        for code, plan in enumerate(self.order):
            floors_of.setdefault(tuple(level.points for level in plan.scale.levels), []).append(
                code
            )
        rated = ~np.isnan(scores)
        for floors, codes in floors_of.items():
            on = np.flatnonzero(rated & np.isin(row_plan, codes))
            found = np.searchsorted(np.array(floors), scores[on], side="right") - 1
            levels[on] = np.maximum(found, 0)
        return levels

    def _prefix_scores(
        self,
        method: CalculationMethod,
        segs: Any,
        seg_plan: Any,
        starts: Any,
        lengths: Any,
        values: Any,
        weights: Any,
        raw: Any,
    ) -> None:
        """Unrounded scores of every prefix of the segments ``segs`` (all of ``method``),
        with the engine's operations in the engine's order, written into ``raw``."""
        np = self.np
        start, length = starts[segs], lengths[segs]
        plans = [self.order[c] for c in seg_plan[segs].tolist()]
        n = np.array([p.n or 0 for p in plans], dtype=np.float64)
        mastery = np.array([p.mastery for p in plans])
        weighted = self.weights is not None and method in _WEIGHTED_METHODS
        state = {
            name: np.zeros(len(segs))
            for name in ("total", "comp", "wtotal", "wcomp", "count", "decayed")
        }
        for k in range(int(length.max())):
            on = np.flatnonzero(length > k)
            at = start[on] + k
            x = values[at]
            w = weights[at] if weighted else None
            if method is CalculationMethod.LATEST:
                raw[at] = x
            elif method is CalculationMethod.HIGHEST:
                best = x if k == 0 else np.maximum(state["decayed"][on], x)
                state["decayed"][on] = best
                raw[at] = best
            elif method is CalculationMethod.AVERAGE:
                _add(np, state, on, x, w)
                raw[at] = _mean_state(state, on, w is not None, k + 1)
            elif method is CalculationMethod.DECAYING_AVERAGE:
                if k == 0:
                    raw[at] = x
                else:
                    older = _mean_state(state, on, w is not None, k)
                    raw[at] = x * (0.01 * n[on]) + older * (0.01 * (100 - n[on]))
                _add(np, state, on, x, w)
            elif method is CalculationMethod.STANDARD_DECAYING_AVERAGE:
                if k == 0:
                    state["decayed"][on] = x
                else:
                    keep, take = 0.01 * (100 - n[on]), 0.01 * n[on]
                    state["decayed"][on] = state["decayed"][on] * keep + x * take
                raw[at] = state["decayed"][on]
            else:  # n_mastery: the running mean of the mastering scores, once there are n
                hit = x >= mastery[on]
                _add(np, state, on[hit], x[hit], None if w is None else w[hit])
                state["count"][on[hit]] += 1
                enough = (k + 1 >= n[on]) & (state["count"][on] >= n[on])
                mean = _mean_state(state, on, w is not None, np.maximum(state["count"][on], 1))
                raw[at] = np.where(enough, mean, np.nan)

    def _replay_expiring(
        self,
        segs: Any,
        rows: Any,
        starts: Any,
        lengths: Any,
        seg_plan: Any,
        points: Any,
        row_weight: Any,
    ) -> list[tuple[int, int, int, int]]:
        """(plan code, learner code, instant, level) changes of the segments with evidence
        expiring by as_of, by the row replay."""
        table = self.table
        found: list[tuple[int, int, int, int]] = []
        for seg in segs.tolist():
            picked = rows[starts[seg] : starts[seg] + lengths[seg]].tolist()
            plan_code = int(seg_plan[seg])
            learner = int(table.learner[picked[0]])
            pair_rows: list[_Row] = []
            for i in picked:
                expires = int(table.expires_at[i])
                pair_rows.append(
                    (
                        int(table.observed_at[i]),
                        table.ids[i],
                        float(points[i]),
                        float(row_weight[i]),
                        expires if expires <= self.as_of_us else None,
                    )
                )
            changes = _leaf_changes(
                self.order[plan_code],
                pair_rows,
                self.as_of_us,
                self.min_evidence,
                weighted=self.weights is not None,
            )
            found.extend((plan_code, learner, instant, level) for instant, level in changes)
        return found

    def _by_competency(
        self, np: Any, cols: list[Any], slow: list[tuple[int, int, int, int]]
    ) -> dict[int, tuple[Any, Any, Any]]:
        """Changes per competency code: (learner, instant, level), sorted by learner, time."""
        if slow:
            extra = np.array(slow, dtype=np.int64).T
            cols = [
                np.concatenate([col.astype(np.int64), more])
                for col, more in zip(cols, extra, strict=True)
            ]
        plan, learner, at, level = (col.astype(np.int64) for col in cols)
        order = np.lexsort((at, learner, plan))
        plan, learner, at, level = plan[order], learner[order], at[order], level[order]
        bounds = np.searchsorted(plan, np.arange(len(self.order) + 1))
        return {
            code: (learner[a:b], at[a:b], level[a:b])
            for code, (a, b) in enumerate(
                zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
            )
            if b > a
        }

    def _roll_up(
        self,
        np: Any,
        shape: _RuleShape,
        plan_code: Mapping[str, int],
        tracks: Mapping[int, tuple[Any, Any, Any]],
    ) -> tuple[Any, Any, Any]:
        """One parent's changes from its own and its children's, at every instant of any."""
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        own = tracks.get(plan_code[shape.key], empty)
        kids = {child: tracks.get(plan_code[child], empty) for child in shape.children}
        learners = np.concatenate([track[0] for track in kids.values()])
        instants = np.concatenate([track[1] for track in kids.values()])
        if not len(learners):
            return own
        has_kids = np.unique(learners)
        mine = np.isin(own[0], has_kids)
        learners = np.concatenate([learners, own[0][mine]])
        instants = np.concatenate([instants, own[1][mine]])
        events = np.unique(np.stack([learners, instants]), axis=1)
        ev_learner, ev_at = events[0], events[1]

        def level_of(track: tuple[Any, Any, Any]) -> Any:
            t_learner, t_at, t_level = track
            if not len(t_at):
                return np.full(len(ev_at), NO_LEVEL, dtype=np.int64)
            pos = _search_pairs(np, t_learner, t_at, ev_learner, ev_at)
            ok = pos >= 0
            safe = np.where(ok, pos, 0)
            ok &= t_learner[safe] == ev_learner
            return np.where(ok, t_level[safe], NO_LEVEL)

        def proficient(child: str) -> Any:
            flags = np.array([*(level[1] for level in self.plans[child].levels), False])
            return flags[level_of(kids[child])]

        if shape.all_children:
            matched = np.ones(len(ev_at), dtype=bool)
            for child in shape.children:
                matched &= proficient(child)
        else:
            matched = np.ones(len(ev_at), dtype=bool)
            for child in shape.required:
                matched &= proficient(child)
            total = np.zeros(len(ev_at), dtype=np.int64)
            for child, points in shape.points:
                total += np.where(proficient(child), points, 0)
            matched &= total >= shape.base
        level = level_of(own)
        level = np.where((level == NO_LEVEL) & matched, shape.completes_to, level)
        previous = np.full(len(level), NO_LEVEL, dtype=np.int64)
        if len(level) > 1:
            same = ev_learner[1:] == ev_learner[:-1]
            previous[1:] = np.where(same, level[:-1], NO_LEVEL)
        keep = level != previous
        rolled = (ev_learner[keep], ev_at[keep], level[keep])
        others = ~mine  # own changes of learners without any child result stay as they are
        merged = [np.concatenate([a[others], b]) for a, b in zip(own, rolled, strict=True)]
        order = np.lexsort((merged[1], merged[0]))
        return merged[0][order], merged[1][order], merged[2][order]

    def _seen(
        self, np: Any, seg_plan: Any, seg_learner: Any, first: Any, last: Any
    ) -> dict[int, tuple[Any, Any, Any]]:
        """First and last evidence per competency code: (learner, first, last) by learner;
        parents take their descendants' in too."""
        found: dict[int, tuple[Any, Any, Any]] = {}
        for code in np.unique(seg_plan).tolist():
            on = seg_plan == code
            found[code] = (seg_learner[on], first[on], last[on])  # segments sorted by learner
        plan_code = {key: code for code, key in enumerate(self.plans)}
        for parent, children in _subtree_parents(self.framework):
            parts = [found[plan_code[c]] for c in (parent, *children) if plan_code[c] in found]
            if not parts:
                continue
            learner = np.concatenate([p[0] for p in parts])
            lo = np.concatenate([p[1] for p in parts])
            hi = np.concatenate([p[2] for p in parts])
            order = np.argsort(learner, kind="stable")
            learner, lo, hi = learner[order], lo[order], hi[order]
            heads = np.flatnonzero(np.r_[True, learner[1:] != learner[:-1]])
            found[plan_code[parent]] = (
                learner[heads],
                np.minimum.reduceat(lo, heads),
                np.maximum.reduceat(hi, heads),
            )
        return found

    def _assemble(
        self,
        np: Any,
        tracks: Mapping[int, tuple[Any, Any, Any]],
        seen: Mapping[int, tuple[Any, Any, Any]],
    ) -> Timeline:
        codes = sorted(tracks)
        change_cols = [
            np.concatenate([tracks[c][0] for c in codes] or [np.zeros(0, np.int64)]),
            np.concatenate(
                [np.full(len(tracks[c][0]), c, dtype=np.int64) for c in codes]
                or [np.zeros(0, np.int64)]
            ),
            np.concatenate([tracks[c][1] for c in codes] or [np.zeros(0, np.int64)]),
            np.concatenate([tracks[c][2] for c in codes] or [np.zeros(0, np.int64)]),
        ]
        seen_codes = sorted(seen)
        seen_cols = [
            np.concatenate([seen[c][0] for c in seen_codes] or [np.zeros(0, np.int64)]),
            np.concatenate(
                [np.full(len(seen[c][0]), c, dtype=np.int64) for c in seen_codes]
                or [np.zeros(0, np.int64)]
            ),
            np.concatenate([seen[c][1] for c in seen_codes] or [np.zeros(0, np.int64)]),
            np.concatenate([seen[c][2] for c in seen_codes] or [np.zeros(0, np.int64)]),
        ]
        return _make_timeline(np, self.plans, list(self.table.learners), change_cols, seen_cols)


def _add(np: Any, state: dict[str, Any], on: Any, x: Any, w: Any) -> None:
    """Add ``x`` (weighted by ``w``) to the running compensated sums of segments ``on``."""
    _neumaier_step(np, state, "total", "comp", on, x if w is None else x * w)
    if w is not None:
        _neumaier_step(np, state, "wtotal", "wcomp", on, w)


def _neumaier_step(np: Any, state: dict[str, Any], total: str, comp: str, on: Any, x: Any) -> None:
    """One element of Ruby's compensated ``Array#sum`` (as ``ruby_sum``), per segment."""
    f = state[total][on]
    t = f + x
    state[comp][on] += np.where(np.abs(f) >= np.abs(x), (f - t) + x, (x - t) + f)
    state[total][on] = t


def _mean_state(state: dict[str, Any], on: Any, weighted: bool, count: Any) -> Any:
    """The mean so far: ``ruby_sum(values) / len`` or the weighted ``_mean``."""
    total = state["total"][on] + state["comp"][on]
    if weighted:
        return total / (state["wtotal"][on] + state["wcomp"][on])
    return total / count


def _search_pairs(np: Any, learner: Any, at: Any, q_learner: Any, q_at: Any) -> Any:
    """For each query (learner, instant), the position of the last (learner, instant) at or
    before it in the sorted pairs (-1 if none): a two-key binary search."""
    # Learner codes and instants both fit in int64 once instants are ranked.
    instants = np.unique(np.concatenate([at, q_at]))
    width = len(instants) + 1
    keys = learner * width + np.searchsorted(instants, at)
    queries = q_learner * width + np.searchsorted(instants, q_at)
    return np.searchsorted(keys, queries, side="right") - 1
