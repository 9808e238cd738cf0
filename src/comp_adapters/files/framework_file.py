"""``framework-file``: a framework held in a file of any registered format.

Reads with the format's reader (given, or recognised from the file), writes with its writer
through a plan of one change. A lossy format (Moodle CSV, Canvas CSV hold less than the
native model) says in the plan's notes what it leaves out, as ``convert`` warns.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import Field

from comp_adapters.core.framework import Framework
from comp_adapters.core.losses import losses
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.files.writing import FilePlanner
from comp_adapters.native import dumps_framework
from comp_adapters.plugins import FileFormat, detect_format, format_for_output, get_format
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan

if TYPE_CHECKING:
    import requests


class FrameworkFileSettings(AdapterSettings):
    """Where the framework file is and in which format."""

    path: Path = Field(description="the framework file")
    format: str | None = Field(
        default=None,
        description="a registered format (native, case, moodle-csv, canvas-csv, ...); "
        "default: recognised from the file when reading, from its suffix when writing",
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description='writer options of the format (e.g. case_version = "1.0")',
    )


class FrameworkFileAdapter:
    """Reads and writes one framework file."""

    name: ClassVar[str] = "framework-file"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READS_FRAMEWORK, Capability.WRITES_FRAMEWORK}
    )
    settings_model: ClassVar[type[AdapterSettings]] = FrameworkFileSettings

    def __init__(self, settings: FrameworkFileSettings) -> None:
        self.settings = settings
        self.path = settings.path
        self._planner = FilePlanner(self.name, self.path, "framework-file")

    @classmethod
    def from_settings(
        cls,
        settings: AdapterSettings,
        *,
        session: requests.Session | None = None,  # noqa: ARG003 - no HTTP here
    ) -> Self:
        if not isinstance(settings, FrameworkFileSettings):
            raise TypeError("framework-file takes FrameworkFileSettings")
        return cls(settings)

    @property
    def target(self) -> str:
        return f"file {self.path}"

    def _format(self, *, reading: bool) -> FileFormat:
        if self.settings.format is not None:
            return get_format(self.settings.format)
        return detect_format(self.path) if reading else format_for_output(self.path)

    def read_framework(self, key: str) -> Framework:
        """The framework in the file; ``key`` (when not empty) must be its key."""
        if not self.path.exists():
            raise ValidationError([Problem("file not found", file=str(self.path))])
        framework, _warnings = self._format(reading=True).read_reporting(self.path)
        if key and framework.key != key:
            raise ValidationError(
                [
                    Problem(
                        f"holds framework {framework.key!r}, not {key!r}",
                        file=str(self.path),
                        field="key",
                    )
                ]
            )
        return framework

    def render(self, framework: Framework) -> tuple[bytes, tuple[str, ...], Framework | None]:
        """The file's bytes for ``framework``, notes on what the format cannot hold, and
        what the file reads back as (``None`` for a format that cannot be read)."""
        fmt = self._format(reading=False)
        options = {name.replace("-", "_"): value for name, value in self.settings.options.items()}
        with tempfile.TemporaryDirectory(prefix="comp-adapters-") as folder:
            trial = Path(folder) / self.path.name
            warnings = fmt.write_reporting(framework, trial, **options)
            data = trial.read_bytes()
            back: Framework | None
            try:
                back = fmt.read(trial)
            except (ValidationError, ConfigurationError, NotImplementedError):
                back = None
        lost = losses(framework, back) if back is not None else []
        notes = [f"{fmt.name} cannot hold {kind}: left out" for kind in lost]
        notes.extend(problem.message for problem in warnings)
        return data, tuple(notes), back

    def _holds(self, wanted: Framework | None) -> bool:
        """Whether the file reads back as ``wanted`` does (same content, other bytes)."""
        if wanted is None:
            return False
        try:
            found = self._format(reading=False).read(self.path)
        except (ValidationError, ConfigurationError, NotImplementedError):
            return False
        return bool(_without_stamps(found) == _without_stamps(wanted))

    def plan_framework(
        self,
        framework: Framework,
        *,
        prune: bool = False,  # noqa: ARG002 - a file is always written whole
    ) -> Plan:
        """One change writing the file; NOOP when it already holds these bytes.

        ``prune`` changes nothing: the file is always written whole.
        """
        data, notes, back = self.render(framework)
        return self._planner.plan(
            data,
            notes=notes,
            same_content=lambda: self._holds(back),
            fields={"framework": framework.key, "format": self._format(reading=False).name},
        )

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return self._planner.apply(plan, journal=journal)


STAMP_KEYS = ("lastChangeDateTime",)
"""Keys (or key suffixes) of the time a writer stamps on what it writes (CASE), left out
when comparing what a file holds with what would be written."""


def _without_stamps(framework: Framework) -> Any:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if not key.endswith(STAMP_KEYS)}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(json.loads(dumps_framework(framework)))
