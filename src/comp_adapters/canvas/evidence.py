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
from dataclasses import dataclass, field

from comp_adapters.canvas import mapping, wire
from comp_adapters.canvas.client import CanvasClient
from comp_adapters.canvas.features import Flags
from comp_adapters.core.calculation import CalculationMethod
from comp_adapters.core.evidence import Evidence
from comp_adapters.core.timeutil import format_utc
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
    """Every outcome result of the course as evidence, one batch per page of results.

    The cursor records the latest result time seen and never moves back.
    """
    reader = ResultReader(
        keys=learner_keys(client, learner_field) if learner_field != "id" else None,
        own_asset=f"assignment_{own_assignment_id}" if own_assignment_id is not None else None,
        learner_field=learner_field,
        key_of=CompetencyKeys(framework_key),
    )
    position = cursor.position if cursor is not None else None
    for page in client.outcome_result_pages():
        reader.outcomes.update({str(o.id): o for o in page.linked.outcomes})
        reader.alignments.update({a.id: a for a in page.linked.alignments})
        evidence: list[Evidence] = []
        skipped: Counter[str] = Counter()
        for result in page.outcome_results:
            item, reasons = reader.read(result)
            skipped.update(reasons)
            if item is None:
                continue
            evidence.append(item)
            stamp = format_utc(item.observed_at)
            if position is None or stamp > position:
                position = stamp
        yield EvidenceBatch(
            evidence=tuple(evidence),
            cursor=Cursor(adapter=adapter, field=CURSOR_FIELD, position=position),
            skipped=dict(skipped),
        )


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
