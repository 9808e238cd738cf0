"""Evidence judged by the framework version in force, with proficiency carried across changes.

:func:`evaluate_in_force` computes proficiency as of an instant with the released version
effective then (:func:`~comp_adapters.governance.versions.version_in_force`), so a result
as of a time before a change is computed with the rules of that time, whatever was
released since: evaluating as of the same instant always gives the same answer.

A version can retire a competency in favour of others: it keeps the old one with
``replaced_by`` relations to its replacements (one-to-many for a split), it renames it
(recognised as :func:`~comp_adapters.governance.diff.match_competencies` does), or the
project names the replacement in :attr:`CarryOver.replacements` (for a competency the new
version drops). With a :class:`CarryOver` policy, each learner's result on the old
competency just before the change (computed with the old version's rules from the
evidence observed before it) becomes one piece of evidence on each replacement:

- ``kind`` :attr:`CarryOver.kind` (``attestation`` by default), ``observed_at`` the change
  instant, ``source_system="carry-over"``, ``source_id`` naming the old version and
  competency, a ``note`` saying what was carried and why, and a stable ``id``;
- the old result's level when the replacement uses the same scale, else only whether it
  was proficient (``success``), which the engine counts as the mastery points or the
  lowest points of the new scale — a level is never re-read on a scale it was not earned on;
- an expiry when every piece of evidence behind the old result expires (the latest of
  their expiries), so carrying over never extends a certification's validity;
- proficient results only, unless :attr:`CarryOver.include_not_proficient`.

Carried evidence is recomputed on every evaluation (never stored as ledger evidence), so
late evidence observed before a change updates what the change carried. Carry-over chains:
what one change carried into a version is part of that version's results at the next
change. Evidence observed at or after the change instant belongs to the new version.

Pure and deterministic: no clock, no I/O; built on :func:`comp_adapters.rules.evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import Key
from comp_adapters.core.timeutil import format_utc, to_utc
from comp_adapters.errors import GovernanceError, Problem, ValidationError
from comp_adapters.governance.canonical import fingerprint
from comp_adapters.governance.diff import match_competencies, new_replacements
from comp_adapters.governance.versions import (
    FrameworkVersion,
    VersionedFramework,
    version_in_force,
)
from comp_adapters.rules import Evaluation, evaluate_detailed

CARRY_OVER_SOURCE = "carry-over"
"""``source_system`` of carried evidence."""
_JUST_BEFORE = timedelta(microseconds=1)
"""Instants are exact to the microsecond: as of ``change - 1µs`` is "before the change"."""


class CarryOver(BaseModel):
    """How learners' proficiency crosses a version change (no policy: it does not)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EvidenceKind = EvidenceKind.ATTESTATION
    include_not_proficient: bool = False
    include_renamed: bool = True
    """Carry a renamed competency's result to its new key (its evidence keeps the old key)."""
    replacements: dict[Key, dict[Key, Annotated[tuple[Key, ...], Field(min_length=1)]]] = {}
    """Per version label (the version that makes the change): old competency key -> the
    keys replacing it, for replacements the framework documents do not state."""


@dataclass(frozen=True, slots=True)
class VersionedEvaluation:
    """What :func:`evaluate_in_force` found: the version used, its results, and the
    evidence that carry-over added (every change up to ``as_of``, in order)."""

    version: FrameworkVersion
    framework: Framework
    evaluation: Evaluation
    carried: tuple[Evidence, ...] = ()

    @property
    def proficiencies(self) -> list[Proficiency]:
        return self.evaluation.proficiencies


