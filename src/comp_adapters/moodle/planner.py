"""The pure differ of a framework push: what Moodle holds -> the changes that make it hold
what we want.

Split out of :mod:`comp_adapters.moodle.adapter` so the decisions (the part that must be
right) are pure functions of a snapshot, tested with tables; the adapter only reads the
snapshot and carries the plan out.

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
configuration by its flags, a rule by its type, outcome and children, a disabled rule
equals no rule), so an apply followed by a new plan gives an empty plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from comp_adapters.core.framework import Competency, Framework, RuleOutcome
from comp_adapters.errors import MappingError
from comp_adapters.moodle.mapping import (
    COURSE_OUTCOME,
    PROP_VISIBLE,
    CourseLink,
    RuleSpec,
    competency_key,
    course_links,
    format_code,
    moodle_taxonomies,
    related_pairs,
    remote_rule_spec,
    rule_spec,
    same_rule,
    same_scale_configuration,
    shorten,
    taxonomies_from_text,
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
    """What the site holds for one framework, as read before planning.

    ``related`` maps competency ids to the ids they are cross-referenced with, for the
    competencies whose relations were read; ``course_links`` holds the links of the
    courses read.
    """

    framework: WireFramework | None
    competencies: tuple[WireCompetency, ...] = ()
    related: Mapping[int, frozenset[int]] = field(default_factory=dict)
    course_links: Mapping[int, tuple[CourseCompetency, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where and how to push: scales resolved against the site, context, links, prune."""

    framework_scale: ScaleBinding
    competency_scales: Mapping[str, ScaleBinding] = field(default_factory=dict)
    context: ContextRef = field(default_factory=ContextRef)
    course_links: Mapping[str, Sequence[CourseLink]] = field(default_factory=dict)
    prune: bool = False


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
        if len(fw.title) > 100:
            self.notes.append("the framework title is cut to Moodle's 100 characters")
        scale = self.target.framework_scale
        description = fw.description or ""
        visible = fw.properties.get(PROP_VISIBLE)
        wanted: dict[str, JsonValue] = {
            "shortname": shorten(fw.title),
            "description": description,
            "descriptionformat": format_code(fw.description_format, fw.properties),
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
                shortname=shorten(fw.title),
                description=description or None,
                descriptionformat=(
                    format_code(fw.description_format, fw.properties) if description else None
                ),
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
        if differ:
            self.add(
                Change(
                    id=framework_change_id(fw.key),
                    action=Action.UPDATE,
                    kind="framework",
                    key=fw.key,
                    fields={"id": remote.id, **{n: wanted[n] for n in differ}},
                    before={n: have[n] for n in differ},
                )
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
        description = competency.description or ""
        fields: dict[str, JsonValue] = {
            "shortname": shorten(competency.title),
            "description": description,
            "descriptionformat": format_code(competency.description_format, competency.properties),
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
            if differ:
                self.add(
                    Change(
                        id=f"update:{competency.key}",
                        action=Action.UPDATE,
                        kind="competency",
                        key=competency.key,
                        fields={"id": wire.id, **{n: wanted[n] for n in differ}},
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
        return {"competency": key, "id": self.known_id(key), **extra}

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
        long_titles = sum(1 for c in self.walk if len(c.title) > 100)
        if long_titles:
            self.notes.append(f"{long_titles} competency title(s) cut to Moodle's 100 characters")
        own_terms = sum(1 for c in self.walk if c.taxonomy is not None)
        if own_terms:
            self.notes.append(
                f"{own_terms} competency taxonomy term(s) not sent: Moodle sets terms per level"
            )
        return Plan(
            adapter=ADAPTER, target=target, changes=tuple(self.changes), notes=tuple(self.notes)
        )


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
