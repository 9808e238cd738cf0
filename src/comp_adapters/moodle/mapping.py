"""Pure conversions between the core model and Moodle's competency records.

No HTTP, no clock: everything here is a function of its arguments, so it is tested with
tables. The numbering traps live here, in one place:

* description formats: core ``html``/``plain``/``markdown`` are Moodle 1/2/4; Moodle's 0
  ("Moodle auto-format") reads as ``plain`` and is kept in the property
  ``moodle.descriptionformat`` so it is written back as 0;
* competency rule outcomes are 0 none / 1 evidence / 2 complete / 3 recommend, but COURSE
  (and activity) link outcomes are 0 none / 1 evidence / 2 recommend / 3 complete;
* grades are 1-based positions of the scale item;
* ``scaleconfiguration`` is a JSON array whose first element names the scale
  (``{"scaleid": "2"}``) followed by ``{"id": item, "scaledefault": 0|1, "proficient": 0|1}``
  entries (unlisted items are neither);
* points-rule configs name children by Moodle id; the core model names them by key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import (
    Competency,
    DescriptionFormat,
    Framework,
    RelationType,
    RollupRule,
    RuleOutcome,
)
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError
from comp_adapters.moodle.text import note_text
from comp_adapters.moodle.wire import (
    RULE_ALL,
    RULE_POINTS,
    WireCompetency,
    WireEvidence,
    WireFramework,
)

NAME_LIMIT = 100
"""Moodle's shortname and idnumber columns are char(100)."""
TAXONOMY_LIMIT = 255

PROP_FORMAT = "moodle.descriptionformat"
PROP_VISIBLE = "moodle.visible"
PROP_COURSES = "moodle.courses"
PROP_SCALECONFIG = "moodle.scaleconfiguration"
EXTERNAL_ID = "moodle"
SCALE_KEY_PREFIX = "moodle-scale-"
LEVEL_KEY = "key"
"""The entry of a ``scaleconfiguration`` item that holds the core level key (ours only)."""

# -- description formats -----------------------------------------------------------------

FORMAT_MOODLE, FORMAT_HTML, FORMAT_PLAIN, FORMAT_MARKDOWN = 0, 1, 2, 4
_FORMAT_CODES: Mapping[str, int] = {
    "html": FORMAT_HTML,
    "plain": FORMAT_PLAIN,
    "markdown": FORMAT_MARKDOWN,
}
_FORMAT_NAMES: Mapping[int, DescriptionFormat] = {
    FORMAT_MOODLE: "plain",
    FORMAT_HTML: "html",
    FORMAT_PLAIN: "plain",
    FORMAT_MARKDOWN: "markdown",
}


def format_code(fmt: DescriptionFormat, properties: Mapping[str, Any] | None = None) -> int:
    """Moodle's ``descriptionformat`` for a core format (0 when kept in the properties)."""
    if fmt == "plain" and properties and properties.get(PROP_FORMAT) == FORMAT_MOODLE:
        return FORMAT_MOODLE
    return _FORMAT_CODES[fmt]


def format_from_code(code: int) -> tuple[DescriptionFormat, dict[str, Any]]:
    """The core format of a Moodle code, and the properties that keep a code 0."""
    if code not in _FORMAT_NAMES:
        raise MappingError(f"unknown description format {code} (Moodle knows 0, 1, 2 and 4)")
    return _FORMAT_NAMES[code], ({PROP_FORMAT: FORMAT_MOODLE} if code == FORMAT_MOODLE else {})


# -- outcomes ----------------------------------------------------------------------------

COMPETENCY_OUTCOME: Mapping[RuleOutcome, int] = {
    RuleOutcome.NONE: 0,
    RuleOutcome.EVIDENCE: 1,
    RuleOutcome.COMPLETE: 2,
    RuleOutcome.RECOMMEND: 3,
}
"""Competency ``ruleoutcome`` (class ``competency``): 2 is COMPLETE, 3 is RECOMMEND."""