def evaluate_in_force(
    versions: Sequence[VersionedFramework],
    evidence: Iterable[Evidence],
    *,
    as_of: datetime,
    carry_over: CarryOver | None = None,
    kind_weights: Mapping[EvidenceKind | str, float] | None = None,
    min_evidence: int = 1,
) -> VersionedEvaluation:
    """Proficiency as of ``as_of`` under the version of one framework in force then.

    ``versions`` are the framework's recorded versions (drafts are ignored); ``evidence``
    is read once. With ``carry_over``, replaced competencies carry their learners'
    results across every change up to ``as_of`` (see the module docstring).
    ``kind_weights`` and ``min_evidence`` are passed to the rules engine for every
    evaluation. Raises :class:`GovernanceError` when no version is in force at ``as_of``.
    """
    as_of = to_utc(as_of)
    chain = _released_chain(versions)
    current = version_in_force([v.version for v in chain], as_of)
    if current is None:
        raise GovernanceError(_nothing_in_force(chain, as_of))
    items = list(evidence)
    carried: list[Evidence] = []
    if carry_over is not None:
        _check_replacements(versions, chain, carry_over)
        passed = [v for v in chain if v.version.effective_from <= as_of]
        for old, new in pairwise(passed):
            carried.extend(
                _carry(old, new, [*items, *carried], carry_over, kind_weights, min_evidence)
            )
    framework = next(v.framework for v in chain if v.version == current)
    counted = [item for item in carried if item.competency in framework]
    result = evaluate_detailed(
        framework,
        [*items, *counted],
        as_of=as_of,
        kind_weights=kind_weights,
        min_evidence=min_evidence,
    )
    return VersionedEvaluation(current, framework, result, tuple(carried))


def _released_chain(versions: Sequence[VersionedFramework]) -> list[VersionedFramework]:
    keys = {v.version.framework for v in versions}
    if len(keys) > 1:
        raise ValueError(f"versions of several frameworks: {', '.join(sorted(keys))}")
    released = [v for v in versions if v.version.is_released]
    return sorted(released, key=lambda v: v.version.effective_from)


def _nothing_in_force(chain: Sequence[VersionedFramework], as_of: datetime) -> str:
    when = format_utc(as_of)
    if not chain:
        return f"no released version to evaluate with (as of {when})"
    first = chain[0].version
    if as_of < first.effective_from:
        return (
            f"no version of {first.framework!r} is in force at {when}: the first, "
            f"{first.version!r}, takes effect {format_utc(first.effective_from)}"
        )
    return f"framework {first.framework!r} was retired before {when}"


def carry_over_pairs(
    old: VersionedFramework, new: VersionedFramework, carry_over: CarryOver
) -> dict[str, tuple[str, ...]]:
    """Old competency key -> the keys of ``new`` its learners' results carry to.

    The ``replaced_by`` relations ``new`` adds, renamed keys (if the policy includes
    them) and the policy's replacements configured for ``new``'s label.
    """
    matching = match_competencies(old.framework, new.framework)
    pairs: dict[str, tuple[str, ...]] = {}
    if carry_over.include_renamed:
        pairs.update({o: (n,) for o, n in matching.pairs.items() if o != n})
    for key, targets in new_replacements(old.framework, new.framework, matching).items():
        pairs[key] = tuple(dict.fromkeys([*pairs.get(key, ()), *targets]))
    for key, targets in carry_over.replacements.get(new.version.version, {}).items():
        pairs[key] = tuple(dict.fromkeys([*pairs.get(key, ()), *targets]))
    return pairs


def _check_replacements(
    versions: Sequence[VersionedFramework],
    chain: Sequence[VersionedFramework],
    carry_over: CarryOver,
) -> None:
    """Configured replacements must name a recorded version, an old competency of the
    release before it and competencies of that version (every problem is reported)."""
    by_label = {v.version.version: v for v in versions}
    position = {v.version.version: index for index, v in enumerate(chain)}
    problems: list[Problem] = []
    for label, mapping in sorted(carry_over.replacements.items()):
        where = f"carry_over.replacements.{label}"
        target = by_label.get(label)
        if target is None:
            problems.append(Problem(f"no version {label!r} is recorded", field=where))
            continue
        if label not in position:
            continue  # a draft: checked once it is released
        if position[label] == 0:
            problems.append(
                Problem(
                    f"{target.version.ref} is the first release: nothing to carry over from",
                    field=where,
                )
            )
            continue
        before = chain[position[label] - 1]
        for old_key, new_keys in sorted(mapping.items()):
            if old_key not in before.framework:
                problems.append(
                    Problem(
                        f"{old_key!r} is not a competency of {before.version.ref}",
                        field=f"{where}.{old_key}",
                    )
                )
            problems.extend(
                Problem(
                    f"{key!r} is not a competency of {target.version.ref}",
                    field=f"{where}.{old_key}",
                )
                for key in new_keys
                if key not in target.framework
            )
    if problems:
        raise ValidationError(problems)


