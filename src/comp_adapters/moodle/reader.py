"""Reading what a Moodle site holds, for planning and for reading back after a failure.

Every read the adapter and the executor make goes through :class:`SiteReader`; the
decisions about what was read are left to :mod:`~comp_adapters.moodle.planner`.

In the site mode the only rating read Moodle offers is
``tool_lp_data_for_user_competency_summary``, which CREATES an empty user competency
record where none exists (such a record locks the competency's scale); the plan mode reads
through ``core_competency_list_plan_competencies``, which creates nothing; the course mode
creates empty course records, which lock nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
)
from comp_adapters.http import redact_url
from comp_adapters.moodle.client import Call, Calls, MoodleClient
from comp_adapters.moodle.mapping import competency_key
from comp_adapters.moodle.wire import (
    ContextRef,
    CourseCompetency,
    RateIn,
    UserField,
    WireCompetency,
    WireFramework,
    WireUser,
)

ADAPTER = "moodle"
USERS_PER_CALL = 100

Pair = tuple[int, int]
"""(Moodle user id, Moodle competency id)."""


@dataclass(frozen=True, slots=True)
class UserLookup:
    """Learner keys found as Moodle users, and keys Moodle's lookup refuses (with why)."""

    found: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Grades:
    """Current grade per (user, competency); in the plan mode also the plan holding it."""

    current: dict[Pair, int | None] = field(default_factory=dict)
    plans: dict[Pair, int] = field(default_factory=dict)


