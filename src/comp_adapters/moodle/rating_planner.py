"""The pure differ of ratings: computed proficiency + what Moodle holds -> rating writes.

Reached through :func:`comp_adapters.moodle.planner.ratings_to_read` and
:func:`comp_adapters.moodle.planner.plan_ratings` (the one entry shape of every diff):
the adapter reads the site (users, competencies, current ratings), these rules decide.
Two steps, because what must be read depends on the results:
:meth:`RatingPlanner.pairs_to_read` names the (user, competency) ratings to read,
:meth:`RatingPlanner.plan` makes the plan from them.

What is decided here:

* a result with a level becomes a rating (its 1-based scale item) when Moodle holds
  another grade (when it holds the same, a no-op saying so); leaves first, so a parent's
  own rating is written after the ratings of its children that may complete it by rule;
* results Moodle cannot take are no-ops with the reason: no level, competency not in the
  framework or not in Moodle, learner without a Moodle user (or whose key Moodle's lookup
  refuses), competency not linked to the course, not in an active plan;
* **sticky rules.** Moodle runs a rule when a child *becomes* proficient and never takes
  back the rating the rule gave (``competency/classes/api.php``, ``add_evidence`` runs
  ``apply_competency_rules_from_usercompetency`` only on a change to proficient); the
  engine computes a snapshot, so when a child drops the parent is no longer rated here
  while Moodle keeps it proficient. For parents with a "complete" rule this is read and
  shown: a no-op saying what Moodle keeps and why nothing is written, or, when asked to
  (``revoke_rule_ratings``), a rating with the scale's lowest level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from comp_adapters.core.framework import Framework, RuleOutcome
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import ProficiencyScale
from comp_adapters.moodle.mapping import grade_for_level, rating_note
from comp_adapters.moodle.wire import RateIn
from comp_adapters.sync.plan import Action, Change, Plan

Pair = tuple[int, int]
"""(Moodle user id, Moodle competency id)."""

ADAPTER = "moodle"
MATCHED_BY: Mapping[str, str] = {
    "email": "email address, exactly as stored or in lower case",
    "username": "username, in lower case (Moodle's usernames are)",
    "idnumber": "ID number, exactly",
    "id": "Moodle user id",
}


@dataclass(frozen=True, slots=True)
class RatingSite:
    """What the site holds for a rating plan, read before planning.

    ``users`` maps learner keys to Moodle user ids; ``refused`` holds learner keys
    Moodle's lookup refuses (its cleaning would change them) with the reason;
    ``competencies`` maps competency keys to Moodle ids; ``linked`` (course mode) the
    competency ids linked to the course.
    """

    users: Mapping[str, int]
    competencies: Mapping[str, int]
    refused: Mapping[str, str] = field(default_factory=dict)
    linked: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class RatingOptions:
    """Where to rate and how learners name users; whether to lower sticky rule ratings;
    the plan's ``target`` line."""

    target: str = "moodle"
    rate_in: RateIn = "site"
    course_id: int | None = None
    user_field: str = "email"
    revoke_rule_ratings: bool = False


@dataclass(frozen=True, slots=True)
class _Wanted:
    result: Proficiency
    pair: Pair
    grade: int


@dataclass(frozen=True, slots=True)
class _Sticky:
    """A rule parent this computation does not rate, whose Moodle rating is read."""

    learner: str
    competency: str
    pair: Pair
    result: Proficiency | None


def _change_id(learner: str, competency: str) -> str:
    return f"rating:{learner}|{competency}"


def _key(learner: str, competency: str) -> str:
    return f"{learner} / {competency}"


def _noop(learner: str, competency: str, reason: str) -> Change:
    return Change(
        id=_change_id(learner, competency),
        action=Action.NOOP,
        kind="rating",
        key=_key(learner, competency),
        reason=reason,
    )


def _level_name(scale: ProficiencyScale, grade: int) -> str:
    if 1 <= grade <= len(scale.levels):
        return scale.levels[grade - 1].name
    return f"grade {grade}"


