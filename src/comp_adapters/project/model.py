"""The shape of ``comp-adapters.toml`` as pydantic models (its JSON Schema is published
with ``comp-adapters schema --project``).

Each ``[framework]``, ``[[evidence]]`` and ``[[target]]`` table holds the engine's own keys
(``name``, ``system``, ``receives``...) and, inline beside them, the settings of its adapter
(``path``, ``url``, ``token_env``...), which the adapter's ``settings_model`` validates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from comp_adapters.governance.settings import GovernanceSettings
from comp_adapters.store.url import DEFAULT_URL

Receives = Literal["framework", "proficiency"]
DEFAULT_DATASET = ".comp-adapters/evidence-dataset"
"""Where ``[compute] engine = "dask"`` keeps its Parquet dataset: next to the default store."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _WithSettings(BaseModel):
    """A table whose other keys are the settings of its adapter."""

    model_config = ConfigDict(extra="allow", frozen=True)


class FrameworkSection(_WithSettings):
    """Where the framework comes from: a file, or a system that holds it."""

    file: str | None = Field(
        default=None,
        description="a framework file in any registered format, relative to the project file",
    )
    format: str | None = Field(default=None, description="the file's format (default: recognised)")
    system: str | None = Field(
        default=None, description="an adapter that reads frameworks (case, moodle, canvas, ...)"
    )
    key: str = Field(default="", description="the framework's key in the system")

    @model_validator(mode="after")
    def _one_source(self) -> FrameworkSection:
        if (self.file is None) == (self.system is None):
            raise ValueError("give either file = PATH or system = NAME (with its settings)")
        if self.file is not None and self.model_extra:
            raise ValueError(f"unknown key(s) beside file: {', '.join(sorted(self.model_extra))}")
        return self


class EvidenceSection(_WithSettings):
    """One evidence source, read incrementally into the store."""

    name: str = Field(min_length=1, description="the source's name (its cursor in the store)")
    system: str | None = Field(default=None, description="the adapter that reads it")
    adapter: str | None = Field(default=None, description="same as system")

    @model_validator(mode="after")
    def _named_system(self) -> EvidenceSection:
        if (self.system is None) == (self.adapter is None):
            raise ValueError("give the source's adapter as system = NAME (or adapter = NAME)")
        return self

    @property
    def adapter_name(self) -> str:
        return self.system or self.adapter or ""


class TargetSection(_WithSettings):
    """One target system, and what it receives."""

    name: str = Field(min_length=1, description="the target's name (plans, status, leases)")
    system: str = Field(min_length=1, description="the adapter that writes to it")
    receives: tuple[Receives, ...] | None = Field(
        default=None,
        min_length=1,
        description="what the target is sent: framework, proficiency, or both "
        "(default: whatever its adapter can write)",
    )
    staging: bool = Field(
        default=False, description="a staging target: planned and applied like the others"
    )


class ComputeSection(_Section):
    """How proficiency is computed (once per sync, for every target)."""

    as_of: datetime | None = Field(
        default=None, description="compute as of this instant (default: the time of the run)"
    )
    engine: Literal["local", "dask"] = Field(
        default="local",
        description="where to evaluate: local (this process, from the store) or dask (the "
        "Parquet dataset, on a Dask cluster; needs the scale extra)",
    )
    min_evidence: int = Field(default=1, ge=1, description="fewer usable pieces: no level")
    scheduler: str | None = Field(
        default=None,
        min_length=1,
        description="engine = dask: the Dask scheduler's address (default: a local cluster "
        "started for the run, on 127.0.0.1)",
    )
    partitions: int = Field(
        default=16,
        ge=1,
        le=100_000,
        description="engine = dask: partitions of the dataset (by a hash of the learner); "
        "fixed once the dataset is written",
    )
    dataset: str = Field(
        default=DEFAULT_DATASET,
        min_length=1,
        description="engine = dask: the Parquet dataset's folder, relative to the project file",
    )

    @model_validator(mode="after")
    def _dask_keys(self) -> ComputeSection:
        if self.engine != "dask" and self.scheduler is not None:
            raise ValueError('scheduler needs engine = "dask"')
        return self


class StoreSection(_Section):
    """Where the engine keeps its state."""

    url: str = Field(
        default=DEFAULT_URL,
        description="sqlite:///PATH (relative to the project file's folder) or postgresql://...",
    )
    wait: bool = Field(
        default=False, description="a busy target: wait for it (true) or report it busy"
    )
    wait_timeout: float | None = Field(
        default=None, gt=0, description="seconds to wait for a busy target (default: no limit)"
    )


class ProjectFile(_Section):
    """``comp-adapters.toml``: one framework, its evidence, every target."""

    framework: FrameworkSection
    evidence: tuple[EvidenceSection, ...] = ()
    target: tuple[TargetSection, ...] = ()
    compute: ComputeSection = Field(default_factory=ComputeSection)
    store: StoreSection = Field(default_factory=StoreSection)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
