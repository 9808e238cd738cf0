"""A columnar path through the rules engine, for millions of evidence rows.

:class:`EvidenceTable` holds evidence as NumPy columns (one array per field, strings
dictionary-encoded). :func:`comp_adapters.rules.evaluate` accepts one in place of
:class:`~comp_adapters.core.Evidence` objects and then filters, orders and rolls up whole
columns at once instead of row by row. The results are *identical* to the row engine's —
same skips, same order of floating-point operations per learner and competency, same
explanations — which the test suite checks on random data.

NumPy is an optional dependency: ``pip install 'comp-adapters[fast]'``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from comp_adapters.core.framework import Framework
    from comp_adapters.rules.engine import Evaluation, ProficiencyFields, _CompetencyPlan

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = 2**62  # "no expiry", in microseconds: far beyond any real instant
_NO_SEQUENCE = 2**63 - 1  # the row engine's NO_SEQUENCE: after every real sequence
KINDS: tuple[str, ...] = tuple(kind.value for kind in EvidenceKind)
"""Kind codes of :attr:`EvidenceTable.kind`: positions in this tuple."""


def _numpy() -> Any:
    try:
        import numpy  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError:
        raise ConfigurationError(
            "the columnar engine needs NumPy: pip install 'comp-adapters[fast]'"
        ) from None
    return numpy


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware instant (exact)."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, eq=False)
class EvidenceTable:
    """Evidence as columns: the same fields as :class:`Evidence`, one array each.

    Strings are dictionary-encoded (``learner`` holds codes into ``learners``, and so on);
    instants are int64 microseconds since the epoch (UTC); absent values are ``NaN`` for
    ``score``, ``-1`` for ``level`` and ``success``, ``observed_at`` for ``recorded_at`` and
    a far-future value for ``expires_at``, :data:`~comp_adapters.rules.engine.NO_SEQUENCE`
    for ``sequence``. Build one with :meth:`from_evidence` or
    :meth:`from_columns`; the arrays are validated there and must not be changed after.
    """

    ids: list[str]
    learners: list[str]
    learner: npt.NDArray[np.int32]
    competencies: list[str]
    competency: npt.NDArray[np.int32]
    kind: npt.NDArray[np.int8]
    score: npt.NDArray[np.float64]
    levels: list[str]
    level: npt.NDArray[np.int32]
    success: npt.NDArray[np.int8]
    observed_at: npt.NDArray[np.int64]
    recorded_at: npt.NDArray[np.int64]
    expires_at: npt.NDArray[np.int64]
    voided: npt.NDArray[np.bool_]
    sequence: npt.NDArray[np.int64]
    ids_unique: bool = field(init=False)
    """Whether no two rows share an id (checked once, when the table is built)."""

    def __post_init__(self) -> None:
        self._check()
        object.__setattr__(self, "ids_unique", len(set(self.ids)) == len(self.ids))

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_evidence(cls, evidence: Iterable[Evidence]) -> EvidenceTable:
        """Columns of validated Evidence objects."""
        codes: dict[str, dict[str, int]] = {"learner": {}, "competency": {}, "level": {}}
        kind_code = {kind: code for code, kind in enumerate(KINDS)}
        ids: list[str] = []
        cols: dict[str, list[Any]] = {
            name: []
            for name in (
                "learner",
                "competency",
                "kind",
                "score",
                "level",
                "success",
                "observed_at",
                "recorded_at",
                "expires_at",
                "voided",
                "sequence",
            )
        }
        nan = float("nan")
        for item in evidence:
            ids.append(item.id)
            cols["learner"].append(codes["learner"].setdefault(item.learner, len(codes["learner"])))
            competencies = codes["competency"]
            cols["competency"].append(competencies.setdefault(item.competency, len(competencies)))
            cols["kind"].append(kind_code[item.kind])
            cols["score"].append(nan if item.score is None else item.score)
            levels = codes["level"]
            cols["level"].append(
                -1 if item.level is None else levels.setdefault(item.level, len(levels))
            )
            cols["success"].append(-1 if item.success is None else int(item.success))
            observed = to_micros(item.observed_at)
            cols["observed_at"].append(observed)
            recorded = item.recorded_at
            cols["recorded_at"].append(observed if recorded is None else to_micros(recorded))
            expires = item.expires_at
            cols["expires_at"].append(_NEVER if expires is None else to_micros(expires))
            cols["voided"].append(item.voided)
            sequence = item.sequence
            cols["sequence"].append(_NO_SEQUENCE if sequence is None else sequence)
        return cls.from_columns(
            ids=ids,
            learners=list(codes["learner"]),
            competencies=list(codes["competency"]),
            levels=list(codes["level"]),
            **cols,
        )

    @classmethod
    def from_columns(
        cls,
        *,
        ids: Sequence[str],
        learners: Sequence[str],
        learner: Any,
        competencies: Sequence[str],
        competency: Any,
        kind: Any,
        score: Any,
        observed_at: Any,
        levels: Sequence[str] = (),
        level: Any = None,
        success: Any = None,
        recorded_at: Any = None,
        expires_at: Any = None,
        voided: Any = None,
        sequence: Any = None,
    ) -> EvidenceTable:
        """A table from array-likes, checked like :class:`Evidence` checks one record."""
        np = _numpy()
        n = len(ids)

        def column(values: Any, dtype: Any, default: Any) -> Any:
            if values is None:
                return np.full(n, default, dtype=dtype)
            array = np.asarray(values, dtype=dtype)
            if array.shape != (n,):
                raise ValueError(f"every column needs {n} values, one got {array.shape}")
            return array

        return cls(
            ids=list(ids),
            learners=list(learners),
            learner=column(learner, np.int32, 0),
            competencies=list(competencies),
            competency=column(competency, np.int32, 0),
            kind=column(kind, np.int8, KINDS.index("other")),
            score=column(score, np.float64, np.nan),
            levels=list(levels),
            level=column(level, np.int32, -1),
            success=column(success, np.int8, -1),
            observed_at=column(observed_at, np.int64, 0),
            recorded_at=column(observed_at if recorded_at is None else recorded_at, np.int64, 0),
            expires_at=column(expires_at, np.int64, _NEVER),
            voided=column(voided, np.bool_, False),
            sequence=column(sequence, np.int64, _NO_SEQUENCE),
        )

    def _check(self) -> None:
        np = _numpy()
        problems = []
        for name, codes, size in (
            ("learner", self.learner, len(self.learners)),
            ("competency", self.competency, len(self.competencies)),
        ):
            if len(codes) and (codes.min() < 0 or codes.max() >= size):
                problems.append(f"{name} codes out of range")
        if len(self.level) and (self.level.min() < -1 or self.level.max() >= len(self.levels)):
            problems.append("level codes out of range")
        if len(self.kind) and (self.kind.min() < 0 or self.kind.max() >= len(KINDS)):
            problems.append("kind codes out of range")
        scores = self.score[~np.isnan(self.score)]
        if len(scores) and (scores.min() < 0 or not np.isfinite(scores).all()):
            problems.append("scores must be finite fractions >= 0")
        if np.any((self.success < -1) | (self.success > 1)):
            problems.append("success must be -1 (none), 0 or 1")
        no_result = np.isnan(self.score) & (self.level < 0) & (self.success < 0)
        if np.any(no_result):
            problems.append("evidence needs a result: score, level or success")
        if np.any(self.expires_at <= self.observed_at):
            problems.append("expires_at must be after observed_at")
        if problems:
            raise ValueError("; ".join(problems))


def evaluate_table(
    framework: Framework,
    plans: Mapping[str, _CompetencyPlan],
    table: EvidenceTable,
    as_of: datetime,
    weights: Mapping[str, float] | None,
    min_evidence: int,
) -> Evaluation:
    """The columnar counterpart of the row engine's ``_evaluate`` (same inputs, same output)."""
    from comp_adapters.rules import engine  # noqa: PLC0415 - engine imports us lazily

    np = _numpy()
    skipped: Counter[str] = Counter()
    order = list(plans.values())  # plan code -> plan
    plan_code = {key: code for code, key in enumerate(plans)}
    to_plan = np.array([plan_code.get(key, -1) for key in table.competencies] or [0])
    plan_of = to_plan[table.competency] if len(table) else np.zeros(0, dtype=np.int64)
    alive, points, row_weight = _usable_rows(
        np, table, order, plan_of, to_micros(as_of), weights, skipped
    )
    sorted_rows, starts, lengths = _segments(np, table, alive, plan_of)
    values = points[sorted_rows]
    seg_plan = plan_of[sorted_rows[starts]]
    scores = np.full(len(starts), np.nan)
    used_index = np.full(len(starts), -1, dtype=np.int64)  # the one row latest/highest use
    for code, plan in enumerate(order):
        segs = np.flatnonzero((seg_plan == code) & (lengths >= min_evidence))
        if len(segs):
            _score_segments(
                np,
                plan,
                segs,
                starts,
                lengths,
                values,
                row_weight[sorted_rows] if weights is not None else None,
                scores,
                used_index,
            )
    results = _leaf_results(
        np,
        table,
        order,
        sorted_rows,
        starts,
        lengths,
        seg_plan,
        values,
        scores,
        used_index,
        as_of,
        min_evidence,
    )
    return engine.conclude(framework, plans, results, as_of, skipped, used=len(sorted_rows))


