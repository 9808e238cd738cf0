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

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.errors import ConfigurationError
from comp_adapters.rules.calculate import ruby_sum_state

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from comp_adapters.core.framework import Framework
    from comp_adapters.rules.engine import _CompetencyPlan
    from comp_adapters.rules.proficiency_table import ProficiencyTable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = 2**62  # "no expiry", in microseconds: far beyond any real instant
_NO_SEQUENCE = 2**63 - 1  # the row engine's NO_SEQUENCE: after every real sequence
KINDS: tuple[str, ...] = tuple(kind.value for kind in EvidenceKind)
"""Kind codes of :attr:`EvidenceTable.kind`: positions in this tuple."""
COLUMNS: tuple[str, ...] = (
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
"""The array columns of :class:`EvidenceTable` (``ids`` and the dictionaries aside)."""


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
    ids_unique_known: InitVar[bool | None] = None
    """``ids_unique`` when the builder has proven it already (a reader that compared the
    ids' hashes in its worker processes); ``None``: found here."""

    def __post_init__(self, ids_unique_known: bool | None) -> None:
        self._check()
        unique = ids_unique_known
        if unique is None:
            unique = len(set(self.ids)) == len(self.ids)
        object.__setattr__(self, "ids_unique", unique)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_evidence(cls, evidence: Iterable[Evidence]) -> EvidenceTable:
        """Columns of validated Evidence objects."""
        codes: dict[str, dict[str, int]] = {"learner": {}, "competency": {}, "level": {}}
        kind_code = {kind: code for code, kind in enumerate(KINDS)}
        ids: list[str] = []
        cols: dict[str, Any] = {name: [] for name in COLUMNS}
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
        ids_unique_known: bool | None = None,
    ) -> EvidenceTable:
        """A table from array-likes, checked like :class:`Evidence` checks one record
        (``ids_unique_known``: see the attribute)."""
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
            ids_unique_known=ids_unique_known,
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


def evaluate_columns(
    framework: Framework,
    plans: Mapping[str, _CompetencyPlan],
    table: EvidenceTable,
    as_of: datetime,
    weights: Mapping[str, float] | None,
    min_evidence: int,
) -> ProficiencyTable:
    """The columnar counterpart of the row engine's ``_evaluate``: the same results, as a
    :class:`~comp_adapters.rules.proficiency_table.ProficiencyTable` (no object per result)."""
    from comp_adapters.rules.columnar_rollup import roll_up_columns  # noqa: PLC0415

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
    seg_plan = plan_of[sorted_rows[starts]].astype(np.int64)
    scores, used_index = _score_all(
        np,
        order,
        seg_plan,
        starts,
        lengths,
        values,
        row_weight[sorted_rows] if weights is not None else None,
        min_evidence,
    )
    leaves = LeafColumns(
        table=table,
        order=order,
        rows=sorted_rows,
        starts=starts,
        lengths=lengths,
        plan=seg_plan,
        learner=table.learner[sorted_rows[starts]].astype(np.int64),
        values=values,
        scores=scores,
        used_index=used_index,
        min_evidence=min_evidence,
    )
    return roll_up_columns(framework, leaves, as_of, skipped, used=len(sorted_rows))


