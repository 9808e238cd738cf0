"""The proficiency API (``/api/v1``): current and past proficiency, gaps, coverage.

Every answer is made for the credential's viewer (:mod:`comp_adapters.serve.organisation`):
a learner outside the viewer's reach is 403, whether or not they exist; evidence the viewer
may not see is never named (ids, notes), and a result resting on any such evidence is
shown without the engine's explanation (which would describe it), as in the reports.
Results are those the sync engine recorded in the store's proficiency history: the current
ones, or with ``as_of`` the ones in force at that instant.

Paging is by learner, with an opaque ``cursor`` (the ``next_cursor`` of the page before,
also in a ``Link: <...>; rel="next"`` header). Every answer has an ETag; ``If-None-Match``
gets a 304 without body when nothing changed (:mod:`comp_adapters.serve.answers`).
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from comp_adapters.core.evidence import Evidence, Visibility
from comp_adapters.core.timeutil import format_utc, parse_utc
from comp_adapters.reports.analysis import Analysis, analyse, counted_evidence
from comp_adapters.reports.policy import Relation, Viewer
from comp_adapters.reports.profiles import RoleProfiles
from comp_adapters.rules.columnar import EvidenceTable, _numpy
from comp_adapters.rules.first_proficient import proficiency_timeline
from comp_adapters.serve.access import Principal, require_scope
from comp_adapters.serve.answers import json_answer
from comp_adapters.serve.case_api import API_KEY, BEARER
from comp_adapters.serve.catalog import ReleasedFramework, find_framework
from comp_adapters.serve.errors import ServeError, bad_request, not_found
from comp_adapters.serve.organisation import Organisation
from comp_adapters.serve.queries import current_records, evidence_visibility, learners_after
from comp_adapters.store import ProficiencyRecord, Store

SCOPE = "proficiency.read"
MAX_LIMIT = 1000


# -- answer models (the OpenAPI document; answers are built as plain data) ---------------


class ErrorOut(BaseModel):
    error: str
    message: str


class FrameworkOut(BaseModel):
    key: str
    title: str
    version: str | None
    case_document_id: str
    public: bool


class FrameworkList(BaseModel):
    frameworks: list[FrameworkOut]


class ProficiencyOut(BaseModel):
    competency: str
    level: str | None
    score: float | None
    proficient: bool
    method: str
    as_of: str
    evidence_ids: list[str]
    """Only the evidence the viewer may see."""
    explanation: str | None
    """None when the result rests on evidence the viewer may not see."""
    framework_version: str | None
    recorded_at: str


class LearnerProficiency(BaseModel):
    learner: str
    framework: str
    as_of: str | None
    proficiency: list[ProficiencyOut]


class LearnerPage(BaseModel):
    framework: str
    as_of: str | None
    items: list[LearnerProficiency]
    next_cursor: str | None


class EvidenceOut(BaseModel):
    id: str
    kind: str
    observed_at: str
    source_system: str | None
    note: str | None


class ResourceOut(BaseModel):
    key: str
    title: str
    url: str
    kind: str
    minutes: int | None


class GapOut(BaseModel):
    person: str
    name: str | None
    team: str | None
    manager: str | None
    role: str
    competency: str
    competency_title: str
    target: str
    target_points: float
    current: str | None
    current_points: float
    gap_points: float
    gap: float
    met: bool
    impact: int
    criticality: int
    weight: float
    priority: float
    last_evidence: str | None
    due: str | None
    overdue: bool
    first_proficient: str | None
    evidence: list[EvidenceOut]
    explanation: str | None
    recommended: list[ResourceOut]


class LearnerGaps(BaseModel):
    learner: str
    framework: str
    as_of: str
    gaps: list[GapOut]


class CoverageCell(BaseModel):
    team: str
    role: str
    people: int
    requirements: int
    coverage: float | None


class CoverageOut(BaseModel):
    framework: str
    as_of: str
    viewer: str
    people: int
    requirements: int
    coverage: float | None
    by_team: dict[str, float]
    by_role: dict[str, float]
    by_team_and_role: list[CoverageCell]


_ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the client's copy (If-None-Match) is current"},
    400: {"model": ErrorOut, "description": "a bad parameter (as_of, cursor, limit)"},
    401: {"model": ErrorOut, "description": "no credential, or one that is not valid"},
    403: {
        "model": ErrorOut,
        "description": "lacks scope proficiency.read, or the learner is outside the viewer's reach",
    },
    404: {"model": ErrorOut, "description": "no such framework (or no gap analysis for it)"},
}

FrameworkName = Annotated[
    str, Path(description="the framework's key or CASE document id", min_length=1)
]
LearnerKey = Annotated[str, Path(description="the learner's key", min_length=1, max_length=255)]
AsOf = Annotated[
    str | None,
    Query(description="an ISO 8601 instant with offset: the results in force then"),
]


def encode_cursor(learner: str) -> str:
    """An opaque cursor: the last learner of a page, as base64url of ``{"after": ...}``."""
    return base64.urlsafe_b64encode(orjson.dumps({"after": learner})).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True))
    except (binascii.Error, UnicodeError, ValueError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("after"), str):
        raise bad_request("cursor: not a cursor this API gave")
    after: str = data["after"]
    return after


def parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise bad_request(f"as_of: {exc} (with an offset, e.g. 2026-11-01T00:00:00Z)") from None


def _viewer(request: Request) -> Viewer:
    """The viewer of a credential with scope proficiency.read (401/403 otherwise)."""
    who: Principal = request.state.principal
    require_scope(who, SCOPE)
    assert who.viewer is not None  # noqa: S101 - require_scope refuses anonymous
    return who.viewer


def _framework(request: Request, name: str) -> ReleasedFramework:
    found = find_framework(request.app.state.catalog, name)
    if found is None:
        raise ServeError(404, "unknown_framework", f"no released framework {name!r}")
    return found


def _store(request: Request) -> Store:
    found: Store = request.app.state.store
    return found


def _organisation(request: Request) -> Organisation:
    found: Organisation = request.app.state.organisation
    return found


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def _reachable(request: Request, viewer: Viewer, learner: str) -> None:
    """403 for a learner outside the viewer's reach (found or not)."""
    if _organisation(request).relation(viewer, learner) is Relation.NONE:
        raise ServeError(403, "forbidden", f"{viewer} may not see learner {learner!r}")


