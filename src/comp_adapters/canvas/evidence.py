"""Evidence in: Canvas's outcome results as core :class:`~comp_adapters.core.evidence.Evidence`,
and Canvas's rollups next to ours for the same results.

Canvas has no "changed since" filter on results, so each read pages through all of them;
evidence ids are stable (``canvas:outcome_result:<id>``), so a store that upserts by id
keeps the newest version. Results of the adapter's own mastery assignment are left out
(they are our output, not evidence), and every result left out is counted with its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import JsonValue

from comp_adapters.canvas import mapping, wire
from comp_adapters.canvas.client import CanvasClient
from comp_adapters.canvas.features import Flags
from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.evidence import Evidence
from comp_adapters.core.timeutil import format_utc, parse_utc
from comp_adapters.protocols import Cursor, EvidenceBatch

CURSOR_FIELD = "submitted_or_assessed_at"


def learner_keys(client: CanvasClient, learner_field: str) -> dict[str, str]:
    """Canvas user id -> learner key, by ``learner_field`` (students of the course)."""
    keys: dict[str, str] = {}
    for user in client.list_course_users():
        value = user.id if learner_field == "id" else getattr(user, learner_field)
        if value:
            keys[user.id] = str(value)
    return keys


class CompetencyKeys:
    """Outcome -> competency key, the way :func:`mapping.framework_from_tree` names them."""

    def __init__(self, framework_key: str | None) -> None:
        self.framework_key = framework_key

    def __call__(self, outcome: wire.WireOutcome) -> str:
        guid = mapping.outcome_guid_of(outcome)
        parsed = mapping.parse_guid(guid)
        if (
            parsed
            and parsed.competency
            and (self.framework_key is None or parsed.framework == self.framework_key)
        ):
            return parsed.competency
        return guid[:100]


@dataclass
class ResultReader:
    """Turns outcome results into evidence, saying why a result is left out."""

    keys: Mapping[str, str] | None
    own_asset: str | None
    learner_field: str
    key_of: Callable[[wire.WireOutcome], str]
    outcomes: dict[str, wire.WireOutcome] = field(default_factory=dict)
    alignments: dict[str, wire.WireAlignment] = field(default_factory=dict)

    def read(self, result: wire.WireOutcomeResult) -> tuple[Evidence | None, list[str]]:
        links = result.links
        if self.own_asset is not None and self.own_asset in (links.alignment, links.assignment):
            return None, ["own mastery write-back"]
        if result.hidden:
            return None, ["hidden from the mastery gradebook"]
        if result.score is None:
            return None, ["no score"]
        outcome = self.outcomes.get(links.learning_outcome)
        if outcome is None:
            return None, ["outcome not listed"]
        when = mapping.result_time(result)
        if when is None:
            return None, ["unreadable time"]
        learner = links.user if self.keys is None else self.keys.get(links.user)
        if learner is None:
            return None, [f"user without {self.learner_field}"]
        item, raised = mapping.evidence_from_result(
            result,
            learner=learner,
            competency=self.key_of(outcome),
            outcome=outcome,
            alignment=self.alignments.get(links.alignment or ""),
            observed_at=when,
        )
        return item, (["score below 0, counted as 0"] if raised else [])


def evidence_batches(
    client: CanvasClient,
    *,
    adapter: str,
    learner_field: str,
    framework_key: str | None,
    own_assignment_id: int | None,
    cursor: Cursor | None = None,
) -> Iterator[EvidenceBatch]:
    """The course's outcome results after ``cursor`` as evidence, one batch per page.

    Canvas cannot filter results by time, so every read pages through all of them and
    keeps those after the cursor: not already yielded (by id and time) and no more than
    :data:`OVERLAP` before its position (results are written by Canvas's background jobs,
    so one may appear a little after a later one was read). A batch's cursor resumes
    exactly after it: while the read goes on it keeps the starting position and adds what
    was yielded so far; the last batch moves the position to the latest result time and
    keeps the results within the overlap. Positions never move back.
    """
    reader = ResultReader(
        keys=learner_keys(client, learner_field) if learner_field != "id" else None,
        own_asset=f"assignment_{own_assignment_id}" if own_assignment_id is not None else None,
        learner_field=learner_field,
        key_of=CompetencyKeys(framework_key),
    )
    window = _Window.after(cursor)
    pending: EvidenceBatch | None = None
    for page in client.outcome_result_pages():
        if pending is not None:
            yield pending
        reader.outcomes.update({str(o.id): o for o in page.linked.outcomes})
        reader.alignments.update({a.id: a for a in page.linked.alignments})
        evidence: list[Evidence] = []
        skipped: Counter[str] = Counter()
        for result in page.outcome_results:
            item, reasons = reader.read(result)
            skipped.update(reasons)
            if item is not None and window.take(item):
                evidence.append(item)
        pending = EvidenceBatch(
            evidence=tuple(evidence),
            cursor=window.resume(adapter),
            skipped=dict(skipped),
        )
    last = pending or EvidenceBatch(evidence=(), cursor=window.resume(adapter))
    yield replace(last, cursor=window.finished(adapter))


OVERLAP = timedelta(days=1)
"""How far before a cursor's position results are still looked at (by id and time)."""
SEEN_AT = "seen_at"


