"""Every pure diff of the Moodle adapter: desired state + remote snapshot + options -> Plan.

* :func:`plan_framework` (``Framework``, :class:`RemoteFramework`, :class:`PushOptions`):
  the changes that make Moodle hold a framework, scales bound to the site's scales;
* :func:`plan_ratings` (:class:`DesiredRatings`, :class:`RatingSnapshot`,
  :class:`~comp_adapters.moodle.rating_planner.RatingOptions`): the ratings that make
  Moodle show computed proficiency (the rules are in :mod:`~comp_adapters.moodle.rating_planner`).

What must be read depends on what is wanted, so each has a pure first step naming the
reads: :func:`scale_candidates` (the scales whose items binding compares) and
:func:`ratings_to_read` (the current ratings). No I/O, no client, no clock here: the
adapter reads the snapshot and the executor carries the plan out.

The framework push, in detail:

Order of the plan, and why:

1. the framework (create or update);
2. clean-up of temporary children a crashed rule reset left behind (always deleted);
3. competency creates, **level by level** (parents before children; consecutive creates of
   one level go out in one batch);
4. updates of existing competencies, then moves (``set_parent_competency``) in hierarchy
   order, then deletes (only with ``prune``; a delete takes the whole subtree);
5. rules, **after every create and move**: creating a child (and moving or deleting one)
   resets the parent's rule in Moodle, so a rule is (re)written whenever its competency is
   new or one of its children changes, even if it looked right before; points configs name
   children by Moodle id, resolved when applying;
6. cross-references; 7. course links and their outcomes.

Only fields that differ are written; values are compared as Moodle means them (a scale
configuration by its flags and level keys, a rule by its type, outcome and children, a
disabled rule equals no rule), so an apply followed by a new plan gives an empty plan.

Texts are mapped first (:mod:`comp_adapters.moodle.text`) to what Moodle stores unchanged,
and compared after that mapping; a text that cannot be mapped makes planning fail before
anything is written. An update also sends ``descriptionformat``, whatever it changes:
Moodle resets an omitted format to HTML (the update structure gives it a default,
``core\\external\\exporter::get_update_structure``; recordings 42, 43).

A framework that exists in Moodle but was not made from ours (see :func:`made_from_ours`)
is refused unless the target allows adopting it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from comp_adapters.core.framework import Competency, Framework, RuleOutcome
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.errors import MappingError, PlanError
from comp_adapters.moodle.mapping import (
    COURSE_OUTCOME,
    PROP_VISIBLE,
    CourseLink,
    RuleSpec,
    carries_level_keys,
    competency_key,
    course_links,
    format_code,
    moodle_taxonomies,
    related_pairs,
    remote_rule_spec,
    rule_spec,
    same_rule,
    same_scale_configuration,
    scale_configuration,
    scale_id_hint,
    scale_matches,
    scale_mismatch,
    taxonomies_from_text,
)
from comp_adapters.moodle.rating_planner import (
    Pair,
    RatingOptions,
    RatingPlanner,
    RatingSite,
)
from comp_adapters.moodle.text import (
    DescriptionChange,
    MappedDescription,
    MappedName,
    NameChange,
    moodle_description,
    moodle_name,
)
from comp_adapters.moodle.wire import (
    RULE_ALL,
    RULE_POINTS,
    ContextRef,
    CourseCompetency,
    FrameworkCreate,
    WireCompetency,
    WireFramework,
)
from comp_adapters.sync.plan import Action, Change, Plan

RESET_PREFIX = "comp-adapters-rule-reset-"
"""Idnumber prefix of the temporary child used to clear a rule (see :func:`plan_push`)."""

ADAPTER = "moodle"


@dataclass(frozen=True, slots=True)
class ScaleBinding:
    """The Moodle scale a core scale maps to, and the configuration to store with it."""

    scale_id: int
    configuration: str


@dataclass(frozen=True, slots=True)
class RemoteFramework:
    """What the site holds for one framework, as read before planning (the snapshot).

    ``related`` maps competency ids to the ids they are cross-referenced with, for the
    competencies whose relations were read; ``course_links`` holds the links of the
    courses read; ``frameworks`` the site's frameworks (their scales are candidates) and
    ``scale_items`` the items of the scales :func:`scale_candidates` named.
    """

    framework: WireFramework | None
    competencies: tuple[WireCompetency, ...] = ()
    related: Mapping[int, frozenset[int]] = field(default_factory=dict)
    course_links: Mapping[int, tuple[CourseCompetency, ...]] = field(default_factory=dict)
    frameworks: tuple[WireFramework, ...] = ()
    scale_items: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where and how to push: scales resolved against the site, context, links, prune,
    and whether a framework not made from ours may be taken over (``adopt``)."""

    framework_scale: ScaleBinding
    competency_scales: Mapping[str, ScaleBinding] = field(default_factory=dict)
    context: ContextRef = field(default_factory=ContextRef)
    course_links: Mapping[str, Sequence[CourseLink]] = field(default_factory=dict)
    prune: bool = False
    adopt: bool = False


