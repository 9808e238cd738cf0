"""Reading what a gap analysis needs from files: role profiles, people, a previous report.

The I/O half of :mod:`comp_adapters.reports` (the rest is pure). Every problem names the
file and, where it can be told, the line: TOML and JSON syntax errors by their line; field
problems in a role profile file by the line of the table they are in (``[[roles]]``,
``[[roles.requirements]]``, ``[[resources]]``...) and the field's path.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from comp_adapters._csv import decode_csv_bytes
from comp_adapters._files import read_json_file, read_text_file
from comp_adapters.core.framework import Framework
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.reports.analysis import DATA_FORMAT
from comp_adapters.reports.people import Assignment, people_from_csv_text
from comp_adapters.reports.profiles import RoleProfiles, check_against, profiles_from_data

_TABLE = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]\s*(?:#.*)?$")
_SINGLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def toml_lines(text: str) -> dict[str, int]:
    """Field path -> line, for the tables and keys of a TOML text written in the usual
    style (array-of-tables headers, one key a line). Best effort: paths it cannot tell are
    simply missing, and problems then carry the nearest enclosing path's line."""
    lines: dict[str, int] = {}
    counters: dict[str, int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        table = _TABLE.match(line)
        single = _SINGLE.match(line) if table is None else None
        if table is not None:
            parts = table.group(1).split(".")
            parent = _resolve(parts[:-1], counters)
            name = f"{parent}.{parts[-1]}" if parent else parts[-1]
            index = counters.get(name, -1) + 1
            counters[name] = index
            current = f"{name}[{index}]"
            _forget_below(counters, name)
            lines[current] = number
        elif single is not None:
            current = _resolve(single.group(1).split("."), counters)
            lines[current] = number
        else:
            assigned = _KEY.match(line)
            if assigned is not None:
                name = assigned.group(1)
                lines[f"{current}.{name}" if current else name] = number
    return lines


def _resolve(parts: list[str], counters: dict[str, int]) -> str:
    """``roles.requirements`` -> ``roles[2].requirements`` with the current indexes."""
    path = ""
    for part in parts:
        path = f"{path}.{part}" if path else part
        if path in counters:
            path = f"{path}[{counters[path]}]"
    return path


def _forget_below(counters: dict[str, int], name: str) -> None:
    """A new item of ``name`` starts its nested arrays of tables afresh."""
    prefix = f"{name}["
    for key in [k for k in counters if k.startswith(prefix)]:
        del counters[key]


def load_profiles(path: str | Path) -> tuple[RoleProfiles, dict[str, int]]:
    """Role profiles from a TOML (``.toml``) or JSON file, and where each field is."""
    source = str(path)
    file = Path(path)
    if file.suffix.lower() != ".toml":
        return profiles_from_data(read_json_file(file), source=source), {}
    text = read_text_file(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise ValidationError(
            [
                Problem(
                    f"invalid TOML: {exc}", file=source, line=int(found.group(1)) if found else None
                )
            ]
        ) from None
    lines = toml_lines(text)
    return profiles_from_data(data, source=source, lines=lines), lines


def load_checked_profiles(path: str | Path, framework: Framework) -> RoleProfiles:
    """Role profiles checked against ``framework``: every problem at once, located."""
    profiles, lines = load_profiles(path)
    problems = check_against(profiles, framework, source=str(path), lines=lines)
    if problems:
        raise ValidationError(problems)
    return profiles


def load_people(path: str | Path, profiles: RoleProfiles) -> list[Assignment]:
    """Assignments from a people file (an HR export: CSV in any Excel dialect)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    return people_from_csv_text(decode_csv_bytes(data, source=source), profiles, source=source)


def load_previous(path: str | Path) -> dict[str, Any]:
    """A previous report's data file (``report --data``), for the change since then."""
    source = str(path)
    data = read_json_file(path)
    if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
        raise ValidationError(
            [Problem(f"not a report data file (expected format {DATA_FORMAT!r})", file=source)]
        )
    return data