class SiteReader:
    """The reads of one site through one client (nothing here decides or writes on purpose;
    the rating reads named in the module docstring create empty records)."""

    def __init__(self, client: MoodleClient) -> None:
        self.client = client

    @property
    def site(self) -> str:
        """The site root, without credentials, for messages and evidence ids."""
        return redact_url(self.client.base_url).rstrip("/")

    def require(self, names: Iterable[str]) -> None:
        """Fail early, naming every function the token's service lacks.

        Only a service without ``core_webservice_get_site_info`` is tolerated (the calls
        then tell); an unreachable site or a bad token fails here, once.
        """
        try:
            missing = self.client.missing_functions(list(names))
        except PermissionDeniedError:
            return
        if missing:
            raise ConfigurationError(
                "moodle: the token's web service lacks these functions this needs: "
                + ", ".join(missing)
                + ". Add them to the service (Site administration > Server > Web services > "
                "External services > Functions)"
            )

    def run_reads(self, calls: Sequence[Call[Any]]) -> list[Any]:
        """The answers of read calls, batched where possible; the first error is raised."""
        return self.client.run_many(calls).raise_for_error()

    # -- frameworks and competencies ------------------------------------------------------

    def frameworks(self, query: str = "") -> list[WireFramework]:
        return self.client.run(Calls.list_competency_frameworks(query=query, context=ContextRef()))

    def find_framework(
        self, key: str, frameworks: Sequence[WireFramework] | None = None
    ) -> WireFramework | None:
        """The framework whose idnumber is exactly ``key`` (Moodle's query is a LIKE)."""
        found = frameworks if frameworks is not None else self.frameworks(key)
        return next((f for f in found if f.idnumber.strip() == key), None)

    def existing_framework(self, key: str, *, operation: str, hint: str = "") -> WireFramework:
        remote = self.find_framework(key)
        if remote is None:
            raise NotFoundError(
                f"no competency framework with idnumber {key!r}{hint}",
                adapter=ADAPTER,
                operation=operation,
                url=self.site,
            )
        return remote

    def competencies(self, framework_id: int) -> list[WireCompetency]:
        return self.client.run(Calls.list_competencies({"competencyframeworkid": framework_id}))

    def competencies_by_key(self, key: str) -> dict[str, WireCompetency]:
        """The competencies of the framework ``key`` by their keys; it must exist."""
        remote = self.existing_framework(key, operation="find framework", hint="; push it first")
        return {competency_key(c.idnumber, c.id): c for c in self.competencies(remote.id)}

    def related(self, ids: Sequence[int]) -> dict[int, frozenset[int]]:
        """The ids each competency of ``ids`` is cross-referenced with."""
        sections = self.run_reads([Calls.related_competencies(i) for i in ids])
        return {
            cid: frozenset(c.id for c in section.relatedcompetencies)
            for cid, section in zip(ids, sections, strict=True)
        }

    def course_links(self, courses: Sequence[int]) -> dict[int, tuple[CourseCompetency, ...]]:
        """The competency links of each course."""
        answers = self.run_reads([Calls.list_course_competencies(c) for c in courses])
        return {
            course: tuple(e.coursecompetency for e in entries)
            for course, entries in zip(courses, answers, strict=True)
        }

    def scale_items(self, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """Items of the given scales; scales that do not exist are left out."""
        found: dict[int, tuple[str, ...]] = {}
        remaining = list(dict.fromkeys(ids))
        while remaining:
            batch = self.client.run_many([Calls.get_scale_values(i) for i in remaining])
            for scale_id, values in zip(remaining, batch.values, strict=False):
                found[scale_id] = tuple(v.name for v in sorted(values, key=lambda v: v.id))
            if batch.error is None:
                break
            # A scale id that does not exist fails in ways that vary by Moodle version
            # (a missing record, or a PHP error on it); only systematic failures stop us.
            if not isinstance(batch.error, FatalRemoteError) or isinstance(
                batch.error, AuthenticationError | PermissionDeniedError
            ):
                raise batch.error
            remaining = remaining[len(batch.values) + 1 :]
        return found

    # -- users ----------------------------------------------------------------------------

    def lookup_users(self, learners: Iterable[str], user_field: UserField) -> UserLookup:
        """Moodle users of learner keys, by ``user_field``, one call per 100 learners.

        ``core_user_get_users_by_field`` cleans each value with its field's type and
        fails the WHOLE call when one would change (``user/externallib.php``): usernames
        are sent in lower case (Moodle's are), e-mail addresses as given and in lower
        case (the lookup is exact), and a call Moodle refuses is split until the keys it
        refuses are found; those come back in ``refused`` with the reason, learners
        without a user are simply left out.
        """
        keys = sorted(set(learners))
        if user_field == "id":
            return UserLookup(
                found={k: int(k) for k in keys if k.isdigit()},
                refused={k: "not a Moodle user id (a number)" for k in keys if not k.isdigit()},
            )
        fold = user_field in ("email", "username")
        sent: dict[str, list[str]] = {}  # value sent -> the learner keys it stands for
        own: dict[str, list[str]] = {}  # learner key -> the values sent for it
        for key in keys:
            own[key] = [key.lower()] if user_field == "username" else [key]
            if user_field == "email" and key.lower() != key:
                own[key].append(key.lower())
            for value in own[key]:
                sent.setdefault(value, []).append(key)
        values = sorted(sent)
        chunks = [values[i : i + USERS_PER_CALL] for i in range(0, len(values), USERS_PER_CALL)]
        refused_values: set[str] = set()
        by_value: dict[str, int] = {}
        while chunks:
            batch = self.client.run_many([Calls.get_users_by_field(user_field, c) for c in chunks])
            for users in batch.values:
                for user in users:
                    got = _user_value(user, user_field)
                    if got is not None:
                        by_value[got.casefold() if fold else got] = user.id
            if batch.error is None:
                break
            if not (
                isinstance(batch.error, FatalRemoteError) and batch.error.code == "invalidparameter"
            ):
                raise batch.error
            failed, rest = chunks[len(batch.values)], chunks[len(batch.values) + 1 :]
            if len(failed) == 1:
                refused_values.add(failed[0])
                chunks = rest
            else:
                half = len(failed) // 2
                chunks = [failed[:half], failed[half:], *rest]
        found: dict[str, int] = {}
        refused: dict[str, str] = {}
        for value in values:
            uid = by_value.get(value.casefold() if fold else value)
            for key in sent[value]:
                if uid is not None:
                    found.setdefault(key, uid)
        for key in keys:
            if key not in found and all(v in refused_values for v in own[key]):
                refused[key] = (
                    f"Moodle refuses {key!r} as a {user_field} (its cleaning would change "
                    "it), so no user can have it"
                )
        return UserLookup(found=found, refused=refused)

    # -- ratings --------------------------------------------------------------------------

    def course_competency_ids(self, course_id: int) -> frozenset[int]:
        """The competencies linked to the course (Moodle rates and reads only those in the
        course mode: any other fails the whole request)."""
        entries = self.client.run(Calls.list_course_competencies(course_id))
        return frozenset(e.coursecompetency.competencyid for e in entries)

    def grades(
        self, pairs: Sequence[Pair], *, rate_in: RateIn, course_id: int | None = None
    ) -> Grades:
        """Current grade per (user, competency) where ``rate_in`` rates; in the plan mode
        also the active plan holding each pair (the first found)."""
        grades = Grades()
        unique = list(dict.fromkeys(pairs))
        if not unique:
            return grades
        if rate_in == "site":
            summaries = self.run_reads([Calls.user_competency_summary(u, c) for u, c in unique])
            for pair, summary in zip(unique, summaries, strict=True):
                uc = summary.usercompetency
                grades.current[pair] = uc.grade if uc is not None else None
        elif rate_in == "course":
            if course_id is None:
                raise ConfigurationError("moodle: rating in a course needs course_id")
            summaries_c = self.run_reads(
                [Calls.user_competency_summary_in_course(u, c, course_id) for u, c in unique]
            )
            for pair, summary_c in zip(unique, summaries_c, strict=True):
                body = summary_c.usercompetencysummary
                ucc = body.usercompetencycourse if body is not None else None
                grades.current[pair] = ucc.grade if ucc is not None else None
        else:
            users = sorted({u for u, _ in unique})
            plans = self.run_reads([Calls.list_user_plans(u) for u in users])
            active = sorted(p.id for items in plans for p in items if p.status == 1)
            owner = {p.id: p.userid for items in plans for p in items}
            contents = self.run_reads([Calls.list_plan_competencies(p) for p in active])
            for plan_id, entries in zip(active, contents, strict=True):
                for entry in entries:
                    pair = (owner[plan_id], entry.competency.id)
                    if pair in grades.plans:
                        continue
                    grades.plans[pair] = plan_id
                    uc = entry.usercompetency
                    grades.current[pair] = uc.grade if uc is not None else None
        return grades


def _user_value(user: WireUser, field: UserField) -> str | None:
    if field == "email":
        return user.email
    if field == "username":
        return user.username
    if field == "idnumber":
        return user.idnumber
    return str(user.id)


__all__ = ["Grades", "Pair", "SiteReader", "UserLookup"]
