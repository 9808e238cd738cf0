"""Evidence that cannot count: a competency the framework does not have, a level its scale
does not have. The rules engine only counts such evidence as skipped; these checks name
each one with its place, the bad key and the closest valid key, so that a typo
(``"Proficient"`` for ``proficient``) is found instead of silently dropped.

Pure: the caller passes evidence with its line numbers and decides what to do with the
problems (``validate`` reports them all, ``compute`` the first ones, ``--strict`` fails).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.errors import Problem, Severity


def closest_key(name: str, choices: Iterable[str]) -> str | None:
    """The valid key ``name`` most likely meant: same text in another case, else the
    closest spelling (``None`` when nothing is close)."""
    options = list(choices)
    folded = {choice.casefold(): choice for choice in options}
    if name.casefold() in folded:
        return folded[name.casefold()]
    found = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return found[0] if found else None


def _hint(name: str, choices: Iterable[str]) -> str:
    found = closest_key(name, choices)
    return f" (did you mean {found!r}?)" if found is not None else ""


def unknown_competencies(
    framework: Framework, named: Iterable[tuple[str, str]], *, file: str | None = None
) -> list[Problem]:
    """Problems for the keys of ``named`` (``(where, key)`` pairs, e.g. from a mapping
    file) that are no competency of ``framework``."""
    keys = [c.key for c in framework.competencies]
    return [
        Problem(
            f"{where} names competency {key!r}, which framework {framework.key!r} does not "
            f"have{_hint(key, keys)}",
            file=file,
        )
        for where, key in named
        if key not in framework
    ]


class EvidenceChecker:
    """Checks evidence against one framework, collecting located problems as it goes."""

    def __init__(self, framework: Framework, *, source: str, severity: Severity = "error") -> None:
        self.framework = framework
        self.source = source
        self.severity: Severity = severity
        self.problems: list[Problem] = []
        self._keys: Sequence[str] = [c.key for c in framework.competencies]
        self._levels: dict[str, set[str]] = {}

    def check(self, line: int, item: Evidence) -> None:
        """Record what keeps ``item`` (read from ``line``) from counting, if anything."""
        competency = item.competency
        if competency not in self.framework:
            self._add(
                line,
                f"competency {competency!r} is not in framework {self.framework.key!r}"
                f"{_hint(competency, self._keys)}",
                "competency",
            )
            return
        if item.level is None:
            return
        levels = self._levels.get(competency)
        if levels is None:
            levels = set(self.framework.scale_for(competency).by_key)
            self._levels[competency] = levels
        if item.level not in levels:
            self._add(
                line,
                f"level {item.level!r} is not a level of competency {competency!r}"
                f"{_hint(item.level, sorted(levels))}",
                "level",
            )

    def watch(self, numbered: Iterable[tuple[int, Evidence]]) -> Iterator[Evidence]:
        """Pass evidence through unchanged, checking each item on the way."""
        for line, item in numbered:
            self.check(line, item)
            yield item

    def _add(self, line: int, message: str, field: str) -> None:
        self.problems.append(
            Problem(message, file=self.source, line=line, field=field, severity=self.severity)
        )


__all__ = ["EvidenceChecker", "closest_key", "unknown_competencies"]