COURSE_OUTCOME: Mapping[RuleOutcome, int] = {
    RuleOutcome.NONE: 0,
    RuleOutcome.EVIDENCE: 1,
    RuleOutcome.RECOMMEND: 2,
    RuleOutcome.COMPLETE: 3,
}
"""Course and activity link ``ruleoutcome``: 2 is RECOMMEND, 3 is COMPLETE (the reverse!)."""

_COMPETENCY_OUTCOME_BY_CODE = {v: k for k, v in COMPETENCY_OUTCOME.items()}
_COURSE_OUTCOME_BY_CODE = {v: k for k, v in COURSE_OUTCOME.items()}


def competency_outcome(code: int) -> RuleOutcome:
    try:
        return _COMPETENCY_OUTCOME_BY_CODE[code]
    except KeyError:
        raise MappingError(f"unknown competency rule outcome {code} (0-3)") from None


def course_outcome(code: int) -> RuleOutcome:
    try:
        return _COURSE_OUTCOME_BY_CODE[code]
    except KeyError:
        raise MappingError(f"unknown course rule outcome {code} (0-3)") from None


# -- names and taxonomies ----------------------------------------------------------------

TAXONOMY_TERMS = frozenset(
    {
        "behaviour",
        "competency",
        "concept",
        "domain",
        "indicator",
        "level",
        "outcome",
        "practice",
        "proficiency",
        "skill",
        "value",
    }
)
"""The taxonomy terms Moodle accepts; anything else fails with ``invalidtaxonomy``."""


def shorten(title: str, limit: int = NAME_LIMIT) -> str:
    """A title within Moodle's 100 characters: cut, with "..." marking the cut."""
    if len(title) <= limit:
        return title
    return title[: limit - 3].rstrip() + "..."


def moodle_taxonomies(levels: Sequence[str]) -> tuple[str, list[str]]:
    """Moodle's ``taxonomies`` string for core levels, and notes on terms it cannot hold.

    Unknown terms become ``competency`` (Moodle's default for a level), case is folded.
    """
    notes: list[str] = []
    terms: list[str] = []
    for depth, level in enumerate(levels, start=1):
        term = level.strip().lower()
        if term not in TAXONOMY_TERMS:
            notes.append(
                f"taxonomy level {depth} {level!r} is not a Moodle term; sent as 'competency'"
            )
            term = "competency"
        terms.append(term)
    text = ",".join(terms)
    if len(text) > TAXONOMY_LIMIT:
        raise MappingError(f"the taxonomy list is longer than Moodle's {TAXONOMY_LIMIT} characters")
    return text, notes


def taxonomies_from_text(text: str) -> tuple[str, ...]:
    """Levels from Moodle's taxonomy text: a comma list, or a JSON object/array by level.

    A JSON object is keyed by level from 1 (``{"1": "domain", "2": "skill"}``); missing
    levels count as ``competency``, as Moodle does.
    """
    text = text.strip()
    if not text:
        return ()
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except ValueError:
            raise MappingError(f"taxonomy {text!r} is neither a comma list nor JSON") from None
        if isinstance(data, list):
            return tuple(str(item).strip() or "competency" for item in data)
        if isinstance(data, dict):
            try:
                by_level = {int(k): str(v).strip() for k, v in data.items()}
            except ValueError:
                raise MappingError(f"taxonomy {text!r}: JSON keys must be level numbers") from None
            if not by_level:
                return ()
            if min(by_level) < 1:
                raise MappingError(f"taxonomy {text!r}: levels start at 1")
            return tuple(by_level.get(i) or "competency" for i in range(1, max(by_level) + 1))
        raise MappingError(f"taxonomy {text!r} is neither a comma list nor a JSON object")
    return tuple(part.strip() or "competency" for part in text.split(","))


def competency_key(idnumber: str, moodle_id: int) -> str:
    """The core key of a Moodle competency: its idnumber, or ``moodle-<id>`` without one."""
    key = idnumber.strip()
    return key[:NAME_LIMIT].rstrip() if key else f"moodle-{moodle_id}"