@dataclass(frozen=True, eq=False)
class LeafColumns:
    """The leaves' results as columns, one entry per (learner, competency) segment of the
    usable rows (ordered by plan code, then learner code), and what explains them."""

    table: EvidenceTable
    order: Sequence[_CompetencyPlan]
    rows: Any
    """Usable rows of ``table``, segment after segment, each in time order."""
    starts: Any
    lengths: Any
    plan: Any
    learner: Any
    values: Any
    """Scale points of ``rows``."""
    scores: Any
    """Score of each segment, NaN for none."""
    used_index: Any
    """Position in ``rows`` of the one row latest/highest use, else -1."""
    min_evidence: int

    def used_mask(self) -> Any:
        """Which of ``rows`` each segment's result lists as its evidence ids."""
        np = _numpy()
        mask = np.ones(len(self.rows), dtype=bool)
        methods = np.array([_METHOD_CODE[plan.method] for plan in self.order] or [0])
        method = methods[self.plan] if len(self.plan) else self.plan
        enough = self.lengths >= self.min_evidence
        single = enough & (
            (method == _METHOD_CODE[CalculationMethod.LATEST])
            | (method == _METHOD_CODE[CalculationMethod.HIGHEST])
        )
        if single.any():
            mask[_expand(np, self.starts[single], self.lengths[single])] = False
            mask[self.used_index[single]] = True
        mastery = (
            enough & (method == _METHOD_CODE[CalculationMethod.N_MASTERY]) & ~np.isnan(self.scores)
        )
        if mastery.any():
            positions = _expand(np, self.starts[mastery], self.lengths[mastery])
            limit = np.repeat(self._mastery()[mastery], self.lengths[mastery])
            mask[positions] = self.values[positions] >= limit
        return mask

    def _mastery(self) -> Any:
        np = _numpy()
        per_plan = np.array([plan.mastery for plan in self.order] or [0.0])
        return per_plan[self.plan] if len(self.plan) else np.zeros(0)

    def mastering(self) -> Any:
        """How many rows of each segment reach mastery (used by n_mastery's explanation)."""
        np = _numpy()
        if not len(self.starts):
            return np.zeros(0, dtype=np.int64)
        limit = np.repeat(self._mastery(), self.lengths)
        return np.add.reduceat((self.values >= limit).astype(np.int64), self.starts)

    def texts(self) -> list[str]:
        """The evidence description of every segment (see :func:`_evidence_texts`)."""
        table, rows = self.table, self.rows
        ends = self.starts + self.lengths
        return _evidence_texts(
            _numpy(), table.kind[rows], self.starts, self.lengths, table.observed_at[rows[ends - 1]]
        )


