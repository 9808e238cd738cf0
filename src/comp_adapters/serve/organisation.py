"""Who may see whom: the people file's reporting lines under the viewer policy.

The proficiency API answers for a :class:`~comp_adapters.reports.policy.Viewer`: a learner
sees themselves, a manager the people they manage (directly or through others, from the
people file's ``manager`` column), an admin or auditor everyone. Without a people file
there are no reporting lines, so a manager sees nobody. Which evidence of a visible learner
may be shown is :meth:`~comp_adapters.reports.policy.Policy.shows` of the viewer's relation,
except private evidence, which is never served to anyone (:meth:`Organisation.shows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from comp_adapters.core.evidence import Visibility
from comp_adapters.core.framework import Framework
from comp_adapters.errors import ConfigurationError
from comp_adapters.reports.files import load_checked_profiles, load_people, load_profiles
from comp_adapters.reports.people import Assignment, ReportingLines
from comp_adapters.reports.policy import Policy, Relation, Viewer, ViewerKind
from comp_adapters.reports.profiles import RoleProfiles


@dataclass(frozen=True)
class Organisation:
    """Role profiles, assignments and reporting lines (all empty without a people file)."""

    profiles: RoleProfiles | None = None
    framework_key: str | None = None
    """The framework the profiles were checked against (the only one gaps are made for)."""
    assignments: Sequence[Assignment] = ()
    policy: Policy = field(default_factory=Policy)
    lines: ReportingLines = field(default_factory=lambda: ReportingLines({}))

    @classmethod
    def load(
        cls,
        roles: Path | None,
        people: Path | None,
        *,
        frameworks: Sequence[Framework],
        policy: Policy,
    ) -> Organisation:
        """Read the role profile and people files (checked against the framework the
        profiles name, else the first served)."""
        if roles is None or people is None:
            return cls(policy=policy)
        named = load_profiles(roles)[0].framework
        framework = next((f for f in frameworks if f.key == named), None)
        if framework is None and named is None and frameworks:
            framework = frameworks[0]
        if framework is None:
            served = ", ".join(f.key for f in frameworks) or "none"
            raise ConfigurationError(
                f"role profiles {roles}: their framework ({named or 'the first served'}) "
                f"is not served (served: {served})"
            )
        profiles = load_checked_profiles(roles, framework)
        assignments = load_people(people, profiles)
        return cls(
            profiles=profiles,
            framework_key=framework.key,
            assignments=assignments,
            policy=policy,
            lines=ReportingLines.of(assignments),
        )

    def relation(self, viewer: Viewer, learner: str) -> Relation:
        managers = self.lines.chain(learner) if viewer.kind is ViewerKind.MANAGER else ()
        return self.policy.relation(viewer, learner, managers)

    def shows(self, relation: Relation, visibility: Visibility) -> bool:
        """Whether evidence of ``visibility`` may be named to a viewer so related: the
        policy's table, except that private evidence is never served (auditors read it
        in the reports, not over HTTP)."""
        return visibility is not Visibility.PRIVATE and self.policy.shows(relation, visibility)

    def visible_learners(self, viewer: Viewer) -> list[str] | None:
        """The learners ``viewer`` may see, sorted; ``None`` for everyone."""
        if viewer.kind in (ViewerKind.ADMIN, ViewerKind.AUDITOR):
            return None
        if viewer.kind is ViewerKind.LEARNER:
            return [viewer.id or ""]
        return sorted(self.lines.team(viewer.id or ""))

    def assignments_around(self, learner: str) -> list[Assignment]:
        """The learner's assignments and those of everyone above them (the managers'
        rows carry the reporting lines above the learner's direct managers)."""
        wanted = {learner, *self.lines.chain(learner)}
        return [a for a in self.assignments if a.person in wanted]

    def framework_profiles(self, framework: Framework) -> RoleProfiles | None:
        """The role profiles, when they are about ``framework``."""
        return self.profiles if framework.key == self.framework_key else None