def _profiles(request: Request, released: ReleasedFramework) -> RoleProfiles:
    found = _organisation(request).framework_profiles(released.framework)
    if found is None:
        raise not_found(f"no role profiles for framework {released.key!r}: no gap analysis")
    return found


def _learner_page(
    request: Request,
    released: ReleasedFramework,
    viewer: Viewer,
    *,
    at: datetime | None,
    after: str | None,
    limit: int,
) -> Response:
    org, store = _organisation(request), _store(request)
    visible = org.visible_learners(viewer)
    if visible is None:
        page = learners_after(store, released.key, after=after, limit=limit + 1, as_of=at)
    else:
        start = 0 if after is None else bisect.bisect_right(visible, after)
        page = visible[start : start + limit + 1]
    more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_cursor(page[-1]) if more and page else None
    headers = {}
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor, limit=limit)
        headers["Link"] = f'<{url}>; rel="next"'
    body = {
        "framework": released.key,
        "as_of": None if at is None else format_utc(at),
        "items": learner_answers(store, org, viewer, released, page, at),
        "next_cursor": next_cursor,
    }
    return json_answer(request, body, headers=headers)


def _gaps(
    request: Request,
    released: ReleasedFramework,
    viewer: Viewer,
    learner: str,
    *,
    given: datetime | None,
    include_met: bool,
) -> dict[str, Any]:
    """The learner's gap records: stored results, the timeline of their counted evidence,
    the assignments of the learner and of everyone above them (the reporting lines)."""
    org, store = _organisation(request), _store(request)
    profiles = _profiles(request, released)
    at = given or _now(request)
    results = [r.result for r in _records(store, released.key, [learner], given)]
    evidence = list(store.iter_evidence(learners=[learner]))
    table = EvidenceTable.from_evidence(counted_evidence(evidence, org.policy))
    analysis = analyse(
        released.framework,
        profiles,
        org.assignments_around(learner),
        results,
        proficiency_timeline(released.framework, table, as_of=at),
        as_of=at,
        viewer=viewer,
        policy=org.policy,
        evidence={e.id: e for e in evidence if not e.voided and _servable(e)},
    )
    return {
        "learner": learner,
        "framework": released.key,
        "as_of": format_utc(at),
        "gaps": _learner_gaps(analysis, learner, include_met=include_met),
    }


