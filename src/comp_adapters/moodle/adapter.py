"""The Moodle adapter: frameworks in and out, proficiency out as ratings, evidence in.

Orchestration only: it reads the site into snapshots (:mod:`~comp_adapters.moodle.reader`),
leaves every decision to the pure diffs of :mod:`~comp_adapters.moodle.planner`, and hands
plans to the one apply engine with the executor of :mod:`~comp_adapters.moodle.executor`.
Built by :meth:`MoodleAdapter.from_settings` (settings: :mod:`~comp_adapters.moodle.settings`).

**Scales.** Moodle cannot create scales over web services; a core scale is bound to the
configured or an existing scale whose items are its level names
(:func:`~comp_adapters.moodle.planner.bind_scales`).

**Ratings.** ``plan_proficiency`` reads the current rating before writing and only writes
what changed. In the site mode the only read Moodle offers creates an empty user
competency record where none exists (see :mod:`~comp_adapters.moodle.reader`): only pairs
about to be rated (and parents whose rule Moodle may have completed) are read, but a dry
run still creates them. A rating whose answer failed is read back before anything else is
decided (see :meth:`MoodleAdapter.apply`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

import requests
from pydantic import JsonValue

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import ConfigurationError, PlanError
from comp_adapters.moodle.client import Calls, MoodleClient
from comp_adapters.moodle.evidence_cursor import EvidenceProgress
from comp_adapters.moodle.executor import Kind, MoodleExecutor, check_changes, group_key
from comp_adapters.moodle.functions import (
    COURSE_FUNCTIONS,
    EVIDENCE_FUNCTIONS,
    FIND_FUNCTIONS,
    PULL_FUNCTIONS,
    PUSH_FUNCTIONS,
    RATE_FUNCTIONS,
    RELATED_FUNCTIONS,
    USER_FUNCTIONS,
)
from comp_adapters.moodle.mapping import (
    CourseLink,
    competency_key,
    evidence_from_moodle,
    framework_from_moodle,
    level_keys_from_moodle,
)
from comp_adapters.moodle.planner import (
    DesiredRatings,
    PushOptions,
    RatingSnapshot,
    RemoteFramework,
    course_links_of,
    framework_state,
    plan_framework,
    plan_ratings,
    rating_pairs,
    rating_state,
    ratings_to_read,
    related_endpoints,
    scale_candidates,
)
from comp_adapters.moodle.rating_planner import RatingOptions, RatingSite
from comp_adapters.moodle.reader import SiteReader, UserLookup
from comp_adapters.moodle.settings import MoodleSettings, connect
from comp_adapters.moodle.wire import ContextRef, WireEvidence
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync import apply_plan_in_batches
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan


class MoodleAdapter:
    """Moodle's competencies as a framework source and target, a rating target and an
    evidence source.

    Build it with :meth:`from_settings`. The settings say where ratings go (``rate_in``,
    ``course_id``), how learner keys name users (``user_field``), which scale and category
    a push uses, and whose evidence is read (``learners``, ``framework_key``).
    ``framework`` (see :meth:`with_framework`) gives the level keys behind Moodle's grades
    when evidence is read; without it the framework ``framework_key`` is read from Moodle,
    which must then hold comp-adapters' level keys. ``course_links`` (competency key ->
    links) override the ``moodle.courses`` properties of pushed frameworks.
    """

    name: ClassVar[str] = "moodle"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.READS_FRAMEWORK,
            Capability.WRITES_FRAMEWORK,
            Capability.READS_EVIDENCE,
            Capability.WRITES_PROFICIENCY,
        }
    )
    settings_model: ClassVar[type[AdapterSettings]] = MoodleSettings

    def __init__(
        self,
        client: MoodleClient,
        settings: MoodleSettings,
        *,
        framework: Framework | None = None,
        course_links: Mapping[str, Sequence[CourseLink]] | None = None,
    ) -> None:
        if settings.rate_in == "course" and settings.course_id is None:
            raise ConfigurationError("moodle: rating in a course needs course_id")
        self.client = client
        self.settings = settings
        self.reader = SiteReader(client)
        self.framework = framework.canonical() if framework is not None else None
        self.course_links = dict(course_links) if course_links else None
        self._planned: set[str] = set()
        """Fingerprints of the plans this adapter made (their state was just read)."""

    @classmethod
    def from_settings(
        cls, settings: AdapterSettings, *, session: requests.Session | None = None
    ) -> MoodleAdapter:
        """The adapter for ``settings``; ``session`` replaces the HTTP session (tests)."""
        if not isinstance(settings, MoodleSettings):
            raise ConfigurationError(
                f"moodle: expected MoodleSettings, got {type(settings).__name__}"
            )
        return cls(connect(settings, session=session), settings)

    def with_framework(self, framework: Framework) -> MoodleAdapter:
        """This adapter (same client) reading evidence with ``framework``'s level keys."""
        return MoodleAdapter(
            self.client, self.settings, framework=framework, course_links=self.course_links
        )

    @property
    def target(self) -> str:
        """``moodle <site root>``, without credentials."""
        return f"moodle {self._site}"

    def __repr__(self) -> str:
        return f"MoodleAdapter({self.client!r})"

    @property
    def _site(self) -> str:
        return self.reader.site

    # -- pull -----------------------------------------------------------------------------

    def read_framework(self, key: str) -> Framework:
        """The framework with idnumber ``key`` (competencies, rules, scales, cross-refs)."""
        self.reader.require(PULL_FUNCTIONS)
        remote = self.reader.existing_framework(key, operation="read_framework")
        competencies = self.reader.competencies(remote.id)
        scale_ids = [remote.scaleid, *(c.scaleid for c in competencies if c.scaleid is not None)]
        items = {k: list(v) for k, v in self.reader.scale_items(scale_ids).items()}
        related = self.reader.related([c.id for c in competencies]) if competencies else {}
        return framework_from_moodle(
            remote, competencies, scale_items=items, related=related, source=f"{self._site} {key}"
        )

    # -- push -----------------------------------------------------------------------------

    def plan_framework(
        self, framework: Framework, *, prune: bool = False, adopt: bool = False
    ) -> Plan:
        """The changes that make the site hold ``framework``; reads only, writes nothing.

        A framework with the same idnumber that was not made from ours is refused
        (:class:`~comp_adapters.moodle.planner.ForeignFrameworkError`, listing the
        differences) unless ``adopt``; a text Moodle would not keep as it is fails with
        :class:`~comp_adapters.errors.MappingError` naming every one.
        """
        fw = framework.canonical()
        links = course_links_of(fw, self.course_links)
        pairs = related_endpoints(fw)
        self.reader.require(
            [
                *PUSH_FUNCTIONS,
                *(RELATED_FUNCTIONS if pairs or prune else ()),
                *(COURSE_FUNCTIONS if links else ()),
            ]
        )
        options = PushOptions(
            target=self.target,
            scale_id=self.settings.scale_id,
            context=(
                ContextRef(contextlevel="coursecat", instanceid=self.settings.category_id)
                if self.settings.category_id is not None
                else ContextRef()
            ),
            course_links=links,
            prune=prune,
            adopt=adopt,
        )
        frameworks = self.reader.frameworks()
        remote_fw = self.reader.find_framework(fw.key, frameworks)
        competencies = self.reader.competencies(remote_fw.id) if remote_fw is not None else []
        snapshot = RemoteFramework(
            framework=remote_fw, competencies=tuple(competencies), frameworks=tuple(frameworks)
        )
        scale_items = self.reader.scale_items(scale_candidates(fw, snapshot, options))
        related: dict[int, frozenset[int]] = {}
        if remote_fw is not None:
            wanted = [
                c.id for c in competencies if prune or competency_key(c.idnumber, c.id) in pairs
            ]
            related = self.reader.related(wanted)
        courses = sorted({link.course_id for items in links.values() for link in items})
        snapshot = replace(
            snapshot,
            scale_items=scale_items,
            related=related,
            course_links=self.reader.course_links(courses),
        )
        return self._made(plan_framework(fw, snapshot, options))

    def _made(self, plan: Plan) -> Plan:
        self._planned.add(plan.fingerprint)
        return plan

    # -- push and rate: apply -------------------------------------------------------------

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan of this adapter, batching calls where the site allows it.

        A delete Moodle refuses (it answers ``false`` when the item is in use) does not
        stop the apply; it is recorded in the change's result (see :func:`refusals`).

        Applying the same plan again with the same journal after a crash continues where
        it stopped, even when the crash lost the answer to a write Moodle had done (see
        :mod:`~comp_adapters.moodle.executor`). With a ``journal`` (the way to resume after
        a crash), each group of ratings is read back before it is sent, so a rating Moodle
        stored before a crash is not sent twice (a second evidence entry); without one,
        plan again after a crash (the plan reads them).

        A plan carries a fingerprint of what it was planned against (the framework and its
        competencies, or the grades it changes). A plan this adapter did not just make,
        applied without a journal (a saved plan: ``comp-adapters apply``), is refused with
        :class:`~comp_adapters.errors.StalePlanError` when the site changed since.
        """
        if plan.adapter != self.name:
            raise PlanError(f"this is a plan for {plan.adapter!r}, not for moodle")
        check_changes(plan.changes)
        executor = MoodleExecutor(
            self.client,
            rate_in=self.settings.rate_in,
            course_id=self.settings.course_id,
            verify_ratings_first=journal is not None,
        )
        # A saved plan applied afresh is refused when the site changed since it was made.
        # Not when resuming with a journal: a crash may have lost the record of a write
        # the site holds, which the executor recognises (and a just-made plan is fresh).
        check = journal is None and not plan.is_empty and plan.fingerprint not in self._planned
        return apply_plan_in_batches(
            plan,
            executor,
            journal=journal,
            max_batch=executor.max_batch,
            group_key=group_key,
            current_state=(lambda: self._state_of(plan)) if check else None,
        )

    def _state_of(self, plan: Plan) -> str:
        """What the site holds now, fingerprinted as the plan's ``state_fingerprint``: the
        grades of the pairs a rating plan writes, or the framework and its competencies."""
        if any(change.kind == Kind.RATING for change in plan.changes):
            pairs = rating_pairs(plan)
            grades = self.reader.grades(
                pairs, rate_in=self.settings.rate_in, course_id=self.settings.course_id
            )
            return rating_state(pairs, grades.current)
        key = next((c.key for c in plan.changes if c.kind == Kind.FRAMEWORK), None)
        if key is None:
            raise PlanError("the plan names no framework: it was not made by plan_framework")
        remote = self.reader.find_framework(key)
        competencies = self.reader.competencies(remote.id) if remote is not None else []
        return framework_state(remote, competencies)

    # -- ratings out ----------------------------------------------------------------------

    def user_ids(self, learners: Sequence[str]) -> dict[str, int]:
        """Moodle user ids of learner keys (by ``user_field``); see :meth:`lookup_users`."""
        return self.lookup_users(learners).found

    def lookup_users(self, learners: Sequence[str]) -> UserLookup:
        """Moodle users of learner keys (:meth:`SiteReader.lookup_users`)."""
        return self.reader.lookup_users(learners, self.settings.user_field)

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        """Rating writes for the results whose level differs from Moodle's current rating,
        and no-ops for what is left alone (with the reason), see
        :func:`~comp_adapters.moodle.planner.plan_ratings`."""
        settings = self.settings
        fw = framework.canonical()
        self.reader.require(
            [
                *FIND_FUNCTIONS,
                *RATE_FUNCTIONS[settings.rate_in],
                *(USER_FUNCTIONS if settings.user_field != "id" else ()),
            ]
        )
        remote = self.reader.competencies_by_key(fw.key)
        lookup = self.lookup_users([p.learner for p in proficiencies])
        linked = (
            self.reader.course_competency_ids(settings.course_id)
            if settings.rate_in == "course" and settings.course_id is not None
            else None
        )
        site = RatingSite(
            users=lookup.found,
            refused=lookup.refused,
            competencies={key: wire.id for key, wire in remote.items()},
            linked=linked,
        )
        options = RatingOptions(
            target=self.target,
            rate_in=settings.rate_in,
            course_id=settings.course_id,
            user_field=settings.user_field,
            revoke_rule_ratings=settings.revoke_rule_ratings,
        )
        desired = DesiredRatings(fw, tuple(proficiencies))
        grades = self.reader.grades(
            ratings_to_read(desired, site, options),
            rate_in=settings.rate_in,
            course_id=settings.course_id,
        )
        return self._made(
            plan_ratings(
                desired, RatingSnapshot(site, current=grades.current, plans=grades.plans), options
            )
        )

    # -- evidence in ----------------------------------------------------------------------

    def evidence_query(self) -> dict[str, JsonValue]:
        """What :meth:`read_evidence` selects: the site, the framework, the learners, how
        they name users, and a digest of the level keys grades are read as."""
        key = self.settings.framework_key or (self.framework.key if self.framework else None)
        levels: str | None = None
        if self.framework is not None:
            scales = [self.framework.scale, *(c.scale for c in self.framework.competencies)]
            text = json.dumps(
                [s.model_dump(mode="json") if s is not None else None for s in scales],
                sort_keys=True,
            )
            levels = hashlib.sha256(text.encode()).hexdigest()
        return {
            "adapter": self.name,
            "site": self._site,
            "framework": key,
            "learners": list[JsonValue](sorted(set(self.settings.learners))),
            "user_field": self.settings.user_field,
            "levels": levels if levels is not None else "from moodle",
        }

    def _evidence_framework(self) -> Framework:
        key = self.settings.framework_key
        if self.framework is not None:
            if key is not None and key != self.framework.key:
                raise ConfigurationError(
                    f"moodle: framework_key is {key!r}, but the framework given is "
                    f"{self.framework.key!r}"
                )
            return self.framework
        if key is None:
            raise ConfigurationError(
                "moodle: reading evidence needs the framework (framework_key, or the core "
                "framework): its scale levels give meaning to Moodle's grades"
            )
        framework = self.read_framework(key)
        if not level_keys_from_moodle(framework):
            raise ConfigurationError(
                f"moodle: framework {key!r} in Moodle was not pushed by comp-adapters, so its "
                "scales name levels by Moodle's item names, not by your level keys: give the "
                "framework file the evidence is for"
            )
        return framework

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Ratings and other graded evidence of ``learners``, as ``lms_rating`` evidence.

        One batch per learner (learners without a Moodle user are counted as skipped);
        each batch's cursor resumes after it and the last one ends the pass (see
        :mod:`~comp_adapters.moodle.evidence_cursor`), so a cursor never passes evidence
        not yet read and never repeats any. Reads create empty user competency records
        where none exist (the only read Moodle offers; see :mod:`~comp_adapters.moodle.reader`).
        """
        learners_wanted = self.settings.learners
        if not learners_wanted:
            raise ConfigurationError("moodle: reading evidence needs the learners to read")
        progress = EvidenceProgress.starting_at(cursor)
        framework = self._evidence_framework()
        self.reader.require(
            [
                *FIND_FUNCTIONS,
                *EVIDENCE_FUNCTIONS,
                *(USER_FUNCTIONS if self.settings.user_field != "id" else ()),
            ]
        )
        remote = self.reader.competencies_by_key(framework.key)
        wanted = [(key, wire) for key, wire in remote.items() if key in framework]
        users = self.user_ids(learners_wanted)
        known = list(dict.fromkeys(k for k in learners_wanted if k in users))
        unknown = len(set(learners_wanted)) - len(known)
        learners = [k for k in known if k not in progress.done]
        if not learners:  # nobody left to read: the pass ends here, and says why
            skipped = {"learner without a Moodle user": unknown} if unknown else {}
            yield EvidenceBatch(evidence=(), cursor=progress.cursor(last=True), skipped=skipped)
            return
        for index, learner in enumerate(learners):
            summaries = self.reader.run_reads(
                [Calls.user_competency_summary(users[learner], wire.id) for _, wire in wanted]
            )
            evidence = []
            skipped = {}
            for (key, _), summary in zip(wanted, summaries, strict=True):
                scale = framework.scale_for(key)
                for record in summary.evidence:
                    if not progress.is_new(record.timecreated, _evidence_id(self._site, record)):
                        continue
                    item = evidence_from_moodle(
                        record, learner=learner, competency=key, scale=scale, site=self._site
                    )
                    if item is None:
                        skipped["no grade (log only)"] = skipped.get("no grade (log only)", 0) + 1
                        continue
                    evidence.append(item)
                    progress.saw(record.timecreated, item.id)
            progress.finish(learner)
            last = index == len(learners) - 1
            if last and unknown:
                skipped["learner without a Moodle user"] = unknown
            yield EvidenceBatch(
                evidence=tuple(sorted(evidence, key=lambda e: (e.observed_at, e.id))),
                cursor=progress.cursor(last=last),
                skipped=skipped,
            )


def refusals(report: ApplyReport) -> list[str]:
    """What Moodle refused during an apply (deletes answered ``false``), in words."""
    return [
        f"{change_id}: {result['refused']}"
        for change_id, result in report.results.items()
        if isinstance(result, Mapping) and result.get("refused")
    ]


def _evidence_id(site: str, record: WireEvidence) -> str:
    return f"moodle:{site}:evidence:{record.id}"
