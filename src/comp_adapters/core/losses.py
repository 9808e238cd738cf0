"""What one framework holds that another lacks, by kind: the losses of a conversion.

A format holds less than the core model (a Canvas CSV has no framework version, no rollups,
no level keys; a Moodle CSV no calculation methods, no tags...). Comparing the framework
with what its converted file reads back as names each kind of loss once, so ``convert``
can warn, and refuse to replace a richer file with a poorer one. Pure.
"""

from __future__ import annotations

from collections.abc import Callable

from comp_adapters.core.framework import Competency, Framework
from comp_adapters.core.scale import ProficiencyScale


def _scales(framework: Framework) -> list[ProficiencyScale]:
    return [framework.scale, *(c.scale for c in framework.competencies if c.scale is not None)]


def _level_keys(framework: Framework) -> set[tuple[str, ...]]:
    return {tuple(level.key for level in scale.levels) for scale in _scales(framework)}


def _level_descriptions(framework: Framework) -> set[str]:
    return {
        level.description for s in _scales(framework) for level in s.levels if level.description
    }


def _by_key(framework: Framework) -> dict[str, Competency]:
    return {c.key: c for c in framework.competencies}


def _competency_loss(
    before: Framework, after: Framework, lost: Callable[[Competency, Competency], bool]
) -> bool:
    kept = _by_key(after)
    return any(c.key in kept and lost(c, kept[c.key]) for c in before.competencies)


def losses(before: Framework, after: Framework) -> list[str]:
    """Kinds of information ``before`` holds that ``after`` does not (empty: nothing lost)."""
    found: list[str] = []
    kept = _by_key(after)
    missing = [c.key for c in before.competencies if c.key not in kept]
    if missing:
        found.append(f"competency keys ({len(missing)} of {len(before.competencies)} change)")
    if before.version and before.version != after.version:
        found.append("the framework version")
    if not _level_keys(before) <= _level_keys(after):
        found.append("scale level keys (evidence naming a level by its key stops counting)")
    if not _level_descriptions(before) <= _level_descriptions(after):
        found.append("scale level descriptions")
    if _competency_loss(before, after, lambda b, a: b.rollup is not None and b.rollup != a.rollup):
        found.append("rollup rules")
    if (
        before.calculation_method != after.calculation_method
        or before.calculation_int != after.calculation_int
        or _competency_loss(
            before,
            after,
            lambda b, a: (
                b.calculation_method is not None
                and (b.calculation_method, b.calculation_int)
                != (a.calculation_method, a.calculation_int)
            ),
        )
    ):
        found.append("calculation methods")
    if (before.tags and before.tags != after.tags) or _competency_loss(
        before, after, lambda b, a: bool(b.tags) and b.tags != a.tags
    ):
        found.append("tags")
    if _competency_loss(before, after, lambda b, a: bool(b.description) and not a.description):
        found.append("descriptions")
    if _competency_loss(before, after, lambda b, a: bool(b.related) and b.related != a.related):
        found.append("related competencies")
    return found


__all__ = ["losses"]
