"""Carrying out an xAPI plan: its change kinds and the executor the apply engine calls.

The one kind is :attr:`Kind.STATEMENT` (send one proficiency statement). Statements are
sent with one POST per batch: executing a change not confirmed yet sends it together with
the next unconfirmed writes of the plan (up to ``batch_size``), and the changes after it
find their confirmation waiting. Each id is confirmed from the POST answer, falling back to
looking it up only when the LRS answers 409 or leaves ids out of its answer (Ralph leaves
out ids it held; 204 when it held all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Final, Protocol

from comp_adapters.errors import ConflictError, FatalRemoteError, PlanError
from comp_adapters.sync.journal import Result
from comp_adapters.sync.plan import Change, Plan

log = logging.getLogger("comp_adapters.xapi")

NAME: Final = "xapi"


class StatementSender(Protocol):
    """What the executor needs of an LRS client (:class:`~comp_adapters.xapi.XapiClient`)."""

    def post_statements(self, statements: list[dict[str, Any]]) -> list[str]: ...

    def get_statement(self, statement_id: str) -> dict[str, Any] | None: ...


class Kind(StrEnum):
    """What an xAPI change does (the value is what ``Change.kind`` holds)."""

    STATEMENT = "statement"
    """Send one statement (its JSON is ``fields["statement"]``), id kept."""


class StatementExecutor:
    """Executes the write changes of one plan against one LRS, batching the POSTs."""

    def __init__(self, client: StatementSender, plan: Plan, *, batch_size: int) -> None:
        if batch_size < 1:
            raise PlanError("xapi: batch_size must be >= 1")
        self.client = client
        self.batch_size = batch_size
        self._writes = [c for c in plan.changes if c.writes]
        self._index = {c.id: i for i, c in enumerate(self._writes)}
        self._confirmed: dict[str, Result] = {}
        self._handlers: dict[Kind, Callable[[Change, Mapping[str, Result]], Result]] = {
            Kind.STATEMENT: self._statement,
        }

    def __call__(self, change: Change, done: Mapping[str, Result]) -> Result:
        """Carry out ``change`` (``done``: results of the changes applied so far)."""
        try:
            kind = Kind(change.kind)
        except ValueError:
            raise PlanError(
                f"xapi: change {change.id} has kind {change.kind!r}, which this adapter does "
                f"not make (known: {', '.join(k.value for k in Kind)}); not applied"
            ) from None
        return self._handlers[kind](change, done)

    def _statement(self, change: Change, done: Mapping[str, Result]) -> Result:
        if change.id not in self._confirmed:
            start = self._index.get(change.id)
            if start is None:
                raise PlanError(f"xapi: change {change.id} is not a write of this plan")
            batch = [
                c for c in self._writes[start:] if c.id not in done and c.id not in self._confirmed
            ][: self.batch_size]
            self._confirmed.update(self._send_batch(batch))
        return self._confirmed.pop(change.id)

    def _send_batch(self, batch: list[Change]) -> dict[str, Result]:
        client = self.client
        statements = [statement_of(change) for change in batch]
        try:
            answered = _posted(client, statements)
        except ConflictError:
            # Other content under one of these ids, or (as the spec allows) any id held:
            # what the LRS holds is done, the rest is sent again (a second 409 is an error).
            log.info("xapi: the LRS refused a batch of %d with 409; checking ids", len(batch))
            results: dict[str, Result] = {}
            rest: list[tuple[Change, dict[str, Any]]] = []
            for change, statement in zip(batch, statements, strict=True):
                if client.get_statement(change.key) is not None:
                    results[change.id] = {"confirmed": "found"}
                else:
                    rest.append((change, statement))
            if rest:
                answered = _posted(client, [statement for _, statement in rest])
                results.update(_confirm(client, [change for change, _ in rest], answered))
            return results
        return _confirm(client, batch, answered)


def statement_of(change: Change) -> dict[str, Any]:
    """The statement JSON a :attr:`Kind.STATEMENT` change sends."""
    statement = change.fields.get("statement")
    if not isinstance(statement, dict):
        raise PlanError(f"xapi: change {change.id} holds no statement (fields.statement)")
    return statement


def _posted(client: StatementSender, statements: list[dict[str, Any]]) -> set[str]:
    """The ids (lower case) the LRS lists in its answer to a POST of ``statements``."""
    return {i.lower() for i in client.post_statements(statements)}


def _confirm(client: StatementSender, batch: list[Change], answered: set[str]) -> dict[str, Result]:
    """Each change confirmed: listed in the POST answer, else found by id (Ralph lists only
    what it stored now); one neither listed nor held was not stored, an error."""
    results: dict[str, Result] = {}
    for change in batch:
        if change.key.lower() in answered:
            results[change.id] = {"confirmed": "posted"}
        elif client.get_statement(change.key) is not None:
            results[change.id] = {"confirmed": "found"}
        else:
            raise FatalRemoteError(
                f"the LRS answered POST statements without statement {change.key} and does "
                "not hold it either: it did not store it",
                adapter=NAME,
                operation="post statements",
            )
    return results


__all__ = ["Kind", "StatementExecutor", "StatementSender", "statement_of"]
