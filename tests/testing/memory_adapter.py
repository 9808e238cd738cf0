"""An adapter over a target held in memory: it keeps the whole contract, and its subclasses
break one clause each, so the meta-tests can show every contract test catches its clause.

The target is a list of records ``(kind, key, payload)``: a create appends one (so a
careless re-run shows as a duplicate), an update replaces it, a delete removes it.
Targets live in :data:`TARGETS` by name (the ``space`` setting), so adapters built again
from the same settings (a re-run, a CLI command) see the same target.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import requests
from pydantic import Field, JsonValue, SecretStr

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import AuthenticationError, NotFoundError
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync import Action, ApplyReport, Change, Journal, Plan, apply_plan
from comp_adapters.sync.journal import Result

log = logging.getLogger("tests.memory_adapter")

Record = tuple[str, str, str]


@dataclass
class MemoryTarget:
    records: list[Record] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    voids: dict[int, str] = field(default_factory=dict)
    """Position in ``evidence`` -> id withdrawn at that point of the stream."""

    def snapshot(self) -> tuple[Record, ...]:
        return tuple(sorted(self.records))

    def state(self) -> str:
        return hashlib.sha256(json.dumps(self.snapshot()).encode()).hexdigest()

    def holding(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: json.loads(payload) for k, key, payload in self.records if k == kind}


TARGETS: dict[str, MemoryTarget] = {}


class MemorySettings(AdapterSettings):
    space: str = Field(description="Name of the in-memory target")
    token: SecretStr = Field(description="The token the target requires")
    batch_size: int = Field(default=2, ge=1, description="Evidence per batch")
    strict: bool = Field(default=True, description="Refuse unknown framework keys")


def _payload(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True)


class MemoryAdapter:
    """Reads and writes frameworks and results, reads evidence; keeps the contract."""

    name: ClassVar[str] = "memory"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    settings_model: ClassVar[type[AdapterSettings]] = MemorySettings

    def __init__(self, settings: MemorySettings) -> None:
        self.settings = settings
        self.remote = TARGETS.setdefault(settings.space, MemoryTarget())

    @classmethod
    def from_settings(
        cls,
        settings: AdapterSettings,
        *,
        session: requests.Session | None = None,  # noqa: ARG003 - no HTTP here
    ) -> Self:
        assert isinstance(settings, MemorySettings)
        return cls(settings)

    @property
    def target(self) -> str:
        return f"memory {self.settings.space}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.settings.space!r})"

    # frameworks ------------------------------------------------------------------------

    def read_framework(self, key: str) -> Framework:
        found = self.remote.holding("framework").get(key)
        if found is None:
            raise NotFoundError(
                f"memory target holds no framework {key!r}",
                adapter=self.name,
                operation="read_framework",
            )
        competencies = [
            data
            for ckey, data in sorted(self.remote.holding("competency").items())
            if ckey.startswith(f"{key}/")
        ]
        return Framework.model_validate({**found, "competencies": competencies})

    def _desired(self, framework: Framework) -> list[tuple[str, str, dict[str, Any]]]:
        data = framework.model_dump(mode="json")
        competencies = data.pop("competencies")
        rows = [("framework", framework.key, data)]
        rows += [("competency", f"{framework.key}/{c['key']}", c) for c in competencies]
        return rows

    def _change(self, kind: str, key: str, want: dict[str, Any], have: Any) -> Change:
        cid = f"{kind}:{key}"
        if have is None:
            return Change(id=cid, action=Action.CREATE, kind=kind, key=key, fields=want)
        if have != json.loads(_payload(want)):
            return Change(
                id=cid, action=Action.UPDATE, kind=kind, key=key, fields=want, before=have
            )
        return Change(id=cid, action=Action.NOOP, kind=kind, key=key, reason="up to date")

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        log.debug("planning %s for %s", framework.key, self.target)
        changes = []
        wanted = set()
        for kind, key, want in self._desired(framework):
            wanted.add((kind, key))
            changes.append(self._change(kind, key, want, self.remote.holding(kind).get(key)))
        if prune:
            changes.extend(
                Change(id=f"competency:{key}", action=Action.DELETE, kind="competency", key=key)
                for key in sorted(self.remote.holding("competency"))
                if key.startswith(f"{framework.key}/") and ("competency", key) not in wanted
            )
        return Plan(
            adapter=self.name,
            target=self.target,
            changes=tuple(changes),
            state_fingerprint=self.remote.state(),
        )

    def _execute(self, change: Change, _done: Mapping[str, Result]) -> Result | None:
        record = (change.kind, change.key, _payload(change.fields))
        if change.action is Action.CREATE:
            self.remote.records.append(record)
        else:
            self.remote.records = [
                r for r in self.remote.records if (r[0], r[1]) != (change.kind, change.key)
            ]
            if change.action is Action.UPDATE:
                self.remote.records.append(record)
        return {"done": change.id}

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return apply_plan(plan, self._execute, journal=journal, current_state=self.remote.state)

    # results ---------------------------------------------------------------------------

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        have = self.remote.holding("result")
        changes = []
        for item in proficiencies:
            key = f"{framework.key}/{item.learner}/{item.competency}"
            want: dict[str, JsonValue] = {"level": item.level, "proficient": item.proficient}
            changes.append(self._change("result", key, want, have.get(key)))
        return Plan(
            adapter=self.name,
            target=self.target,
            changes=tuple(changes),
            state_fingerprint=self.remote.state(),
        )

    # evidence --------------------------------------------------------------------------

    def evidence_query(self) -> dict[str, JsonValue]:
        return {"space": self.settings.space}

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        start = int(cursor.position) + 1 if cursor and cursor.position is not None else 0
        size = self.settings.batch_size
        stream = self.remote.evidence
        if start >= len(stream):
            yield EvidenceBatch(evidence=(), cursor=cursor or Cursor(adapter=self.name, field="n"))
            return
        for begin in range(start, len(stream), size):
            chunk = range(begin, min(begin + size, len(stream)))
            yield EvidenceBatch(
                evidence=tuple(stream[i] for i in chunk),
                cursor=Cursor(adapter=self.name, field="n", position=f"{chunk[-1]:08d}"),
                withdrawn=tuple(self.remote.voids[i] for i in chunk if i in self.remote.voids),
            )

    # a failure -------------------------------------------------------------------------

    def refuse(self) -> None:
        raise AuthenticationError(
            "the memory target refused the token", adapter=self.name, operation="refuse"
        )


def fill_evidence(target: MemoryTarget, count: int = 5) -> None:
    """``count`` evidence records, the second withdrawn at the fourth."""
    for i in range(count):
        target.evidence.append(
            Evidence(
                id=f"e{i}",
                learner="ann",
                competency="a",
                observed_at=datetime(2026, 1, 1 + i, tzinfo=UTC),
                score=1.0,
            )
        )
    target.voids[3] = "e1"
