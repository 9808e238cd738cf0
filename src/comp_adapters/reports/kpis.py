"""KPIs over the gap rows a viewer may see: coverage, time to competence, readiness, trend.

Definitions (all over the rows in scope, i.e. the people the viewer may see, after filters):

- **coverage** of a group of rows: sum of the weights of the met requirements / sum of all
  their weights (with the default weight 1: the share of requirements met). Reported
  overall, per role, per team, per competency and per (team or role, competency) cell of
  the heat map. ``None`` for a group without requirements.
- **time to competence** of a row that became proficient: first time proficient - start
  (the role's start date, else the first evidence on the competency), in days, never below
  0 (already proficient when taking the role counts as 0). Reported as count, median and
  the 25th, 75th and 90th percentiles (linear interpolation), overall and per role; rows
  never proficient are counted as ``not_yet``.
- **readiness** of a person for a role they do not hold: the weighted share of that role's
  requirements they meet now. Per role: how many candidates (people in scope not holding
  it), how many are ready (all met), nearly ready (at least 80%), and the mean; per person,
  their readiness for the ``next_role`` the people file names.
- **trend**: coverage as of the end of each of the last months (and as of ``as_of``), with
  the levels each result had then (the timeline) and only the roles already held then.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from comp_adapters.core.timeutil import format_utc
from comp_adapters.reports.gaps import DAY_US, NONE_AT, GapRows
from comp_adapters.reports.people import Assignment
from comp_adapters.rules.columnar import _numpy, to_micros
from comp_adapters.rules.first_proficient import NO_LEVEL, Timeline

NEARLY_READY = 0.8
PERCENTILES = (25, 50, 75, 90)
HEATMAP_MAX_ROWS = 60
"""More teams than this: the heat map shows the ones with the lowest coverage (and says so)."""


def _share(np: Any, met: Any, weight: Any, group: Any, size: int) -> list[float | None]:
    total = np.bincount(group, weights=weight, minlength=size)
    hit = np.bincount(group, weights=weight * met, minlength=size)
    return [None if t == 0 else round(float(h / t), 4) for h, t in zip(hit, total, strict=True)]


def coverage_of(rows: GapRows, mask: Any) -> float | None:
    """The weighted share of the masked rows' requirements met."""
    weight = rows.weight[mask]
    total = float(weight.sum())
    return None if total == 0 else round(float((weight * rows.met[mask]).sum() / total), 4)


def kpis(
    rows: GapRows,
    mask: Any,
    timeline: Timeline,
    *,
    as_of: datetime,
    months: int = 12,
    heatmap_by: str = "team",
) -> dict[str, Any]:
    """Every KPI of the rows selected by ``mask`` (see the module doc), JSON-ready."""
    np = _numpy()
    sel = np.flatnonzero(mask)
    met, weight = rows.met[sel], rows.weight[sel]
    as_of_us = to_micros(as_of)
    by_role = _share(np, met, weight, rows.role[sel], len(rows.roles))
    team = rows.team[sel]
    has_team = team >= 0
    by_team = _share(np, met[has_team], weight[has_team], team[has_team], len(rows.teams))
    by_comp = _share(np, met, weight, rows.competency[sel], len(rows.competencies))
    unmet = sel[~met]
    return {
        "people": len(np.unique(rows.person[sel])),
        "requirements": len(sel),
        "open_gaps": len(unmet),
        "overdue_gaps": int(np.count_nonzero(rows.due[unmet] < as_of_us)),
        "coverage": coverage_of(rows, sel),
        "coverage_by_role": {
            key: value for key, value in zip(rows.roles, by_role, strict=True) if value is not None
        },
        "coverage_by_team": {
            key: value for key, value in zip(rows.teams, by_team, strict=True) if value is not None
        },
        "coverage_by_competency": {
            key: value
            for key, value in zip(rows.competencies, by_comp, strict=True)
            if value is not None
        },
        "heatmap": _heatmap(
            np, rows, sel, "team" if heatmap_by == "team" and rows.teams else "role"
        ),
        "time_to_competence": _time_to_competence(np, rows, sel),
        "readiness": _readiness(np, rows, sel, timeline, as_of_us),
        "trend": _trend(rows, sel, timeline, as_of, months),
    }