def _usable_rows(
    np: Any,
    table: EvidenceTable,
    order: Sequence[_CompetencyPlan],
    plan_of: Any,
    as_of_us: int,
    weights: Mapping[str, float] | None,
    skipped: Counter[str],
) -> tuple[Any, Any, Any]:
    """Which rows count (a mask), their scale points and kind weights; skips counted.

    Each skipped row gets the first reason that applies, in the row engine's order.
    """
    active = ~table.voided
    reasons: list[tuple[str, Any]] = []
    unknown = active & (plan_of < 0)
    reasons.append(("unknown competency", unknown))
    alive = active & ~unknown
    future = alive & (table.observed_at > as_of_us)
    reasons.append(("observed after as_of", future))
    alive &= ~future
    expired = alive & (table.expires_at <= as_of_us)
    reasons.append(("expired", expired))
    alive &= ~expired
    kind_weight = np.ones(len(KINDS))
    for code, kind in enumerate(KINDS):
        kind_weight[code] = 1.0 if weights is None else weights.get(kind, 1.0)
    row_weight = kind_weight[table.kind]
    if weights is not None:
        zero = alive & (row_weight == 0.0)
        for code, kind in enumerate(KINDS):
            count = int(np.count_nonzero(zero & (table.kind == code)))
            if count:
                skipped[f"kind {kind} weighted 0"] += count
        alive &= ~zero

    # Points: score * possible, else the level's points, else mastery/minimum by success.
    safe_plan = np.where(plan_of < 0, 0, plan_of)
    possible = np.array([p.possible for p in order])[safe_plan]
    mastery = np.array([p.mastery for p in order])[safe_plan]
    minimum = np.array([p.minimum for p in order])[safe_plan]
    level_points = np.full((len(order), max(len(table.levels), 1)), np.nan)
    for code, plan in enumerate(order):
        for level_code, key in enumerate(table.levels):
            level_points[code, level_code] = plan.level_points.get(key, np.nan)
    has_score = ~np.isnan(table.score)
    has_level = ~has_score & (table.level >= 0)
    from_level = level_points[safe_plan, np.where(table.level < 0, 0, table.level)]
    points = np.where(
        has_score,
        table.score * possible,
        np.where(has_level, from_level, np.where(table.success == 1, mastery, minimum)),
    )
    unknown_level = alive & has_level & np.isnan(from_level)
    reasons.append(("unknown level", unknown_level))
    alive &= ~unknown_level
    for reason, mask in reasons:
        count = int(np.count_nonzero(mask))
        if count:
            skipped[reason] += count

    # Voids withdraw every copy of their id; duplicated ids keep one usable copy.
    ids = table.ids
    voided_ids = set(_pick(ids, np.flatnonzero(table.voided)))
    if voided_ids:
        skipped["voided"] = len(voided_ids)
        candidates = np.flatnonzero(alive)
        hit = np.fromiter((ids[i] in voided_ids for i in candidates.tolist()), dtype=bool)
        alive[candidates[hit]] = False
    active_ids = [] if table.ids_unique else _pick(ids, np.flatnonzero(active))
    if len(set(active_ids)) != len(active_ids):
        _keep_one_copy(
            table, alive, active, voided_ids, plan_of, order, points, row_weight, skipped
        )
    return alive, points, row_weight


