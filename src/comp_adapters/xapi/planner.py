"""The pure diff of proficiency statements: what we want the LRS to hold, minus what it holds.

Proficiency statements have deterministic ids (UUIDv5 of learner, competency, level and
``as_of``) and statements never change, so the diff is by id alone: a statement whose id
the LRS already shows is a no-op, every other one is sent. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.xapi import wire

NAME = "xapi"
STATEMENT = "statement"
HELD = "the LRS holds a statement with this id (statements never change)"


def plan_statements(
    statements: Sequence[wire.OutStatement],
    *,
    held: Collection[str],
    target: str,
    batch_size: int,
) -> Plan:
    """One ``create`` per statement whose id is not in ``held``, a no-op for the others
    (the first of several statements with one id counts; the same result twice is one)."""
    changes: list[Change] = []
    seen: set[str] = set()
    for statement in statements:
        if statement.id in seen:
            continue
        seen.add(statement.id)
        data = statement.to_json()
        fields: dict[str, Any] = {
            "learner": statement.actor.to_json(),
            "competency": statement.object.id,
            "success": data.get("result", {}).get("success"),
            "statement": data,
        }
        known = statement.id in held
        changes.append(
            Change(
                id=f"{STATEMENT}:{statement.id}",
                action=Action.NOOP if known else Action.CREATE,
                kind=STATEMENT,
                key=statement.id,
                fields={} if known else fields,
                reason=HELD if known else None,
            )
        )
    return Plan(
        adapter=NAME,
        target=target,
        changes=tuple(changes),
        notes=(
            (
                f"statements are sent with POST, {batch_size} per request, with their ids: "
                "an LRS keeps the first statement of an id, so a re-send never duplicates"
            ),
        ),
    )
