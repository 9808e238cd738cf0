"""One plan for a whole project: a section per target, saved and applied as one document.

Each section holds the adapter's own :class:`~comp_adapters.sync.plan.Plan` for the
framework and/or for proficiency (with its ``state_fingerprint``, so applying a saved plan
refuses a target that changed since), or the error that kept the target from planning.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from comp_adapters.core.timeutil import UtcDatetime
from comp_adapters.sync.plan import Plan

FORMAT = "comp-adapters/sync-plan@1"


class TargetPlan(BaseModel):
    """What one target is to receive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    system: str
    receives: tuple[str, ...]
    version: str | None = None
    """The framework version the target is brought to (``None``: the source as it is,
    the store holds no version of it)."""
    framework: Plan | None = None
    proficiency: Plan | None = None
    proficiency_after_framework: bool = False
    """The target could not plan results before holding the framework (e.g. a new Moodle
    site): they are planned and applied right after its framework plan."""
    error: str | None = None

    @property
    def plans(self) -> tuple[Plan, ...]:
        return tuple(p for p in (self.framework, self.proficiency) if p is not None)

    @property
    def writes(self) -> int:
        return sum(len(p.writes) for p in self.plans)


class SyncPlan(BaseModel):
    """The plan of one sync: computed once, a section per target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = FORMAT
    project: str
    run_id: int
    """The run that computed it (its results are what the plan writes)."""
    as_of: UtcDatetime
    framework_key: str
    compute: dict[str, JsonValue]
    targets: tuple[TargetPlan, ...]

    @property
    def writes(self) -> int:
        return sum(t.writes for t in self.targets)

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> str:
        data: dict[str, Any] = self.model_dump(mode="json")
        data["fingerprint"] = self.fingerprint
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SyncPlan:
        """A plan written by :meth:`to_json`; refused when edited since."""
        data = json.loads(text)
        expected = data.pop("fingerprint", None)
        plan = cls.model_validate(data)
        if expected is not None and expected != plan.fingerprint:
            raise ValueError("plan fingerprint does not match its content: the file was edited")
        return plan

    def to_text(self) -> str:
        head = (
            f"Sync plan for {self.framework_key} as of {_instant(self.as_of)} "
            f"({self.compute.get('mode', '?')} compute: {self.compute.get('changed', 0)} "
            "result(s) changed)"
        )
        lines = [head]
        for target in self.targets:
            version = f", framework {self.framework_key}@{target.version}" if target.version else ""
            lines.append(f"[{target.name}] ({target.system}{version})")
            if target.error:
                lines.append(f"  cannot plan: {target.error}")
            for plan in target.plans:
                lines.extend("  " + line for line in plan.to_table().splitlines())
            if target.proficiency_after_framework:
                lines.append("  results: planned once the framework above is applied")
        total = self.writes
        lines.append(
            f"{total} change(s) to apply" if total else "nothing to do: every target is up to date"
        )
        return "\n".join(lines)


def _instant(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
