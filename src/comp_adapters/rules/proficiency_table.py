"""Proficiency results as columns: what :func:`~comp_adapters.rules.evaluate_table` returns.

A :class:`ProficiencyTable` holds one array per field of
:class:`~comp_adapters.core.Proficiency` (strings dictionary-encoded, like
:class:`~comp_adapters.rules.EvidenceTable`), in the order :func:`~comp_adapters.rules.evaluate`
returns its list. Building a validated, explained object per result costs several times
more than computing it, so objects and explanations are made only when asked for:
iterating, indexing, :meth:`ProficiencyTable.explain`, :meth:`ProficiencyTable.to_records`
and :meth:`ProficiencyTable.to_proficiencies` give exactly what the row engine gives.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import TypeAdapter

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.rules.columnar import _evidence_texts, _numpy, _pick

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from comp_adapters.core.framework import RollupRule
    from comp_adapters.rules.columnar import LeafColumns

_BATCH = 10_000
"""Objects validated at a time while iterating (bounds what iteration holds)."""


@dataclass(frozen=True, eq=False)
class Explainer:
    """What the explanations are made from, kept instead of the strings themselves.

    ``segment`` links each result to the leaf segment of its own evidence (-1: none);
    ``rolled`` says whether its competency's rule matched (the rule, and whether the own
    result had a level, decide the wording, as in the row engine).
    """

    leaves: LeafColumns
    segment: npt.NDArray[np.int64]
    rolled: npt.NDArray[np.bool_]
    leaf_rated: npt.NDArray[np.bool_]
    rules: Sequence[RollupRule | None]
    """The rule of each competency code."""

    def one(self, i: int, competency: int, children: Sequence[str]) -> str:
        seg = int(self.segment[i])
        own = None
        if seg >= 0:
            leaves = self.leaves
            start, length = int(leaves.starts[seg]), int(leaves.lengths[seg])
            rows = leaves.rows[start : start + length]
            np = _numpy()
            text = _evidence_texts(
                np,
                leaves.table.kind[rows],
                np.zeros(1, dtype=np.int64),
                np.array([length]),
                leaves.table.observed_at[rows[-1:]],
            )[0]
            plan = leaves.order[int(leaves.plan[seg])]
            limit = plan.mastery
            mastering = sum(1 for v in leaves.values[start : start + length].tolist() if v >= limit)
            own = self._leaf(seg, text, mastering)
        return self._final(i, competency, children, own)

    def every(self, competency: Sequence[int], children: Sequence[Sequence[str]]) -> list[str]:
        leaves = self.leaves
        texts = leaves.texts()
        mastering = leaves.mastering().tolist()
        own = [self._leaf(seg, texts[seg], mastering[seg]) for seg in range(len(texts))]
        segment = self.segment.tolist()
        rolled = self.rolled.tolist()
        return [
            self._final(i, competency[i], children[i], own[seg] if seg >= 0 else None)
            if rolled[i]
            else own[seg]
            for i, seg in enumerate(segment)
        ]

    def _leaf(self, seg: int, text: str, mastering: int) -> str:
        from comp_adapters.rules.engine import leaf_explanation  # noqa: PLC0415

        leaves = self.leaves
        score = float(leaves.scores[seg])
        return leaf_explanation(
            leaves.order[int(leaves.plan[seg])],
            int(leaves.lengths[seg]),
            text,
            None if math.isnan(score) else score,
            mastering,
            leaves.min_evidence,
        )

    def _final(self, i: int, competency: int, children: Sequence[str], own: str | None) -> str:
        from comp_adapters.rules.engine import rollup_explanation  # noqa: PLC0415

        if not self.rolled[i]:
            return own or ""
        rule = self.rules[competency]
        if rule is None:  # a rolled result always has a rule
            raise AssertionError("rolled result without a rule")
        seg = int(self.segment[i])
        return rollup_explanation(
            rule,
            self.leaves.order[competency],
            children,
            own=own,
            own_rated=seg >= 0 and bool(self.leaf_rated[seg]),
        )


class Summary(NamedTuple):
    """A result's standing, as :class:`Proficiency` names it, without the reasons."""

    learner: str
    competency: str
    score: float | None
    level: str | None
    proficient: bool
    method: str
    review_requested: bool


