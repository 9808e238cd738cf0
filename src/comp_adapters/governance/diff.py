"""Semantic diff of two framework versions: what changed, in the terms admins use.

:func:`diff_frameworks` first decides which competency of the old version is which of the
new (:func:`match_competencies`), then compares each matched pair field by field:

- **same key**: a competency keeps its identity while its key stays the same;
- **renamed** (the key changed, the competency did not): an old competency whose key is
  gone and a new one whose key is new are the same competency when they share an external
  identifier (an entry of ``external_ids`` with the same system and value, e.g. the CASE
  identifier or the Moodle id, held by no other unmatched competency on either side), or
  else when they have the same title and description under the same (matched) parent and
  no other unmatched competency on either side does. Anything else is *removed* + *added*.
- **replaced**: a competency the new version keeps but marks ``replaced_by`` one or more
  others (a split when there are several) — how CASE retires an item. Only relations new
  in this version count; :attr:`FrameworkDiff.replacements` lists them, and carry-over of
  proficiency (:mod:`comp_adapters.governance.evaluation`) follows them.

Keys inside rules and relations are compared through the matching, so renaming a child
does not show up as a rule change of its parent. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from comp_adapters.core.framework import Competency, Framework, Relation, RelationType, RollupRule
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.governance.canonical import content_hash


class ChangeKind(StrEnum):
    """What happened to one competency between two versions."""

    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    REPLACED = "replaced"
    MOVED = "moved"
    RETITLED = "retitled"
    REDESCRIBED = "redescribed"
    RULE = "rule"
    SCALE = "scale"
    CALCULATION = "calculation"
    RELATIONS = "relations"
    OTHER = "other"


class FieldChange(BaseModel):
    """A framework-level field that differs (``before``/``after`` as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    before: JsonValue = None
    after: JsonValue = None
    detail: str


class CompetencyChange(BaseModel):
    """One change to one competency.

    ``key`` is its key in the new version (in the old one for ``removed``); ``old_key``
    the key it had before when it was renamed. ``field`` names the compared field and
    ``before``/``after`` hold its values as JSON; ``detail`` says it in words.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    key: str
    old_key: str | None = None
    field: str | None = None
    before: JsonValue = None
    after: JsonValue = None
    detail: str


class DiffSide(BaseModel):
    """Which framework document one side of the diff is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    version: str | None
    content_hash: str
    competencies: int


class FrameworkDiff(BaseModel):
    """Everything that differs between two versions of a framework (see the module)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    old: DiffSide
    new: DiffSide
    framework: tuple[FieldChange, ...] = ()
    competencies: tuple[CompetencyChange, ...] = ()
    renamed: dict[str, str] = {}
    """Old key -> new key of each competency whose key changed."""
    replacements: dict[str, tuple[str, ...]] = {}
    """Old key -> the keys that replace it (``replaced_by`` relations new in this version)."""

    @property
    def is_empty(self) -> bool:
        """True when the documents are identical (then there are no changes either)."""
        return self.old.content_hash == self.new.content_hash

    def counts(self) -> dict[str, int]:
        """Competency changes per kind, in the order of :class:`ChangeKind`."""
        found = [change.kind for change in self.competencies]
        return {kind.value: found.count(kind) for kind in ChangeKind if kind in found}

    def to_json(self) -> str:
        data: dict[str, Any] = self.model_dump(mode="json")
        data["counts"] = self.counts()
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def to_table(self) -> str:
        """The changes for people: one line each, framework fields first."""
        lines = [
            f"Framework {self.new.key}: {_side(self.old)} -> {_side(self.new)}",
        ]
        if self.old.key != self.new.key:
            lines.append(f"  note: comparing framework {self.old.key!r} with {self.new.key!r}")
        if self.is_empty:
            lines.append("  no differences")
            return "\n".join(lines) + "\n"
        lines.extend(f"  framework     {item.field:<20} {item.detail}" for item in self.framework)
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts().items())
        lines.append(f"competencies: {counts or 'no changes'}")
        if self.competencies:
            width = max(len(_shown_key(change)) for change in self.competencies)
            lines.extend(
                f"  {change.kind.value:<12}  {_shown_key(change):<{width}}  {change.detail}"
                for change in self.competencies
            )
        return "\n".join(lines) + "\n"


def _side(side: DiffSide) -> str:
    version = side.version if side.version is not None else "(no version)"
    return f"{version} [{side.content_hash[:12]}]"


def _shown_key(change: CompetencyChange) -> str:
    if change.kind is ChangeKind.RENAMED and change.old_key is not None:
        return f"{change.old_key} -> {change.key}"
    return change.key


# -- matching --------------------------------------------------------------------------------


class Matching(BaseModel):
    """Which old competency is which new one: ``pairs`` old key -> new key, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pairs: dict[str, str]
    reasons: dict[str, str] = {}
    """Old key -> how a competency whose key changed was recognised."""

    def new_key(self, old_key: str | None) -> str | None:
        return None if old_key is None else self.pairs.get(old_key)


def match_competencies(old: Framework, new: Framework) -> Matching:
    """Pair each old competency with the new one it became (see the module docstring)."""
    pairs = {c.key: c.key for c in old.competencies if c.key in new}
    reasons: dict[str, str] = {}
    unmatched_old = [c for c in old.walk() if c.key not in new]
    unmatched_new = {c.key: c for c in new.walk() if c.key not in old}

    old_by_id = _by_external_id(unmatched_old)
    new_by_id = _by_external_id(unmatched_new.values())
    taken = set(pairs.values())
    for competency in unmatched_old:
        found: dict[str, str] = {}
        for pair in sorted(competency.external_ids.items()):
            if len(old_by_id[pair]) == 1 and len(new_by_id.get(pair, ())) == 1:
                found.setdefault(new_by_id[pair][0], f"same external id {pair[0]}={pair[1]}")
        if len(found) == 1:
            target, reason = next(iter(found.items()))
            if target not in taken:
                pairs[competency.key] = target
                reasons[competency.key] = reason
                taken.add(target)

    # Same title and description under the same parent, unique on both sides. Indexed by
    # (parent, title, description): an old parent's key on the old side, the new one's on
    # the new side (matching is one-to-one, so equal old parents are equal new parents).
    old_by_text: dict[_Text, list[str]] = {}
    for competency in unmatched_old:
        if competency.key not in pairs:
            old_by_text.setdefault(_text(competency, competency.parent), []).append(competency.key)
    new_by_text: dict[_Text, list[str]] = {}
    for key, competency in unmatched_new.items():
        if key not in taken:
            new_by_text.setdefault(_text(competency, competency.parent), []).append(key)
    for competency in unmatched_old:  # walk order: a parent is matched before its children
        if competency.key in pairs:
            continue
        if competency.parent is not None and competency.parent not in pairs:
            continue
        parent = pairs.get(competency.parent) if competency.parent else None
        rivals = old_by_text[_text(competency, competency.parent)]
        candidates = [k for k in new_by_text.get(_text(competency, parent), ()) if k not in taken]
        if len(candidates) == 1 and len(rivals) == 1:
            pairs[competency.key] = candidates[0]
            taken.add(candidates[0])
            reasons[competency.key] = "same title and description under the same parent"
    return Matching(pairs=pairs, reasons=reasons)


def _by_external_id(competencies: Iterable[Competency]) -> dict[tuple[str, str], list[str]]:
    index: dict[tuple[str, str], list[str]] = {}
    for competency in competencies:
        for pair in competency.external_ids.items():
            index.setdefault(pair, []).append(competency.key)
    return index


_Text = tuple[str | None, str, str | None]


def _text(competency: Competency, parent: str | None) -> _Text:
    return (parent, competency.title, competency.description)


def new_replacements(
    old: Framework, new: Framework, matching: Matching
) -> dict[str, tuple[str, ...]]:
    """Old key -> keys replacing it: ``replaced_by`` relations (by key) that a kept
    competency gained in ``new`` (relations it already had in ``old`` do not count)."""
    found: dict[str, tuple[str, ...]] = {}
    for old_competency in old.walk():
        new_key = matching.new_key(old_competency.key)
        if new_key is None:
            continue
        before = {
            matching.new_key(r.key) or r.key
            for r in old_competency.related
            if r.type is RelationType.REPLACED_BY and r.key is not None
        }
        targets = tuple(
            r.key
            for r in new.get(new_key).related
            if r.type is RelationType.REPLACED_BY and r.key is not None and r.key not in before
        )
        if targets:
            found[old_competency.key] = targets
    return found


# -- comparing -------------------------------------------------------------------------------


def diff_frameworks(old: Framework, new: Framework) -> FrameworkDiff:
    """What changed from ``old`` to ``new`` (see the module docstring for how competencies
    are recognised across key changes)."""
    matching = match_competencies(old, new)
    replacements = new_replacements(old, new, matching)
    by_new = {new_key: old_key for old_key, new_key in matching.pairs.items()}
    changes: list[CompetencyChange] = []
    for competency in new.walk():
        old_key = by_new.get(competency.key)
        if old_key is None:
            changes.append(_added(competency))
            continue
        changes.extend(
            _pair_changes(old.get(old_key), competency, matching, replacements.get(old_key))
        )
    changes.extend(
        _removed(competency) for competency in old.walk() if competency.key not in matching.pairs
    )
    return FrameworkDiff(
        old=_describe_side(old),
        new=_describe_side(new),
        framework=tuple(_framework_changes(old, new)),
        competencies=tuple(changes),
        renamed={o: n for o, n in matching.pairs.items() if o != n},
        replacements=replacements,
    )


def _describe_side(framework: Framework) -> DiffSide:
    return DiffSide(
        key=framework.key,
        version=framework.version,
        content_hash=content_hash(framework),
        competencies=len(framework.competencies),
    )


def _json(value: Any) -> JsonValue:
    if isinstance(value, BaseModel):
        dumped: JsonValue = value.model_dump(mode="json", exclude_defaults=True)
        return dumped
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in sorted(value.items())}
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    if isinstance(value, StrEnum):
        return value.value
    result: JsonValue = value
    return result