# -- scales ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    """A parsed ``scaleconfiguration``: the scale it names, flags per 1-based item, and
    the core level keys of the items when the configuration carries them (``keys``: only
    comp-adapters writes them, one per item, see :func:`scale_configuration`)."""

    scale_id: int | None
    default: frozenset[int]
    proficient: frozenset[int]
    keys: tuple[str, ...] | None = None

    def default_item(self) -> int | None:
        """The item automatic completion gives: the first flagged default."""
        return min(self.default) if self.default else None


def parse_scale_configuration(text: str) -> ScaleConfig:
    """Read a ``scaleconfiguration`` JSON string (loose about the scaleid's type)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise MappingError(f"scale configuration is not JSON: {text[:80]!r}") from None
    if (
        not isinstance(data, list)
        or not data
        or not isinstance(data[0], dict)
        or "scaleid" not in data[0]
    ):
        raise MappingError("scale configuration must be a JSON array starting with {scaleid}")
    raw_id = data[0].get("scaleid")
    try:
        scale_id = int(raw_id) if raw_id not in (None, "") else None
    except (TypeError, ValueError):
        raise MappingError(f"scale configuration names scale {raw_id!r}") from None
    default: set[int] = set()
    proficient: set[int] = set()
    keys: dict[int, str] = {}
    for entry in data[1:]:
        if not isinstance(entry, dict) or "id" not in entry:
            raise MappingError("each scale configuration entry needs an id")
        try:
            item = int(entry["id"])
        except (TypeError, ValueError):
            raise MappingError(f"scale configuration item id {entry['id']!r}") from None
        if _flag(entry.get("scaledefault")):
            default.add(item)
        if _flag(entry.get("proficient")):
            proficient.add(item)
        key = entry.get(LEVEL_KEY)
        if isinstance(key, str) and key.strip():
            keys[item] = key
    return ScaleConfig(scale_id, frozenset(default), frozenset(proficient), _level_keys_of(keys))


def _level_keys_of(keys: Mapping[int, str]) -> tuple[str, ...] | None:
    """Level keys by item when every item 1..n has its own, distinct key; else ``None``."""
    ordered = tuple(keys.get(i, "") for i in range(1, len(keys) + 1))
    if not ordered or "" in ordered or len(set(ordered)) != len(ordered):
        return None
    return ordered


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() not in ("", "0", "false")
    return bool(value)


def scale_configuration(scale: ProficiencyScale, scale_id: int, *, with_keys: bool = False) -> str:
    """The ``scaleconfiguration`` Moodle stores for a core scale, every item listed.

    ``with_keys`` adds each level's core key to its entry (``"key"``). Moodle validates
    only ``scaleid``, ``scaledefault`` and ``proficient`` and keeps the rest of the JSON
    as it is (``competency_framework::validate_scaleconfiguration``), so the keys come
    back on pull: ratings read back then name the framework's own levels, and they mark
    the framework as pushed by comp-adapters (see the planner's adoption check).
    """
    entries: list[dict[str, Any]] = [{"scaleid": str(scale_id)}]
    for position, level in enumerate(scale.levels, start=1):
        entry: dict[str, Any] = {
            "id": position,
            "scaledefault": int(level.key == scale.default_level),
            "proficient": int(level.proficient),
        }
        if with_keys:
            entry[LEVEL_KEY] = level.key
        entries.append(entry)
    return json.dumps(entries, separators=(",", ":"), ensure_ascii=False)


def stored_or_computed_configuration(
    scale: ProficiencyScale, stored: Any, *, scale_id: int | None = None
) -> str:
    """The configuration text to write for ``scale``: ``stored`` (e.g. kept from a Moodle
    export in ``moodle.scaleconfiguration``) when it still says the same, else a fresh one.

    Reusing the stored text keeps files byte-identical with what Moodle exported.
    """
    if isinstance(stored, str):
        try:
            parsed = parse_scale_configuration(stored)
        except MappingError:
            parsed = None
        if parsed is not None:
            fresh = parse_scale_configuration(scale_configuration(scale, 0))
            if (
                parsed.default_item() == fresh.default_item()
                and parsed.proficient == fresh.proficient
            ):
                return stored
    hint = scale_id if scale_id is not None else scale_id_hint(scale)
    return scale_configuration(scale, hint if hint is not None else 0)


def same_scale_configuration(a: str | None, b: str | None) -> bool:
    """Whether two configurations mean the same: scale, default item, proficient items
    and level keys (a configuration without keys differs from one with them)."""
    if a is None or b is None:
        return a is b
    try:
        left, right = parse_scale_configuration(a), parse_scale_configuration(b)
    except MappingError:
        return a == b
    return (
        left.scale_id == right.scale_id
        and left.default_item() == right.default_item()
        and left.proficient == right.proficient
        and left.keys == right.keys
    )


def carries_level_keys(configuration: str | None) -> bool:
    """Whether a stored configuration holds comp-adapters' level keys for every item."""
    if not configuration:
        return False
    try:
        return parse_scale_configuration(configuration).keys is not None
    except MappingError:
        return False


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def scale_matches(scale: ProficiencyScale, items: Sequence[str]) -> bool:
    """Whether a Moodle scale's items are the core scale's level names, in order."""
    return len(items) == len(scale.levels) and all(
        _normal(level.name) == _normal(item)
        for level, item in zip(scale.levels, items, strict=True)
    )


def scale_mismatch(scale: ProficiencyScale, items: Sequence[str]) -> str:
    """Words for why a Moodle scale does not fit a core scale."""
    want = ", ".join(level.name for level in scale.levels)
    return f"the levels are [{want}] but the Moodle scale has [{', '.join(items)}]"


def level_keys(names: Sequence[str]) -> list[str]:
    """Keys for scale levels named by Moodle items: the name itself, made unique."""
    keys: list[str] = []
    for position, name in enumerate(names, start=1):
        key = " ".join(name.split())[:NAME_LIMIT].strip() or f"item-{position}"
        base, n = key, 2
        while key in keys:
            suffix = f" ({n})"
            key = base[: NAME_LIMIT - len(suffix)] + suffix
            n += 1
        keys.append(key)
    return keys


def scale_from_moodle(items: Sequence[str], config: ScaleConfig) -> dict[str, Any]:
    """A core scale (as data) from a Moodle scale's items and a configuration.

    Levels are worth their 1-based position in points. Moodle needs at least one default
    and one proficient item; a configuration without a default uses its first item.
    """
    if not items:
        raise MappingError("the Moodle scale has no items")
    unknown = sorted((config.default | config.proficient) - set(range(1, len(items) + 1)))
    if unknown:
        raise MappingError(f"the scale configuration names items {unknown} the scale lacks")
    if not config.proficient:
        raise MappingError("the scale configuration flags no item as proficient")
    keys = (
        list(config.keys)
        if config.keys is not None and len(config.keys) == len(items)
        else level_keys(items)
    )
    default = config.default_item() or 1
    data: dict[str, Any] = {
        "levels": [
            {
                "key": key,
                "name": name,
                "points": position,
                "proficient": position in config.proficient,
            }
            for position, (key, name) in enumerate(zip(keys, items, strict=True), start=1)
        ],
        "default_level": keys[default - 1],
    }
    if config.scale_id is not None:
        data["key"] = f"{SCALE_KEY_PREFIX}{config.scale_id}"
    return data


def scale_id_hint(scale: ProficiencyScale | None) -> int | None:
    """The Moodle scale id a core scale came from (key ``moodle-scale-<id>``), if any."""
    if scale is None or scale.key is None or not scale.key.startswith(SCALE_KEY_PREFIX):
        return None
    rest = scale.key.removeprefix(SCALE_KEY_PREFIX)
    return int(rest) if rest.isdigit() else None


# -- rules -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule in comparable form: type, outcome code, and points config by child key."""

    ruletype: str | None
    outcome: int
    base: int | None = None
    children: frozenset[tuple[str, int, bool]] = frozenset()

    @property
    def active(self) -> bool:
        return self.ruletype is not None and self.outcome != 0


def rule_spec(rule: RollupRule | None) -> RuleSpec | None:
    """The comparable form of a core rule (``None``: no rule)."""
    if rule is None:
        return None
    if rule.type == "all_children":
        return RuleSpec(RULE_ALL, COMPETENCY_OUTCOME[rule.outcome])
    return RuleSpec(
        RULE_POINTS,
        COMPETENCY_OUTCOME[rule.outcome],
        rule.base_points,
        frozenset((c.key, c.points, c.required) for c in rule.children),
    )


def points_config(base: int, children: Iterable[tuple[int, int, bool]]) -> str:
    """Moodle's points ``ruleconfig`` JSON from (child id, points, required) entries."""
    return json.dumps(
        {
            "base": {"points": base},
            "competencies": [
                {"id": cid, "points": points, "required": int(required)}
                for cid, points, required in children
            ],
        },
        separators=(",", ":"),
    )


def parse_points_config(text: str) -> tuple[int, list[tuple[str, int, bool]]]:
    """(base points, [(child id as text, points, required)]) of a points ``ruleconfig``."""
    try:
        data = json.loads(text)
        base = int(data["base"]["points"])
        children = [
            (str(entry["id"]), int(entry["points"]), _flag(entry.get("required")))
            for entry in data["competencies"]
        ]
    except (ValueError, KeyError, TypeError):
        raise MappingError(f"invalid points rule config {text[:80]!r}") from None
    return base, children


def remote_rule_spec(
    ruletype: str | None, outcome: int, config: str | None, key_of: Mapping[str, str]
) -> RuleSpec:
    """The comparable form of a rule as Moodle stores it; ``key_of`` maps child ids to keys.

    A child id ``key_of`` does not know keeps a ``#<id>`` key, so it never equals a wish.
    """
    if ruletype is None or not ruletype.strip():
        return RuleSpec(None, outcome)
    if ruletype == RULE_POINTS and config and config != "null":
        base, children = parse_points_config(config)
        return RuleSpec(
            ruletype,
            outcome,
            base,
            frozenset((key_of.get(cid, f"#{cid}"), points, req) for cid, points, req in children),
        )
    return RuleSpec(ruletype, outcome)


def same_rule(wanted: RuleSpec | None, remote: RuleSpec) -> bool:
    """Whether Moodle's rule already does what we want (a disabled rule equals none)."""
    if wanted is None:
        return not remote.active
    return wanted == remote


def rule_from_moodle(
    ruletype: str | None, outcome: int, config: str | None, key_of: Mapping[str, str]
) -> dict[str, Any] | None:
    """A core rule (as data) from Moodle's rule fields, or ``None`` when there is none."""
    if ruletype is None or not ruletype.strip():
        return None
    if ruletype == RULE_ALL:
        return {"type": "all_children", "outcome": competency_outcome(outcome).value}
    if ruletype == RULE_POINTS:
        if not config or config == "null":
            raise MappingError("a points rule without its config")
        base, children = parse_points_config(config)
        unknown = [cid for cid, _, _ in children if cid not in key_of]
        if unknown:
            raise MappingError(f"the points rule names unknown competencies {unknown}")
        return {
            "type": "points",
            "outcome": competency_outcome(outcome).value,
            "base_points": base,
            "children": [
                {"key": key_of[cid], "points": points, "required": req}
                for cid, points, req in children
            ],
        }
    raise MappingError(f"unknown rule type {ruletype!r}")


# -- relations and course links ----------------------------------------------------------


def related_pairs(framework: Framework) -> tuple[set[frozenset[str]], list[str]]:
    """The symmetric cross-references Moodle can hold, and notes on relations it cannot."""
    pairs: set[frozenset[str]] = set()
    skipped: dict[str, int] = {}
    for competency in framework.competencies:
        for relation in competency.related:
            if relation.key is None:
                skipped["a link outside the framework (uri)"] = (
                    skipped.get("a link outside the framework (uri)", 0) + 1
                )
            elif relation.type is not RelationType.RELATED:
                label = f"type {relation.type.value}"
                skipped[label] = skipped.get(label, 0) + 1
            elif relation.key != competency.key:
                pairs.add(frozenset((competency.key, relation.key)))
    notes = [
        f"{n} relation(s) of {what} not sent: Moodle holds only symmetric cross-references"
        for what, n in sorted(skipped.items())
    ]
    return pairs, notes


@dataclass(frozen=True, slots=True)
class CourseLink:
    """A competency to link to a course, with what course completion does to it."""

    course_id: int
    outcome: RuleOutcome = RuleOutcome.EVIDENCE


def course_links(competency: Competency) -> list[CourseLink]:
    """Course links a competency asks for in ``properties["moodle.courses"]``.

    Each entry is ``{"course": <id>, "outcome": "none|evidence|recommend|complete"}``
    (outcome defaults to ``evidence``, as Moodle's own default on linking).
    """
    raw = competency.properties.get(PROP_COURSES)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MappingError(f"competency {competency.key!r}: {PROP_COURSES} must be a list")
    links: list[CourseLink] = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("course"), int):
            raise MappingError(
                f"competency {competency.key!r}: each {PROP_COURSES} entry needs an integer "
                "'course'"
            )
        outcome = entry.get("outcome", RuleOutcome.EVIDENCE.value)
        course = entry["course"]
        if not isinstance(course, int):  # pragma: no cover - checked above, for mypy
            continue
        try:
            links.append(CourseLink(course, RuleOutcome(str(outcome))))
        except ValueError:
            raise MappingError(
                f"competency {competency.key!r}: unknown course outcome {outcome!r}"
            ) from None
    return links


