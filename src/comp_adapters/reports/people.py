"""Assignments: who holds which role, in which team, under which manager, since when.

Read from a people file as HR systems export it (CSV, one row per person and role). Which
column holds what is configured in the role profile file's ``[people]`` table (header names
as the export writes them); the Excel dialects (byte order mark, ``;`` separator, CR/CRLF
line ends, quoted multi-line cells) are handled by :mod:`comp_adapters._csv`, as for
Canvas's outcomes CSV. A role is named by its key or one of its ``aliases`` (case-insensitive).
Every problem is reported at once, with its file, line and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property

from comp_adapters._csv import csv_records, sniff_delimiter
from comp_adapters.core.timeutil import to_utc
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.reports.profiles import PeopleColumns, RoleProfiles


@dataclass(frozen=True, slots=True)
class Assignment:
    """One person holding one role."""

    person: str
    role: str
    name: str | None = None
    team: str | None = None
    manager: str | None = None
    since: datetime | None = None
    next_role: str | None = None
    line: int | None = None


def people_from_csv_text(
    text: str, profiles: RoleProfiles, *, source: str = "<people>"
) -> list[Assignment]:
    """Assignments from the text of a people file (already decoded)."""
    columns = profiles.people
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[Problem] = []
    found: list[Assignment] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        records = csv_records(reader)
        first = next(records, None)
        if first is None:
            raise ValidationError([Problem("the file is empty: no header row", source, 1)])
        index = _header(first[1], columns, source)
        for line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            item = _row(cells, index, columns, profiles, source, line, problems)
            if item is None:
                continue
            key = (item.person, item.role)
            if key in seen:
                problems.append(
                    Problem(
                        f"{item.person!r} holds role {item.role!r} already (line {seen[key]})",
                        source,
                        line,
                        field=columns.role,
                    )
                )
                continue
            seen[key] = line
            found.append(item)
    except csv.Error as exc:
        raise ValidationError(
            [*problems, Problem(f"malformed CSV: {exc}", source, reader.line_num or None)]
        ) from None
    if problems:
        raise ValidationError(problems)
    return found


def _header(cells: Sequence[str], columns: PeopleColumns, source: str) -> dict[str, int]:
    names = [cell.strip() for cell in cells]
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name.casefold(), position)
    wanted = {
        "person": columns.person,
        "role": columns.role,
        "name": columns.name,
        "team": columns.team,
        "manager": columns.manager,
        "since": columns.since,
        "next_role": columns.next_role,
    }
    required = ("person", "role")
    missing = [
        f"{wanted[field]!r} ({field})"
        for field in required
        if (wanted[field] or "").casefold() not in index
    ]
    if missing:
        raise ValidationError(
            [
                Problem(
                    f"missing column {', '.join(missing)}; the header has {names}; map the "
                    "columns in the [people] table of the role profile file",
                    source,
                    1,
                )
            ]
        )
    return {
        field: index[header.casefold()]
        for field, header in wanted.items()
        if header is not None and header.casefold() in index
    }


def _row(
    cells: Sequence[str],
    index: dict[str, int],
    columns: PeopleColumns,
    profiles: RoleProfiles,
    source: str,
    line: int,
    problems: list[Problem],
) -> Assignment | None:
    def cell(field: str) -> str:
        at = index.get(field)
        return cells[at].strip() if at is not None and at < len(cells) else ""

    start = len(problems)
    person = cell("person")
    if not person:
        problems.append(Problem("the person is empty", source, line, field=columns.person))
    role = _role(cell("role"), profiles, source, line, columns.role, problems, required=True)
    next_role = _role(
        cell("next_role"), profiles, source, line, columns.next_role, problems, required=False
    )
    since = None
    if cell("since"):
        try:
            since = parse_day(cell("since"), columns.date_format)
        except ValueError as exc:
            problems.append(Problem(str(exc), source, line, field=columns.since))
    if len(problems) > start or role is None:
        return None
    return Assignment(
        person=person,
        role=role,
        name=cell("name") or None,
        team=cell("team") or None,
        manager=cell("manager") or None,
        since=since,
        next_role=next_role,
        line=line,
    )


def _role(
    text: str,
    profiles: RoleProfiles,
    source: str,
    line: int,
    column: str | None,
    problems: list[Problem],
    *,
    required: bool,
) -> str | None:
    if not text:
        if required:
            problems.append(Problem("the role is empty", source, line, field=column))
        return None
    key = profiles.role_names.get(text.casefold())
    if key is None:
        known = ", ".join(role.key for role in profiles.roles)
        problems.append(
            Problem(
                f"unknown role {text!r} (roles: {known}; HR names go in a role's aliases)",
                source,
                line,
                field=column,
            )
        )
    return key


def parse_day(text: str, date_format: str | None = None) -> datetime:
    """A date or date-time from an HR export, as an aware UTC instant.

    Without ``date_format``: ISO 8601 (``2025-03-01``, or a date-time with an offset); a
    bare date means its start in UTC. With one: ``datetime.strptime`` with that format.
    """
    try:
        if date_format:
            value = datetime.strptime(text, date_format)  # noqa: DTZ007 - zone added below
        elif len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        wanted = date_format or "an ISO 8601 date such as 2025-03-01"
        raise ValueError(f"not a date: {text!r} (expected {wanted})") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_utc(value)


@dataclass(frozen=True)
class ReportingLines:  # not slots: cached_property needs a __dict__
    """Who manages whom, from the assignments (a person's managers over all their roles)."""

    managers: dict[str, frozenset[str]]

    @classmethod
    def of(cls, assignments: Iterable[Assignment]) -> ReportingLines:
        found: dict[str, set[str]] = {}
        for item in assignments:
            found.setdefault(item.person, set())
            if item.manager and item.manager != item.person:
                found[item.person].add(item.manager)
        return cls({person: frozenset(bosses) for person, bosses in found.items()})

    def chain(self, person: str) -> frozenset[str]:
        """Every manager above ``person``: their managers, those managers' managers..."""
        above: set[str] = set()
        todo = list(self.managers.get(person, ()))
        while todo:
            boss = todo.pop()
            if boss not in above:
                above.add(boss)
                todo.extend(self.managers.get(boss, ()))
        return frozenset(above)

    def team(self, manager: str) -> frozenset[str]:
        """Everyone ``manager`` manages, directly or through others."""
        below: set[str] = set()
        todo = list(self._reports.get(manager, ()))
        while todo:
            person = todo.pop()
            if person not in below and person != manager:
                below.add(person)
                todo.extend(self._reports.get(person, ()))
        return frozenset(below)

    @cached_property
    def _reports(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for person, bosses in self.managers.items():
            for boss in bosses:
                found.setdefault(boss, []).append(person)
        return found