class ForeignFrameworkError(PlanError):
    """The framework's idnumber is taken in Moodle by a framework not made from ours."""


def made_from_ours(framework: Framework, remote: RemoteFramework) -> bool:
    """Whether the remote framework (same idnumber) was made from ``framework``.

    Moodle has no field for our own bookkeeping, and the id-mapping store is not there
    yet, so this is read from the site: a framework comp-adapters pushed carries the core
    level keys in its scale configuration
    (:func:`~comp_adapters.moodle.mapping.scale_configuration`), which nothing else
    writes. Without them (pushed by an older version, or the scale edited in Moodle's
    form) it counts as ours when more than half of its competencies have idnumbers that
    are keys of ``framework``. An empty framework without the keys is not ours: someone
    made it by hand.
    """
    if remote.framework is None or carries_level_keys(remote.framework.scaleconfiguration):
        return True
    ours = {c.key for c in framework.competencies}
    theirs = [
        competency_key(w.idnumber, w.id)
        for w in remote.competencies
        if not w.idnumber.startswith(RESET_PREFIX)
    ]
    return bool(theirs) and 2 * sum(key in ours for key in theirs) > len(theirs)


def framework_change_id(key: str) -> str:
    return f"framework:{key}"


def create_change_id(key: str) -> str:
    return f"competency:{key}"


def _normal_taxonomies(text: str) -> tuple[str, ...]:
    """Taxonomies as Moodle means them: lower case, trailing default levels dropped."""
    terms = [t.lower() for t in taxonomies_from_text(text)]
    while terms and terms[-1] == "competency":
        terms.pop()
    return tuple(terms)