# -- pull: Moodle records -> core framework ----------------------------------------------


def tree_order(competencies: Sequence[WireCompetency]) -> list[WireCompetency]:
    """Competencies parents first, siblings by ``sortorder`` (then id); orphans last."""
    by_parent: dict[int, list[WireCompetency]] = {}
    for competency in competencies:
        by_parent.setdefault(competency.parentid, []).append(competency)
    for siblings in by_parent.values():
        siblings.sort(key=lambda c: (c.sortorder, c.id))
    ordered: list[WireCompetency] = []
    seen: set[int] = set()
    stack = list(reversed(by_parent.get(0, [])))
    while stack:
        competency = stack.pop()
        if competency.id in seen:
            continue
        seen.add(competency.id)
        ordered.append(competency)
        stack.extend(reversed(by_parent.get(competency.id, [])))
    ordered.extend(c for c in competencies if c.id not in seen)
    return ordered


def framework_from_moodle(
    framework: WireFramework,
    competencies: Sequence[WireCompetency],
    *,
    scale_items: Mapping[int, Sequence[str]],
    related: Mapping[int, Iterable[int]] | None = None,
    source: str | None = None,
) -> Framework:
    """The core framework of Moodle records (what ``pull`` returns).

    ``scale_items`` holds the items of every scale used (framework and competencies);
    ``related`` maps a competency id to the ids it is cross-referenced with. Keys are
    idnumbers, ``external_ids["moodle"]`` the Moodle ids; sibling order is Moodle's.
    """
    ordered = tree_order(competencies)
    key_by_id = {c.id: competency_key(c.idnumber, c.id) for c in ordered}
    key_of = {str(cid): key for cid, key in key_by_id.items()}
    fw_format, fw_props = format_from_code(framework.descriptionformat)
    if not framework.visible:
        fw_props[PROP_VISIBLE] = False
    fw_props[PROP_SCALECONFIG] = framework.scaleconfiguration
    data: dict[str, Any] = {
        "key": competency_key(framework.idnumber, framework.id),
        "title": framework.shortname or framework.idnumber,
        "description": framework.description or None,
        "description_format": fw_format,
        "scale": _scale_data(framework.scaleid, framework.scaleconfiguration, scale_items),
        "taxonomy_levels": list(taxonomies_from_text(framework.taxonomies)),
        "external_ids": {EXTERNAL_ID: str(framework.id)},
        "properties": fw_props,
        "competencies": [],
    }
    for competency in ordered:
        fmt, props = format_from_code(competency.descriptionformat)
        item: dict[str, Any] = {
            "key": key_by_id[competency.id],
            "title": competency.shortname or competency.idnumber,
            "description": competency.description or None,
            "description_format": fmt,
            "parent": key_by_id.get(competency.parentid) if competency.parentid else None,
            "external_ids": {EXTERNAL_ID: str(competency.id)},
            "properties": props,
        }
        if competency.scaleid is not None:
            item["scale"] = _scale_data(
                competency.scaleid, competency.scaleconfiguration, scale_items
            )
            props[PROP_SCALECONFIG] = competency.scaleconfiguration
        rule = rule_from_moodle(
            competency.ruletype, competency.ruleoutcome, competency.ruleconfig, key_of
        )
        if rule is not None:
            item["rollup"] = rule
        if related is not None:
            others = sorted(
                key_by_id[other] for other in related.get(competency.id, ()) if other in key_by_id
            )
            if others:
                item["related"] = [{"type": "related", "key": other} for other in others]
        data["competencies"].append(item)
    return framework_from_data(data, source=source)