_FRAMEWORK_FIELDS = tuple(name for name in Framework.model_fields if name != "competencies")


def _framework_changes(old: Framework, new: Framework) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for name in _FRAMEWORK_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if _json(before) == _json(after):
            continue
        if name == "scale":
            detail = f"{describe_scale(before)} -> {describe_scale(after)}"
        elif name in ("calculation_method", "calculation_int"):
            detail = (
                f"{_method(old.calculation_method, old.calculation_int)} -> "
                f"{_method(new.calculation_method, new.calculation_int)}"
            )
        else:
            detail = f"{_short(_json(before))} -> {_short(_json(after))}"
        changes.append(
            FieldChange(field=name, before=_json(before), after=_json(after), detail=detail)
        )
    return changes


def _added(competency: Competency) -> CompetencyChange:
    where = f" under {competency.parent}" if competency.parent else " at the top level"
    return CompetencyChange(
        kind=ChangeKind.ADDED,
        key=competency.key,
        after=_json(competency),
        detail=f"{competency.title!r}{where}",
    )


def _removed(competency: Competency) -> CompetencyChange:
    return CompetencyChange(
        kind=ChangeKind.REMOVED,
        key=competency.key,
        before=_json(competency),
        detail=f"{competency.title!r}",
    )


def _pair_changes(
    old: Competency,
    new: Competency,
    matching: Matching,
    replaced_by: tuple[str, ...] | None,
) -> list[CompetencyChange]:
    changes: list[CompetencyChange] = []
    key = new.key

    def add(kind: ChangeKind, field: str, before: Any, after: Any, detail: str) -> None:
        changes.append(
            CompetencyChange(
                kind=kind,
                key=key,
                field=field,
                before=_json(before),
                after=_json(after),
                detail=detail,
            )
        )

    if old.key != new.key:
        reason = matching.reasons.get(old.key, "")
        changes.append(
            CompetencyChange(
                kind=ChangeKind.RENAMED,
                key=key,
                old_key=old.key,
                field="key",
                before=old.key,
                after=new.key,
                detail=f"key {old.key!r} -> {new.key!r} ({reason})",
            )
        )
    if replaced_by:
        add(
            ChangeKind.REPLACED,
            "related",
            None,
            list(replaced_by),
            f"replaced by {', '.join(replaced_by)}" + (" (split)" if len(replaced_by) > 1 else ""),
        )
    old_parent = matching.new_key(old.parent) if old.parent else None
    if old.parent is not None and old_parent is None:
        old_parent = old.parent  # the old parent is gone: any parent now is a move
    if old_parent != new.parent:
        add(
            ChangeKind.MOVED,
            "parent",
            old.parent,
            new.parent,
            f"{_under(old.parent)} -> {_under(new.parent)}",
        )
    if old.title != new.title:
        add(ChangeKind.RETITLED, "title", old.title, new.title, f"{old.title!r} -> {new.title!r}")
    if (old.description, old.description_format) != (new.description, new.description_format):
        add(
            ChangeKind.REDESCRIBED,
            "description",
            old.description,
            new.description,
            _description_detail(old, new),
        )
    old_rule = _rule_in_new_keys(old.rollup, matching)
    if _json(old_rule) != _json(new.rollup):
        add(
            ChangeKind.RULE,
            "rollup",
            old.rollup,
            new.rollup,
            f"{describe_rule(old.rollup)} -> {describe_rule(new.rollup)}",
        )
    if _json(old.scale) != _json(new.scale):
        add(
            ChangeKind.SCALE,
            "scale",
            old.scale,
            new.scale,
            f"{describe_scale(old.scale)} -> {describe_scale(new.scale)}",
        )
    if (old.calculation_method, old.calculation_int) != (
        new.calculation_method,
        new.calculation_int,
    ):
        add(
            ChangeKind.CALCULATION,
            "calculation_method",
            _method(old.calculation_method, old.calculation_int),
            _method(new.calculation_method, new.calculation_int),
            f"{_method(old.calculation_method, old.calculation_int, own=True)} -> "
            f"{_method(new.calculation_method, new.calculation_int, own=True)}",
        )
    relation_detail = _relations_detail(old.related, new.related, matching, replaced_by or ())
    if relation_detail:
        add(ChangeKind.RELATIONS, "related", old.related, new.related, relation_detail)
    for name in ("sequence", "taxonomy", "tags", "external_ids", "properties"):
        before, after = getattr(old, name), getattr(new, name)
        if _json(before) != _json(after):
            add(
                ChangeKind.OTHER,
                name,
                before,
                after,
                f"{name} {_short(_json(before))} -> {_short(_json(after))}",
            )
    return changes