def _heatmap(np: Any, rows: GapRows, sel: Any, axis: str) -> dict[str, Any]:
    group = rows.team[sel] if axis == "team" else rows.role[sel]
    names = rows.teams if axis == "team" else rows.roles
    keep = group >= 0
    group, chosen = group[keep], sel[keep]
    width = len(rows.competencies)
    cell = group * width + rows.competency[chosen]
    size = max(len(names), 1) * width
    total = np.bincount(cell, weights=rows.weight[chosen], minlength=size).reshape(-1, width)
    hit = np.bincount(cell, weights=rows.weight[chosen] * rows.met[chosen], minlength=size).reshape(
        -1, width
    )
    people = np.bincount(cell, minlength=size).reshape(-1, width)
    used_cols = np.flatnonzero(total.sum(axis=0) > 0)
    used_rows = np.flatnonzero(total.sum(axis=1) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, hit / total, np.nan)
    left_out = 0
    if len(used_rows) > HEATMAP_MAX_ROWS:
        overall = hit[used_rows].sum(axis=1) / total[used_rows].sum(axis=1)
        lowest = used_rows[np.argsort(overall, kind="stable")[:HEATMAP_MAX_ROWS]]
        left_out = len(used_rows) - len(lowest)
        used_rows = np.sort(lowest)
    return {
        "axis": axis,
        "rows": [names[r] for r in used_rows.tolist()],
        "columns": [rows.competencies[c] for c in used_cols.tolist()],
        "cells": [
            [
                None if np.isnan(share[r, c]) else round(float(share[r, c]), 4)
                for c in used_cols.tolist()
            ]
            for r in used_rows.tolist()
        ],
        "counts": [[int(people[r, c]) for c in used_cols.tolist()] for r in used_rows.tolist()],
        "rows_left_out": left_out,
    }


def _stats(np: Any, days: Any) -> dict[str, Any]:
    if not len(days):
        return {"count": 0, **{f"p{p}": None for p in PERCENTILES}, "median": None}
    values = np.percentile(days, PERCENTILES)
    found = {f"p{p}": round(float(v), 1) for p, v in zip(PERCENTILES, values, strict=True)}
    return {"count": len(days), **found, "median": found["p50"]}


def _time_to_competence(np: Any, rows: GapRows, sel: Any) -> dict[str, Any]:
    first, start = rows.first_proficient[sel], rows.start[sel]
    done = (first != NONE_AT) & (start != NONE_AT)
    days = np.maximum(first[done] - start[done], 0) / DAY_US
    roles = rows.role[sel][done]
    present = np.bincount(rows.role[sel], minlength=len(rows.roles))
    return {
        **_stats(np, days),
        "not_yet": int(np.count_nonzero(first == NONE_AT)),
        "by_role": {
            key: _stats(np, days[roles == code])
            for code, key in enumerate(rows.roles)
            if present[code]
        },
    }


def _levels_now(np: Any, rows: GapRows, timeline: Timeline, as_of_us: int, people: Any) -> Any:
    """Dense (competency, person) -> level code as of now (from the timeline), for the
    persons ``people`` (sorted codes), competencies by rows: one role's requirements are
    then a few contiguous rows."""
    learner, competency, level = timeline.levels_at(as_of_us)
    to_person, to_comp = rows.placement.codes_of(timeline)
    person, comp = to_person[learner], to_comp[competency]
    at = np.searchsorted(people, person)
    ok = (person >= 0) & (comp >= 0) & (at < len(people))
    ok[ok] &= people[at[ok]] == person[ok]
    dense = np.full((max(len(rows.competencies), 1), len(people)), NO_LEVEL, dtype=np.int16)
    dense[comp[ok], at[ok]] = level[ok]
    return dense