def level_keys_from_moodle(framework: Framework) -> bool:
    """Whether a pulled framework's level keys are the pushed framework's own: every scale
    it uses came with comp-adapters' keys (``moodle.scaleconfiguration`` properties), so
    Moodle's grades read back as those keys rather than as the scale item names."""
    configurations = [framework.properties.get(PROP_SCALECONFIG)] + [
        c.properties.get(PROP_SCALECONFIG) for c in framework.competencies if c.scale is not None
    ]
    return all(isinstance(text, str) and carries_level_keys(text) for text in configurations)


def _scale_data(
    scale_id: int, configuration: str | None, scale_items: Mapping[int, Sequence[str]]
) -> dict[str, Any]:
    if scale_id not in scale_items:
        raise MappingError(f"the items of scale {scale_id} were not read")
    if not configuration:
        raise MappingError(f"scale {scale_id} is used without a scale configuration")
    config = parse_scale_configuration(configuration)
    return scale_from_moodle(
        scale_items[scale_id],
        ScaleConfig(scale_id, config.default, config.proficient, config.keys),
    )


# -- ratings and evidence ----------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>")


def rating_note(explanation: str, limit: int = 1000) -> str:
    """A grading note from an explanation that Moodle's ``PARAM_NOTAGS`` keeps as it is
    (Moodle refuses a note its cleaning would change): tags removed, and a ``<`` that
    would start one gets a space after it (``a<3`` -> ``a< 3``)."""
    text = " ".join(_TAG.sub(" ", explanation).split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return note_text(text)


def grade_for_level(scale: ProficiencyScale, level: str) -> int:
    """Moodle's grade (1-based item) for a level key of the scale."""
    try:
        return scale.index_of(level)
    except KeyError:
        raise MappingError(
            f"level {level!r} is not in scale {scale.key or scale.name or ''}"
        ) from None


EVIDENCE_ACTIONS: Mapping[int, str] = {0: "log", 2: "complete", 3: "override"}


def evidence_from_moodle(
    record: WireEvidence,
    *,
    learner: str,
    competency: str,
    scale: ProficiencyScale,
    site: str,
) -> Evidence | None:
    """Core evidence (kind ``lms_rating``) of a Moodle evidence record that carries a grade.

    Log-only records (no grade) give ``None``. The id is stable per site and record, so a
    re-read de-duplicates.
    """
    if record.grade is None:
        return None
    if not 1 <= record.grade <= len(scale.levels):
        raise MappingError(
            f"evidence {record.id} has grade {record.grade}, outside the scale of {competency!r}"
        )
    level = scale.levels[record.grade - 1]
    action = EVIDENCE_ACTIONS.get(record.action, str(record.action))
    note = record.note or record.description or record.descidentifier or None
    observed = datetime.fromtimestamp(record.timecreated, tz=UTC)
    modified = record.timemodified if record.timemodified is not None else record.timecreated
    return Evidence(
        id=f"moodle:{site}:evidence:{record.id}",
        learner=learner,
        competency=competency,
        kind=EvidenceKind.LMS_RATING,
        level=level.key,
        observed_at=observed,
        recorded_at=datetime.fromtimestamp(max(modified, record.timecreated), tz=UTC),
        source_system="moodle",
        source_id=f"{action}:{record.id}",
        note=note,
    )
