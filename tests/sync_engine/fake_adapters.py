"""Adapters for the engine tests: one that holds a secret, one whose writes always fail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Self

from pydantic import SecretStr

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import FatalRemoteError
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync import Action, ApplyReport, Change, Journal, Plan, apply_plan
from comp_adapters.sync.journal import Result


class SecretSettings(AdapterSettings):
    url: str
    token: SecretStr


class RefusingAdapter:
    """Plans one write per result and fails on apply, as a remote refusing every write."""

    name: ClassVar[str] = "refusing"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WRITES_PROFICIENCY})
    settings_model: ClassVar[type[AdapterSettings]] = SecretSettings

    def __init__(self, settings: SecretSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(
        cls,
        settings: AdapterSettings,
        *,
        session: object = None,  # noqa: ARG003 - no HTTP in this fake
    ) -> Self:
        assert isinstance(settings, SecretSettings)
        return cls(settings)

    @property
    def target(self) -> str:
        return self.settings.url

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        changes = tuple(
            Change(
                id=f"{p.learner}/{p.competency}",
                action=Action.CREATE,
                kind="rating",
                key=f"{p.learner}/{p.competency}",
            )
            for p in proficiencies
        )
        return Plan(adapter=self.name, target=self.target, changes=changes)

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        def refuse(_change: Change, _done: Mapping[str, Result]) -> Result:
            raise FatalRemoteError(
                "the remote refused the write", adapter="refusing", operation="rate", status=403
            )

        return apply_plan(plan, refuse, journal=journal)
