"""The kill harness finds what it is for: a client that repeats a write it cannot know
happened leaves a duplicate, and the sweep reports it (so a green sweep means something)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.canvas.fake_canvas import TOKEN as CANVAS_TOKEN
from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import Invocation, Scenario, sweep
from tests.harness.servers import FakeServer
from tests.harness.states import canvas_duplicates, canvas_state

NAIVE_CLIENT = """
import sys, requests
base, token = sys.argv[1], sys.argv[2]
auth = {"Authorization": "Bearer " + token}
root = requests.get(base + "/api/v1/accounts/1/root_outcome_group", headers=auth, timeout=30)
gid = root.json()["id"]
for title in ("First", "Second"):
    created = requests.post(
        f"{base}/api/v1/accounts/1/outcome_groups/{gid}/outcomes",
        json={"title": title, "vendor_guid": title.lower()},
        headers=auth,
        timeout=30,
    )
    created.raise_for_status()
"""


def test_a_client_without_look_ups_leaves_duplicates_the_sweep_counts(
    canvas_site: FakeServer[FakeCanvas], tmp_path: Path
) -> None:
    """It creates two outcomes each run, never looking first: whatever the killed run
    made, the re-run makes again; killed at its first write before the fake saw it, nothing
    repeats."""
    script = tmp_path / "naive.py"
    script.write_text(NAIVE_CLIENT, encoding="utf-8")

    def invocation(cwd: Path) -> Invocation:
        return Invocation([sys.executable, str(script), canvas_site.url, CANVAS_TOKEN], {}, cwd)

    scenario = Scenario(
        name="naive-client",
        servers=[canvas_site],
        prepare=canvas_site.fake.reset,
        invocation=invocation,
        state=lambda: canvas_state(canvas_site.fake),
        duplicates=lambda: canvas_duplicates(canvas_site.fake),
    )
    report = sweep(scenario, tmp_path / "sweep", check_idempotent=False)
    assert report.clean_writes == 2
    by_point = {(p.k, p.stage): (p.duplicates, p.same_state) for p in report.points}
    assert by_point == {
        (1, "received"): (0, True),
        (1, "handled"): (1, False),
        (2, "received"): (1, False),  # "First" again
        (2, "handled"): (2, False),  # both again
    }
    assert report.duplicates == 4
