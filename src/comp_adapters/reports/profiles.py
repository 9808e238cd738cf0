"""Role profiles: what each role requires, how often it is reassessed, what helps to learn it.

A role profile file (TOML or JSON; read by :mod:`comp_adapters.reports.files`) holds

- ``[[roles]]``: each role's ``key``, ``title``, HR ``aliases`` (job codes or titles that
  mean this role in the people file), reassessment ``cadence`` and ``[[roles.requirements]]``:
  a competency, the ``target`` level, a ``weight`` (its share in the role's coverage), a
  business ``impact`` and a ``criticality`` (1-5 each; their product with the size of a gap
  is the gap's priority), and optionally its own ``cadence``;
- ``[[resources]]``: learning resources (courses, microlearning, articles...) with a URL,
  linked to the competencies they teach. They live here, not in the framework: which
  courses an organisation offers is its own business, while the framework is shared with
  every LMS and CASE provider;
- ``[people]``: which columns of the HR export hold what (see
  :mod:`comp_adapters.reports.people`).

Everything here is pure: :func:`profiles_from_data` builds the model from parsed data and
reports every problem with its place; :func:`check_against` checks it against a framework.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from comp_adapters.core.framework import Framework
from comp_adapters.core.scale import Key
from comp_adapters.errors import Problem, ValidationError

FORMAT_MARK = "comp-adapters/roles@1"
"""Value of the optional ``format`` member of a role profile file."""

_NAMED_CADENCES = {
    "monthly": "P1M",
    "quarterly": "P3M",
    "semi-annual": "P6M",
    "semiannual": "P6M",
    "annual": "P1Y",
    "yearly": "P1Y",
}
_ISO_CADENCE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
Score = int
"""Impact and criticality: 1 (low) to 5 (high)."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """A reassessment interval: whole months plus days (so "quarterly" is 3 calendar months)."""

    months: int
    days: int
    text: str

    def __str__(self) -> str:
        return self.text


def parse_cadence(text: str) -> Cadence:
    """``quarterly``, ``semi-annual``, ``annual``, ``monthly`` or an ISO 8601 period such as
    ``P3M``, ``P90D``, ``P2W``, ``P1Y6M``; ``ValueError`` otherwise."""
    cleaned = text.strip().lower()
    iso = _NAMED_CADENCES.get(cleaned, cleaned.upper())
    match = _ISO_CADENCE.match(iso)
    if not match or iso == "P":
        raise ValueError(
            f"cadence {text!r}: expected monthly, quarterly, semi-annual, annual or an "
            "ISO 8601 period such as P3M or P90D"
        )
    years, months, weeks, days = (int(part) if part else 0 for part in match.groups())
    total_months, total_days = years * 12 + months, weeks * 7 + days
    if total_months == 0 and total_days == 0:
        raise ValueError(f"cadence {text!r} is zero")
    return Cadence(months=total_months, days=total_days, text=text.strip())


class Requirement(BaseModel):
    """One competency a role requires, at a target level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    competency: Key
    target: Key = Field(description="key of the level the role requires (or above)")
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    impact: Score = Field(default=3, ge=1, le=5, description="business impact of a gap, 1-5")
    criticality: Score = Field(
        default=3, ge=1, le=5, description="how critical and how frequent the need is, 1-5"
    )
    cadence: str | None = Field(default=None, description="overrides the role's cadence")

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cadence(value)
        return value


class Role(BaseModel):
    """A role and what it requires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key
    title: str = Field(min_length=1)
    description: str | None = None
    aliases: tuple[str, ...] = Field(
        default=(), description="other names of this role in the people file (HR job codes)"
    )
    cadence: str = Field(
        default="semi-annual",
        description="reassessment interval: quarterly for fast-moving roles, semi-annual for "
        "stable ones, or an ISO 8601 period (P3M, P90D)",
    )
    requirements: tuple[Requirement, ...] = Field(min_length=1)

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        parse_cadence(value)
        return value

    @model_validator(mode="after")
    def _unique(self) -> Role:
        keys = [r.competency for r in self.requirements]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"a role lists a competency twice: {', '.join(twice)}")
        return self

    def cadence_for(self, requirement: Requirement) -> Cadence:
        return parse_cadence(requirement.cadence or self.cadence)


class Resource(BaseModel):
    """Something to learn from, linked to the competencies it teaches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Key
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$", description="http(s) address of the resource")
    kind: Literal["course", "microlearning", "article", "video", "coaching", "other"] = "course"
    minutes: int | None = Field(default=None, ge=1)
    competencies: tuple[Key, ...] = Field(min_length=1)


