"""What an adapter can do, as capabilities rather than one fat base class.

An adapter declares a frozen ``capabilities`` set; the CLI and the sync engine check it
before doing any I/O, and call only the protocol methods that go with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan


class Capability(StrEnum):
    READS_FRAMEWORK = "reads_framework"
    WRITES_FRAMEWORK = "writes_framework"
    READS_EVIDENCE = "reads_evidence"
    WRITES_PROFICIENCY = "writes_proficiency"


class Cursor(BaseModel):
    """Where an incremental read stopped, in the source's own ordering.

    ``field`` names the ordering (e.g. xAPI ``stored``), ``position`` the last value fully
    read, ``seen_ids`` the ids read at or just before it (the overlap a next read
    de-duplicates against). Persist it only after the evidence it covers is stored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    adapter: str
    field: str
    position: str | None = None
    seen_ids: tuple[str, ...] = ()
    extra: dict[str, JsonValue] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvidenceBatch:
    """Evidence read in one step, ids withdrawn (voided) in it, and the cursor after it."""

    evidence: tuple[Evidence, ...]
    cursor: Cursor
    withdrawn: tuple[str, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    name: str
    capabilities: frozenset[Capability]


@runtime_checkable
class ReadsFramework(Adapter, Protocol):
    def read_framework(self, key: str) -> Framework:
        """The framework ``key`` as the remote holds it, in the core model."""
        ...


@runtime_checkable
class WritesFramework(Adapter, Protocol):
    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        """The changes that make the remote hold ``framework``; no writes."""
        ...

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan made by this adapter, journaling each change."""
        ...


@runtime_checkable
class ReadsEvidence(Adapter, Protocol):
    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Evidence after ``cursor``, batch by batch, each with the cursor that follows it."""
        ...


@runtime_checkable
class WritesProficiency(Adapter, Protocol):
    def plan_proficiency(self, proficiencies: Sequence[Proficiency]) -> Plan:
        """The writes that make the remote show these results; no writes."""
        ...

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan made by this adapter, journaling each change."""
        ...