def _readiness(
    np: Any, rows: GapRows, sel: Any, timeline: Timeline, as_of_us: int
) -> dict[str, Any]:
    people = np.unique(rows.person[sel])
    levels = _levels_now(np, rows, timeline, as_of_us, people)
    holds = np.zeros((len(rows.people), len(rows.roles)), dtype=bool)
    holds[rows.person[sel], rows.role[sel]] = True
    shares: dict[str, Any] = {}
    summary: dict[str, dict[str, Any]] = {}
    for code, key in enumerate(rows.roles):
        slots = [s for s in rows.slots if s.role.key == key]
        comps = np.array([s.competency_code for s in slots], dtype=np.int64)
        targets = np.array([s.target for s in slots], dtype=np.int64)
        weights = np.array([s.requirement.weight for s in slots])
        share = weights @ (levels[comps] >= targets[:, None]) / weights.sum()
        shares[key] = share
        candidates = share[~holds[people, code]]
        summary[key] = {
            "candidates": len(candidates),
            "ready": int(np.count_nonzero(candidates >= 1 - 1e-9)),
            "nearly_ready": int(np.count_nonzero(candidates >= NEARLY_READY - 1e-9)),
            "mean": round(float(candidates.mean()), 4) if len(candidates) else None,
        }
    wanted: dict[str, dict[str, float]] = {}
    for item in _assignments_of(rows, sel):
        if item.next_role:
            at = int(np.searchsorted(people, rows.placement.people[item.person]))
            wanted.setdefault(item.person, {})[item.next_role] = round(
                float(shares[item.next_role][at]), 4
            )
    return {"by_role": summary, "next_role": wanted}


def _assignments_of(rows: GapRows, sel: Any) -> list[Assignment]:
    np = _numpy()
    return [rows.assignments[a] for a in np.unique(rows.assignment[sel]).tolist()]


def month_ends(as_of: datetime, months: int) -> list[datetime]:
    """The ends (last microsecond) of the ``months`` months before ``as_of``'s month, oldest
    first, then ``as_of`` itself."""
    ends: list[datetime] = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        first = datetime(year, month, 1, tzinfo=UTC)
        ends.append(first - timedelta(microseconds=1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return [*reversed(ends), as_of]


def _trend(
    rows: GapRows, sel: Any, timeline: Timeline, as_of: datetime, months: int
) -> list[dict[str, Any]]:
    points = []
    instants = month_ends(as_of, months)
    met_then = rows.met_over(timeline, [to_micros(instant) for instant in instants])
    for instant, met_all in zip(instants, met_then, strict=True):
        at = to_micros(instant)
        held = sel[(rows.since[sel] == NONE_AT) | (rows.since[sel] <= at)]
        met = met_all[held]
        weight = rows.weight[held]
        total = float(weight.sum())
        points.append(
            {
                "as_of": format_utc(instant),
                "coverage": None if total == 0 else round(float((weight * met).sum() / total), 4),
                "requirements": len(held),
            }
        )
    return points


def change_since(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """Each KPI's change since a previous report's data (``None`` where either lacks it)."""

    def delta(a: Any, b: Any) -> float | None:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return round(float(a) - float(b), 4)
        return None

    old = previous.get("kpis", {})
    new = current["kpis"]
    found: dict[str, Any] = {
        "previous_as_of": previous.get("as_of"),
        "coverage": delta(new["coverage"], old.get("coverage")),
        "open_gaps": delta(new["open_gaps"], old.get("open_gaps")),
        "overdue_gaps": delta(new["overdue_gaps"], old.get("overdue_gaps")),
        "time_to_competence_median": delta(
            new["time_to_competence"]["median"],
            (old.get("time_to_competence") or {}).get("median"),
        ),
    }
    for group in ("coverage_by_role", "coverage_by_team", "coverage_by_competency"):
        before = old.get(group) or {}
        found[group] = {key: delta(value, before.get(key)) for key, value in new[group].items()}
    return found
