"""Carrying out one change: a table from ``Kind`` and action to a file operation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

from comp_adapters.errors import PlanError
from comp_adapters.sync.journal import Result
from comp_adapters.sync.plan import Action, Change
from comp_json_dir.settings import Folder


class Kind(StrEnum):
    """What a change writes; the values are what ``Change.kind`` holds in saved plans."""

    FRAMEWORK = "framework"
    COMPETENCY = "competency"
    RESULT = "result"


SHAPES: dict[Kind, int] = {Kind.FRAMEWORK: 1, Kind.COMPETENCY: 2, Kind.RESULT: 3}
"""How many encoded path parts a change key of each kind has."""


def paths(kind: Kind, key: str) -> tuple[str, ...]:
    """The file a change writes: its key is ``/``-joined encoded parts (framework,
    [learner,] competency), see :func:`comp_json_dir.settings.part`."""
    parts = key.split("/")
    if len(parts) != SHAPES[kind] or not all(parts):
        raise PlanError(f"json-dir: {key!r} is not the key of a {kind.value}")
    if kind is Kind.FRAMEWORK:
        return (parts[0], "framework.json")
    if kind is Kind.COMPETENCY:
        return (parts[0], "competencies", parts[1] + ".json")
    return (parts[0], "results", parts[1], parts[2] + ".json")


class Executor:
    """Performs the changes of a json-dir plan on a folder."""

    def __init__(self, folder: Folder) -> None:
        self.folder = folder
        self._table: dict[Action, Callable[[Kind, Change], None]] = {
            Action.CREATE: self._write,
            Action.UPDATE: self._write,
            Action.DELETE: self._delete,
        }

    def __call__(self, change: Change, _done: Mapping[str, Result]) -> Result | None:
        try:
            kind = Kind(change.kind)
        except ValueError:
            raise PlanError(f"json-dir cannot apply a change of kind {change.kind!r}") from None
        operation = self._table.get(change.action)
        if operation is None:
            raise PlanError(f"json-dir cannot {change.action.value} a {kind.value}")
        operation(kind, change)
        return None

    def _write(self, kind: Kind, change: Change) -> None:
        self.folder.write(change.fields, *paths(kind, change.key))

    def _delete(self, kind: Kind, change: Change) -> None:
        self.folder.delete(*paths(kind, change.key))