@dataclass(frozen=True, eq=False)
class ProficiencyTable:
    """Proficiency results as columns, ordered by learner, then the framework's order.

    Result ``i`` is learner ``learners[learner[i]]`` on competency
    ``competencies[competency[i]]`` (the framework's keys, depth first); ``score`` is NaN
    for no score; ``level`` codes into ``levels`` (-1: none); ``method`` codes into
    ``methods``. Its evidence ids are ``evidence_ids[j]`` for ``j`` in
    ``evidence_index[evidence_offsets[i]:evidence_offsets[i + 1]]`` (``evidence_ids`` are the
    evaluated :class:`~comp_adapters.rules.EvidenceTable`'s ids), its children
    ``competencies[k]`` for ``k`` in
    ``children_index[children_offsets[i]:children_offsets[i + 1]]``.
    ``skipped`` and ``used`` are what :class:`~comp_adapters.rules.Evaluation` reports.
    """

    learners: list[str]
    learner: npt.NDArray[np.int64]
    competencies: list[str]
    competency: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    levels: list[str]
    level: npt.NDArray[np.int64]
    proficient: npt.NDArray[np.bool_]
    methods: tuple[str, ...]
    method: npt.NDArray[np.int64]
    review_requested: npt.NDArray[np.bool_]
    evidence_ids: list[str]
    evidence_offsets: npt.NDArray[np.int64]
    evidence_index: npt.NDArray[np.int64]
    children_offsets: npt.NDArray[np.int64]
    children_index: npt.NDArray[np.int64]
    as_of: datetime
    skipped: Counter[str]
    used: int
    explainer: Explainer = field(repr=False)

    def __len__(self) -> int:
        return len(self.learner)

    def __iter__(self) -> Iterator[Proficiency]:
        """Every result as a :class:`Proficiency`, made a batch at a time."""
        for start in range(0, len(self), _BATCH):
            yield from _PROFICIENCIES.validate_python(self._records(start, start + _BATCH))

    def __getitem__(self, i: int) -> Proficiency:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return Proficiency.model_validate(self._records(i, i + 1)[0])

    def explain(self, i: int) -> str:
        """The explanation of result ``i`` (the same words as the row engine's)."""
        return self.explainer.one(i, int(self.competency[i]), self.children_of(i))

    def explanations(self) -> list[str]:
        """The explanation of every result, in order (made in one pass)."""
        competency = self.competency.tolist()
        children = _ragged(
            self.competencies, self.children_offsets, self.children_index, slice(0, len(self))
        )
        return self.explainer.every(competency, children)

    def evidence_of(self, i: int) -> tuple[str, ...]:
        """The evidence ids result ``i`` lists."""
        lo, hi = int(self.evidence_offsets[i]), int(self.evidence_offsets[i + 1])
        return tuple(_pick(self.evidence_ids, self.evidence_index[lo:hi]))

    def children_of(self, i: int) -> tuple[str, ...]:
        """The children keys result ``i`` lists (those its rule used)."""
        lo, hi = int(self.children_offsets[i]), int(self.children_offsets[i + 1])
        return tuple(self.competencies[k] for k in self.children_index[lo:hi].tolist())

    def to_records(self) -> list[dict[str, Any]]:
        """Every result as a dict of :class:`Proficiency`'s fields (``model_dump()``'s form)."""
        return self._records(0, len(self))

    def to_json_records(self) -> list[dict[str, Any]]:
        """Every result as ``Proficiency.model_dump(mode="json")`` gives it."""
        as_of = self.as_of.isoformat().replace("+00:00", "Z")
        return [
            {
                **record,
                "evidence_ids": list(record["evidence_ids"]),
                "children": list(record["children"]),
                "as_of": as_of,
            }
            for record in self.to_records()
        ]

    def summaries(self) -> list[Summary]:
        """Every result without its explanation, evidence and children (cheap: no text is
        made), e.g. for a table of levels."""
        learners, keys, levels, methods = (
            self.learners,
            self.competencies,
            self.levels,
            self.methods,
        )
        return [
            Summary(
                learners[learner],
                keys[key],
                None if math.isnan(score) else score,
                None if level < 0 else levels[level],
                proficient,
                methods[method],
                review,
            )
            for learner, key, score, level, proficient, method, review in zip(
                self.learner.tolist(),
                self.competency.tolist(),
                self.score.tolist(),
                self.level.tolist(),
                self.proficient.tolist(),
                self.method.tolist(),
                self.review_requested.tolist(),
                strict=True,
            )
        ]

    def to_proficiencies(self) -> list[Proficiency]:
        """Every result as a :class:`Proficiency` (what ``evaluate`` returns).

        Made without validating each one again: every value comes from the engine (keys
        from the framework, Python floats, bools and tuples, one UTC ``as_of``, checked once
        here), so the objects are the ones validation makes, at a fifth of the cost. The
        property test against the row engine compares them field by field.
        """
        if self.as_of.tzinfo is not UTC:  # validation would convert it
            return _PROFICIENCIES.validate_python(self.to_records())
        make = Proficiency.model_construct
        return [make(**record) for record in self.to_records()]

    def _records(self, start: int, stop: int) -> list[dict[str, Any]]:
        stop = min(stop, len(self))
        if start >= stop:
            return []
        whole = start == 0 and stop == len(self)
        rows = slice(start, stop)
        competency = self.competency[rows].tolist()
        children = _ragged(self.competencies, self.children_offsets, self.children_index, rows)
        evidence = _ragged(self.evidence_ids, self.evidence_offsets, self.evidence_index, rows)
        if whole:
            explanations = self.explainer.every(competency, children)
        else:
            explanations = [
                self.explainer.one(i, c, kids)
                for i, c, kids in zip(range(start, stop), competency, children, strict=True)
            ]
        learners, keys, levels, methods = (
            self.learners,
            self.competencies,
            self.levels,
            self.methods,
        )
        as_of = self.as_of
        return [
            {
                "learner": learners[learner],
                "competency": keys[key],
                "score": None if math.isnan(score) else score,
                "level": None if level < 0 else levels[level],
                "proficient": proficient,
                "method": methods[method],
                "evidence_ids": ids,
                "children": kids,
                "as_of": as_of,
                "explanation": explanation,
                "review_requested": review,
            }
            for (
                learner,
                key,
                score,
                level,
                proficient,
                method,
                ids,
                kids,
                explanation,
                review,
            ) in zip(
                self.learner[rows].tolist(),
                competency,
                self.score[rows].tolist(),
                self.level[rows].tolist(),
                self.proficient[rows].tolist(),
                self.method[rows].tolist(),
                evidence,
                children,
                explanations,
                self.review_requested[rows].tolist(),
                strict=True,
            )
        ]


def _ragged(items: list[str], offsets: Any, index: Any, rows: slice) -> list[tuple[str, ...]]:
    """The tuples of ``items`` that ``offsets``/``index`` give the results in ``rows``."""
    lo, hi = int(offsets[rows.start]), int(offsets[rows.stop])
    picked = _pick(items, index[lo:hi])
    bounds = (offsets[rows.start : rows.stop + 1] - lo).tolist()
    return [tuple(picked[a:b]) for a, b in pairwise(bounds)]


_PROFICIENCIES = TypeAdapter(list[Proficiency])
