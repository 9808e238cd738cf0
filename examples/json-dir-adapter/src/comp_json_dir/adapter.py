"""The json-dir adapter: orchestration only (read the folder into a snapshot, call the
planner, hand the plan to the one apply engine with the executor)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import requests

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import ConfigurationError, PlanError
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync.apply import ApplyReport, apply_plan
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan
from comp_json_dir import planner
from comp_json_dir.executor import Executor
from comp_json_dir.settings import Folder, JsonDirSettings, connect, key_of, part


class JsonDirAdapter:
    """Frameworks and results as JSON files in a folder (see the package README)."""

    name: ClassVar[str] = "json-dir"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READS_FRAMEWORK, Capability.WRITES_FRAMEWORK, Capability.WRITES_PROFICIENCY}
    )
    settings_model: ClassVar[type[AdapterSettings]] = JsonDirSettings

    def __init__(self, folder: Folder) -> None:
        self.folder = folder

    @classmethod
    def from_settings(
        cls, settings: AdapterSettings, *, session: requests.Session | None = None
    ) -> Self:
        if not isinstance(settings, JsonDirSettings):
            raise ConfigurationError("json-dir needs JsonDirSettings")
        return cls(connect(settings, session=session))

    @property
    def target(self) -> str:
        return f"json-dir {self.folder.root}"

    def __repr__(self) -> str:
        return f"JsonDirAdapter({str(self.folder.root)!r})"

    # reading the folder ----------------------------------------------------------------

    def _state(self, base: str) -> str:
        """A digest of every file of one framework's folder: what a plan was made against."""
        digest = hashlib.sha256()
        folder = self.folder.root / base
        if folder.is_dir():
            for path in sorted(folder.rglob("*.json")):
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def _framework_snapshot(self, key: str) -> planner.FrameworkSnapshot:
        base = part(key)
        fields = self.folder.read(base, "framework.json")
        competencies: dict[str, Any] = {
            key_of(name): self.folder.read(base, "competencies", name)
            for name in self.folder.names(base, "competencies")
        }
        return planner.FrameworkSnapshot(
            framework=fields if isinstance(fields, dict) else None,
            competencies=competencies,
            state=self._state(base),
        )

    def _results_snapshot(self, key: str) -> planner.ResultsSnapshot:
        base = part(key)
        results: dict[tuple[str, str], Any] = {}
        for learner in self.folder.folders(base, "results"):
            for name in self.folder.names(base, "results", learner):
                data = self.folder.read(base, "results", learner, name)
                results[(key_of(learner), key_of(name))] = data
        return planner.ResultsSnapshot(results=results, state=self._state(base))

    # the protocols ---------------------------------------------------------------------

    def read_framework(self, key: str) -> Framework:
        snapshot = self._framework_snapshot(key)
        if snapshot.framework is None:
            raise ConfigurationError(f"json-dir {self.folder.root} holds no framework {key!r}")
        data = {**snapshot.framework, "competencies": list(snapshot.competencies.values())}
        return framework_from_data(data, source=str(self.folder.root / part(key)))

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        options = planner.FrameworkOptions(target=self.target, prune=prune)
        return planner.plan_framework(framework, self._framework_snapshot(framework.key), options)

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        options = planner.ResultsOptions(target=self.target)
        snapshot = self._results_snapshot(framework.key)
        return planner.plan_results(proficiencies, framework, snapshot, options)

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        """Apply a plan of this adapter; refused as stale once the framework's folder
        changed since planning (its digest is the plan's ``state_fingerprint``)."""
        if plan.adapter != self.name or plan.target != self.target:
            raise PlanError(f"this plan is for {plan.adapter} {plan.target!r}, not {self.target!r}")
        bases = {change.key.split("/")[0] for change in plan.changes}
        if len(bases) > 1:
            raise PlanError(f"a json-dir plan covers one framework, this one {len(bases)}")
        base = next(iter(bases), "")
        return apply_plan(
            plan, Executor(self.folder), journal=journal, current_state=lambda: self._state(base)
        )


def snapshot_of(folder: Folder) -> tuple[tuple[str, str], ...]:
    """Every file under the folder with its content (tests: exposes any stray file)."""
    return tuple(
        (str(path.relative_to(folder.root)), path.read_text(encoding="utf-8"))
        for path in sorted(folder.root.rglob("*.json"))
    )
