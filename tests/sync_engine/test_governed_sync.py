"""The sync engine under governance: targets receive the released version, staging targets
the draft, every plan section names its version, and every write and ingest is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.governance.audit import AuditKind
from comp_adapters.native import dump_framework, load_framework
from comp_adapters.project import load_project
from comp_adapters.store import open_store

AS_OF = "2026-06-01T00:00:00Z"
NEXT = datetime(2026, 7, 1, tzinfo=UTC)


def _store_url(project: Path) -> str:
    return load_project(project).store_url


def _release(project: Path, *, title: str | None = None, draft: bool = False) -> None:
    framework = load_framework(project.parent / "framework.json")
    if title is not None:
        framework = framework.model_copy(
            update={"title": title, "version": "2.0", "effective_from": NEXT}
        )
    with open_store(_store_url(project)) as store:
        if draft:
            store.draft_version(framework, rationale="try a new title", actor="ann")
        else:
            store.release_version(framework, rationale="first release", actor="ann")


def _add_staging_target(project: Path) -> None:
    text = project.read_text()
    text += (
        '\n[[target]]\nname = "staging-case"\nsystem = "framework-file"\n'
        'receives = ["framework"]\npath = "out/staging-case.json"\nformat = "case"\n'
        "staging = true\n"
    )
    project.write_text(text)


def _plan(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["sync", "plan", "--project", str(project), "--quiet", "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_ungoverned_projects_push_the_source_as_it_is(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan(project, capsys)
    targets = plan["targets"]
    assert isinstance(targets, list)
    assert {target["version"] for target in targets} == {None}


def test_live_targets_get_the_release_and_staging_targets_the_draft(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_staging_target(project)
    _release(project)
    # the source file moves on; the store holds a draft of the new title
    source = load_framework(project.parent / "framework.json")
    edited = source.model_copy(
        update={"title": "Customer support, draft title", "version": "2.0", "effective_from": NEXT}
    )
    dump_framework(edited, project.parent / "framework.json")
    _release(project, title="Customer support, draft title", draft=True)

    plan = _plan(project, capsys)
    targets = {t["name"]: t for t in plan["targets"]}  # type: ignore[union-attr]
    labels = {name: t["version"] for name, t in targets.items()}
    released = labels["case-package"]
    assert released is not None
    assert labels["staging-case"] not in (None, released)

    assert main(["sync", "run", "--project", str(project), "--quiet", "--as-of", AS_OF]) == 0
    capsys.readouterr()
    out = project.parent / "out"
    live = json.loads((out / "case-package.json").read_text())
    staged = json.loads((out / "staging-case.json").read_text())
    assert live["CFDocument"]["title"] == source.title  # the released version, not the file
    assert staged["CFDocument"]["title"] == "Customer support, draft title"


def test_the_plan_text_names_the_version_each_target_gets(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(project)
    assert main(["sync", "plan", "--project", str(project), "--quiet"]) == 0
    text = capsys.readouterr().out
    key = load_framework(project.parent / "framework.json").key
    assert f"[case-package] (framework-file, framework {key}@" in text


def test_a_policy_no_release_meets_keeps_live_targets_back(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write_text(project.read_text() + "\n[governance]\nrequired_approvals = 1\n")
    _release(project)  # released by its author, never approved
    assert main(["sync", "run", "--project", str(project), "--quiet", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    failed = {name for name, t in summary["targets"].items() if t["status"] == "failed"}
    assert "case-package" in failed
    assert not (project.parent / "out" / "case-package.json").exists()


def test_every_applied_change_and_ingest_batch_is_audited(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "run", "--project", str(project), "--quiet", "--as-of", AS_OF]) == 0
    capsys.readouterr()
    with open_store(_store_url(project)) as store:
        entries = store.audit_entries()
        kinds = [entry.kind for entry in entries]
        assert kinds.count(AuditKind.INGEST_BATCH) >= 2  # one per source batch
        applied = [e for e in entries if e.kind == AuditKind.APPLIED_CHANGE]
        assert len(applied) == 4  # the four file targets, one write each
        assert {e.payload["target"] for e in applied} == {
            "case-package",
            "moodle-import",
            "canvas-import",
            "results",
        }
        assert store.verify_audit().ok
    # a second run writes nothing, so it logs no applied change
    assert main(["sync", "run", "--project", str(project), "--quiet", "--as-of", AS_OF]) == 0
    with open_store(_store_url(project)) as store:
        again = [e for e in store.audit_entries() if e.kind == AuditKind.APPLIED_CHANGE]
        assert len(again) == 4