def _expand(np: Any, starts: Any, lengths: Any) -> Any:
    """Every position of the segments (``starts``, ``lengths``), segment after segment."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


_METHOD_CODE = {method: code for code, method in enumerate(CalculationMethod)}


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


def _score_all(
    np: Any,
    order: Sequence[_CompetencyPlan],
    seg_plan: Any,
    starts: Any,
    lengths: Any,
    values: Any,
    weights: Any,
    min_evidence: int,
) -> tuple[Any, Any]:
    """Score of every segment with enough evidence (NaN: no score) and, for latest and
    highest, the position of the one row used. One pass per calculation method, whatever
    the number of competencies; per-competency parameters travel as per-segment arrays."""
    scores = np.full(len(starts), np.nan)
    used_index = np.full(len(starts), -1, dtype=np.int64)
    if not len(starts):
        return scores, used_index
    method_of = np.array([_METHOD_CODE[plan.method] for plan in order])[seg_plan]
    n_of = np.array([plan.n or 0 for plan in order], dtype=np.int64)[seg_plan]
    mastery_of = np.array([plan.mastery for plan in order])[seg_plan]
    enough = lengths >= min_evidence
    last = starts + lengths - 1
    for method in CalculationMethod:
        segs = np.flatnonzero(enough & (method_of == _METHOD_CODE[method]))
        if not len(segs):
            continue
        seg_start, seg_len, n = starts[segs], lengths[segs], n_of[segs]
        use_weights = weights if method in _WEIGHTED else None
        if method is CalculationMethod.LATEST:
            scores[segs] = ruby_round_array(np, values[last[segs]])
            used_index[segs] = last[segs]
        elif method is CalculationMethod.HIGHEST:
            best = np.maximum.reduceat(values, starts)[segs]
            scores[segs] = ruby_round_array(np, best)
            positions = _expand(np, seg_start, seg_len)
            hit = np.where(values[positions] == np.repeat(best, seg_len), positions, -1)
            offsets = np.cumsum(seg_len) - seg_len
            used_index[segs] = np.maximum.reduceat(hit, offsets)
        elif method is CalculationMethod.AVERAGE:
            mean = _segment_mean(np, values, use_weights, seg_start, seg_len)
            scores[segs] = ruby_round_array(np, mean)
        elif method is CalculationMethod.DECAYING_AVERAGE:
            older = _segment_mean(np, values, use_weights, seg_start, np.maximum(seg_len - 1, 1))
            decayed = values[last[segs]] * (0.01 * n) + older * (0.01 * (100 - n))
            scores[segs] = ruby_round_array(np, np.where(seg_len == 1, values[seg_start], decayed))
        elif method is CalculationMethod.STANDARD_DECAYING_AVERAGE:
            scores[segs] = ruby_round_array(np, _exponential(np, values, seg_start, seg_len, n))
        else:
            scores[segs] = _n_mastery(
                np, values, use_weights, seg_start, seg_len, n, mastery_of[segs]
            )
    return scores, used_index


_WEIGHTED = frozenset(
    {CalculationMethod.AVERAGE, CalculationMethod.DECAYING_AVERAGE, CalculationMethod.N_MASTERY}
)
_SCALAR_TAIL = 16
"""Fewer segments than this still running: finish them in plain Python floats (a few very
long segments would otherwise cost one round of array calls per element)."""


def _exponential(np: Any, values: Any, seg_start: Any, seg_len: Any, n: Any) -> Any:
    """standard_decaying_average: ``D = keep*D + take*s`` from the second score on."""
    keep, take = 0.01 * (100 - n), 0.01 * n
    decayed = values[seg_start].copy()
    multi = np.flatnonzero(seg_len > 1)
    decayed[multi] = (
        values[seg_start[multi]] * keep[multi] + values[seg_start[multi] + 1] * take[multi]
    )
    active = multi
    for k in range(2, int(seg_len.max())):
        active = active[seg_len[active] > k]
        if len(active) < _SCALAR_TAIL:
            for j in active.tolist():
                d, kj, tj = float(decayed[j]), float(keep[j]), float(take[j])
                start = int(seg_start[j])
                for x in values[start + k : start + int(seg_len[j])].tolist():
                    d = d * kj + x * tj
                decayed[j] = d
            break
        decayed[active] = (
            decayed[active] * keep[active] + values[seg_start[active] + k] * take[active]
        )
    return decayed


def _n_mastery(
    np: Any,
    values: Any,
    weights: Any,
    seg_start: Any,
    seg_len: Any,
    n: Any,
    mastery: Any,
) -> Any:
    """n_mastery: with at least n results and n mastering ones, the mean of those."""
    result = np.full(len(seg_start), np.nan)
    positions = _expand(np, seg_start, seg_len)
    mastering = values[positions] >= np.repeat(mastery, seg_len)
    offsets = np.cumsum(seg_len) - seg_len
    counts = np.add.reduceat(mastering.astype(np.int64), offsets)
    rated = np.flatnonzero((seg_len >= n) & (counts >= n))
    if not len(rated):
        return result
    keep = mastering & np.repeat(np.isin(np.arange(len(seg_start)), rated), seg_len)
    kept = positions[keep]
    kept_len = counts[rated]
    kept_values = values[kept]
    kept_start = np.cumsum(kept_len) - kept_len
    kept_weights = None if weights is None else weights[kept]
    result[rated] = ruby_round_array(
        np, _segment_mean(np, kept_values, kept_weights, kept_start, kept_len)
    )
    return result


def _neumaier(np: Any, values: Any, seg_start: Any, seg_len: Any) -> Any:
    """Ruby's compensated ``Array#sum`` of each segment, element by element in order."""
    total = np.zeros(len(seg_start))
    compensation = np.zeros(len(seg_start))
    active = np.arange(len(seg_start))
    for k in range(int(seg_len.max()) if len(seg_len) else 0):
        if k:
            active = active[seg_len[active] > k]
        if len(active) < _SCALAR_TAIL:
            for j in active.tolist():
                start, end = int(seg_start[j]) + k, int(seg_start[j]) + int(seg_len[j])
                t, c = ruby_sum_state(
                    float(total[j]), float(compensation[j]), values[start:end].tolist()
                )
                total[j], compensation[j] = t, c
            break
        x = values[seg_start[active] + k]
        f = total[active]
        t = f + x
        compensation[active] += np.where(np.abs(f) >= np.abs(x), (f - t) + x, (x - t) + f)
        total[active] = t
    return total + compensation


def _segment_mean(np: Any, values: Any, weights: Any, seg_start: Any, seg_len: Any) -> Any:
    if weights is None:
        return _neumaier(np, values, seg_start, seg_len) / seg_len
    return _neumaier(np, values * weights, seg_start, seg_len) / _neumaier(
        np, weights, seg_start, seg_len
    )


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