@dataclass
class _Window:
    """What a read keeps: results after the cursor, and what the next cursor says.

    A result already yielded is known by its id *and* its time (``seen_ids`` with the times
    in the cursor's ``extra["seen_at"]``, in the same order): Canvas updates a result in
    place when it is assessed again, and the new version (a new time) is new evidence.
    """

    position: datetime | None
    seen: list[tuple[str, str | None]]
    yielded: list[tuple[str, str]] = field(default_factory=list)
    times: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def after(cls, cursor: Cursor | None) -> _Window:
        if cursor is None:
            return cls(None, [])
        at = cursor.extra.get(SEEN_AT)
        stamps: list[str | None] = [str(a) for a in at] if isinstance(at, list) else []
        if len(stamps) != len(cursor.seen_ids):
            stamps = [None] * len(cursor.seen_ids)  # a cursor without times: ids alone
        seen = list(zip(cursor.seen_ids, stamps, strict=True))
        position = parse_utc(cursor.position) if cursor.position is not None else None
        return cls(position, seen)

    def __post_init__(self) -> None:
        self._versions = {pair for pair in self.seen if pair[1] is not None}
        self._ids = {i for i, stamp in self.seen if stamp is None}

    def take(self, item: Evidence) -> bool:
        """Whether ``item`` is after the cursor (and so yielded now)."""
        when = item.observed_at
        stamp = format_utc(when)
        self.times[item.id] = when
        known = (item.id, stamp) in self._versions or item.id in self._ids
        recent = self.position is None or when >= self.position - OVERLAP
        keep = recent and not known
        if keep:
            self.yielded.append((item.id, stamp))
        return keep

    def _cursor(
        self, adapter: str, position: datetime | None, seen: list[tuple[str, str | None]]
    ) -> Cursor:
        text = format_utc(position) if position is not None else None
        ids = tuple(i for i, _ in seen)
        stamps: list[JsonValue] = [stamp for _, stamp in seen]
        extra: dict[str, JsonValue] = {SEEN_AT: stamps} if all(stamps) and stamps else {}
        return Cursor(adapter=adapter, field=CURSOR_FIELD, position=text, seen_ids=ids, extra=extra)

    def resume(self, adapter: str) -> Cursor:
        """The cursor after what was yielded so far, the read not yet finished."""
        return self._cursor(adapter, self.position, [*self.seen, *self.yielded])

    def finished(self, adapter: str) -> Cursor:
        """The cursor after a whole read: the latest time seen, the results in the overlap."""
        latest = max(self.times.values(), default=None)
        if latest is None or (self.position is not None and self.position > latest):
            latest = self.position
        if latest is None:
            return self._cursor(adapter, None, [])
        recent: list[tuple[str, str | None]] = sorted(
            (i, format_utc(t)) for i, t in self.times.items() if t >= latest - OVERLAP
        )
        return self._cursor(adapter, latest, recent)


@dataclass(slots=True)
class RollupReport:
    """Our numbers next to Canvas's rollups for the same results."""

    checks: list[mapping.RollupCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[mapping.RollupCheck]:
        return [c for c in self.checks if not c.matches]


def compare_rollups(client: CanvasClient, flags: Flags) -> RollupReport:
    """Canvas's ``outcome_rollups`` next to :func:`comp_adapters.rules.calculate` run on
    the same results: every (user, outcome) Canvas reports, with both numbers.

    The new decaying average flag decides the maths of a stored
    ``standard_decaying_average`` (:func:`mapping.rollup_method`)."""
    results: list[wire.WireOutcomeResult] = []
    outcomes: dict[str, wire.WireOutcome] = {}
    alignments: dict[str, wire.WireAlignment] = {}
    for page in client.outcome_result_pages():
        results.extend(page.outcome_results)
        outcomes.update({str(o.id): o for o in page.linked.outcomes})
        alignments.update({a.id: a for a in page.linked.alignments})
    context_method = None
    context_scale = None
    if flags.mastery_scales:
        proficiency = client.get_outcome_proficiency()
        method = client.get_calculation_method()
        if method[0]:
            context_method = (method[0], method[1])
        if proficiency and proficiency.ratings:
            top = max(r.points or 0.0 for r in proficiency.ratings)
            mastery = next((r.points for r in proficiency.ratings if r.mastery), None)
            context_scale = (top, mastery)
    notes: list[str] = []
    if flags.new_decay is None and any(
        name == CalculationMethod.STANDARD_DECAYING_AVERAGE.value
        for name in [
            *(o.calculation_method for o in outcomes.values()),
            context_method[0] if context_method else None,
        ]
    ):
        notes.append(
            "could not read the new decaying average flag: standard_decaying_average is "
            "computed as the true decaying average; with the flag off Canvas runs the "
            "legacy weighted average for it"
        )
    expected = mapping.expected_rollups(
        results,
        outcomes,
        alignments=alignments,
        context_method=context_method,
        context_scale=context_scale,
        new_decay=flags.new_decay,
    )
    rollups = [r for page in client.outcome_rollup_pages() for r in page.rollups]
    return RollupReport(mapping.compare_rollups(expected, rollups), notes=notes)
