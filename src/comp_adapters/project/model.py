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

from comp_adapters.store.url import DEFAULT_URL

Receives = Literal["framework", "proficiency"]


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
    engine: Literal["local"] = Field(default="local", description="where to evaluate")
    min_evidence: int = Field(default=1, ge=1, description="fewer usable pieces: no level")


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