def _segments(np: Any, table: EvidenceTable, alive: Any, plan_of: Any) -> tuple[Any, Any, Any]:
    """Usable rows ordered by (competency, learner, observed_at, id), and where each
    (learner, competency) segment starts and how long it is."""
    width = max(len(table.learners), 1)
    pair_of = plan_of * width + table.learner
    rows = np.flatnonzero(alive)
    sorted_rows = rows[_order_by_pair_then_time(np, pair_of[rows], table.observed_at[rows])]
    sorted_rows = _order_ties_by_id(np, sorted_rows, pair_of=pair_of, table=table)
    pair = pair_of[sorted_rows]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if len(pair) else rows[:0]
    lengths = np.diff(np.r_[starts, len(sorted_rows)]).astype(np.int64)
    return sorted_rows, starts, lengths


def _order_by_pair_then_time(np: Any, pair: Any, observed: Any) -> Any:
    """Positions ordering rows by pair, then time: one sort of a combined int64 key when
    it fits (pairs x time span < 2**62), else a two-key lexsort."""
    if len(pair) == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(observed.min())
    span = int(observed.max()) - low + 1
    if (int(pair.max()) + 1) * span < 2**62:
        return np.argsort(pair * span + (observed - low), kind="stable")
    return np.lexsort((observed, pair))