class PeopleColumns(BaseModel):
    """Which column of the people file (an HR export) holds what; header names as written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    person: str = Field(default="person", description="the learner key used in the evidence")
    name: str | None = "name"
    role: str = "role"
    team: str | None = "team"
    manager: str | None = "manager"
    since: str | None = Field(default="since", description="when the person took the role")
    next_role: str | None = Field(default="next_role", description="the role they aim for")
    date_format: str | None = Field(
        default=None,
        description="strptime format of the since column (e.g. %d/%m/%Y); default ISO 8601",
    )


class RoleProfiles(BaseModel):
    """Every role, the learning resources, and how to read the people file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: Key | None = Field(default=None, description="key of the framework these use")
    roles: tuple[Role, ...] = Field(min_length=1)
    resources: tuple[Resource, ...] = ()
    people: PeopleColumns = PeopleColumns()

    @model_validator(mode="after")
    def _unique(self) -> RoleProfiles:
        problems: list[str] = []
        for what, keys in (
            ("role", [r.key for r in self.roles]),
            ("resource", [r.key for r in self.resources]),
        ):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            if twice:
                problems.append(f"duplicate {what} keys: {', '.join(twice)}")
        names: dict[str, str] = {}
        for role in self.roles:
            for name in (role.key, *role.aliases):
                other = names.setdefault(name.casefold(), role.key)
                if other != role.key:
                    problems.append(f"{name!r} names both role {other!r} and role {role.key!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def by_key(self) -> dict[str, Role]:
        return {role.key: role for role in self.roles}

    @cached_property
    def role_names(self) -> dict[str, str]:
        """Every name of a role (key or alias, case-folded) -> its key."""
        return {
            name.casefold(): role.key for role in self.roles for name in (role.key, *role.aliases)
        }

    def resources_for(self, competency: str) -> tuple[Resource, ...]:
        return self._resources_by_competency.get(competency, ())

    @cached_property
    def _resources_by_competency(self) -> dict[str, tuple[Resource, ...]]:
        found: dict[str, list[Resource]] = {}
        for resource in self.resources:
            for key in resource.competencies:
                found.setdefault(key, []).append(resource)
        return {key: tuple(items) for key, items in found.items()}


def profiles_schema() -> dict[str, Any]:
    """JSON Schema of a role profile file."""
    schema = RoleProfiles.model_json_schema(mode="validation")
    schema["properties"] = {
        "$schema": {"type": "string"},
        "format": {"const": FORMAT_MARK},
        **schema["properties"],
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "comp_adapters role profiles"
    return schema


def profiles_from_data(
    data: Any, *, source: str | None = None, lines: Mapping[str, int] | None = None
) -> RoleProfiles:
    """Role profiles from parsed TOML/JSON data; every problem at once, each located.

    ``lines`` maps field paths (``roles[1].requirements[0]``) to the line they start on,
    when the reader could tell (see :func:`comp_adapters.reports.files.toml_lines`).
    """
    if not isinstance(data, Mapping):
        raise ValidationError(
            [Problem(f"expected a table/object, found {type(data).__name__}", file=source)]
        )
    mark = data.get("format", FORMAT_MARK)
    if mark != FORMAT_MARK:
        raise ValidationError(
            [Problem(f"unknown format {mark!r}, expected {FORMAT_MARK!r}", file=source)]
        )
    body = {k: v for k, v in data.items() if k not in ("format", "$schema")}
    try:
        return RoleProfiles.model_validate(body)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [_problem(item, source, lines or {}) for item in exc.errors(include_url=False)]
        ) from None


def _problem(item: Any, source: str | None, lines: Mapping[str, int]) -> Problem:
    path = _path(item["loc"])
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "unknown field"
    return Problem(message, file=source, line=locate(path, lines), field=path or None)


def locate(path: str, lines: Mapping[str, int]) -> int | None:
    """The line of ``path`` or of the nearest enclosing table/item the reader located."""
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return None


def _path(loc: Sequence[int | str]) -> str:
    """``roles[1].requirements[0].target``, from pydantic's location."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def check_against(
    profiles: RoleProfiles,
    framework: Framework,
    *,
    source: str | None = None,
    lines: Mapping[str, int] | None = None,
) -> list[Problem]:
    """Problems of role profiles with this framework: unknown competencies and levels,
    located like :func:`profiles_from_data`'s."""
    found = _framework_problems(profiles, framework)
    return [
        Problem(p.message, file=source, line=locate(p.field or "", lines or {}), field=p.field)
        for p in found
    ]


def _framework_problems(profiles: RoleProfiles, framework: Framework) -> list[Problem]:
    problems: list[Problem] = []
    if profiles.framework is not None and profiles.framework != framework.key:
        problems.append(
            Problem(
                f"the roles are for framework {profiles.framework!r}, not {framework.key!r}",
                field="framework",
            )
        )
    for r, role in enumerate(profiles.roles):
        for q, requirement in enumerate(role.requirements):
            where = f"roles[{r}].requirements[{q}]"
            if requirement.competency not in framework:
                problems.append(
                    Problem(
                        f"unknown competency {requirement.competency!r} in role {role.key!r}",
                        field=f"{where}.competency",
                    )
                )
                continue
            scale = framework.scale_for(requirement.competency)
            if requirement.target not in scale.by_key:
                levels = ", ".join(level.key for level in scale.levels)
                problems.append(
                    Problem(
                        f"unknown level {requirement.target!r} for {requirement.competency!r} "
                        f"(levels: {levels})",
                        field=f"{where}.target",
                    )
                )
    for s, resource in enumerate(profiles.resources):
        problems.extend(
            Problem(
                f"resource {resource.key!r} names unknown competency {key!r}",
                field=f"resources[{s}].competencies[{c}]",
            )
            for c, key in enumerate(resource.competencies)
            if key not in framework
        )
    return problems
