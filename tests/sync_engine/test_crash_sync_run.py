"""``comp-adapters sync run`` killed with SIGKILL at every write converges (issue 14 §4).

A project in a fresh folder per attempt (its own SQLite store beside it,
tests/harness/projects.py): the example framework, file evidence, two file targets and two
HTTP targets, Moodle and Canvas, each a fake served over real HTTP
(tests/harness/servers.py). The kill harness (tests/harness/kill.py) runs the real CLI,
SIGKILLs it at its k-th write request over both servers, before the fake applies the write
and after it did but before the answer leaves, then runs ``sync run`` again on the same
store to completion: both fakes and the files end exactly as after a clean run, with 0
duplicates, for every k.

The HTTP targets are the built-in ``system = "moodle"`` and ``"canvas"`` adapters, built
by the engine through the registry and ``from_settings`` like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import Invocation, Scenario, clean_run, describe, sweep
from tests.harness.projects import SyncProject, file_targets
from tests.harness.servers import FakeServer, canvas_server, moodle_server
from tests.harness.states import canvas_duplicates, canvas_state, moodle_duplicates, moodle_state
from tests.moodle.fake_moodle import FakeMoodle


@pytest.fixture
def moodle_site() -> Iterator[FakeServer[FakeMoodle]]:
    with moodle_server() as server:
        yield server


@pytest.fixture
def canvas_site() -> Iterator[FakeServer[FakeCanvas]]:
    with canvas_server() as server:
        yield server


def _scenario(name: str, project: SyncProject) -> Scenario:
    folders: list[Path] = []

    def invocation(folder: Path) -> Invocation:
        folders.append(folder)
        return project.invocation(folder)

    def state() -> tuple[Any, ...]:
        canvas = canvas_state(project.canvas_site.fake) if project.canvas_site else None
        return moodle_state(project.moodle_site.fake), canvas, file_targets(folders[-1])

    def duplicates() -> int:
        canvas = canvas_duplicates(project.canvas_site.fake) if project.canvas_site else 0
        return moodle_duplicates(project.moodle_site.fake) + canvas

    return Scenario(
        name=name,
        servers=project.servers,
        prepare=project.prepare,
        invocation=invocation,
        state=state,
        duplicates=duplicates,
    )


def _converges(scenario: Scenario, tmp_path: Path) -> None:
    report = sweep(scenario, tmp_path / "sweep", record=tmp_path / "sweep.jsonl")
    assert report.clean_writes >= 2
    assert len(report.points) == 2 * report.clean_writes
    assert report.duplicates == 0, describe(report)
    assert report.differing == [], describe(report)


def test_sync_run_killed_at_every_write_converges(
    moodle_site: FakeServer[FakeMoodle], canvas_site: FakeServer[FakeCanvas], tmp_path: Path
) -> None:
    """Files, Moodle (the framework) and Canvas (the framework as account outcomes)."""
    project = SyncProject(moodle_site, canvas_site)
    _converges(_scenario("sync-run", project), tmp_path)


def test_sync_run_rating_in_moodle_killed_at_every_write_converges(
    moodle_site: FakeServer[FakeMoodle], tmp_path: Path
) -> None:
    """Moodle receives framework and proficiency; it already holds the framework, so the
    writes are ratings, one request each (``batch = false``)."""
    project = SyncProject(
        moodle_site,
        None,
        moodle_receives=("framework", "proficiency"),
        moodle_batch=False,
        framework_in_moodle=True,
    )
    _converges(_scenario("sync-run-ratings", project), tmp_path)


def test_a_new_moodle_target_receiving_framework_and_proficiency_syncs_in_one_run(
    moodle_site: FakeServer[FakeMoodle], tmp_path: Path
) -> None:
    """Its results are planned once its framework is applied, in the same run; a second
    run writes nothing (checked by ``clean_run``)."""
    project = SyncProject(moodle_site, None, moodle_receives=("framework", "proficiency"))
    clean_run(_scenario("sync-run-new-moodle", project), tmp_path / "clean")
    site = moodle_site.fake
    assert site.frameworks
    rated = [uc for uc in site.user_competencies.values() if uc.get("grade") is not None]
    assert rated, "the results reached Moodle in the first run"