def _leaf_results(
    np: Any,
    table: EvidenceTable,
    order: Sequence[_CompetencyPlan],
    sorted_rows: Any,
    starts: Any,
    lengths: Any,
    seg_plan: Any,
    values: Any,
    scores: Any,
    used_index: Any,
    as_of: datetime,
    min_evidence: int,
) -> list[ProficiencyFields]:
    """One Proficiency's fields per segment, explained exactly as the row engine does.

    Plain lists from here on: indexing NumPy arrays one element at a time is slow.
    """
    from comp_adapters.rules.engine import finish_leaf  # noqa: PLC0415

    ids_sorted = _pick(table.ids, sorted_rows)
    ends = starts + lengths
    texts = _evidence_texts(
        np, table.kind[sorted_rows], starts, lengths, table.observed_at[sorted_rows[ends - 1]]
    )
    values_list = values.tolist()
    results: list[ProficiencyFields] = []
    segments = zip(
        starts.tolist(),
        ends.tolist(),
        seg_plan.tolist(),
        table.learner[sorted_rows[starts]].tolist(),
        scores.tolist(),
        used_index.tolist(),
        texts,
        strict=True,
    )
    for start, end, plan_code, learner_code, score_value, used_at, text in segments:
        plan = order[plan_code]
        learner = table.learners[learner_code]
        seg_ids = ids_sorted[start:end]
        score = None if math.isnan(score_value) else score_value
        used: tuple[str, ...] = ()
        mastering = 0
        method = plan.method
        if end - start < min_evidence:
            pass
        elif method is CalculationMethod.LATEST or method is CalculationMethod.HIGHEST:
            used = (ids_sorted[used_at],)
        elif method is CalculationMethod.N_MASTERY:
            kept = [v >= plan.mastery for v in values_list[start:end]]
            if score is not None:
                used = tuple([i for i, k in zip(seg_ids, kept, strict=True) if k])
            else:
                used = tuple(seg_ids)
                mastering = sum(kept)
        else:
            used = tuple(seg_ids)
        results.append(
            finish_leaf(
                learner,
                plan,
                as_of,
                min_evidence,
                ids=seg_ids,
                text=text,
                score=score,
                used=used,
                mastering=mastering,
            )
        )
    return results


def _pick(items: list[str], positions: Any) -> list[str]:
    """``[items[i] for i in positions]``, at C speed."""
    if len(positions) == 0:
        return []
    if len(positions) == 1:
        return [items[int(positions[0])]]
    return list(itemgetter(*positions.tolist())(items))


def _evidence_texts(np: Any, kinds: Any, starts: Any, lengths: Any, last_micros: Any) -> list[str]:
    """The row engine's evidence descriptions, for every segment at once.

    Counts of each kind per segment come from one cumulative sum; the texts of identical
    kind mixes are built once; instants are formatted as ``datetime.isoformat`` would.
    """
    from comp_adapters.rules.engine import evidence_text  # noqa: PLC0415

    if not len(starts):
        return []
    counts = np.zeros((len(starts), len(KINDS)), dtype=np.int64)
    for code in np.unique(kinds).tolist():
        counts[:, code] = np.add.reduceat((kinds == code).astype(np.int64), starts)
    order = sorted(range(len(KINDS)), key=lambda code: KINDS[code])
    stamps = last_micros.astype("datetime64[us]")
    whole = last_micros % 1_000_000 == 0
    iso = np.where(
        whole,
        np.datetime_as_string(stamps, unit="s"),
        np.datetime_as_string(stamps, unit="us"),
    )
    summaries: dict[tuple[int, ...], str] = {}
    texts = []
    for row, count, last in zip(counts.tolist(), lengths.tolist(), iso.tolist(), strict=True):
        mix = tuple(row)
        summary = summaries.get(mix)
        if summary is None:
            summary = ", ".join(f"{row[code]} {KINDS[code]}" for code in order if row[code])
            summaries[mix] = summary
        texts.append(evidence_text(count, summary, last + "Z"))
    return texts


