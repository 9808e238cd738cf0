"""Plug-in targets ``harness-moodle`` and ``harness-canvas`` for ``sync run`` under kills.

The sync engine builds targets only through the adapter contract (``settings_model``,
``from_settings``, ``plan_framework``, ``plan_proficiency(..., framework=)``, ``apply``).
Until the Moodle and Canvas adapters gain it (branches ``moodle`` and ``canvas``), these
thin plug-ins give the engine the *real* Moodle and Canvas adapters over real HTTP: each
builds the adapter with its own client and passes every call through. They are
installed the way a third-party adapter is: an ``entry_points.txt`` in a ``.dist-info``
folder on ``PYTHONPATH`` (:func:`install_plugins`), so the real ``comp-adapters`` process
finds them in the registry like any plug-in.

Once the built-in adapters follow the contract (``from_settings``), the plug-ins pass
straight through to them, and ``test_crash_sync_run.py``'s test with ``system = "moodle"`` /
``"canvas"`` covers the same ground: these can then go.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr

from comp_adapters.canvas.adapter import CanvasAdapter
from comp_adapters.canvas.client import CanvasClient
from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync import ApplyReport, Journal, Plan

ENTRY_POINTS = {
    "harness-moodle": "tests.harness.shim_adapters:HarnessMoodle",
    "harness-canvas": "tests.harness.shim_adapters:HarnessCanvas",
}


def install_plugins(folder: Path) -> Path:
    """A ``.dist-info`` in ``folder`` registering the plug-ins; put ``folder`` and the
    repository root on ``PYTHONPATH``."""
    info = folder / "comp_adapters_harness-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: comp-adapters-harness\nVersion: 0\n", encoding="utf-8"
    )
    lines = [f"{name} = {reference}" for name, reference in ENTRY_POINTS.items()]
    (info / "entry_points.txt").write_text(
        "[comp_adapters.adapters]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    return folder


class HarnessMoodleSettings(AdapterSettings):
    url: str
    token: SecretStr
    allow_http: bool = False
    batch: bool | None = None
    timeout: float = 60.0
    scale_id: int | None = None
    user_field: Literal["email", "username", "idnumber", "id"] = "email"


class HarnessMoodle:
    """The Moodle adapter of this checkout, behind the adapter contract."""

    name: ClassVar[str] = "moodle"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.WRITES_FRAMEWORK, Capability.WRITES_PROFICIENCY}
    )
    settings_model: ClassVar[type[AdapterSettings]] = HarnessMoodleSettings

    def __init__(self, settings: HarnessMoodleSettings) -> None:
        self.settings = settings
        self.rater: Any = None
        if hasattr(MoodleAdapter, "from_settings"):
            # The built-in follows the contract (branch moodle merged): pass straight on.
            model: Any = getattr(MoodleAdapter, "settings_model")  # noqa: B009
            self.builtin: Any = MoodleAdapter.from_settings(model(**settings.model_dump()))
            self.pusher: Any = self.builtin
            return
        from comp_adapters.moodle.client import MoodleSettings  # noqa: PLC0415 - before the merge

        self.builtin = None
        connection = MoodleSettings(
            url=settings.url,
            token=settings.token,
            allow_http=settings.allow_http,
            batch=settings.batch,
            timeout=settings.timeout,
        )
        self.client = connection.client()
        self.pusher = MoodleAdapter(self.client, scale_id=settings.scale_id)

    @classmethod
    def from_settings(cls, settings: AdapterSettings, *, session: Any = None) -> HarnessMoodle:
        del session
        if not isinstance(settings, HarnessMoodleSettings):
            raise TypeError(f"harness-moodle needs its settings, not {type(settings).__name__}")
        return cls(settings)

    @property
    def target(self) -> str:
        return f"moodle {self.settings.url}"

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        plan: Plan = self.pusher.plan_framework(framework, prune=prune)
        return plan

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        if self.builtin is not None:
            plan: Plan = self.builtin.plan_proficiency(proficiencies, framework=framework)
            return plan
        self.rater = MoodleAdapter(
            self.client, framework=framework, user_field=self.settings.user_field
        )
        rated: Plan = self.rater.plan_proficiency(proficiencies)
        return rated

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        rates = any(change.kind == "rating" for change in plan.changes)
        adapter = self.rater if rates and self.rater is not None else self.pusher
        report: ApplyReport = adapter.apply(plan, journal=journal)
        return report


class HarnessCanvasSettings(AdapterSettings):
    url: str
    token: SecretStr
    account: str
    allow_http: bool = False
    poll_interval: float = 2.0


class HarnessCanvas:
    """The Canvas adapter of this checkout (an account's outcomes), behind the contract."""

    name: ClassVar[str] = "canvas"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WRITES_FRAMEWORK})
    settings_model: ClassVar[type[AdapterSettings]] = HarnessCanvasSettings

    def __init__(self, settings: HarnessCanvasSettings) -> None:
        self.settings = settings
        self.adapter: Any
        if hasattr(CanvasAdapter, "from_settings"):
            # The built-in follows the contract (branch canvas merged): pass straight on.
            model: Any = getattr(CanvasAdapter, "settings_model")  # noqa: B009
            self.adapter = CanvasAdapter.from_settings(model(**settings.model_dump()))
            return
        client = CanvasClient.connect(
            settings.url,
            settings.token.get_secret_value(),
            context=f"account:{settings.account}",
            allow_http=settings.allow_http,
        )
        self.adapter = CanvasAdapter(client, poll_interval=settings.poll_interval)

    @classmethod
    def from_settings(cls, settings: AdapterSettings, *, session: Any = None) -> HarnessCanvas:
        del session
        if not isinstance(settings, HarnessCanvasSettings):
            raise TypeError(f"harness-canvas needs its settings, not {type(settings).__name__}")
        return cls(settings)

    @property
    def target(self) -> str:
        return f"canvas {self.settings.url} account {self.settings.account}"

    def plan_framework(self, framework: Framework, *, prune: bool = False) -> Plan:
        plan: Plan = self.adapter.plan_framework(framework, prune=prune)
        return plan

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        report: ApplyReport = self.adapter.apply(plan, journal=journal)
        return report
