"""A target another worker wrote between this worker's plan and its apply is planned again
under the lease, not refused as stale: nothing is written twice and the run succeeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comp_adapters.cli.main import main
from comp_adapters.sync.engine import SyncEngine
from comp_adapters.sync.sync_plan import TargetPlan


def _run(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["sync", *extra, "--project", str(project), "--json", "--quiet"])
    return code, json.loads(capsys.readouterr().out)


def test_a_target_written_by_another_worker_is_planned_again(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_target = SyncEngine._apply_target
    raced: list[str] = []

    def another_worker_first(
        self: SyncEngine, section: TargetPlan, run_id: int, **options: Any
    ) -> Any:
        # "Another worker" applies the same section with its own adapter and no shared
        # journal, so the target's state is no longer the one this plan was made against.
        other = self.project.target(section.name).build()
        for plan in section.plans:
            if plan.writes:
                other.apply(plan)
                raced.append(section.name)
        return apply_target(self, section, run_id, **options)

    monkeypatch.setattr(SyncEngine, "_apply_target", another_worker_first)
    code, summary = _run(project, capsys, "run")
    assert code == 0, summary
    assert set(raced) == {"case-package", "moodle-import", "canvas-import", "results"}
    for name in raced:
        assert summary["targets"][name]["status"] == "ok", summary
        assert summary["targets"][name]["writes"] == 0, summary  # the other worker wrote it

    monkeypatch.setattr(SyncEngine, "_apply_target", apply_target)
    code, again = _run(project, capsys, "run")
    assert code == 0
    assert again["writes"] == 0


def test_a_saved_plan_whose_target_changed_is_still_refused(
    project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    code, _ = _run(project, capsys, "plan", "--plan-out", str(saved))
    assert code == 0
    out = project.parent / "out" / "case-package.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text("{}\n")
    code, summary = _run(project, capsys, "apply", str(saved), "--yes")
    assert code == 1
    entry = summary["targets"]["case-package"]
    assert entry["status"] == "failed"
    assert "changed since the plan was made" in entry["error"]