def _coverage_of(
    request: Request, released: ReleasedFramework, viewer: Viewer, given: datetime | None
) -> dict[str, Any]:
    """Coverage over the viewer's people (no timeline needed: met or not, now or then)."""
    org = _organisation(request)
    profiles = _profiles(request, released)
    at = given or _now(request)
    learners = org.visible_learners(viewer)
    results = [r.result for r in _records(_store(request), released.key, learners, given)]
    empty = EvidenceTable.from_evidence([])
    analysis = analyse(
        released.framework,
        profiles,
        org.assignments,
        results,
        proficiency_timeline(released.framework, empty, as_of=at),
        as_of=at,
        viewer=viewer,
        policy=org.policy,
    )
    return _coverage(analysis, released.key)


def proficiency_router() -> APIRouter:
    router = APIRouter(
        prefix="/api/v1",
        tags=["proficiency"],
        responses=_ERRORS,
        dependencies=[Depends(BEARER), Depends(API_KEY)],
    )

    @router.get(
        "/frameworks",
        response_model=FrameworkList,
        operation_id="listFrameworks",
        summary="The released frameworks",
    )
    def list_frameworks(request: Request) -> Response:
        _viewer(request)
        items = [
            {
                "key": r.key,
                "title": r.framework.title,
                "version": r.framework.version,
                "case_document_id": r.document_id,
                "public": r.public,
            }
            for r in request.app.state.catalog.frameworks()
        ]
        return json_answer(request, {"frameworks": items})

    @router.get(
        "/frameworks/{framework}/learners",
        response_model=LearnerPage,
        operation_id="listLearnerProficiency",
        summary="Learners' proficiency in a framework, a page of learners at a time",
    )
    def list_learners(
        request: Request,
        framework: FrameworkName,
        as_of: AsOf = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> Response:
        viewer = _viewer(request)
        released = _framework(request, framework)
        at = parse_as_of(as_of)
        after = decode_cursor(cursor) if cursor is not None else None
        return _learner_page(request, released, viewer, at=at, after=after, limit=limit)

    @router.get(
        "/frameworks/{framework}/learners/{learner}/proficiency",
        response_model=LearnerProficiency,
        operation_id="getLearnerProficiency",
        summary="One learner's proficiency in a framework (now, or as of a time)",
    )
    def get_learner(
        request: Request, framework: FrameworkName, learner: LearnerKey, as_of: AsOf = None
    ) -> Response:
        viewer = _viewer(request)
        released = _framework(request, framework)
        _reachable(request, viewer, learner)
        at = parse_as_of(as_of)
        answers = learner_answers(
            _store(request), _organisation(request), viewer, released, [learner], at
        )
        return json_answer(request, answers[0])

    @router.get(
        "/frameworks/{framework}/learners/{learner}/gaps",
        response_model=LearnerGaps,
        operation_id="getLearnerGaps",
        summary="A learner's gaps against the roles they hold, by priority",
    )
    def get_gaps(
        request: Request,
        framework: FrameworkName,
        learner: LearnerKey,
        as_of: AsOf = None,
        include_met: Annotated[bool, Query(description="list met requirements too")] = False,
    ) -> Response:
        viewer = _viewer(request)
        released = _framework(request, framework)
        _reachable(request, viewer, learner)
        given = parse_as_of(as_of)
        body = _gaps(request, released, viewer, learner, given=given, include_met=include_met)
        return json_answer(request, body)

    @router.get(
        "/frameworks/{framework}/coverage",
        response_model=CoverageOut,
        operation_id="getCoverage",
        summary="Coverage of role requirements, per team, per role and per team and role",
    )
    def get_coverage(request: Request, framework: FrameworkName, as_of: AsOf = None) -> Response:
        viewer = _viewer(request)
        released = _framework(request, framework)
        return json_answer(request, _coverage_of(request, released, viewer, parse_as_of(as_of)))

    return router


def _records(
    store: Store, framework_key: str, learners: Sequence[str] | None, at: datetime | None
) -> list[ProficiencyRecord]:
    """Current results (or those in force at ``at``) of ``learners`` (``None``: all)."""
    if at is None:
        if learners is None:
            return list(store.latest_proficiency(framework_key))
        return current_records(store, framework_key, learners)
    if learners is None:
        return store.proficiency_as_of(framework_key, at)
    found: list[ProficiencyRecord] = []
    for learner in learners:
        found.extend(store.proficiency_as_of(framework_key, at, learner=learner))
    return found


def learner_answers(
    store: Store,
    org: Organisation,
    viewer: Viewer,
    released: ReleasedFramework,
    learners: Sequence[str],
    at: datetime | None,
) -> list[dict[str, Any]]:
    """Each learner's results as ``viewer`` may see them (see the module doc)."""
    records = _records(store, released.key, learners, at) if learners else []
    visibility = evidence_visibility(store, (i for r in records for i in r.result.evidence_ids))
    by_learner: dict[str, list[dict[str, Any]]] = {learner: [] for learner in learners}
    relations = {learner: org.relation(viewer, learner) for learner in learners}
    for record in records:
        learner = record.result.learner
        by_learner.setdefault(learner, []).append(
            shown_result(record, relations[learner], org, visibility)
        )
    return [
        {
            "learner": learner,
            "framework": released.key,
            "as_of": None if at is None else format_utc(at),
            "proficiency": by_learner[learner],
        }
        for learner in learners
    ]


def shown_result(
    record: ProficiencyRecord,
    relation: Relation,
    org: Organisation,
    visibility: dict[str, Visibility],
) -> dict[str, Any]:
    """One result with only the evidence the relation may see; no explanation when any
    of its evidence is withheld (evidence missing from the ledger counts as withheld)."""
    result = record.result
    shown = [
        i for i in result.evidence_ids if i in visibility and org.shows(relation, visibility[i])
    ]
    withheld = len(shown) != len(result.evidence_ids)
    return {
        "competency": result.competency,
        "level": result.level,
        "score": result.score,
        "proficient": result.proficient,
        "method": result.method,
        "as_of": format_utc(result.as_of),
        "evidence_ids": shown,
        "explanation": None if withheld else result.explanation,
        "framework_version": record.framework_version,
        "recorded_at": format_utc(record.recorded_at),
    }


def _servable(evidence: Evidence) -> bool:
    """Private evidence is never served (it may count, it is never named)."""
    return evidence.visibility is not Visibility.PRIVATE


def _learner_gaps(analysis: Analysis, learner: str, *, include_met: bool) -> list[dict[str, Any]]:
    rows = analysis.rows
    if learner not in rows.people:
        return []
    code = rows.people.index(learner)
    positions = [
        int(i) for i in analysis.gap_positions(include_met=include_met) if rows.person[i] == code
    ]
    return analysis.records(positions)


def _coverage(analysis: Analysis, framework_key: str) -> dict[str, Any]:
    np = _numpy()
    rows, kpis = analysis.rows, analysis.kpis
    sel = np.flatnonzero(analysis.mask)
    sel = sel[rows.team[sel] >= 0]
    width = max(len(rows.roles), 1)
    cell = rows.team[sel] * width + rows.role[sel]
    size = max(len(rows.teams), 1) * width
    total = np.bincount(cell, weights=rows.weight[sel], minlength=size)
    hit = np.bincount(cell, weights=rows.weight[sel] * rows.met[sel], minlength=size)
    count = np.bincount(cell, minlength=size)
    cells = []
    for index in np.flatnonzero(count).tolist():
        people = len(np.unique(rows.person[sel[cell == index]]))
        cells.append(
            {
                "team": rows.teams[index // width],
                "role": rows.roles[index % width],
                "people": people,
                "requirements": int(count[index]),
                "coverage": None
                if total[index] == 0
                else round(float(hit[index] / total[index]), 4),
            }
        )
    return {
        "framework": framework_key,
        "as_of": format_utc(analysis.as_of),
        "viewer": str(analysis.viewer),
        "people": kpis["people"],
        "requirements": kpis["requirements"],
        "coverage": kpis["coverage"],
        "by_team": kpis["coverage_by_team"],
        "by_role": kpis["coverage_by_role"],
        "by_team_and_role": sorted(cells, key=lambda c: (c["team"], c["role"])),
    }