class _Planner:
    def __init__(self, framework: Framework, remote: RemoteFramework, target: PushTarget) -> None:
        self.fw = framework.canonical()
        self.remote = remote
        self.target = target
        self.changes: list[Change] = []
        self.notes: list[str] = []
        self.walk = list(self.fw.walk())
        self.position = {c.key: i for i, c in enumerate(self.walk)}
        self.remote_by_key: dict[str, WireCompetency] = {}
        self.leftovers: list[WireCompetency] = []
        for wire in remote.competencies:
            if wire.idnumber.startswith(RESET_PREFIX):
                self.leftovers.append(wire)
            else:
                self.remote_by_key[competency_key(wire.idnumber, wire.id)] = wire
        self.key_by_id = {w.id: k for k, w in self.remote_by_key.items()}
        self.new_keys = {c.key for c in self.walk if c.key not in self.remote_by_key}
        self.rules_reset: set[str] = set()
        self.framework_new = remote.framework is None
        self.final_format: dict[str, int] = {}
        """Description format each competency holds after the plan (rules re-send it)."""
        self.names: dict[str, MappedName] = {}
        self.descriptions: dict[str, MappedDescription] = {}
        self.fw_name = moodle_name(self.fw.title)
        self.fw_description = moodle_description(
            self.fw.description, format_code(self.fw.description_format, self.fw.properties)
        )
        self._map_texts()

    # -- 0. texts -------------------------------------------------------------------------

    def _map_texts(self) -> None:
        """Map every text to what Moodle keeps unchanged; refuse what cannot be sent."""
        problems: list[str] = []
        if self.fw_description.problems:
            problems.append(
                f"framework {self.fw.key!r}, description: "
                + "; ".join(self.fw_description.problems)
            )
        names: Counter[NameChange] = Counter(self.fw_name.changes)
        descriptions: Counter[DescriptionChange] = Counter(self.fw_description.changes)
        for competency in self.walk:
            name = moodle_name(competency.title)
            description = moodle_description(
                competency.description,
                format_code(competency.description_format, competency.properties),
            )
            self.names[competency.key] = name
            self.descriptions[competency.key] = description
            names.update(name.changes)
            descriptions.update(description.changes)
            if description.problems:
                problems.append(
                    f"competency {competency.key!r}, description: "
                    + "; ".join(description.problems)
                )
        if problems:
            shown = "\n  ".join(problems[:20])
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise MappingError(
                f"moodle: {len(problems)} text(s) of framework {self.fw.key!r} cannot be sent "
                f"so that Moodle keeps them as they are; nothing was written. Change them "
                f"in the framework:\n  {shown}{more}"
            )
        self.notes.extend(
            note.format(n=names[kind]) for kind, note in _NAME_NOTES.items() if names[kind]
        )
        self.notes.extend(
            note.format(n=descriptions[kind])
            for kind, note in _DESCRIPTION_NOTES.items()
            if descriptions[kind]
        )

    # -- helpers --------------------------------------------------------------------------

    def add(self, change: Change) -> None:
        self.changes.append(change)

    def known_id(self, key: str | None) -> int | None:
        if key is None:
            return None
        wire = self.remote_by_key.get(key)
        return wire.id if wire is not None else None

    def depends(self, *keys: str | None) -> tuple[str, ...]:
        found = [create_change_id(k) for k in keys if k is not None and k in self.new_keys]
        if self.framework_new:
            found.insert(0, framework_change_id(self.fw.key))
        return tuple(dict.fromkeys(found))

    def remote_parent_key(self, wire: WireCompetency) -> str | None:
        if wire.parentid == 0:
            return None
        return self.key_by_id.get(wire.parentid, f"#{wire.parentid}")

    # -- 1. framework ---------------------------------------------------------------------

    def framework(self) -> None:
        fw = self.fw
        taxonomies, notes = moodle_taxonomies(fw.taxonomy_levels)
        self.notes.extend(notes)
        scale = self.target.framework_scale
        description = self.fw_description.text
        visible = fw.properties.get(PROP_VISIBLE)
        wanted: dict[str, JsonValue] = {
            "shortname": self.fw_name.text,
            "description": description,
            "descriptionformat": self.fw_description.format,
            "scaleid": scale.scale_id,
            "scaleconfiguration": scale.configuration,
            "taxonomies": taxonomies,
        }
        if isinstance(visible, bool):
            wanted["visible"] = visible
        remote = self.remote.framework
        if remote is None:
            create = FrameworkCreate(
                idnumber=fw.key,
                shortname=self.fw_name.text,
                description=description or None,
                descriptionformat=self.fw_description.format,
                visible=visible if isinstance(visible, bool) else None,
                scaleid=scale.scale_id,
                scaleconfiguration=scale.configuration,
                contextlevel=self.target.context.contextlevel,
                instanceid=self.target.context.instanceid,
                taxonomies=taxonomies or None,
            )
            self.add(
                Change(
                    id=framework_change_id(fw.key),
                    action=Action.CREATE,
                    kind="framework",
                    key=fw.key,
                    fields=create.to_params(),
                )
            )
            return
        have: dict[str, JsonValue] = {
            "shortname": remote.shortname,
            "description": remote.description,
            "descriptionformat": remote.descriptionformat,
            "scaleid": remote.scaleid,
            "scaleconfiguration": remote.scaleconfiguration,
            "taxonomies": remote.taxonomies,
            "visible": remote.visible,
        }
        differ = [
            name
            for name in wanted
            if not self._same_framework_field(name, wanted[name], have[name], description)
        ]
        self._check_adoption(remote, differ, wanted, have)
        if not differ:
            self.add(
                Change(
                    id=framework_change_id(fw.key),
                    action=Action.NOOP,
                    kind="framework",
                    key=fw.key,
                    reason="already up to date",
                )
            )
        if differ:
            fields: dict[str, JsonValue] = {"id": remote.id, **{n: wanted[n] for n in differ}}
            # Moodle resets an omitted format to HTML (recordings 42, 43): always send it.
            fields.setdefault(
                "descriptionformat",
                self.fw_description.format if description else remote.descriptionformat,
            )
            self.add(
                Change(
                    id=framework_change_id(fw.key),
                    action=Action.UPDATE,
                    kind="framework",
                    key=fw.key,
                    fields=fields,
                    before={n: have[n] for n in differ},
                )
            )

    def _check_adoption(
        self,
        remote: WireFramework,
        differ: Sequence[str],
        wanted: Mapping[str, JsonValue],
        have: Mapping[str, JsonValue],
    ) -> None:
        """Refuse (or, with ``adopt``, note) taking over a framework not made from ours."""
        if made_from_ours(self.fw, self.remote):
            return
        ours = set(self.position)
        theirs = sorted(self.remote_by_key)
        foreign = [key for key in theirs if key not in ours]
        missing = [key for key in self.position if key not in self.remote_by_key]
        lines = [
            f"{name}: {_brief(have.get(name))} -> {_brief(wanted[name])}"
            for name in differ
            if name != "scaleconfiguration"
        ]
        if "scaleconfiguration" in differ and "scaleid" not in differ:
            lines.append("scale configuration (default or proficient levels) differs")
        lines.append(
            f"{len(theirs) - len(foreign)} of its {len(theirs)} competencies are in the framework"
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            lines.append(f"{len(foreign)} competencies in Moodle are not ours ({shown})")
        if missing:
            lines.append(f"{len(missing)} competencies of the framework would be created")
        what = (
            f"framework {self.fw.key!r} (Moodle id {remote.id}) was not made from this "
            "framework: its scale configuration carries no comp-adapters level keys and most "
            "of its competencies are not ours"
        )
        if self.target.adopt:
            self.notes.append(f"adopting {what}; " + "; ".join(lines))
            return
        raise ForeignFrameworkError(
            f"moodle: {what}. Pushing would take it over:\n  "
            + "\n  ".join(lines)
            + "\nGive --adopt (adopt=True) to take it over anyway, or push under another key."
        )

    @staticmethod
    def _same_framework_field(
        name: str, want: JsonValue, have: JsonValue, description: str
    ) -> bool:
        if name == "descriptionformat" and not description:
            return True
        if name == "scaleconfiguration":
            return same_scale_configuration(str(want), str(have))
        if name == "taxonomies":
            return _normal_taxonomies(str(want)) == _normal_taxonomies(str(have))
        return want == have

    # -- 2. clean-up ----------------------------------------------------------------------

    def cleanup(self) -> None:
        for wire in self.leftovers:
            parent = self.remote_parent_key(wire)
            if parent is not None:
                self.rules_reset.add(parent)
            self.add(
                Change(
                    id=f"cleanup:{wire.id}",
                    action=Action.DELETE,
                    kind="competency",
                    key=wire.idnumber,
                    fields={"id": wire.id},
                    reason="temporary child left by an interrupted rule reset",
                )
            )

    # -- 3./4. competencies ---------------------------------------------------------------

    def competency_fields(self, competency: Competency) -> dict[str, JsonValue]:
        description = self.descriptions[competency.key]
        fields: dict[str, JsonValue] = {
            "shortname": self.names[competency.key].text,
            "description": description.text,
            "descriptionformat": description.format,
        }
        binding = self.target.competency_scales.get(competency.key)
        if binding is not None:
            fields["scaleid"] = binding.scale_id
            fields["scaleconfiguration"] = binding.configuration
        return fields

    def creates(self) -> None:
        new = [c for c in self.walk if c.key in self.new_keys]
        new.sort(key=lambda c: (self.fw.depth(c.key), self.position[c.key]))
        frameworkid = self.remote.framework.id if self.remote.framework else None
        for competency in new:
            wanted = self.competency_fields(competency)
            fields: dict[str, JsonValue] = {
                "idnumber": competency.key,
                "shortname": wanted["shortname"],
                "framework": self.fw.key,
                "frameworkid": frameworkid,
                "parent": competency.parent,
                "parentid": self.known_id(competency.parent),
            }
            if wanted["description"]:
                fields["description"] = wanted["description"]
            fields["descriptionformat"] = wanted["descriptionformat"]
            self.final_format[competency.key] = _int(wanted["descriptionformat"])
            if "scaleid" in wanted:
                fields["scaleid"] = wanted["scaleid"]
                fields["scaleconfiguration"] = wanted["scaleconfiguration"]
            if competency.parent is not None:
                self.rules_reset.add(competency.parent)
            self.add(
                Change(
                    id=create_change_id(competency.key),
                    action=Action.CREATE,
                    kind="competency",
                    key=competency.key,
                    fields=fields,
                    depends_on=self.depends(competency.parent),
                )
            )

    def updates(self) -> None:
        for competency in self.walk:
            wire = self.remote_by_key.get(competency.key)
            if wire is None:
                continue
            wanted = self.competency_fields(competency)
            have: dict[str, JsonValue] = {
                "shortname": wire.shortname,
                "description": wire.description,
                "descriptionformat": wire.descriptionformat,
                "scaleid": wire.scaleid,
                "scaleconfiguration": wire.scaleconfiguration,
            }
            differ = [n for n in ("shortname", "description") if wanted[n] != have[n]]
            if wanted["description"] and wanted["descriptionformat"] != have["descriptionformat"]:
                differ.append("descriptionformat")
            if "scaleid" in wanted:
                if wanted["scaleid"] != have["scaleid"] or not same_scale_configuration(
                    str(wanted["scaleconfiguration"]), wire.scaleconfiguration
                ):
                    differ.extend(["scaleid", "scaleconfiguration"])
            elif wire.scaleid is not None:
                self.add(
                    Change(
                        id=f"scale:{competency.key}",
                        action=Action.NOOP,
                        kind="competency",
                        key=competency.key,
                        reason=(
                            f"keeps its own Moodle scale {wire.scaleid}: Moodle's REST API cannot "
                            "set it back to the framework's scale"
                        ),
                    )
                )
            final = (
                _int(wanted["descriptionformat"])
                if wanted["description"]
                else wire.descriptionformat
            )
            self.final_format[competency.key] = final
            if differ:
                fields = {"id": wire.id, **{n: wanted[n] for n in differ}}
                # Moodle resets an omitted format to HTML (recordings 42, 43): always send it.
                fields.setdefault("descriptionformat", final)
                self.add(
                    Change(
                        id=f"update:{competency.key}",
                        action=Action.UPDATE,
                        kind="competency",
                        key=competency.key,
                        fields=fields,
                        before={n: have[n] for n in differ},
                    )
                )

    def moves(self) -> None:
        for competency in self.walk:
            wire = self.remote_by_key.get(competency.key)
            if wire is None:
                continue
            old = self.remote_parent_key(wire)
            if old == competency.parent:
                continue
            if old is not None:
                self.rules_reset.add(old)
            if competency.parent is not None:
                self.rules_reset.add(competency.parent)
            self.add(
                Change(
                    id=f"parent:{competency.key}",
                    action=Action.UPDATE,
                    kind="competency parent",
                    key=competency.key,
                    fields={
                        "id": wire.id,
                        "parent": competency.parent,
                        "parentid": self.known_id(competency.parent),
                    },
                    before={"parent": old},
                    depends_on=self.depends(competency.parent),
                )
            )

    def deletes(self) -> None:
        unwanted = [wire for key, wire in self.remote_by_key.items() if key not in self.position]
        if not unwanted:
            return
        if not self.target.prune:
            self.notes.append(
                f"{len(unwanted)} competencies in Moodle are not in the framework; kept "
                "(prune deletes them)"
            )
            return
        unwanted_ids = {w.id for w in unwanted}
        order = {w.id: i for i, w in enumerate(self.remote.competencies)}
        for wire in sorted(unwanted, key=lambda w: (w.path.count("/"), order[w.id])):
            if wire.parentid in unwanted_ids:
                continue  # goes with its parent's subtree
            parent = self.remote_parent_key(wire)
            if parent is not None:
                self.rules_reset.add(parent)
            self.add(
                Change(
                    id=f"delete:{wire.id}",
                    action=Action.DELETE,
                    kind="competency",
                    key=competency_key(wire.idnumber, wire.id),
                    fields={"id": wire.id},
                    reason="not in the framework (prune); deletes its subtree",
                )
            )

    # -- 5. rules -------------------------------------------------------------------------

    def rule_fields(self, key: str, **extra: JsonValue) -> dict[str, JsonValue]:
        """A rule write's fields, with the description format to keep (Moodle resets an
        omitted one to HTML, recordings 42, 43)."""
        return {
            "competency": key,
            "id": self.known_id(key),
            "descriptionformat": self.final_format.get(key),
            **extra,
        }

    def rules(self) -> None:
        key_of = {str(wid): key for wid, key in self.key_by_id.items()}
        for competency in self.walk:
            wanted = rule_spec(competency.rollup)
            wire = self.remote_by_key.get(competency.key)
            if wire is None or competency.key in self.rules_reset:
                remote = RuleSpec(None, 0)
            else:
                remote = remote_rule_spec(wire.ruletype, wire.ruleoutcome, wire.ruleconfig, key_of)
            if same_rule(wanted, remote):
                continue
            depends = list(self.depends(competency.key))
            if wanted is None:
                self.add(
                    Change(
                        id=f"rule:{competency.key}",
                        action=Action.UPDATE,
                        kind="rule",
                        key=competency.key,
                        fields=self.rule_fields(competency.key, ruleoutcome=0),
                        before={"ruletype": remote.ruletype, "ruleoutcome": remote.outcome},
                        reason="Moodle cannot remove a rule over REST: outcome 0 disables it",
                        depends_on=tuple(dict.fromkeys(depends)),
                    )
                )
                continue
            if wanted.ruletype == RULE_ALL and remote.ruletype == RULE_POINTS:
                self.add(
                    Change(
                        id=f"reset:{competency.key}",
                        action=Action.DELETE,
                        kind="rule",
                        key=competency.key,
                        fields=self.rule_fields(
                            competency.key,
                            frameworkid=wire.competencyframeworkid if wire else None,
                        ),
                        reason=(
                            "Moodle keeps a points config that an all-children rule refuses; "
                            "creating and deleting a temporary child clears it"
                        ),
                        depends_on=tuple(dict.fromkeys(depends)),
                    )
                )
                depends.append(f"reset:{competency.key}")
            fields = self.rule_fields(
                competency.key, ruletype=wanted.ruletype, ruleoutcome=wanted.outcome
            )
            rule = competency.rollup
            if rule is not None and rule.type == "points":
                fields["base"] = rule.base_points
                fields["children"] = [
                    {
                        "key": child.key,
                        "id": self.known_id(child.key),
                        "points": child.points,
                        "required": child.required,
                    }
                    for child in rule.children
                ]
                depends.extend(self.depends(*(child.key for child in rule.children)))
            self.add(
                Change(
                    id=f"rule:{competency.key}",
                    action=Action.UPDATE if wire is not None else Action.CREATE,
                    kind="rule",
                    key=competency.key,
                    fields=fields,
                    before=(
                        {"ruletype": remote.ruletype, "ruleoutcome": remote.outcome}
                        if wire is not None
                        else {}
                    ),
                    depends_on=tuple(dict.fromkeys(depends)),
                )
            )

    # -- 6. related -----------------------------------------------------------------------

    def related(self) -> None:
        wanted, notes = related_pairs(self.fw)
        self.notes.extend(notes)
        have: set[frozenset[str]] = set()
        for cid, others in self.remote.related.items():
            for other in others:
                a, b = self.key_by_id.get(cid), self.key_by_id.get(other)
                if a is not None and b is not None and a != b:
                    have.add(frozenset((a, b)))
        for pair in sorted(wanted - have, key=sorted):
            self.add(self._pair_change(pair, link=True))
        if self.target.prune:
            for pair in sorted(have - wanted, key=sorted):
                self.add(self._pair_change(pair, link=False))

    def _pair_change(self, pair: frozenset[str], *, link: bool) -> Change:
        a, b = sorted(pair)
        return Change(
            id=f"{'related' if link else 'unrelated'}:{a}|{b}",
            action=Action.LINK if link else Action.UNLINK,
            kind="related",
            key=f"{a} <-> {b}",
            fields={"a": a, "a_id": self.known_id(a), "b": b, "b_id": self.known_id(b)},
            reason=None if link else "not in the framework (prune)",
            depends_on=self.depends(a, b) if link else (),
        )

    # -- 7. course links ------------------------------------------------------------------

    def courses(self) -> None:
        wanted: dict[tuple[int, str], int] = {}
        for key, links in self.target.course_links.items():
            if key not in self.position:
                raise MappingError(f"a course link names {key!r}, which is not in the framework")
            for link in links:
                wanted[(link.course_id, key)] = COURSE_OUTCOME[link.outcome]
        if wanted and self.fw.properties.get(PROP_VISIBLE) is False:
            raise MappingError(
                "Moodle refuses course links to competencies of a hidden framework "
                f"({PROP_VISIBLE} is false)"
            )
        have: dict[tuple[int, str], CourseCompetency] = {}
        for course_id, records in self.remote.course_links.items():
            for record in records:
                linked = self.key_by_id.get(record.competencyid)
                if linked is not None:
                    have[(course_id, linked)] = record
        for (course_id, key), outcome in sorted(wanted.items()):
            existing = have.get((course_id, key))
            if existing is None:
                link_change = f"course:{course_id}:{key}"
                self.add(
                    Change(
                        id=link_change,
                        action=Action.LINK,
                        kind="course link",
                        key=f"course {course_id} <- {key}",
                        fields={
                            "courseid": course_id,
                            "competency": key,
                            "competencyid": self.known_id(key),
                        },
                        depends_on=self.depends(key),
                    )
                )
                if outcome != COURSE_OUTCOME[RuleOutcome.EVIDENCE]:
                    self._course_outcome(course_id, key, None, outcome, None, (link_change,))
            elif existing.ruleoutcome != outcome:
                self._course_outcome(course_id, key, existing.id, outcome, existing.ruleoutcome, ())
        if self.target.prune:
            for (course_id, key), record in sorted(have.items()):
                if (course_id, key) not in wanted:
                    self.add(
                        Change(
                            id=f"uncourse:{course_id}:{key}",
                            action=Action.UNLINK,
                            kind="course link",
                            key=f"course {course_id} <- {key}",
                            fields={
                                "courseid": course_id,
                                "competency": key,
                                "competencyid": record.competencyid,
                            },
                            reason="not in the framework's course links (prune)",
                        )
                    )

    def _course_outcome(
        self,
        course_id: int,
        key: str,
        link_id: int | None,
        outcome: int,
        old: int | None,
        depends: tuple[str, ...],
    ) -> None:
        self.add(
            Change(
                id=f"outcome:{course_id}:{key}",
                action=Action.UPDATE,
                kind="course outcome",
                key=f"course {course_id} <- {key}",
                fields={
                    "courseid": course_id,
                    "competency": key,
                    "competencyid": self.known_id(key),
                    "linkid": link_id,
                    "ruleoutcome": outcome,
                },
                before={"ruleoutcome": old} if old is not None else {},
                reason="course numbering: 0 none, 1 evidence, 2 recommend, 3 complete",
                depends_on=depends,
            )
        )

    def plan(self, *, target: str) -> Plan:
        self.framework()
        self.cleanup()
        self.creates()
        self.updates()
        self.moves()
        self.deletes()
        self.rules()
        self.related()
        self.courses()
        own_terms = sum(1 for c in self.walk if c.taxonomy is not None)
        if own_terms:
            self.notes.append(
                f"{own_terms} competency taxonomy term(s) not sent: Moodle sets terms per level"
            )
        return Plan(
            adapter=ADAPTER, target=target, changes=tuple(self.changes), notes=tuple(self.notes)
        )


_NAME_NOTES: Mapping[NameChange, str] = {
    "tags": "{n} title(s) hold HTML tags, which Moodle refuses in short names: sent as text "
    "(superscripts and subscripts as Unicode characters where they exist, else ^ and _)",
    "less-than": "{n} title(s) hold a '<' Moodle would strip as the start of a tag: sent as "
    "'&lt;', which Moodle shows as '<'",
    "invisible": "{n} title(s) hold NUL, U+FFFE or U+FFFF, which Moodle refuses: left out",
    "cut": "{n} title(s) cut to Moodle's 100 characters",
}
_DESCRIPTION_NOTES: Mapping[DescriptionChange, str] = {
    "trimmed": "{n} description(s) trimmed of surrounding white space (Moodle refuses it)",
    "plain as html": "{n} plain-text description(s) hold &, < or >, which Moodle refuses as "
    "plain text: sent as HTML that shows the same text",
    "markdown escaped": "{n} markdown description(s): bare &, < and > sent as entities "
    "(markdown shows them as the characters)",
    "html rewritten": "{n} HTML description(s) written the way Moodle's HTML cleaner writes "
    "them (entities, closed elements, <br />)",
}


def _int(value: JsonValue) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a number, found {value!r}")
    return value


def _brief(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plan_push(
    framework: Framework, remote: RemoteFramework, target: PushTarget, *, where: str
) -> Plan:
    """The plan that makes ``remote`` hold ``framework`` (see the module docstring)."""
    return _Planner(framework, remote, target).plan(target=where)


def related_endpoints(framework: Framework) -> set[str]:
    """Keys of competencies whose cross-references a plan must know (both ends of a pair)."""
    pairs, _ = related_pairs(framework)
    return {key for pair in pairs for key in pair}


def course_links_of(
    framework: Framework, overrides: Mapping[str, Sequence[CourseLink]] | None = None
) -> dict[str, list[CourseLink]]:
    """Course links per competency: ``overrides`` where given, else each competency's
    ``moodle.courses`` property."""
    links: dict[str, list[CourseLink]] = {}
    for competency in framework.competencies:
        found = (
            list(overrides[competency.key])
            if overrides and competency.key in overrides
            else course_links(competency)
        )
        if found:
            links[competency.key] = found
    if overrides:
        for key, items in overrides.items():
            if key not in framework:
                raise MappingError(f"a course link names {key!r}, which is not in the framework")
            links.setdefault(key, list(items))
    return links


# -- the framework push: entry --------------------------------------------------------------

DEFAULT_SCALE_ID = 2
"""Moodle's "Default competence scale" on a fresh install (verified by its items)."""


@dataclass(frozen=True, slots=True)
class PushOptions:
    """How to push: the configured scale (``scale_id``), the context a new framework goes
    in, course links per competency (:func:`course_links_of`), ``prune``, ``adopt``, and
    the plan's ``target`` line."""

    target: str
    scale_id: int | None = None
    context: ContextRef = field(default_factory=ContextRef)
    course_links: Mapping[str, Sequence[CourseLink]] = field(default_factory=dict)
    prune: bool = False
    adopt: bool = False


def _wanted_scales(
    framework: Framework, snapshot: RemoteFramework
) -> list[tuple[str, ProficiencyScale, int | None]]:
    """(what, core scale, Moodle scale it uses now) for the framework and each competency
    with its own scale."""
    remote_by_key = {competency_key(c.idnumber, c.id): c for c in snapshot.competencies}
    current = snapshot.framework.scaleid if snapshot.framework is not None else None
    wanted: list[tuple[str, ProficiencyScale, int | None]] = [
        ("the framework scale", framework.scale, current)
    ]
    for competency in framework.competencies:
        if competency.scale is not None:
            wire = remote_by_key.get(competency.key)
            wanted.append(
                (
                    f"the scale of {competency.key!r}",
                    competency.scale,
                    wire.scaleid if wire is not None else None,
                )
            )
    return wanted


def scale_candidates(
    desired: Framework, snapshot: RemoteFramework, options: PushOptions
) -> list[int]:
    """The Moodle scales a core scale may map to, in order of preference: the configured
    one, the ones in use, those named by the core scales' keys (``moodle-scale-<id>``),
    those of the site's other frameworks and competencies, and Moodle's default."""
    wanted = _wanted_scales(desired.canonical(), snapshot)
    candidates: list[int] = []
    if options.scale_id is not None:
        candidates.append(options.scale_id)
    candidates.extend(current for _, _, current in wanted if current is not None)
    candidates.extend(h for _, s, _ in wanted if (h := scale_id_hint(s)) is not None)
    candidates.extend(f.scaleid for f in snapshot.frameworks)
    candidates.extend(c.scaleid for c in snapshot.competencies if c.scaleid is not None)
    candidates.append(DEFAULT_SCALE_ID)
    return list(dict.fromkeys(candidates))


def bind_scales(
    desired: Framework, snapshot: RemoteFramework, options: PushOptions
) -> tuple[ScaleBinding, dict[str, ScaleBinding]]:
    """The Moodle scale of the framework and of each competency with its own scale.

    Moodle cannot create scales over web services: a core scale maps to the configured
    scale or to an existing one whose items are its level names in order; when none fits,
    :class:`~comp_adapters.errors.MappingError` says which items to create.
    """
    framework = desired.canonical()
    wanted = _wanted_scales(framework, snapshot)
    candidates = scale_candidates(framework, snapshot, options)
    items = snapshot.scale_items
    bindings: list[ScaleBinding] = []
    for position, (what, scale, current) in enumerate(wanted):
        if position == 0 and options.scale_id is not None:
            configured = items.get(options.scale_id)
            if configured is None:
                raise MappingError(f"moodle: scale {options.scale_id} (scale_id) cannot be read")
            if not scale_matches(scale, configured):
                raise MappingError(
                    f"moodle: scale {options.scale_id} does not fit {what}: "
                    + scale_mismatch(scale, configured)
                )
            chosen: int | None = options.scale_id
        else:
            order = [current, scale_id_hint(scale), *candidates]
            chosen = next(
                (
                    i
                    for i in order
                    if i is not None and i in items and scale_matches(scale, items[i])
                ),
                None,
            )
        if chosen is None:
            names = ",".join(level.name for level in scale.levels)
            raise MappingError(
                f"moodle: no scale on the site fits {what} (items {names!r}). Moodle cannot "
                "create scales over web services: create a scale with exactly these items "
                "(Site administration > Grades > Scales) and give its id as scale_id "
                "(--scale-id)"
            )
        bindings.append(ScaleBinding(chosen, scale_configuration(scale, chosen, with_keys=True)))
    own = [c for c in framework.competencies if c.scale is not None]
    return bindings[0], {c.key: b for c, b in zip(own, bindings[1:], strict=True)}


def _digest(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def framework_state(framework: WireFramework | None, competencies: Sequence[WireCompetency]) -> str:
    """The fingerprint of what Moodle holds for a framework (the framework and its
    competencies, modification times included): a plan's ``state_fingerprint``."""
    return _digest(
        {
            "framework": framework.model_dump(mode="json") if framework is not None else None,
            "competencies": sorted(
                (c.model_dump(mode="json") for c in competencies), key=lambda c: c["id"]
            ),
        }
    )


def rating_pairs(plan: Plan) -> list[Pair]:
    """The (user, competency) pairs a rating plan writes."""
    pairs: list[Pair] = []
    for change in plan.writes:
        user, competency = change.fields.get("userid"), change.fields.get("competencyid")
        if isinstance(user, int) and isinstance(competency, int):
            pairs.append((user, competency))
    return pairs


def rating_state(pairs: Sequence[Pair], current: Mapping[Pair, int | None]) -> str:
    """The fingerprint of the current grades of the pairs a rating plan writes."""
    return _digest(sorted([u, c, current.get((u, c))] for u, c in set(pairs)))


def plan_framework(desired: Framework, snapshot: RemoteFramework, options: PushOptions) -> Plan:
    """The plan that makes the site hold ``desired`` (see the module docstring); its
    ``state_fingerprint`` is the :func:`framework_state` it was planned against."""
    framework_scale, competency_scales = bind_scales(desired, snapshot, options)
    target = PushTarget(
        framework_scale=framework_scale,
        competency_scales=competency_scales,
        context=options.context,
        course_links=options.course_links,
        prune=options.prune,
        adopt=options.adopt,
    )
    plan = plan_push(desired, snapshot, target, where=options.target)
    notes = plan.notes
    if snapshot.framework is not None and options.context != ContextRef():
        notes = (*notes, "the framework exists; its context never changes")
    return plan.model_copy(
        update={
            "notes": notes,
            "state_fingerprint": framework_state(snapshot.framework, snapshot.competencies),
        }
    )


# -- ratings: entry -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesiredRatings:
    """Computed results for one framework (whose scales give the grades' meaning)."""

    framework: Framework
    proficiencies: tuple[Proficiency, ...]


@dataclass(frozen=True, slots=True)
class RatingSnapshot:
    """What the site holds for a rating plan: users and competencies (``site``), then the
    current grade of each pair :func:`ratings_to_read` named, and (plan mode) the active
    plan holding each pair."""

    site: RatingSite
    current: Mapping[Pair, int | None] = field(default_factory=dict)
    plans: Mapping[Pair, int] = field(default_factory=dict)


SITE_READ_NOTE = (
    "current ratings were read with tool_lp_data_for_user_competency_summary, which "
    "creates an empty user competency record where none existed (it locks the "
    "competency's scale)"
)


def _rating_planner(
    desired: DesiredRatings, site: RatingSite, options: RatingOptions
) -> RatingPlanner:
    return RatingPlanner(desired.framework, desired.proficiencies, site, options)


def ratings_to_read(
    desired: DesiredRatings, site: RatingSite, options: RatingOptions
) -> list[Pair]:
    """The (user, competency) ratings :func:`plan_ratings` needs read."""
    return _rating_planner(desired, site, options).pairs_to_read()


def plan_ratings(desired: DesiredRatings, snapshot: RatingSnapshot, options: RatingOptions) -> Plan:
    """Rating writes for the results whose level differs from Moodle's current rating,
    and no-ops with the reason for what is left alone."""
    planner = _rating_planner(desired, snapshot.site, options)
    where = {
        "site": "site ratings (the user competency)",
        "course": f"ratings in course {options.course_id}",
        "plan": "ratings in the learners' active learning plans",
    }[options.rate_in]
    notes = [f"{where} of framework {desired.framework.key}"]
    if options.rate_in == "site" and planner.pairs_to_read():
        notes.append(SITE_READ_NOTE)
    plan = planner.plan(snapshot.current, snapshot.plans, target=options.target, notes=notes)
    return plan.model_copy(
        update={"state_fingerprint": rating_state(rating_pairs(plan), snapshot.current)}
    )
