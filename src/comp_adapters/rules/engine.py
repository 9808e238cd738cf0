"""The rules engine: evidence in, one explained :class:`Proficiency` per learner and competency.

Pure and deterministic: the same framework, evidence and ``as_of`` give the same result in
any input order. Per (learner, competency) the engine

1. drops evidence that is voided (any copy of its id voided), expired as of ``as_of``,
   observed after ``as_of``, of a kind weighted 0, or for a competency or level the
   framework does not have (counted in :attr:`Evaluation.skipped`);
2. maps each remaining piece to scale points: a fraction times the scale's top points (as
   Canvas rescales results), a level's points, or for a bare success/failure the mastery
   points / the lowest points;
3. orders it by ``observed_at`` (ties by the source's own order, ``sequence``, then by
   id) and applies the competency's calculation
   method with Canvas's arithmetic (:func:`~comp_adapters.rules.calculate.calculate`);
4. maps the score to a level (the highest level whose points it reaches) whose
   ``proficient`` flag decides proficiency;
5. rolls parents up from their direct children, bottom-up, the way Moodle's competency
   rules do (``all_children``, ``points``; outcomes complete / recommend / evidence).
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from comp_adapters.core.calculation import CalculationMethod, effective_calculation_int
from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import Competency, Framework, RollupRule, RuleOutcome
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.core.timeutil import to_utc
from comp_adapters.rules.calculate import calculate_unchecked
from comp_adapters.rules.columnar import EvidenceTable, evaluate_columns
from comp_adapters.rules.proficiency_table import ProficiencyTable

_WEIGHTED_METHODS = frozenset(
    {
        CalculationMethod.AVERAGE,
        CalculationMethod.DECAYING_AVERAGE,
        CalculationMethod.N_MASTERY,
    }
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What :func:`evaluate_detailed` found: the results and what it left out, and why."""

    proficiencies: list[Proficiency]
    skipped: Counter[str] = field(default_factory=Counter)
    used: int = 0


@dataclass(frozen=True, slots=True)
class _CompetencyPlan:
    """Everything the hot loop needs about one competency, looked up once."""

    competency: Competency
    order: int
    scale: ProficiencyScale
    method: CalculationMethod
    n: int | None
    possible: float
    mastery: float
    minimum: float
    level_points: dict[str, float]
    method_text: str
    levels: list[tuple[str, bool, str]]
    """(key, proficient, "Name (proficient)") of each level, lowest first."""


def _plans(framework: Framework) -> dict[str, _CompetencyPlan]:
    plans: dict[str, _CompetencyPlan] = {}
    for order, competency in enumerate(framework.walk()):
        scale = framework.scale_for(competency.key)
        method, n = framework.method_for(competency.key)
        mastery = scale.effective_mastery_points
        possible = scale.max_points if scale.max_points > 0 else mastery
        plans[competency.key] = _CompetencyPlan(
            competency=competency,
            order=order,
            scale=scale,
            method=method,
            n=effective_calculation_int(method, n),
            possible=possible,
            mastery=mastery,
            minimum=scale.min_points,
            level_points={level.key: level.points for level in scale.levels},
            method_text=_describe_method(method, effective_calculation_int(method, n)),
            levels=[
                (
                    level.key,
                    level.proficient,
                    f"{level.name} ({'proficient' if level.proficient else 'not proficient'})",
                )
                for level in scale.levels
            ],
        )
    return plans


# One usable piece of evidence: (observed_at, sequence, id, points, weight, kind, recorded_at).
# Sorting rows orders them by time, ties by the source's own order, then by id.
_Row = tuple[datetime, int, str, float, float, str, datetime]
NO_SEQUENCE = 2**63 - 1
"""The order key of evidence without a ``sequence``: after any evidence that has one."""
_Buckets = dict[str, dict[str, list[_Row]]]
"""competency key -> learner key -> rows (two string-keyed levels hash faster than pairs)."""