class RatingPlanner:
    """The rating diff for one framework (see the module docstring)."""

    def __init__(
        self,
        framework: Framework,
        proficiencies: Sequence[Proficiency],
        site: RatingSite,
        options: RatingOptions,
    ) -> None:
        self.framework = framework
        self.site = site
        self.options = options
        self.noops: list[Change] = []
        self.wanted: list[_Wanted] = []
        self.sticky: list[_Sticky] = []
        self.unknown_learners: set[str] = set()
        depth = {c.key: framework.depth(c.key) for c in framework.competencies}
        ordered = sorted(
            proficiencies, key=lambda p: (-depth.get(p.competency, 0), p.learner, p.competency)
        )
        rule_parents = {
            c.key
            for c in framework.competencies
            if c.rollup is not None and c.rollup.outcome is RuleOutcome.COMPLETE
        }
        by_pair = {(p.learner, p.competency): p for p in ordered}
        deferred: set[tuple[str, str]] = set()
        for item in ordered:
            why = self._why_not(item)
            if why is None and item.level is None and item.competency in rule_parents:
                deferred.add((item.learner, item.competency))  # read Moodle's rating first
                continue
            if why is None and item.level is None:
                why = "no level computed"
            if why is not None:
                self.noops.append(_noop(item.learner, item.competency, why))
                continue
            grade = grade_for_level(framework.scale_for(item.competency), item.level or "")
            self.wanted.append(_Wanted(item, self._pair(item.learner, item.competency), grade))
        learners = sorted({p.learner for p in ordered if p.learner in site.users})
        for parent in sorted(rule_parents, key=lambda k: (-depth[k], k)):
            if not self._rateable(parent):
                continue
            children = [c.key for c in framework.children_of(parent)]
            for learner in learners:
                result = by_pair.get((learner, parent))
                if result is not None and (learner, parent) not in deferred:
                    continue  # rated here (or not rateable for its own reason)
                if result is None and not any((learner, c) in by_pair for c in children):
                    continue
                self.sticky.append(_Sticky(learner, parent, self._pair(learner, parent), result))

    def _pair(self, learner: str, competency: str) -> Pair:
        return self.site.users[learner], self.site.competencies[competency]

    def _rateable(self, competency: str) -> bool:
        cid = self.site.competencies.get(competency)
        linked = self.site.linked
        return cid is not None and (linked is None or cid in linked)

    def _why_not(self, item: Proficiency) -> str | None:
        site, options = self.site, self.options
        if item.competency not in self.framework:
            return f"not in framework {self.framework.key!r}"
        if item.competency not in site.competencies:
            return "not in Moodle (push the framework first)"
        if item.learner in site.refused:
            return site.refused[item.learner]
        if item.learner not in site.users:
            self.unknown_learners.add(item.learner)
            return (
                f"no Moodle user with {options.user_field} {item.learner!r} (users must exist "
                f"in Moodle; matched by {MATCHED_BY.get(options.user_field, options.user_field)})"
            )
        if site.linked is not None and site.competencies[item.competency] not in site.linked:
            return f"not linked to course {options.course_id}"
        return None

    def pairs_to_read(self) -> list[Pair]:
        """The current ratings the plan needs: every pair to rate and every sticky check."""
        pairs = [w.pair for w in self.wanted] + [s.pair for s in self.sticky]
        return list(dict.fromkeys(pairs))

    def plan(
        self,
        current: Mapping[Pair, int | None],
        plans: Mapping[Pair, int],
        *,
        target: str,
        notes: Sequence[str] = (),
    ) -> Plan:
        """The plan, given the current grades (and, in plan mode, the plan of each pair)."""
        changes: list[Change] = []
        noops = list(self.noops)
        for wanted in self.wanted:
            item = wanted.result
            if self.options.rate_in == "plan" and wanted.pair not in plans:
                noops.append(
                    _noop(item.learner, item.competency, "not in an active plan of the learner")
                )
                continue
            have = current.get(wanted.pair)
            if have == wanted.grade:
                noops.append(
                    _noop(
                        item.learner,
                        item.competency,
                        f"Moodle already rates it "
                        f"{_level_name(self.framework.scale_for(item.competency), have)}",
                    )
                )
                continue
            changes.append(
                self._rating(
                    item.learner,
                    item.competency,
                    wanted.pair,
                    wanted.grade,
                    have,
                    level=item.level or "",
                    note=rating_note(item.explanation),
                    plan_id=plans.get(wanted.pair),
                )
            )
        disagreements = 0
        for sticky in self.sticky:
            have = current.get(sticky.pair)
            if self.options.rate_in == "plan" and sticky.pair not in plans:
                if sticky.result is not None:  # a result of ours: say why it is left alone
                    noops.append(
                        _noop(
                            sticky.learner,
                            sticky.competency,
                            "no level computed (and not in an active plan of the learner)",
                        )
                    )
                continue
            if have is None:
                if sticky.result is not None:
                    noops.append(_noop(sticky.learner, sticky.competency, "no level computed"))
                continue
            scale = self.framework.scale_for(sticky.competency)
            lowest = scale.levels[0]
            ours = (
                "this computation gives it no level"
                if sticky.result is not None
                else "this computation does not rate it (its rule no longer matches)"
            )
            kept = _level_name(scale, have)
            if self.options.revoke_rule_ratings:
                if have != 1:
                    changes.append(
                        self._rating(
                            sticky.learner,
                            sticky.competency,
                            sticky.pair,
                            1,
                            have,
                            level=lowest.key,
                            note=rating_note(
                                f"comp-adapters: Moodle kept {kept}, which {ours}; lowered "
                                f"to {lowest.name} on request"
                            ),
                            plan_id=plans.get(sticky.pair),
                            reason="Moodle never takes back a rating its rule gave; lowered "
                            "on request (revoke_rule_ratings)",
                        )
                    )
                continue
            disagreements += 1
            noops.append(
                _noop(
                    sticky.learner,
                    sticky.competency,
                    f"Moodle rates it {kept} and {ours}: Moodle never takes back a rating its "
                    f"rule gave, and rate does not write a lower one unless asked "
                    f"(--revoke-rule-ratings writes {lowest.name})",
                )
            )
        all_notes = list(notes)
        if self.unknown_learners:
            shown = ", ".join(sorted(self.unknown_learners)[:5])
            more = ", ..." if len(self.unknown_learners) > 5 else ""
            all_notes.append(
                f"{len(self.unknown_learners)} learner(s) have no Moodle user, matched by "
                f"{MATCHED_BY.get(self.options.user_field, self.options.user_field)}: "
                f"{shown}{more} (left alone)"
            )
        if disagreements:
            all_notes.append(
                f"{disagreements} rating(s) Moodle keeps from a rule that this computation no "
                "longer gives (a child dropped): left alone, see the no-ops; "
                "--revoke-rule-ratings lowers them"
            )
        return Plan(
            adapter=ADAPTER,
            target=target,
            changes=(*changes, *noops),
            notes=tuple(all_notes),
        )

    def _rating(
        self,
        learner: str,
        competency: str,
        pair: Pair,
        grade: int,
        have: int | None,
        *,
        level: str,
        note: str,
        plan_id: int | None,
        reason: str | None = None,
    ) -> Change:
        fields: dict[str, JsonValue] = {
            "learner": learner,
            "competency": competency,
            "userid": pair[0],
            "competencyid": pair[1],
            "grade": grade,
            "level": level,
            "note": note,
        }
        if self.options.rate_in == "course":
            fields["courseid"] = self.options.course_id
        if self.options.rate_in == "plan":
            fields["planid"] = plan_id
        return Change(
            id=_change_id(learner, competency),
            action=Action.UPDATE if have is not None else Action.CREATE,
            kind="rating",
            key=_key(learner, competency),
            fields=fields,
            before={"grade": have} if have is not None else {},
            reason=reason,
        )