def _keep_one_copy(
    table: EvidenceTable,
    alive: Any,
    active: Any,
    voided_ids: set[str],
    plan_of: Any,
    order: Sequence[_CompetencyPlan],
    points: Any,
    row_weight: Any,
    skipped: Counter[str],
) -> None:
    """Of each id that several non-void records share, keep the usable copy the row engine
    keeps: the greatest (recorded_at, competency, learner, row). Rare: plain Python."""
    np = _numpy()
    ids = table.ids
    positions: dict[str, list[int]] = {}
    for i in np.flatnonzero(active).tolist():
        positions.setdefault(ids[i], []).append(i)
    for item_id, rows in positions.items():
        if len(rows) < 2 or item_id in voided_ids:
            continue
        usable = [i for i in rows if alive[i]]
        if not usable:
            continue

        def row_key(i: int) -> tuple[Any, ...]:
            observed = from_micros(int(table.observed_at[i]))
            recorded = from_micros(int(table.recorded_at[i]))
            plan = order[int(plan_of[i])]
            learner = table.learners[int(table.learner[i])]
            row = (
                observed,
                int(table.sequence[i]),
                ids[i],
                float(points[i]),
                float(row_weight[i]),
                KINDS[table.kind[i]],
                recorded,
            )
            return (recorded, plan.competency.key, learner, row)

        winner = max(usable, key=row_key)
        for i in usable:
            alive[i] = i == winner
        skipped["duplicate id"] += len(usable) - 1


def _order_ties_by_id(np: Any, sorted_rows: Any, *, pair_of: Any, table: EvidenceTable) -> Any:
    """Within equal (pair, observed_at) runs, order rows by sequence, then id, as the row
    engine does."""
    if len(sorted_rows) < 2:
        return sorted_rows
    pair = pair_of[sorted_rows]
    observed = table.observed_at[sorted_rows]
    same = (pair[1:] == pair[:-1]) & (observed[1:] == observed[:-1])
    if not same.any():
        return sorted_rows
    result = sorted_rows.copy()
    ids = table.ids
    sequence = table.sequence
    tie_starts = np.flatnonzero(same & ~np.r_[False, same[:-1]])
    for start in tie_starts.tolist():
        end = start + 1
        while end < len(same) and same[end]:
            end += 1
        run = result[start : end + 1]
        result[start : end + 1] = sorted(run.tolist(), key=lambda i: (int(sequence[i]), ids[i]))
    return result


def _score_segments(
    np: Any,
    plan: _CompetencyPlan,
    segs: Any,
    starts: Any,
    lengths: Any,
    values: Any,
    weights: Any,
    scores: Any,
    used_index: Any,
) -> None:
    """Scores of the segments ``segs`` (all of one competency), written into ``scores``.

    ``weights`` (per sorted row) is ``None`` without kind weights.
    """
    method = plan.method
    n = plan.n
    seg_start = starts[segs]
    seg_len = lengths[segs]
    last = seg_start + seg_len - 1
    if method is CalculationMethod.LATEST:
        scores[segs] = ruby_round_array(np, values[last])
        used_index[segs] = last
        return
    if method is CalculationMethod.HIGHEST:
        best = _segment_max(np, values, seg_start, seg_len)
        scores[segs] = ruby_round_array(np, best)
        used_index[segs] = _last_position_of(np, values, seg_start, seg_len, best)
        return
    use_weights = weights is not None and method in (
        CalculationMethod.AVERAGE,
        CalculationMethod.DECAYING_AVERAGE,
        CalculationMethod.N_MASTERY,
    )
    if method is CalculationMethod.AVERAGE:
        scores[segs] = ruby_round_array(
            np, _segment_mean(np, values, weights if use_weights else None, seg_start, seg_len)
        )
        return
    if method is CalculationMethod.DECAYING_AVERAGE:
        if n is None:
            raise ValueError("decaying_average needs a calculation_int")
        single = seg_len == 1
        older = _segment_mean(
            np, values, weights if use_weights else None, seg_start, np.maximum(seg_len - 1, 1)
        )
        decayed = values[last] * (0.01 * n) + older * (0.01 * (100 - n))
        scores[segs] = ruby_round_array(np, np.where(single, values[seg_start], decayed))
        return
    if method is CalculationMethod.STANDARD_DECAYING_AVERAGE:
        if n is None:
            raise ValueError("standard_decaying_average needs a calculation_int")
        keep, take = 0.01 * (100 - n), 0.01 * n
        decayed = values[seg_start].copy()
        multi = seg_len > 1
        second = np.where(multi, seg_start + 1, seg_start)
        decayed = np.where(multi, values[seg_start] * keep + values[second] * take, decayed)
        for k in range(2, int(seg_len.max())):
            on = np.flatnonzero(seg_len > k)
            decayed[on] = decayed[on] * keep + values[seg_start[on] + k] * take
        scores[segs] = ruby_round_array(np, decayed)
        return
    # n_mastery: enough results, then enough mastering ones, then their mean.
    if n is None:
        raise ValueError("n_mastery needs a calculation_int")
    kept_scores = np.full(len(segs), np.nan)
    for j in range(len(segs)):
        start, length = int(seg_start[j]), int(seg_len[j])
        if length < n:
            continue
        window = values[start : start + length]
        mask = window >= plan.mastery
        if np.count_nonzero(mask) < n:
            continue
        kept = window[mask]
        kept_weights = weights[start : start + length][mask] if use_weights else None
        kept_scores[j] = _mean_of(np, kept, kept_weights)
    scores[segs] = ruby_round_array(np, kept_scores)


