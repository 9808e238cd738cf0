"""The fakes behind a real HTTP server: the real CLI, as a subprocess, pushes to them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from comp_adapters.native import load_framework
from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import Invocation, cli, run
from tests.harness.servers import (
    MOODLE_FOUR_LEVEL_SCALE,
    FakeServer,
    NoAnswer,
    Seen,
    Stage,
    canvas_environment,
    canvas_is_write,
    moodle_environment,
    moodle_is_write,
)
from tests.harness.states import canvas_duplicates, moodle_duplicates
from tests.moodle.fake_moodle import TOKEN as MOODLE_TOKEN
from tests.moodle.fake_moodle import FakeMoodle

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support" / "framework.json"


def _push_moodle(site: FakeServer[FakeMoodle], cwd: Path, *extra: str) -> Invocation:
    args = [*cli(), "moodle", "push", str(EXAMPLE), "--scale-id", str(MOODLE_FOUR_LEVEL_SCALE)]
    return Invocation([*args, *extra], moodle_environment(site), cwd)


def _push_canvas(site: FakeServer[FakeCanvas], cwd: Path, *extra: str) -> Invocation:
    return Invocation(
        [*cli(), "canvas", "push", str(EXAMPLE), *extra], canvas_environment(site), cwd
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_moodle_push_over_real_http_lands_in_the_fake(
    moodle_site: FakeServer[FakeMoodle], tmp_path: Path
) -> None:
    out = _ok(run(_push_moodle(moodle_site, tmp_path), servers=[moodle_site]))
    assert "applied 17 change(s)" in out
    site = moodle_site.fake
    assert [fw["idnumber"] for fw in site.frameworks.values()] == ["CS-SUPPORT"]
    assert site.competency_by_idnumber("ts.knowledge-base")["shortname"]
    assert {c["idnumber"] for c in site.competencies.values()} == {
        c.key for c in load_framework(EXAMPLE).competencies
    }
    assert moodle_duplicates(site) == 0
    assert moodle_site.write_requests >= 1
    assert all(seen.path == "/webservice/rest/server.php" for seen in moodle_site.seen)
    # The token travelled in the form body, as Moodle wants it, and never in a URL.
    assert all(MOODLE_TOKEN not in seen.path for seen in moodle_site.seen)
    moodle_site.forget_requests()
    again = _ok(run(_push_moodle(moodle_site, tmp_path), servers=[moodle_site]))
    assert "nothing to do" in again
    assert moodle_site.write_requests == 0


def test_moodle_push_without_batching_makes_one_write_request_per_change(
    moodle_site: FakeServer[FakeMoodle], tmp_path: Path
) -> None:
    _ok(run(_push_moodle(moodle_site, tmp_path, "--no-batch"), servers=[moodle_site]))
    assert "tool_mobile_call_external_functions" not in moodle_site.fake.calls
    assert moodle_site.write_requests == moodle_site.fake.writes == 17


def test_canvas_push_over_real_http_lands_in_the_fake(
    canvas_site: FakeServer[FakeCanvas], tmp_path: Path
) -> None:
    out = _ok(run(_push_canvas(canvas_site, tmp_path), servers=[canvas_site]))
    assert "applied" in out
    canvas = canvas_site.fake
    leaves = {c.title for c in load_framework(EXAMPLE).competencies if c.parent is not None}
    assert {o["title"] for o in canvas.outcomes.values() if o["active"]} == leaves
    assert canvas_duplicates(canvas) == 0
    assert canvas_site.write_requests >= 1
    canvas_site.forget_requests()
    again = _ok(run(_push_canvas(canvas_site, tmp_path), servers=[canvas_site]))
    assert "nothing to do" in again
    assert canvas_site.write_requests == 0


def test_canvas_push_by_rest_pages_through_links_the_server_rewrote(
    canvas_site: FakeServer[FakeCanvas], tmp_path: Path
) -> None:
    """REST push reads paginated lists: the fake's ``Link`` headers name its own origin,
    which the server rewrites, so the client follows them back to the server."""
    _ok(run(_push_canvas(canvas_site, tmp_path, "--strategy", "rest"), servers=[canvas_site]))
    assert canvas_duplicates(canvas_site.fake) == 0
    canvas_site.forget_requests()
    again = _ok(
        run(_push_canvas(canvas_site, tmp_path, "--strategy", "rest"), servers=[canvas_site])
    )
    assert "nothing to do" in again
    assert any("page=" in seen.path or seen.method == "GET" for seen in canvas_site.seen)


def test_a_hook_sees_both_stages_and_can_withhold_the_answer(
    canvas_site: FakeServer[FakeCanvas],
) -> None:
    stages: list[tuple[int, Stage]] = []

    def hook(seen: Seen, stage: Stage) -> None:
        stages.append((seen.number, stage))
        if seen.number == 2 and stage == "handled":
            raise NoAnswer

    canvas_site.hook = hook
    headers = {
        "Authorization": f"Bearer {canvas_environment(canvas_site)['COMP_ADAPTERS_CANVAS_TOKEN']}"
    }
    first = requests.get(
        f"{canvas_site.url}/api/v1/accounts/1/outcome_groups", headers=headers, timeout=10
    )
    assert first.status_code == 200
    assert first.headers["Link"].startswith(f"<{canvas_site.url}/")
    try:
        requests.get(
            f"{canvas_site.url}/api/v1/accounts/1/outcome_groups", headers=headers, timeout=10
        )
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the server answered although the hook withheld the answer")
    assert stages == [(1, "received"), (1, "handled"), (2, "received"), (2, "handled")]
    assert [seen.write for seen in canvas_site.seen] == [False, False]


def _form(pairs: dict[str, str]) -> requests.PreparedRequest:
    return requests.Request(
        "POST", "https://moodle.test/webservice/rest/server.php", data=pairs
    ).prepare()


def test_which_moodle_requests_write() -> None:
    """A write function alone or inside a batch writes; reads, alone or batched, do not."""
    read = "core_competency_read_competency_framework"
    create = "core_competency_create_competency"
    assert moodle_is_write(_form({"wsfunction": create, "wstoken": "t"}))
    assert not moodle_is_write(_form({"wsfunction": read, "wstoken": "t"}))
    batch = "tool_mobile_call_external_functions"
    batched = {"wsfunction": batch, "requests[0][function]": read}
    assert not moodle_is_write(_form(batched))
    assert moodle_is_write(_form({**batched, "requests[1][function]": create}))


def test_which_canvas_requests_write() -> None:
    """Every method but GET, except a GraphQL query (a mutation writes)."""

    def prepared(method: str, path: str, body: object = None) -> requests.PreparedRequest:
        return requests.Request(method, f"https://canvas.test{path}", json=body).prepare()

    assert not canvas_is_write(prepared("GET", "/api/v1/accounts/1/outcome_groups"))
    assert canvas_is_write(prepared("POST", "/api/v1/accounts/1/outcome_imports"))
    assert canvas_is_write(prepared("DELETE", "/api/v1/accounts/1/outcome_groups/3"))
    query = {"query": "query { account(id: 1) { outcomeCalculationMethod { _id } } }"}
    assert not canvas_is_write(prepared("POST", "/api/graphql", query))
    mutation = {"query": "mutation { createOutcomeCalculationMethod(input: {}) { errors } }"}
    assert canvas_is_write(prepared("POST", "/api/graphql", mutation))