def evaluate(
    framework: Framework,
    evidence: Iterable[Evidence] | EvidenceTable,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> list[Proficiency]:
    """Proficiency of every learner with evidence, per competency, as of ``as_of``.

    ``kind_weights`` weight evidence kinds in the mean-based methods (a kind missing from
    the mapping weighs 1; weight 0 leaves the kind out of every method).
    ``min_evidence``: a competency with fewer usable pieces of evidence gets a result with
    no score and no level, saying so. See :func:`evaluate_detailed` for what was skipped.

    ``evidence`` is any iterable of :class:`Evidence` (read once, may be a stream) or, for
    millions of rows, an :class:`~comp_adapters.rules.columnar.EvidenceTable`, which is
    evaluated column-wise with identical results. To keep the results as columns too
    (several times faster than making an object per result), use :func:`evaluate_table`.
    """
    return evaluate_detailed(
        framework,
        evidence,
        as_of=as_of,
        kind_weights=kind_weights,
        min_evidence=min_evidence,
    ).proficiencies


def evaluate_detailed(
    framework: Framework,
    evidence: Iterable[Evidence] | EvidenceTable,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> Evaluation:
    """Like :func:`evaluate`, also counting the evidence left out, by reason."""
    if isinstance(evidence, EvidenceTable):
        table = evaluate_table(
            framework, evidence, as_of=as_of, kind_weights=kind_weights, min_evidence=min_evidence
        )
        with _gc_paused():
            proficiencies = table.to_proficiencies()
        return Evaluation(proficiencies=proficiencies, skipped=table.skipped, used=table.used)
    as_of, weights, plans = _prepare(framework, as_of, kind_weights, min_evidence)
    with _gc_paused():
        return _evaluate(framework, plans, evidence, as_of, weights, min_evidence, Counter())


def evaluate_table(
    framework: Framework,
    evidence: EvidenceTable,
    *,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> ProficiencyTable:
    """Like :func:`evaluate_detailed` on an :class:`EvidenceTable`, with the results kept as
    columns: a :class:`~comp_adapters.rules.ProficiencyTable` whose objects, explanations and
    records (identical to :func:`evaluate`'s) are made only when asked for. Its ``skipped``
    and ``used`` are :class:`Evaluation`'s. Needs NumPy (the ``fast`` extra)."""
    as_of, weights, plans = _prepare(framework, as_of, kind_weights, min_evidence)
    with _gc_paused():
        return evaluate_columns(framework, plans, evidence, as_of, weights, min_evidence)


def _prepare(
    framework: Framework,
    as_of: datetime,
    kind_weights: Mapping[EvidenceKind | str, float] | None,
    min_evidence: int,
) -> tuple[datetime, dict[str, float] | None, dict[str, _CompetencyPlan]]:
    """The checked arguments both engines start from: ``as_of`` in UTC, the kind weights,
    and each competency's plan."""
    if min_evidence < 1:
        raise ValueError("min_evidence must be >= 1")
    return to_utc(as_of), _check_weights(kind_weights), _plans(framework)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers.

    Grouping a million rows allocates millions of tuples and lists; with the collector on,
    its full passes over everything alive (the input evidence included) cost more than the
    grouping itself. Nothing built here forms reference cycles, so pausing loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _evaluate(
    framework: Framework,
    plans: Mapping[str, _CompetencyPlan],
    evidence: Iterable[Evidence],
    as_of: datetime,
    weights: Mapping[str, float] | None,
    min_evidence: int,
    skipped: Counter[str],
) -> Evaluation:
    buckets = _collect(evidence, plans, weights, as_of, skipped)
    leaves: list[ProficiencyFields] = []
    used = 0
    for key, by_learner in buckets.items():
        plan = plans[key]
        for learner, rows in by_learner.items():
            used += len(rows)
            leaves.append(
                _leaf_result(learner, plan, rows, as_of, min_evidence, weighted=weights is not None)
            )
    return conclude(framework, plans, leaves, as_of, skipped, used=used)


def conclude(
    framework: Framework,
    plans: Mapping[str, _CompetencyPlan],
    leaves: list[ProficiencyFields],
    as_of: datetime,
    skipped: Counter[str],
    *,
    used: int,
) -> Evaluation:
    """Validate the leaves' results (in one call: half the cost of one by one), roll
    parents up from them, and order everything. Shared by both engines."""
    results = {(p.learner, p.competency): p for p in _PROFICIENCIES.validate_python(leaves)}
    _roll_up(framework, plans, results, as_of)
    ordered = sorted(results.values(), key=lambda p: (p.learner, plans[p.competency].order))
    return Evaluation(proficiencies=ordered, skipped=skipped, used=used)


def _check_weights(
    kind_weights: Mapping[EvidenceKind | str, float] | None,
) -> dict[str, float] | None:
    if not kind_weights:
        return None
    checked: dict[str, float] = {}
    for kind, weight in kind_weights.items():
        name = EvidenceKind(kind).value
        if not weight >= 0:
            raise ValueError(f"weight of {name} must be >= 0, got {weight}")
        checked[name] = float(weight)
    return checked


def _collect(  # noqa: PLR0915 - the hot loop is inlined on purpose
    evidence: Iterable[Evidence],
    plans: Mapping[str, _CompetencyPlan],
    weights: Mapping[str, float] | None,
    as_of: datetime,
    skipped: Counter[str],
) -> _Buckets:
    """Group usable evidence by (learner, competency) as scale points.

    Voided ids (any copy voided) are withdrawn; a duplicated id keeps one usable copy,
    chosen by content, so that input order cannot change the result. This loop runs once
    per piece of evidence: it is written for speed (locals, no calls per row).
    """
    buckets: _Buckets = {key: {} for key in plans}
    voided: set[str] = set()
    seen: set[str] = set()
    duplicated: set[str] = set()
    plan_of = plans.get
    remember = seen.add
    for item in evidence:
        item_id = item.id
        if item.voided:
            voided.add(item_id)
            continue
        if item_id in seen:
            duplicated.add(item_id)
        else:
            remember(item_id)
        competency = item.competency
        plan = plan_of(competency)
        if plan is None:
            skipped["unknown competency"] += 1
            continue
        observed = item.observed_at
        if observed > as_of:
            skipped["observed after as_of"] += 1
            continue
        expires = item.expires_at
        if expires is not None and expires <= as_of:
            skipped["expired"] += 1
            continue
        kind: str = item.kind  # a StrEnum member is its own value
        weight = 1.0
        if weights is not None:
            weight = weights.get(kind, 1.0)
            if weight == 0.0:
                skipped[f"kind {kind} weighted 0"] += 1
                continue
        score = item.score
        if score is not None:
            points = score * plan.possible
        elif item.level is not None:
            level_points = plan.level_points.get(item.level)
            if level_points is None:
                skipped["unknown level"] += 1
                continue
            points = level_points
        else:
            points = plan.mastery if item.success else plan.minimum
        sequence = item.sequence
        row = (
            observed,
            NO_SEQUENCE if sequence is None else sequence,
            item_id,
            points,
            weight,
            kind,
            item.recorded_at or observed,
        )
        by_learner = buckets[competency]
        learner = item.learner
        bucket = by_learner.get(learner)
        if bucket is None:
            by_learner[learner] = [row]
        else:
            bucket.append(row)
    if voided:
        skipped["voided"] = len(voided)
    if voided or duplicated:
        _withdraw_and_dedupe(buckets, voided, duplicated, skipped)
    return buckets


def _withdraw_and_dedupe(
    buckets: _Buckets, voided: set[str], duplicated: set[str], skipped: Counter[str]
) -> None:
    """Drop voided rows; of each duplicated id keep the copy recorded last (then by content)."""
    copies: dict[str, list[tuple[datetime, str, str, _Row]]] = {}
    for competency, by_learner in buckets.items():
        for learner in list(by_learner):
            rows = by_learner[learner]
            kept: list[_Row] = []
            for row in rows:
                if row[2] in voided:
                    continue
                if row[2] in duplicated:
                    copies.setdefault(row[2], []).append((row[6], competency, learner, row))
                else:
                    kept.append(row)
            if len(kept) == len(rows):
                continue
            if kept:
                by_learner[learner] = kept
            else:
                del by_learner[learner]
    for candidates in copies.values():
        _, competency, learner, row = max(candidates)
        skipped["duplicate id"] += len(candidates) - 1
        buckets[competency].setdefault(learner, []).append(row)


def _leaf_result(
    learner: str,
    plan: _CompetencyPlan,
    rows: list[_Row],
    as_of: datetime,
    min_evidence: int,
    *,
    weighted: bool,
) -> ProficiencyFields:
    rows.sort()
    ids = [row[2] for row in rows]
    kinds = [row[5] for row in rows]
    last = rows[-1][0].isoformat().replace("+00:00", "Z")  # rows hold UTC instants
    text = evidence_text(len(kinds), summarize_kinds(kinds), last)
    if len(rows) < min_evidence:
        return finish_leaf(learner, plan, as_of, min_evidence, ids=ids, text=text)
    method = plan.method
    scores = [row[3] for row in rows]
    weights = [row[4] for row in rows] if weighted and method in _WEIGHTED_METHODS else None
    if weights is not None and all(w == 1.0 for w in weights):
        weights = None
    score = calculate_unchecked(method, scores, plan.n, plan.mastery, weights)
    return finish_leaf(
        learner,
        plan,
        as_of,
        min_evidence,
        ids=ids,
        text=text,
        score=score,
        used=_evidence_used(method, ids, scores, plan.mastery, score),
        mastering=(
            sum(1 for s in scores if s >= plan.mastery)
            if score is None and method is CalculationMethod.N_MASTERY
            else 0
        ),
    )


def finish_leaf(
    learner: str,
    plan: _CompetencyPlan,
    as_of: datetime,
    min_evidence: int,
    *,
    ids: Sequence[str],
    text: str,
    score: float | None = None,
    used: tuple[str, ...] = (),
    mastering: int = 0,
) -> ProficiencyFields:
    """The result for one leaf, from its evidence ids (time order), the text describing
    that evidence (:func:`evidence_text`) and the computed score.

    Shared by the row engine here and the columnar one, so both explain identically.
    """
    method = plan.method
    count = len(ids)
    if count < min_evidence or score is None:
        return _fields(
            learner,
            plan.competency.key,
            score=None,
            level=None,
            proficient=False,
            method=method.value,
            evidence_ids=tuple(ids) if count < min_evidence else used,
            as_of=as_of,
            explanation=leaf_explanation(plan, count, text, None, mastering, min_evidence),
        )
    key, proficient, outcome = plan.levels[plan.scale.level_index_for_points(score)]
    return {  # the fields of _fields(), written out: this runs once per result
        "learner": learner,
        "competency": plan.competency.key,
        "score": score,
        "level": key,
        "proficient": proficient,
        "method": method.value,
        "evidence_ids": used,
        "children": (),
        "as_of": as_of,
        "explanation": f"{plan.method_text} of {text}: {score:g} points -> {outcome}",
        "review_requested": False,
    }


def leaf_explanation(
    plan: _CompetencyPlan,
    count: int,
    text: str,
    score: float | None,
    mastering: int,
    min_evidence: int,
) -> str:
    """Why a leaf got its result: ``count`` pieces of evidence described by ``text``
    (:func:`evidence_text`), the computed ``score`` (``None``: no score) and, for n_mastery
    without a score, how many of them were mastering."""
    if count < min_evidence:
        return (
            f"not rated: {count} piece{'s' if count != 1 else ''} of evidence, "
            f"at least {min_evidence} needed"
        )
    if score is None:
        return _no_score_reason(plan, count, mastering)
    outcome = plan.levels[plan.scale.level_index_for_points(score)][2]
    return f"{plan.method_text} of {text}: {score:g} points -> {outcome}"


def _evidence_used(
    method: CalculationMethod,
    ids: Sequence[str],
    scores: Sequence[float],
    mastery: float,
    score: float | None,
) -> tuple[str, ...]:
    if method is CalculationMethod.LATEST:
        return (ids[-1],)
    if method is CalculationMethod.HIGHEST:
        best = max(range(len(scores)), key=lambda i: (scores[i], i))
        return (ids[best],)
    if method is CalculationMethod.N_MASTERY and score is not None:
        return tuple([i for i, s in zip(ids, scores, strict=True) if s >= mastery])
    return tuple(ids)


def _describe_method(method: CalculationMethod, n: int | None) -> str:
    if method is CalculationMethod.DECAYING_AVERAGE:
        return f"decaying average (latest weighted {n}%)"
    if method is CalculationMethod.STANDARD_DECAYING_AVERAGE:
        return f"exponential decaying average (newest weighted {n}%)"
    if method is CalculationMethod.N_MASTERY:
        return f"mean of mastering scores (n_mastery, n={n})"
    return method.value


def summarize_kinds(kinds: Sequence[str]) -> str:
    """``"2 assessment, 1 observation"``: how many of each kind, kinds in name order."""
    return ", ".join(f"{kinds.count(kind)} {kind}" for kind in sorted(set(kinds)))


def evidence_text(count: int, kinds: str, last_observed: str) -> str:
    """How an explanation describes the evidence behind a result."""
    return f"{count} evidence ({kinds}; last observed {last_observed})"


def _no_score_reason(plan: _CompetencyPlan, count: int, mastering: int) -> str:
    if plan.method is CalculationMethod.N_MASTERY:
        return (
            f"not rated: n_mastery needs {plan.n} results at or above {plan.mastery:g} points;"
            f" {count} results, {mastering} mastering"
        )
    return "not rated: no usable score"


ProficiencyFields = dict[str, Any]
"""The fields of a Proficiency, validated later (many at once)."""
_PROFICIENCIES = TypeAdapter(list[Proficiency])


def _make(learner: str, competency: str, **fields: Any) -> Proficiency:
    """One validated Proficiency (validation checks our work; it is cheaper than
    pydantic's model_construct, too)."""
    return Proficiency.model_validate(_fields(learner, competency, **fields))


def _fields(
    learner: str,
    competency: str,
    *,
    score: float | None,
    level: str | None,
    proficient: bool,
    method: str,
    as_of: datetime,
    explanation: str,
    evidence_ids: tuple[str, ...] = (),
    children: tuple[str, ...] = (),
    review_requested: bool = False,
) -> ProficiencyFields:
    return {
        "learner": learner,
        "competency": competency,
        "score": score,
        "level": level,
        "proficient": proficient,
        "method": method,
        "evidence_ids": evidence_ids,
        "children": children,
        "as_of": as_of,
        "explanation": explanation,
        "review_requested": review_requested,
    }


def _roll_up(
    framework: Framework,
    plans: Mapping[str, _CompetencyPlan],
    results: dict[tuple[str, str], Proficiency],
    as_of: datetime,
) -> None:
    """Apply parents' rules bottom-up, so a parent completed by its rule counts for its own."""
    by_competency: dict[str, set[str]] = {}
    for learner, key in results:
        by_competency.setdefault(key, set()).add(learner)
    for competency in reversed(list(framework.walk())):
        rule = competency.rollup
        if rule is None or rule.outcome is RuleOutcome.NONE:
            continue
        children = [child.key for child in framework.children_of(competency.key)]
        if not children:
            continue
        learners: set[str] = set()
        for child in children:
            learners |= by_competency.get(child, set())
        for learner in sorted(learners):
            matched, used = _rule_matches(rule, children, learner, results)
            if not matched:
                continue
            updated = _apply_outcome(
                rule, competency, plans[competency.key], learner, used, results, as_of
            )
            results[(learner, competency.key)] = updated
            by_competency.setdefault(competency.key, set()).add(learner)


def _rule_matches(
    rule: RollupRule,
    children: list[str],
    learner: str,
    results: Mapping[tuple[str, str], Proficiency],
) -> tuple[bool, tuple[str, ...]]:
    def proficient(key: str) -> bool:
        result = results.get((learner, key))
        return result is not None and result.proficient

    if rule.type == "all_children":
        return all(proficient(key) for key in children), tuple(children)
    met = [child for child in rule.children if proficient(child.key)]
    if any(child.required and not proficient(child.key) for child in rule.children):
        return False, ()
    points = sum(child.points for child in met)
    base = rule.base_points or 0  # validated: a points rule always has base_points >= 1
    return points >= base, tuple(child.key for child in met)


def _apply_outcome(
    rule: RollupRule,
    competency: Competency,
    plan: _CompetencyPlan,
    learner: str,
    children: tuple[str, ...],
    results: Mapping[tuple[str, str], Proficiency],
    as_of: datetime,
) -> Proficiency:
    own = results.get((learner, competency.key))
    rated = own is not None and own.level is not None
    if rule.outcome is RuleOutcome.COMPLETE and not rated:
        default = plan.scale.default
        return _make(
            learner,
            competency.key,
            score=default.points,
            level=default.key,
            proficient=default.proficient,
            method=f"rule:{rule.type}",
            children=children,
            evidence_ids=own.evidence_ids if own else (),
            as_of=as_of,
            explanation=rollup_explanation(rule, plan, children, own=None, own_rated=False),
        )
    review = rule.outcome is RuleOutcome.RECOMMEND
    explanation = rollup_explanation(
        rule, plan, children, own=own.explanation if own else None, own_rated=rated
    )
    if own is not None:
        return own.model_copy(
            update={
                "explanation": explanation,
                "children": children,
                "review_requested": own.review_requested or review,
            }
        )
    return _make(
        learner,
        competency.key,
        score=None,
        level=None,
        proficient=False,
        method=f"rule:{rule.type}",
        children=children,
        as_of=as_of,
        explanation=explanation,
        review_requested=review,
    )


def rollup_explanation(
    rule: RollupRule,
    plan: _CompetencyPlan,
    children: Sequence[str],
    *,
    own: str | None,
    own_rated: bool,
) -> str:
    """Why a matched rule gave its result: ``children`` are the keys it used, ``own`` the
    explanation of the competency's own result (``None``: it had none) and ``own_rated``
    whether that result has a level. Shared by both engines."""
    matched = (
        "all children proficient"
        if rule.type == "all_children"
        else f"points rule met ({', '.join(children)})"
    )
    if rule.outcome is RuleOutcome.COMPLETE and not own_rated:
        default = plan.scale.default
        return (
            f"{matched}: completed with the scale's default level {default.name}"
            f" ({'proficient' if default.proficient else 'not proficient'})"
        )
    note = {
        RuleOutcome.COMPLETE: f"{matched}; already rated from its own evidence, kept",
        RuleOutcome.RECOMMEND: f"{matched}: flagged for review",
        RuleOutcome.EVIDENCE: f"{matched} (noted as evidence only)",
    }[rule.outcome]
    return f"{own}; {note}" if own is not None else f"not rated: {note}"