def _carry(
    old: VersionedFramework,
    new: VersionedFramework,
    evidence: Sequence[Evidence],
    carry_over: CarryOver,
    kind_weights: Mapping[EvidenceKind | str, float] | None,
    min_evidence: int,
) -> list[Evidence]:
    """The evidence that the change from ``old`` to ``new`` carries over."""
    pairs = carry_over_pairs(old, new, carry_over)
    if not pairs:
        return []
    change = new.version.effective_from
    end = change
    if old.version.effective_until is not None:
        end = min(end, old.version.effective_until)
    needed = _with_descendants(old.framework, pairs)
    relevant = [item for item in evidence if item.competency in needed]
    before = evaluate_detailed(
        old.framework,
        relevant,
        as_of=end - _JUST_BEFORE,
        kind_weights=kind_weights,
        min_evidence=min_evidence,
    )
    expiries = _expiries(relevant)
    carried: list[Evidence] = []
    for result in before.proficiencies:
        targets = pairs.get(result.competency)
        if targets is None or result.level is None:
            continue
        if not result.proficient and not carry_over.include_not_proficient:
            continue
        expires = _expiry_of(result, expiries)
        if expires is not None and expires <= change:
            continue  # its evidence expires at the change: nothing is left to carry
        carried.extend(
            _carried_evidence(old, new, result, target, carry_over, expires) for target in targets
        )
    return carried


def _with_descendants(framework: Framework, keys: Iterable[str]) -> set[str]:
    """The keys and everything below them (what their results are computed from)."""
    found: set[str] = set()
    stack = [key for key in keys if key in framework]
    while stack:
        key = stack.pop()
        if key not in found:
            found.add(key)
            stack.extend(child.key for child in framework.children_of(key))
    return found


def _expiries(evidence: Iterable[Evidence]) -> dict[str, datetime | None]:
    """Evidence id -> its latest expiry over its copies (``None``: some copy never expires)."""
    found: dict[str, datetime | None] = {}
    for item in evidence:
        if item.voided:
            continue
        if item.id in found:
            known = found[item.id]
            found[item.id] = (
                None if known is None or item.expires_at is None else max(known, item.expires_at)
            )
        else:
            found[item.id] = item.expires_at
    return found


def _expiry_of(result: Proficiency, expiries: Mapping[str, datetime | None]) -> datetime | None:
    """When a result's evidence has all expired, or ``None`` if some of it never does (a
    result decided by a rule, with no evidence of its own, carries no expiry)."""
    if not result.evidence_ids:
        return None
    dates = [expiries.get(evidence_id) for evidence_id in result.evidence_ids]
    if any(date is None for date in dates):
        return None
    return max(date for date in dates if date is not None)


def _carried_evidence(
    old: VersionedFramework,
    new: VersionedFramework,
    result: Proficiency,
    target: str,
    carry_over: CarryOver,
    expires: datetime | None,
) -> Evidence:
    change = new.version.effective_from
    old_scale = old.framework.scale_for(result.competency)
    same_scale = old_scale == new.framework.scale_for(target)
    level = old_scale.by_key[result.level].name if result.level else "-"
    standing = "proficient" if result.proficient else "not proficient"
    carried_as = f"level {result.level}" if same_scale else standing + " (the scale changed)"
    return Evidence(
        id="carry-over:"
        + fingerprint(
            [old.version.ref, new.version.ref, result.competency, target, result.learner]
        )[:32],
        learner=result.learner,
        competency=target,
        kind=carry_over.kind,
        level=result.level if same_scale else None,
        success=None if same_scale else result.proficient,
        observed_at=change,
        recorded_at=change,
        source_system=CARRY_OVER_SOURCE,
        source_id=f"{old.version.ref}/{result.competency}",
        expires_at=expires,
        note=(
            f"carried over from {result.competency!r} in {old.version.ref} ({level}, "
            f"{standing}) as {carried_as}: {new.version.ref}, effective "
            f"{format_utc(change)}, replaces it by {target!r}"
        ),
    )


__all__ = [
    "CARRY_OVER_SOURCE",
    "CarryOver",
    "VersionedEvaluation",
    "carry_over_pairs",
    "evaluate_in_force",
]
