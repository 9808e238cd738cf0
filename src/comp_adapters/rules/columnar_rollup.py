"""Moodle's competency rules on columns: the columnar engine's last step.

From the leaves' results (:class:`~comp_adapters.rules.columnar.LeafColumns`) to the
finished :class:`~comp_adapters.rules.proficiency_table.ProficiencyTable`: levels by the
scale's bucketing, parents rolled up bottom-up from their direct children exactly as the row
engine's ``_roll_up`` does (``all_children``, ``points``; outcomes complete / recommend /
evidence), then everything ordered by learner and the framework's order. Work per parent is
proportional to its children's results (their rows are contiguous), never to the number of
learners times competencies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.framework import Competency, RollupRule, RuleOutcome
from comp_adapters.rules.columnar import LeafColumns, _expand, _numpy
from comp_adapters.rules.proficiency_table import Explainer, ProficiencyTable

if TYPE_CHECKING:
    from comp_adapters.core.framework import Framework
    from comp_adapters.rules.engine import _CompetencyPlan

METHODS: tuple[str, ...] = (
    *(method.value for method in CalculationMethod),
    "rule:all_children",
    "rule:points",
)
"""Method codes of :attr:`ProficiencyTable.method`: positions in this tuple."""


@dataclass
class _Results:
    """The results so far: leaf rows first, rows made by rules appended in blocks."""

    competency: Any
    learner: Any
    score: Any
    level: Any
    proficient: Any
    method: Any
    review: Any
    rolled: Any
    segment: Any
    blocks: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    children: list[tuple[Any, Any, Any]] = field(default_factory=list)
    """(rows, how many children each, their codes one after the other)."""

    def add(self, **columns: Any) -> Any:
        """Append rows; returns their row numbers."""
        np = _numpy()
        count = len(columns["learner"])
        rows = np.arange(self.size, self.size + count)
        self.blocks.append(columns)
        self.size += count
        return rows

    def column(self, name: str) -> Any:
        np = _numpy()
        return np.concatenate([getattr(self, name), *(block[name] for block in self.blocks)])


def roll_up_columns(
    framework: Framework,
    leaves: LeafColumns,
    as_of: datetime,
    skipped: Counter[str],
    *,
    used: int,
) -> ProficiencyTable:
    """Levels of the leaves, the parents' rules, and the results in their final order."""
    np = _numpy()
    order = leaves.order
    level_keys, level, proficient = _leaf_levels(np, order, leaves.plan, leaves.scores)
    method_code = np.array([METHODS.index(plan.method.value) for plan in order] or [0])
    count = len(leaves.starts)
    results = _Results(
        competency=leaves.plan,
        learner=leaves.learner,
        score=leaves.scores.copy(),
        level=level.copy(),
        proficient=proficient,
        method=method_code[leaves.plan] if count else np.zeros(0, dtype=np.int64),
        review=np.zeros(count, dtype=bool),
        rolled=np.zeros(count, dtype=bool),
        segment=np.arange(count, dtype=np.int64),
        size=count,
    )
    codes = {plan.competency.key: code for code, plan in enumerate(order)}
    bounds = np.searchsorted(leaves.plan, np.arange(len(order) + 1))
    state: dict[int, tuple[Any, Any]] = {}
    for competency in reversed(list(framework.walk())):
        rule = competency.rollup
        if rule is None or rule.outcome is RuleOutcome.NONE:
            continue
        children = [codes[child.key] for child in framework.children_of(competency.key)]
        if children:
            _apply_rule(np, competency, codes, children, order, level_keys, results, bounds, state)
    return _finish(np, leaves, results, level_keys, level >= 0, as_of, skipped, used)