def _segment_max(np: Any, values: Any, seg_start: Any, seg_len: Any) -> Any:
    best = values[seg_start].copy()
    for k in range(1, int(seg_len.max()) if len(seg_len) else 0):
        on = np.flatnonzero(seg_len > k)
        best[on] = np.maximum(best[on], values[seg_start[on] + k])
    return best


def _last_position_of(np: Any, values: Any, seg_start: Any, seg_len: Any, best: Any) -> Any:
    position = seg_start.copy()
    for k in range(1, int(seg_len.max()) if len(seg_len) else 0):
        on = np.flatnonzero(seg_len > k)
        hit = on[values[seg_start[on] + k] == best[on]]
        position[hit] = seg_start[hit] + k
    return position


def _neumaier(np: Any, values: Any, seg_start: Any, seg_len: Any) -> Any:
    """Ruby's compensated ``Array#sum`` of each segment, element by element in order."""
    total = np.zeros(len(seg_start))
    compensation = np.zeros(len(seg_start))
    for k in range(int(seg_len.max()) if len(seg_len) else 0):
        on = np.flatnonzero(seg_len > k)
        x = values[seg_start[on] + k]
        f = total[on]
        t = f + x
        compensation[on] += np.where(np.abs(f) >= np.abs(x), (f - t) + x, (x - t) + f)
        total[on] = t
    return total + compensation


def _segment_mean(np: Any, values: Any, weights: Any, seg_start: Any, seg_len: Any) -> Any:
    if weights is None:
        return _neumaier(np, values, seg_start, seg_len) / seg_len
    return _neumaier(np, values * weights, seg_start, seg_len) / _neumaier(
        np, weights, seg_start, seg_len
    )


def _mean_of(np: Any, values: Any, weights: Any) -> float:
    start = np.zeros(1, dtype=np.int64)
    length = np.array([len(values)])
    return float(_segment_mean(np, values, weights, start, length)[0])


def ruby_round_array(np: Any, values: Any) -> Any:
    """:func:`~comp_adapters.rules.calculate.ruby_round` (2 digits) of every element."""
    values = np.asarray(values, dtype=np.float64)
    result = values.copy()
    finite = np.isfinite(values) & (values != 0.0)
    x = values[finite]
    _, binexp = np.frexp(x)
    binexp = binexp.astype(np.int64)
    quarter = np.trunc(binexp / 4).astype(np.int64)
    third = np.trunc(binexp / 3).astype(np.int64)
    overflow = 17 - np.where(binexp > 0, quarter, third - 1) <= 2
    underflow = -np.where(binexp > 0, third + 1, quarter) > 2
    scale = 100.0
    xs = x * scale
    magnitude = np.abs(xs)
    floor = np.floor(magnitude)
    rounded = np.where(magnitude - floor >= 0.5, floor + 1.0, floor) * np.sign(xs)
    rounded = np.where(
        x > 0,
        np.where((rounded + 0.5) / scale <= x, rounded + 1.0, rounded),
        np.where((rounded - 0.5) / scale >= x, rounded - 1.0, rounded),
    )
    out = rounded / scale
    out = np.where(underflow, 0.0, out)
    out = np.where(overflow, x, out)
    result[finite] = out
    return result
