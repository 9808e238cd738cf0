"""Whole-framework checks, and building a framework from untrusted data.

Field-level problems (a wrong type, an int out of range) come from pydantic; the checks
here look across competencies (duplicate keys, unknown parents, cycles, rules naming
non-children). :func:`framework_from_data` runs both and reports every problem found, each
located by competency key and field, in one :class:`~comp_adapters.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pydantic

from comp_adapters.core.framework import Competency, Framework, RuleOutcome
from comp_adapters.errors import Problem, ValidationError


def raise_on_errors(problems: Iterable[Problem], *, file: str | None = None) -> list[Problem]:
    """Raise :class:`ValidationError` if any problem is an error; return the warnings."""
    found = [p.with_file(file) if file else p for p in problems]
    if any(p.severity == "error" for p in found):
        raise ValidationError(found)
    return found


def check_competencies(competencies: Sequence[Competency]) -> list[Problem]:
    """Cross-competency problems: keys, parents, cycles, relations and rule children."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for competency in competencies:
        if competency.key in seen:
            problems.append(Problem("duplicate competency key", key=competency.key, field="key"))
        seen.add(competency.key)

    parent_of = {c.key: c.parent for c in competencies}
    for competency in competencies:
        if competency.parent is not None and competency.parent not in parent_of:
            problems.append(
                Problem(f"unknown parent {competency.parent!r}", key=competency.key, field="parent")
            )
        if competency.parent == competency.key:
            problems.append(Problem("a competency cannot be its own parent", key=competency.key))
        for index, relation in enumerate(competency.related):
            if relation.key is not None and relation.key not in parent_of:
                problems.append(
                    Problem(
                        f"unknown related competency {relation.key!r}",
                        key=competency.key,
                        field=f"related[{index}].key",
                    )
                )
            if relation.key == competency.key:
                problems.append(
                    Problem(
                        "a competency cannot be related to itself",
                        key=competency.key,
                        field=f"related[{index}].key",
                    )
                )
    problems.extend(_cycles(parent_of))

    children: dict[str, list[str]] = {}
    for competency in competencies:
        if competency.parent is not None:
            children.setdefault(competency.parent, []).append(competency.key)
    for competency in competencies:
        rule = competency.rollup
        if rule is None:
            continue
        kids = set(children.get(competency.key, ()))
        if not kids:
            problems.append(
                Problem(
                    f"a {rule.type} rule on a competency without children never matches",
                    key=competency.key,
                    field="rollup",
                    severity="warning",
                )
            )
        for index, child in enumerate(rule.children):
            if child.key not in kids:
                problems.append(
                    Problem(
                        f"points rule names {child.key!r}, which is not a direct child",
                        key=competency.key,
                        field=f"rollup.children[{index}].key",
                    )
                )
    return problems


def _cycles(parent_of: Mapping[str, str | None]) -> list[Problem]:
    """One problem per parent cycle, reported on its smallest key so reports are stable."""
    problems: list[Problem] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = known acyclic
    for start in sorted(parent_of):
        path: list[str] = []
        node: str | None = start
        while node is not None and node in parent_of and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = parent_of[node]
        if node is not None and state.get(node) == 1 and node in path:
            cycle = path[path.index(node) :]
            if len(cycle) > 1:
                shown = " -> ".join([*cycle, cycle[0]])
                problems.append(Problem(f"parent cycle: {shown}", key=min(cycle), field="parent"))
        for visited in path:
            state[visited] = 2
    return problems


def check_framework(framework: Framework) -> list[Problem]:
    """Every cross-competency problem of a framework, plus warnings about its scales."""
    problems = check_competencies(framework.competencies)
    for message in framework.scale.consistency_warnings():
        problems.append(Problem(message, field="scale", severity="warning"))
    for competency in framework.competencies:
        if competency.scale is not None:
            for message in competency.scale.consistency_warnings():
                problems.append(
                    Problem(message, key=competency.key, field="scale", severity="warning")
                )
        rule = competency.rollup
        if rule is not None and rule.outcome == RuleOutcome.COMPLETE:
            scale = competency.scale or framework.scale
            if not scale.default.proficient:
                problems.append(
                    Problem(
                        f"rule outcome 'complete' rates the competency with the scale's default "
                        f"level {scale.default_level!r}, which is not proficient (Moodle "
                        "behaves the same way)",
                        key=competency.key,
                        field="rollup.outcome",
                        severity="warning",
                    )
                )
    if (
        framework.effective_from is not None
        and framework.effective_until is not None
        and framework.effective_until <= framework.effective_from
    ):
        problems.append(
            Problem("effective_until must be after effective_from", field="effective_until")
        )
    return problems


def _problems_from_pydantic(
    error: pydantic.ValidationError, *, keys_by_index: Mapping[int, str], prefix: str = ""
) -> list[Problem]:
    """Turn pydantic's errors into located problems, naming competencies by key."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        key: str | None = None
        if len(loc) >= 2 and loc[0] == "competencies" and isinstance(loc[1], int):
            index = loc[1]
            key = keys_by_index.get(index)
            loc = loc[2:] if key is not None else loc
        field = _format_loc(loc, prefix)
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(Problem(message, key=key, field=field or None))
    return problems


def _format_loc(loc: Sequence[int | str], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def framework_from_data(data: Any, *, source: str | None = None) -> Framework:
    """Build a :class:`Framework` from parsed JSON-like data, reporting every problem.

    Raises :class:`ValidationError` listing field problems and cross-competency problems
    together, each located by competency key and field (and ``source``, usually the file).
    Returns the framework (canonically ordered) when there is no error.
    """
    if not isinstance(data, Mapping):
        raise ValidationError(
            [Problem(f"expected a JSON object, found {type(data).__name__}", file=source)]
        )
    raw_competencies = data.get("competencies", ())
    keys_by_index: dict[int, str] = {}
    if isinstance(raw_competencies, list):
        for index, raw in enumerate(raw_competencies):
            if isinstance(raw, Mapping) and isinstance(raw.get("key"), str):
                keys_by_index[index] = raw["key"]
    try:
        framework = Framework.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = _problems_from_pydantic(exc, keys_by_index=keys_by_index)
        problems.extend(_cross_checks_of_valid_items(raw_competencies))
        raise_on_errors(_dedupe(problems), file=source)
        raise  # pragma: no cover - pydantic only raises with at least one error
    except ValidationError as exc:
        raise ValidationError(
            [p.with_file(source) if source else p for p in exc.problems]
        ) from None
    return framework.canonical()


def _cross_checks_of_valid_items(raw_competencies: object) -> list[Problem]:
    """Cross-checks over every competency, including those whose fields are invalid.

    An invalid competency takes part by its key and parent (when those are strings), so
    one report shows a wrong field and an unknown parent or a duplicate key together,
    instead of the second only after the first is fixed.
    """
    if not isinstance(raw_competencies, list):
        return []
    items: list[Competency] = []
    for raw in raw_competencies:
        try:
            items.append(Competency.model_validate(raw))
        except pydantic.ValidationError:
            if isinstance(raw, Mapping) and isinstance(raw.get("key"), str):
                parent = raw.get("parent")
                items.append(
                    Competency.model_construct(
                        key=raw["key"],
                        title=str(raw.get("title") or raw["key"]),
                        parent=parent if isinstance(parent, str) else None,
                    )
                )
    return check_competencies(items)


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    unique: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique
