"""Crash anywhere, converge, for the per-system push and rate commands.

Each test runs a real ``comp-adapters`` process against a fake served over real HTTP,
SIGKILLs it at every one of its write requests in turn (before the fake applies the write,
and after it applied it but before the answer leaves), re-runs the command to completion
and asserts the fake ends exactly as after a clean run (natural keys, ids left out) with 0
duplicates. The counts (kill points tried, duplicates found) are printed per sweep and in
the session's summary.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from comp_adapters.native import load_framework
from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import Invocation, Scenario, cli, describe, sweep
from tests.harness.servers import (
    MOODLE_FOUR_LEVEL_SCALE,
    FakeServer,
    canvas_environment,
    moodle_environment,
)
from tests.harness.shim_adapters import HarnessMoodle, HarnessMoodleSettings
from tests.harness.states import canvas_duplicates, canvas_state, moodle_duplicates, moodle_state
from tests.moodle.fake_moodle import TOKEN as MOODLE_TOKEN
from tests.moodle.fake_moodle import FakeMoodle

EXAMPLES = Path(__file__).parents[2] / "examples" / "customer-support"
FRAMEWORK = EXAMPLES / "framework.json"
EVIDENCE = EXAMPLES / "evidence.jsonl"
AS_OF = ("--as-of", "2026-03-01T00:00:00Z", "--json")
RATED = ("amara.okafor", "ben.schulz", "chloe.martin")


def _converged(report_scenario: Scenario, tmp_path: Path) -> None:
    report = sweep(report_scenario, tmp_path, record=tmp_path / "sweep.jsonl")
    assert report.clean_writes >= 1
    assert len(report.points) == 2 * report.clean_writes  # every k, both stages
    assert report.duplicates == 0, describe(report)
    assert report.differing == [], describe(report)


@pytest.mark.parametrize("batching", ["batch", "no-batch"])
def test_moodle_push_killed_at_every_write_converges(
    moodle_site: FakeServer[FakeMoodle], tmp_path: Path, batching: str
) -> None:
    extra = ["--no-batch"] if batching == "no-batch" else []
    args = [*cli(), "moodle", "push", str(FRAMEWORK), "--scale-id", str(MOODLE_FOUR_LEVEL_SCALE)]
    scenario = Scenario(
        name=f"moodle-push-{batching}",
        servers=[moodle_site],
        prepare=moodle_site.fake.reset,
        invocation=lambda cwd: Invocation([*args, *extra], moodle_environment(moodle_site), cwd),
        state=lambda: moodle_state(moodle_site.fake),
        duplicates=lambda: moodle_duplicates(moodle_site.fake),
    )
    _converged(scenario, tmp_path)


@pytest.mark.parametrize("strategy", ["rest", "csv"])
def test_canvas_push_killed_at_every_write_converges(
    canvas_site: FakeServer[FakeCanvas], tmp_path: Path, strategy: str
) -> None:
    args = [*cli(), "canvas", "push", str(FRAMEWORK), "--strategy", strategy]
    scenario = Scenario(
        name=f"canvas-push-{strategy}",
        servers=[canvas_site],
        prepare=canvas_site.fake.reset,
        invocation=lambda cwd: Invocation(args, canvas_environment(canvas_site), cwd),
        state=lambda: canvas_state(canvas_site.fake),
        duplicates=lambda: canvas_duplicates(canvas_site.fake),
    )
    _converged(scenario, tmp_path)


@pytest.mark.parametrize("batching", ["batch", "no-batch"])
def test_moodle_rate_killed_at_every_write_converges(
    moodle_site: FakeServer[FakeMoodle], tmp_path: Path, batching: str
) -> None:
    """Ratings of three learners: the framework is pushed (in this process) before each
    attempt; the rate command is the one killed."""
    proficiency = tmp_path / "proficiency.json"
    computed = subprocess.run(
        [*cli(), "compute", "--framework", str(FRAMEWORK), "--evidence", str(EVIDENCE), *AS_OF],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    proficiency.write_text(computed.stdout, encoding="utf-8")
    framework = load_framework(FRAMEWORK)
    settings = HarnessMoodleSettings(
        url=moodle_site.url,
        token=SecretStr(MOODLE_TOKEN),
        allow_http=True,
        scale_id=MOODLE_FOUR_LEVEL_SCALE,
    )

    def prepare() -> None:
        site = moodle_site.fake
        site.reset()
        for name in RATED:
            site.add_user(name)
        pusher = HarnessMoodle(settings)  # the Moodle adapter, however it is built
        pusher.apply(pusher.plan_framework(framework))

    args = [*cli(), "moodle", "rate", str(proficiency), "--framework", str(FRAMEWORK)]
    args += ["--user-field", "username", *(["--no-batch"] if batching == "no-batch" else [])]
    scenario = Scenario(
        name=f"moodle-rate-{batching}",
        servers=[moodle_site],
        prepare=prepare,
        invocation=lambda cwd: Invocation(args, moodle_environment(moodle_site), cwd),
        state=lambda: moodle_state(moodle_site.fake),
        duplicates=lambda: moodle_duplicates(moodle_site.fake),
    )
    _converged(scenario, tmp_path)