def _under(parent: str | None) -> str:
    return f"under {parent}" if parent else "top level"


def _description_detail(old: Competency, new: Competency) -> str:
    if old.description == new.description:
        return f"description format {old.description_format} -> {new.description_format}"
    if old.description is None:
        return "description added"
    if new.description is None:
        return "description removed"
    return f"description changed ({len(old.description)} -> {len(new.description)} characters)"


def _rule_in_new_keys(rule: RollupRule | None, matching: Matching) -> RollupRule | None:
    """The old rule with its children's keys as they are in the new version."""
    if rule is None or not rule.children:
        return rule
    children = tuple(
        child.model_copy(update={"key": matching.new_key(child.key) or child.key})
        for child in rule.children
    )
    return rule.model_copy(update={"children": children})


def _relation_text(relation: Relation, key: str | None) -> str:
    target = key if key is not None else relation.uri
    return f"{relation.type.value} {target}"


def _relations_detail(
    old: tuple[Relation, ...],
    new: tuple[Relation, ...],
    matching: Matching,
    replaced_by: tuple[str, ...],
) -> str:
    """Relations gained and lost (keys through the matching), leaving out the new
    ``replaced_by`` relations already reported as a replacement."""
    before = {_relation_text(r, (matching.new_key(r.key) or r.key) if r.key else None) for r in old}
    after = {_relation_text(r, r.key) for r in new}
    shown_elsewhere = {f"{RelationType.REPLACED_BY.value} {key}" for key in replaced_by}
    gained = sorted(after - before - shown_elsewhere)
    lost = sorted(before - after)
    parts = [f"+ {text}" for text in gained] + [f"- {text}" for text in lost]
    return ", ".join(parts)