def _leaf_levels(
    np: Any, order: Sequence[_CompetencyPlan], plan: Any, scores: Any
) -> tuple[list[str], Any, Any]:
    """Level codes (-1: none) and proficiency of every leaf, by each scale's bucketing,
    one search per distinct scale; and the level keys the codes point into."""
    keys: list[str] = []
    key_code: dict[str, int] = {}
    scale_code: dict[int, int] = {}
    scales: list[tuple[Any, Any, Any]] = []
    scale_of = np.zeros(len(order), dtype=np.int64)
    for code, item in enumerate(order):
        scale = item.scale
        if id(scale) not in scale_code:
            scale_code[id(scale)] = len(scales)
            level_codes = [key_code.setdefault(k, len(key_code)) for k, _, _ in item.levels]
            scales.append(
                (
                    np.array([level.points for level in scale.levels]),
                    np.array(level_codes, dtype=np.int64),
                    np.array([flag for _, flag, _ in item.levels], dtype=bool),
                )
            )
        scale_of[code] = scale_code[id(scale)]
    keys = list(key_code)
    level = np.full(len(plan), -1, dtype=np.int64)
    proficient = np.zeros(len(plan), dtype=bool)
    rated = ~np.isnan(scores)
    seg_scale = scale_of[plan] if len(plan) else plan
    for code, (floors, level_codes, flags) in enumerate(scales):
        segs = np.flatnonzero(rated & (seg_scale == code))
        if not len(segs):
            continue
        index = np.maximum(np.searchsorted(floors, scores[segs], side="right") - 1, 0)
        level[segs] = level_codes[index]
        proficient[segs] = flags[index]
    return keys, level, proficient


def _apply_rule(
    np: Any,
    competency: Competency,
    codes: dict[str, int],
    children: list[int],
    order: Sequence[_CompetencyPlan],
    level_keys: list[str],
    results: _Results,
    bounds: Any,
    state: dict[int, tuple[Any, Any]],
) -> None:
    """Apply one parent's rule to every learner it matches (see the row engine's
    ``_rule_matches`` and ``_apply_outcome``); record the parent's results in ``state``."""
    rule = competency.rollup
    if rule is None:
        return
    parent = codes[competency.key]
    matched, listed, member = _matches(np, rule, codes, children, results, bounds, state)
    if not len(matched):
        return

    lo, hi = int(bounds[parent]), int(bounds[parent + 1])
    own_learners = results.learner[lo:hi]
    position = np.searchsorted(own_learners, matched)
    has_own = position < len(own_learners)
    has_own[has_own] = own_learners[position[has_own]] == matched[has_own]
    own_rows = lo + position[has_own]
    own_rated = np.zeros(len(matched), dtype=bool)
    own_rated[has_own] = results.level[own_rows] >= 0
    rule_method = METHODS.index(f"rule:{rule.type}")
    default = order[parent].scale.default
    new = ~has_own
    added = int(new.sum())

    if rule.outcome is RuleOutcome.COMPLETE:
        fresh_own = own_rows[~own_rated[has_own]]
        results.score[fresh_own] = default.points
        results.level[fresh_own] = level_keys.index(default.key)
        results.proficient[fresh_own] = default.proficient
        results.method[fresh_own] = rule_method
        results.review[fresh_own] = False
        new_columns = {
            "score": np.full(added, default.points),
            "level": np.full(added, level_keys.index(default.key), dtype=np.int64),
            "proficient": np.full(added, default.proficient),
            "review": np.zeros(added, dtype=bool),
        }
    else:
        review = rule.outcome is RuleOutcome.RECOMMEND
        results.review[own_rows] |= review
        new_columns = {
            "score": np.full(added, np.nan),
            "level": np.full(added, -1, dtype=np.int64),
            "proficient": np.zeros(added, dtype=bool),
            "review": np.full(added, review),
        }
    results.rolled[own_rows] = True
    new_rows = results.add(
        competency=np.full(added, parent, dtype=np.int64),
        learner=matched[new],
        method=np.full(added, rule_method, dtype=np.int64),
        rolled=np.ones(added, dtype=bool),
        segment=np.full(added, -1, dtype=np.int64),
        **new_columns,
    )
    rows = np.empty(len(matched), dtype=np.int64)
    rows[has_own] = own_rows
    rows[new] = new_rows
    results.children.append(
        (rows, member.sum(axis=1), np.broadcast_to(listed, member.shape)[member])
    )
    learners = np.concatenate([own_learners, matched[new]])
    flags = np.concatenate([results.proficient[lo:hi], new_columns["proficient"]])
    arrange = np.argsort(learners, kind="stable")
    state[parent] = (learners[arrange], flags[arrange])


