"""What an adapter can do, as capabilities rather than one fat base class.

An adapter declares a frozen ``capabilities`` set; the CLI and the sync engine check it
before doing any I/O, and call only the protocol methods that go with it.

Every adapter has the same seams (docs/adding-an-adapter.md):

- ``settings_model``: its :class:`~comp_adapters.settings.AdapterSettings` subclass
  (``extra="forbid"``), filled from the project file's table, ``COMP_ADAPTERS_<NAME>_*``
  variables and flags, in that order;
- ``from_settings(settings, *, session=None)``: the one way to build it. ``session`` is the
  one way to customise the transport (tests inject a fake or crashing
  :class:`requests.Session`; adapters that do no HTTP ignore it);
- ``target``: a one-line description of the remote it talks to, for plans and logs
  (never a secret);
- the protocol methods of its capabilities, below. Planning never writes; ``apply``
  carries out a plan made by the same adapter through the one apply engine
  (:func:`comp_adapters.sync.apply.apply_plan`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan

if TYPE_CHECKING:
    import requests

    from comp_adapters.settings import AdapterSettings


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
    """What every adapter has, whatever it can do."""

    name: ClassVar[str]
    """The registry name (``moodle``, ``canvas``, a plug-in's entry-point name)."""
    capabilities: ClassVar[frozenset[Capability]]
    settings_model: ClassVar[type[AdapterSettings]]

    @classmethod
    def from_settings(
        cls, settings: AdapterSettings, *, session: requests.Session | None = None
    ) -> Self:
        """The adapter for these settings; ``session`` replaces the HTTP session (tests)."""
        ...

    @property
    def target(self) -> str:
        """The remote this adapter talks to, in one line, without secrets."""
        ...


@runtime_checkable
class ReadsFramework(Adapter, Protocol):
    def read_framework(self, key: str) -> Framework:
        """The framework ``key`` as the remote holds it, in the core model."""
        ...


@runtime_checkable
class WritesFramework(Adapter, Protocol):
    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        """The changes that make the remote hold ``framework``; no writes.

        ``prune`` also plans the removal of remote objects of this framework that
        ``framework`` no longer has. A plan carries a ``state_fingerprint`` of what it was
        planned against, so a saved plan is refused as stale once the remote changed.
        """
        ...

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan made by this adapter, journaling each change."""
        ...


@runtime_checkable
class ReadsEvidence(Adapter, Protocol):
    def evidence_query(self) -> dict[str, JsonValue]:
        """What this adapter's evidence read selects (source, filters, mapping digest).

        A stored cursor is kept with a fingerprint of this; a cursor saved for another
        query is refused rather than silently skipping or repeating evidence.
        """
        ...

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Evidence after ``cursor``, batch by batch, each with the cursor that follows it."""
        ...


@runtime_checkable
class WritesProficiency(Adapter, Protocol):
    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        """The writes that make the remote show these results for ``framework``; no writes.

        A result the remote already shows is a NOOP change with its reason, never a
        silent skip; re-planning after an apply gives a plan with no writes.
        """
        ...

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Carry out a plan made by this adapter, journaling each change."""
        ...


REQUIRED_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.READS_FRAMEWORK: ("read_framework",),
    Capability.WRITES_FRAMEWORK: ("plan_framework", "apply"),
    Capability.READS_EVIDENCE: ("evidence_query", "read_evidence"),
    Capability.WRITES_PROFICIENCY: ("plan_proficiency", "apply"),
}
"""The methods each capability promises; the registry checks them when it loads a class."""

PROTOCOLS: dict[Capability, type] = {
    Capability.READS_FRAMEWORK: ReadsFramework,
    Capability.WRITES_FRAMEWORK: WritesFramework,
    Capability.READS_EVIDENCE: ReadsEvidence,
    Capability.WRITES_PROFICIENCY: WritesProficiency,
}