def describe_rule(rule: RollupRule | None) -> str:
    """A rule in a few words: ``points (base 3: a 2, b 1 required)``."""
    if rule is None:
        return "no rule"
    outcome = "" if rule.outcome.value == "complete" else f", outcome {rule.outcome.value}"
    if rule.type == "all_children":
        return f"all_children{outcome}"
    children = ", ".join(
        f"{child.key} {child.points}" + (" required" if child.required else "")
        for child in rule.children
    )
    return f"points (base {rule.base_points}: {children}{outcome})"


def describe_scale(scale: ProficiencyScale | None) -> str:
    """A scale in a few words: its levels with points, proficient ones starred."""
    if scale is None:
        return "framework scale"
    levels = " ".join(
        f"{level.key}({level.points:g}){'*' if level.proficient else ''}" for level in scale.levels
    )
    mastery = f", mastery {scale.mastery_points:g}" if scale.mastery_points is not None else ""
    return f"[{levels}; default {scale.default_level}{mastery}]"


def _method(method: Any, value: int | None, *, own: bool = False) -> str:
    if method is None:
        return "framework method" if own else "none"
    text = str(method.value if isinstance(method, StrEnum) else method)
    return f"{text} {value}" if value is not None else text


def _short(value: JsonValue, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "ChangeKind",
    "CompetencyChange",
    "DiffSide",
    "FieldChange",
    "FrameworkDiff",
    "Matching",
    "describe_rule",
    "describe_scale",
    "diff_frameworks",
    "match_competencies",
    "new_replacements",
]