def _matches(
    np: Any,
    rule: RollupRule,
    codes: dict[str, int],
    children: list[int],
    results: _Results,
    bounds: Any,
    state: dict[int, tuple[Any, Any]],
) -> tuple[Any, Any, Any]:
    """The learners (codes, ascending) a rule matches, the children it looks at, and which
    of those each matched learner is proficient in (one row per learner)."""

    def proficient_learners(child: int) -> Any:
        if child in state:
            learners, flags = state[child]
        else:
            lo, hi = int(bounds[child]), int(bounds[child + 1])
            learners, flags = results.learner[lo:hi], results.proficient[lo:hi]
        return learners[flags]

    if rule.type == "all_children":
        met = [proficient_learners(child) for child in children]
        learners, counts = np.unique(np.concatenate(met), return_counts=True)
        matched = learners[counts == len(children)]
        listed = np.array(children, dtype=np.int64)
        return matched, listed, np.ones((len(matched), len(children)), dtype=bool)
    listed = np.array([codes[child.key] for child in rule.children], dtype=np.int64)
    met = [proficient_learners(int(child)) for child in listed]
    learners, inverse = np.unique(np.concatenate(met), return_inverse=True)
    points = np.concatenate(
        [np.full(len(m), child.points) for m, child in zip(met, rule.children, strict=True)]
    )
    required = np.concatenate(
        [np.full(len(m), child.required) for m, child in zip(met, rule.children, strict=True)]
    )
    total = np.bincount(inverse, weights=points, minlength=len(learners))
    required_met = np.bincount(inverse, weights=required, minlength=len(learners))
    needed = sum(1 for child in rule.children if child.required)
    matched = learners[(required_met == needed) & (total >= (rule.base_points or 0))]
    member = np.stack([np.isin(matched, m, assume_unique=True) for m in met], axis=1)
    return matched, listed, member


def _finish(
    np: Any,
    leaves: LeafColumns,
    results: _Results,
    level_keys: list[str],
    leaf_rated: Any,
    as_of: datetime,
    skipped: Counter[str],
    used: int,
) -> ProficiencyTable:
    """Order the results by (learner, framework order) and lay out evidence and children."""
    table = leaves.table
    competency = results.column("competency")
    learner = results.column("learner")
    width = max(len(leaves.order), 1)
    rank = _string_rank(np, table.learners)
    final = (
        np.argsort(rank[learner] * width + competency, kind="stable") if len(learner) else learner
    )

    segment = results.column("segment")[final]
    mask = leaves.used_mask()
    seg_counts = (
        np.add.reduceat(mask.astype(np.int64), leaves.starts) if len(leaves.starts) else mask[:0]
    )
    seg_offsets = np.cumsum(seg_counts) - seg_counts
    has = segment >= 0
    counts = np.zeros(len(final), dtype=np.int64)
    counts[has] = seg_counts[segment[has]]
    source = leaves.rows[mask]
    evidence_index = source[_expand(np, seg_offsets[segment[has]], counts[has])]

    child_counts = np.zeros(results.size, dtype=np.int64)
    child_start = np.zeros(results.size, dtype=np.int64)
    flat: list[Any] = []
    done = 0
    for rows, how_many, kids in results.children:
        child_counts[rows] = how_many
        child_start[rows] = done + np.cumsum(how_many) - how_many
        flat.append(kids)
        done += len(kids)
    children_flat = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
    ordered_counts = child_counts[final]
    children_index = children_flat[_expand(np, child_start[final], ordered_counts)]

    rules = [plan.competency.rollup for plan in leaves.order]
    return ProficiencyTable(
        learners=table.learners,
        learner=learner[final],
        competencies=[plan.competency.key for plan in leaves.order],
        competency=competency[final],
        score=results.column("score")[final],
        levels=level_keys,
        level=results.column("level")[final],
        proficient=results.column("proficient")[final],
        methods=METHODS,
        method=results.column("method")[final],
        review_requested=results.column("review")[final],
        evidence_ids=table.ids,
        evidence_offsets=np.r_[0, np.cumsum(counts)].astype(np.int64),
        evidence_index=evidence_index.astype(np.int64),
        children_offsets=np.r_[0, np.cumsum(ordered_counts)].astype(np.int64),
        children_index=children_index.astype(np.int64),
        as_of=as_of,
        skipped=skipped,
        used=used,
        explainer=Explainer(
            leaves=leaves,
            segment=segment,
            rolled=results.column("rolled")[final],
            leaf_rated=leaf_rated,
            rules=rules,
        ),
    )


def _string_rank(np: Any, strings: list[str]) -> Any:
    """Each string's position in Python's sort order of ``strings`` (distinct strings)."""
    rank = np.empty(len(strings), dtype=np.int64)
    if any("\x00" in s for s in strings):  # NumPy's strings drop trailing NULs
        arrange = np.array(sorted(range(len(strings)), key=strings.__getitem__), dtype=np.int64)
    else:
        arrange = np.argsort(np.array(strings, dtype=str), kind="stable")
    rank[arrange] = np.arange(len(strings))
    return rank
