"""The pure diff of proficiency statements: what we want the LRS to hold, minus what it holds.

Proficiency statements have deterministic ids (UUIDv5 of learner, competency, level and
``as_of``) and statements never change, so the diff is by id alone: a statement whose id
the LRS already shows is a NOOP change with its reason, every other one is sent. One
signature, as in every adapter: desired state + remote snapshot + options -> ``Plan``.
No I/O, no client, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from comp_adapters.sync.plan import Action, Change, Plan
from comp_adapters.xapi import wire
from comp_adapters.xapi.executor import NAME, Kind

HELD = "the LRS holds a statement with this id (statements never change)"


@dataclass(frozen=True, slots=True)
class HeldStatements:
    """What was read from the LRS before planning: the endpoint, and the ids it shows
    among the statements that could be ours."""

    target: str
    ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class PushOptions:
    """How the plan will be sent (noted in the plan)."""

    batch_size: int = 200


def plan_proficiency(
    desired: Sequence[wire.OutStatement], snapshot: HeldStatements, options: PushOptions
) -> Plan:
    """One ``create`` per statement whose id ``snapshot`` lacks, a NOOP for the others (the
    first of several statements with one id counts; the same result twice is one)."""
    changes: list[Change] = []
    seen: set[str] = set()
    for statement in desired:
        if statement.id in seen:
            continue
        seen.add(statement.id)
        known = statement.id in snapshot.ids
        fields: dict[str, Any] = {}
        if not known:
            data = statement.to_json()
            fields = {
                "learner": statement.actor.to_json(),
                "competency": statement.object.id,
                "success": data.get("result", {}).get("success"),
                "statement": data,
            }
        changes.append(
            Change(
                id=f"{Kind.STATEMENT.value}:{statement.id}",
                action=Action.NOOP if known else Action.CREATE,
                kind=Kind.STATEMENT.value,
                key=statement.id,
                fields=fields,
                reason=HELD if known else None,
            )
        )
    return Plan(
        adapter=NAME,
        target=snapshot.target,
        changes=tuple(changes),
        notes=(
            (
                f"statements are sent with POST, {options.batch_size} per request, with their "
                "ids: an LRS keeps the first statement of an id, so a re-send never duplicates"
            ),
        ),
    )


__all__ = ["HELD", "HeldStatements", "PushOptions", "plan_proficiency"]
