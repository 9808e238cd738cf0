"""Pure diffs: desired state + what the folder holds + options -> Plan. No I/O.

Change keys are the ``/``-joined, percent-encoded path parts of the file a change writes
(framework, then learner and competency), so the executor needs nothing but the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.sync.plan import Action, Change, Plan
from comp_json_dir.executor import Kind
from comp_json_dir.settings import part


@dataclass(frozen=True, slots=True)
class FrameworkSnapshot:
    """What the folder holds of one framework: its fields and competencies, by key."""

    framework: Mapping[str, Any] | None
    competencies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    state: str = ""


@dataclass(frozen=True, slots=True)
class ResultsSnapshot:
    """The results the folder holds for one framework, by ``(learner, competency)``."""

    results: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    state: str = ""


@dataclass(frozen=True, slots=True)
class FrameworkOptions:
    target: str
    prune: bool = False


@dataclass(frozen=True, slots=True)
class ResultsOptions:
    target: str


def framework_fields(framework: Framework) -> dict[str, Any]:
    """What ``framework.json`` holds: the framework without its competencies."""
    data = framework.model_dump(mode="json")
    del data["competencies"]
    return data


def _change(kind: Kind, key: str, want: dict[str, Any], have: Mapping[str, Any] | None) -> Change:
    cid = f"{kind.value}:{key}"
    if have is None:
        return Change(id=cid, action=Action.CREATE, kind=kind.value, key=key, fields=want)
    if dict(have) != want:
        return Change(
            id=cid, action=Action.UPDATE, kind=kind.value, key=key, fields=want, before=dict(have)
        )
    return Change(id=cid, action=Action.NOOP, kind=kind.value, key=key, reason="file up to date")


def plan_framework(
    desired: Framework, snapshot: FrameworkSnapshot, options: FrameworkOptions
) -> Plan:
    """The files to write (and, with ``prune``, delete) so the folder holds ``desired``."""
    base = part(desired.key)
    changes = [_change(Kind.FRAMEWORK, base, framework_fields(desired), snapshot.framework)]
    for competency in desired.competencies:
        have = snapshot.competencies.get(competency.key)
        key = f"{base}/{part(competency.key)}"
        changes.append(_change(Kind.COMPETENCY, key, competency.model_dump(mode="json"), have))
    wanted = {competency.key for competency in desired.competencies}
    for extra in sorted(set(snapshot.competencies) - wanted):
        key = f"{base}/{part(extra)}"
        cid = f"{Kind.COMPETENCY.value}:{key}"
        if options.prune:
            changes.append(
                Change(id=cid, action=Action.DELETE, kind=Kind.COMPETENCY.value, key=key)
            )
        else:
            reason = "not in the framework; kept (prune deletes it)"
            changes.append(
                Change(
                    id=cid, action=Action.NOOP, kind=Kind.COMPETENCY.value, key=key, reason=reason
                )
            )
    return Plan(
        adapter="json-dir",
        target=options.target,
        changes=tuple(changes),
        state_fingerprint=snapshot.state,
    )


def plan_results(
    desired: Sequence[Proficiency],
    framework: Framework,
    snapshot: ResultsSnapshot,
    options: ResultsOptions,
) -> Plan:
    """The result files to write so the folder shows ``desired`` for ``framework``; a
    result for a competency the framework lacks is a NOOP saying so."""
    known = {competency.key for competency in framework.competencies}
    base = part(framework.key)
    changes = []
    for result in desired:
        key = f"{base}/{part(result.learner)}/{part(result.competency)}"
        if result.competency not in known:
            changes.append(
                Change(
                    id=f"{Kind.RESULT.value}:{key}",
                    action=Action.NOOP,
                    kind=Kind.RESULT.value,
                    key=key,
                    reason=f"competency {result.competency!r} is not in {framework.key!r}",
                )
            )
            continue
        have = snapshot.results.get((result.learner, result.competency))
        changes.append(_change(Kind.RESULT, key, result.model_dump(mode="json"), have))
    return Plan(
        adapter="json-dir",
        target=options.target,
        changes=tuple(changes),
        state_fingerprint=snapshot.state,
    )
