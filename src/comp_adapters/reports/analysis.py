"""One gap analysis for one viewer: evidence in, gaps, KPIs and the report's data out.

:func:`analyse_evidence` applies the viewer policy's counting rule, computes proficiency
once (the rules engine) and its history (:mod:`comp_adapters.rules.first_proficient`), and
hands both to :func:`analyse`, which builds the gap rows, restricts them to the people the
viewer may see (and to the filters), and computes the KPIs. Output records show only the
evidence the viewer may see (:mod:`comp_adapters.reports.policy`). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.timeutil import format_utc, to_utc
from comp_adapters.reports.gaps import NONE_AT, GapRows, gap_rows
from comp_adapters.reports.kpis import change_since, coverage_of, kpis
from comp_adapters.reports.people import Assignment, ReportingLines
from comp_adapters.reports.policy import Policy, Relation, Viewer, ViewerKind
from comp_adapters.reports.profiles import RoleProfiles
from comp_adapters.rules.columnar import EvidenceTable, _numpy, from_micros, to_micros
from comp_adapters.rules.engine import _gc_paused, evaluate
from comp_adapters.rules.first_proficient import NO_LEVEL, Timeline, proficiency_timeline

DATA_FORMAT = "comp-adapters/report-data@1"
MAX_RECOMMENDED = 3


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrow a report to one team, one role and/or one manager's people."""

    team: str | None = None
    role: str | None = None
    manager: str | None = None

    def to_data(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (("team", self.team), ("role", self.role), ("manager", self.manager))
            if v is not None
        }


@dataclass(frozen=True, eq=False)
class Analysis:
    """Gaps and KPIs as one viewer may see them."""

    framework: Framework
    profiles: RoleProfiles
    viewer: Viewer
    policy: Policy
    filters: Filters
    as_of: datetime
    rows: GapRows
    mask: Any
    """Which rows are in scope (the viewer's people, after the filters)."""
    relations: Mapping[str, Relation]
    kpis: dict[str, Any]
    results: Sequence[Proficiency]
    """The engine's results the rows were made from (``rows.result`` indexes them)."""
    evidence: Mapping[str, Evidence]
    notes: list[str] = field(default_factory=list)

    def gap_positions(self, *, include_met: bool = False) -> Any:
        """Row positions in scope, by priority (see :meth:`GapRows.ordered`)."""
        np = _numpy()
        chosen = self.mask if include_met else self.mask & ~self.rows.met
        return self.rows.ordered(np.flatnonzero(chosen))

    def records(self, positions: Iterable[int]) -> list[dict[str, Any]]:
        """JSON-ready records of these rows, with only the evidence the viewer may see."""
        return [self._record(int(i)) for i in positions]

    def gap_records(self, *, include_met: bool = False) -> list[dict[str, Any]]:
        return self.records(self.gap_positions(include_met=include_met).tolist())

    def _record(self, i: int) -> dict[str, Any]:
        rows = self.rows
        slot = rows.slots[int(rows.slot[i])]
        assignment = rows.assignments[int(rows.assignment[i])]
        person = assignment.person
        key = slot.requirement.competency
        scale = self.framework.scale_for(key)
        level = int(rows.level[i])
        at = int(rows.result[i])
        result = self.results[at] if at >= 0 else None
        shown, hidden = self._evidence_of(person, result)
        record: dict[str, Any] = {
            "person": person,
            "name": assignment.name,
            "team": assignment.team,
            "manager": assignment.manager,
            "role": slot.role.key,
            "competency": key,
            "competency_title": self.framework.get(key).title,
            "target": slot.requirement.target,
            "target_points": slot.target_points,
            "current": None if level == NO_LEVEL else scale.levels[level].key,
            "current_points": round(float(rows.points[i]), 4),
            "gap_points": round(float(rows.gap_points[i]), 4),
            "gap": round(float(rows.gap[i]), 4),
            "met": bool(rows.met[i]),
            "impact": slot.requirement.impact,
            "criticality": slot.requirement.criticality,
            "weight": slot.requirement.weight,
            "priority": float(rows.priority[i]),
            "last_evidence": _instant(int(rows.last_seen[i])),
            "due": _instant(int(rows.due[i])),
            "overdue": int(rows.due[i]) < to_micros(self.as_of),
            "first_proficient": _instant(int(rows.first_proficient[i])),
            "evidence": shown,
            "explanation": None if result is None or hidden else result.explanation,
            "recommended": [
                {
                    "key": r.key,
                    "title": r.title,
                    "url": r.url,
                    "kind": r.kind,
                    "minutes": r.minutes,
                }
                for r in self.profiles.resources_for(key)[:MAX_RECOMMENDED]
            ],
        }
        return record

    def _evidence_of(
        self, person: str, result: Proficiency | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """The result's evidence this viewer may see, and whether any is withheld."""
        if result is None:
            return [], False
        relation = self.relations.get(person, Relation.NONE)
        shown: list[dict[str, Any]] = []
        hidden = False
        for evidence_id in result.evidence_ids:
            item = self.evidence.get(evidence_id)
            if item is None or not self.policy.shows(relation, item.visibility):
                hidden = True
                continue
            shown.append(
                {
                    "id": item.id,
                    "kind": item.kind.value,
                    "observed_at": format_utc(item.observed_at),
                    "source_system": item.source_system,
                    "note": item.note,
                }
            )
        return shown, hidden

    def learners(self, limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """Per-learner gap lists, learners with the most at stake (total priority) first;
        at most ``limit`` of them, and how many learners there are in all."""
        np = _numpy()
        rows = self.rows
        sel = np.flatnonzero(self.mask)
        people = np.unique(rows.person[sel])
        stake = np.bincount(
            rows.person[sel], weights=rows.priority[sel], minlength=len(rows.people)
        )
        order = people[np.lexsort((people, -stake[people]))]
        chosen = order if limit is None else order[:limit]
        listed = self.mask & ~rows.met
        listed[listed] = np.isin(rows.person[listed], chosen)
        unmet = rows.ordered(np.flatnonzero(listed))
        by_person: dict[int, list[int]] = {}
        for i, person in zip(unmet.tolist(), rows.person[unmet].tolist(), strict=True):
            by_person.setdefault(person, []).append(i)
        mine_rows = sel[np.isin(rows.person[sel], chosen)]
        own: dict[int, list[int]] = {}
        for i, person in zip(mine_rows.tolist(), rows.person[mine_rows].tolist(), strict=True):
            own.setdefault(person, []).append(i)
        readiness = self.kpis["readiness"]["next_role"]
        found = []
        for code in chosen.tolist():
            mine = np.array(own[code], dtype=np.int64)
            key = rows.people[code]
            first = rows.assignments[int(rows.assignment[mine[0]])]
            found.append(
                {
                    "person": key,
                    "name": first.name,
                    "team": first.team,
                    "manager": first.manager,
                    "roles": sorted({rows.slots[int(s)].role.key for s in rows.slot[mine]}),
                    "coverage": coverage_of(rows, mine),
                    "met": int(np.count_nonzero(rows.met[mine])),
                    "requirements": len(mine),
                    "priority": round(float(stake[code]), 2),
                    "next_role": readiness.get(key, {}),
                    "gaps": self.records(by_person.get(code, [])),
                }
            )
        return found, len(people)

    def data(
        self, *, previous: Mapping[str, Any] | None = None, learners: int | None = 200
    ) -> dict[str, Any]:
        """The report's data: everything the HTML shows, JSON-ready (``--previous`` reads
        a file of this)."""
        with _gc_paused():  # many small objects, no cycles (see the rules engine)
            shown, total = self.learners(learners)
        data: dict[str, Any] = {
            "format": DATA_FORMAT,
            "framework": {
                "key": self.framework.key,
                "title": self.framework.title,
                "version": self.framework.version,
            },
            "as_of": format_utc(self.as_of),
            "viewer": str(self.viewer),
            "filters": self.filters.to_data(),
            "kpis": self.kpis,
            "competencies": {
                key: self.framework.get(key).title for key in self.kpis["heatmap"]["columns"]
            },
            "roles": {role.key: role.title for role in self.profiles.roles},
            "learners": shown,
            "learners_total": total,
            "notes": self.notes,
        }
        if previous is not None:
            data["change"] = change_since(data, previous)
        return data


def _instant(value: int) -> str | None:
    return None if value == NONE_AT else format_utc(from_micros(value))


def counted_evidence(evidence: Iterable[Evidence], policy: Policy) -> list[Evidence]:
    """The evidence that counts towards results under ``policy`` (the same for every viewer)."""
    return [item for item in evidence if policy.counts(item.visibility)]


def analyse_evidence(
    framework: Framework,
    profiles: RoleProfiles,
    assignments: Sequence[Assignment],
    evidence: Iterable[Evidence],
    *,
    as_of: datetime,
    viewer: Viewer,
    policy: Policy | None = None,
    filters: Filters | None = None,
    months: int = 12,
    heatmap_by: str = "team",
) -> Analysis:
    """Count, compute once, replay, then :func:`analyse` (see the module doc)."""
    policy = policy or Policy()
    as_of = to_utc(as_of)
    everything = list(evidence)
    table = EvidenceTable.from_evidence(counted_evidence(everything, policy))
    results = evaluate(framework, table, as_of=as_of)
    timeline = proficiency_timeline(framework, table, as_of=as_of)
    return analyse(
        framework,
        profiles,
        assignments,
        results,
        timeline,
        as_of=as_of,
        viewer=viewer,
        policy=policy,
        filters=filters,
        evidence={item.id: item for item in everything if not item.voided},
        months=months,
        heatmap_by=heatmap_by,
    )


def analyse(
    framework: Framework,
    profiles: RoleProfiles,
    assignments: Sequence[Assignment],
    results: Sequence[Proficiency],
    timeline: Timeline,
    *,
    as_of: datetime,
    viewer: Viewer,
    policy: Policy | None = None,
    filters: Filters | None = None,
    evidence: Mapping[str, Evidence] | None = None,
    months: int = 12,
    heatmap_by: str = "team",
) -> Analysis:
    """Gap rows and KPIs for ``viewer`` from computed results and their timeline.

    ``evidence`` indexes the evidence that may be shown (by id); evidence missing from it is
    never shown (an :class:`~comp_adapters.rules.EvidenceTable` carries no visibility).
    """
    policy = policy or Policy()
    filters = filters or Filters()
    as_of = to_utc(as_of)
    np = _numpy()
    with _gc_paused():  # many small objects, no cycles (see the rules engine)
        rows = gap_rows(framework, profiles, assignments, results, timeline, as_of=as_of)
        lines = ReportingLines.of(assignments)
        relations = _relations(viewer, policy, lines, rows.people)
        visible = np.array(
            [relations.get(p, Relation.NONE) is not Relation.NONE for p in rows.people] or [False]
        )
        mask = visible[rows.person] if len(rows) else np.zeros(0, dtype=bool)
        if filters.team is not None:
            mask &= rows.team == (
                rows.teams.index(filters.team) if filters.team in rows.teams else -2
            )
        if filters.role is not None:
            mask &= rows.role == (
                rows.roles.index(filters.role) if filters.role in rows.roles else -2
            )
        if filters.manager is not None:
            team = lines.team(filters.manager)
            mask &= np.array([p in team for p in rows.people] or [False])[rows.person]
        notes = []
        if rows.unassigned_learners:
            notes.append(
                f"{rows.unassigned_learners} learner(s) with results hold no role in the people "
                "file and are left out"
            )
        if not relations:
            notes.append(f"{viewer} may see nobody in the people file")
        return Analysis(
            framework=framework,
            profiles=profiles,
            viewer=viewer,
            policy=policy,
            filters=filters,
            as_of=as_of,
            rows=rows,
            mask=mask,
            relations=relations,
            kpis=kpis(rows, mask, timeline, as_of=as_of, months=months, heatmap_by=heatmap_by),
            results=results,
            evidence=evidence or {},
            notes=notes,
        )


def _relations(
    viewer: Viewer, policy: Policy, lines: ReportingLines, people: Sequence[str]
) -> dict[str, Relation]:
    """Each person's relation to the viewer (people the viewer may not see are left out)."""
    if viewer.kind is ViewerKind.LEARNER:
        candidates: Iterable[str] = [p for p in people if p == viewer.id]
    elif viewer.kind is ViewerKind.MANAGER:
        candidates = sorted(lines.team(viewer.id or ""))
    else:
        candidates = people
    found: dict[str, Relation] = {}
    managed = viewer.kind is ViewerKind.MANAGER  # only then do managers matter
    for person in candidates:
        relation = policy.relation(viewer, person, lines.chain(person) if managed else ())
        if relation is not Relation.NONE:
            found[person] = relation
    return found
