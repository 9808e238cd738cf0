"""``comp-adapters moodle push|pull|rate`` against the fake Moodle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from comp_adapters.cli.main import main
from comp_adapters.moodle.csv_format import read_framework_csv
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.sync.plan import Plan
from tests.moodle.conftest import EXAMPLE, FOUR_LEVEL_SCALE, FOUR_LEVELS
from tests.moodle.fake_moodle import TOKEN, URL, FakeMoodle

LEARNERS = ("amara.okafor", "ben.schulz", "chloe.martin")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("COMP_ADAPTERS_MOODLE_URL", URL)
    monkeypatch.setenv("COMP_ADAPTERS_MOODLE_TOKEN", TOKEN)
    monkeypatch.delenv("COMP_ADAPTERS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    return code, out, err


def test_push_then_nothing_to_do(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = env / "plan.json"
    code, out, _ = run(
        capsys,
        "moodle",
        "push",
        str(EXAMPLE),
        "--scale-id",
        str(FOUR_LEVEL_SCALE),
        "--dry-run",
        "--plan-json",
        str(plan_file),
    )
    assert code == 0
    assert "create  framework" in out
    assert fake.writes == 0
    assert json.loads(plan_file.read_text())["adapter"] == "moodle"
    code, out, _ = run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))
    assert code == 0
    assert "applied 17 change(s)" in out
    code, out, _ = run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))
    assert code == 0
    assert "nothing to do" in out


def test_settings_errors_name_the_setting(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMP_ADAPTERS_MOODLE_TOKEN")
    code, _, err = run(capsys, "moodle", "push", str(EXAMPLE))
    assert code == 2
    assert "COMP_ADAPTERS_MOODLE_TOKEN" in err
    monkeypatch.setenv("COMP_ADAPTERS_MOODLE_TOKEN", TOKEN)
    code, _, err = run(capsys, "moodle", "push", str(EXAMPLE), "--url", "http://moodle.test")
    assert code == 2
    assert "http" in err


def test_config_file_with_token_from_environment(
    fake: FakeMoodle, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMP_ADAPTERS_MOODLE_URL")
    monkeypatch.delenv("COMP_ADAPTERS_MOODLE_TOKEN")
    monkeypatch.setenv("MY_MOODLE_TOKEN", TOKEN)
    config = env / "site.toml"
    config.write_text(
        f'[moodle]\nurl = "{URL}"\ntoken_env = "MY_MOODLE_TOKEN"\nscale_id = {FOUR_LEVEL_SCALE}\n'
    )
    code, out, _ = run(
        capsys, "moodle", "push", str(EXAMPLE), "--config", str(config), "--no-batch"
    )
    assert code == 0, out
    assert "tool_mobile_call_external_functions" not in fake.calls


def test_pull_framework_and_evidence(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))[0] == 0
    as_csv = env / "pulled.csv"
    code, out, _ = run(capsys, "moodle", "pull", "CS-SUPPORT", "-o", str(as_csv))
    assert code == 0
    assert "moodle-csv" in out
    assert read_framework_csv(as_csv).key == "CS-SUPPORT"
    for name in LEARNERS:
        fake.add_user(name)
    proficiencies = env / "proficiency.json"
    assert main(["compute", "--as-of", "2026-03-01T00:00:00Z", "--json"]) == 0
    proficiencies.write_text(capsys.readouterr().out)
    rate = ["moodle", "rate", str(proficiencies), "--framework", str(EXAMPLE)]
    rate += ["--user-field", "username"]
    code, out, _ = run(capsys, *rate)
    assert code == 0, out
    assert "create  rating" in out
    rated = fake.writes
    code, out, _ = run(capsys, *rate)
    assert "nothing to do" in out
    assert fake.writes == rated
    evidence = env / "evidence.jsonl"
    cursor = env / "cursor.json"
    args = [
        "moodle",
        "pull",
        "CS-SUPPORT",
        "-o",
        str(env / "pulled.json"),
        "--evidence-out",
        str(evidence),
        "--cursor",
        str(cursor),
        "--user-field",
        "username",
    ]
    for name in LEARNERS:
        args += ["--learner", name]
    code, out, _ = run(capsys, *args)
    assert code == 0
    items = list(iter_evidence(evidence))
    assert items
    assert {e.learner for e in items} <= set(LEARNERS)
    assert {e.kind.value for e in items} == {"lms_rating"}
    # Issue 10, item 8: comp-adapters pushed the framework, so Moodle holds its level
    # keys: the evidence names the framework's own levels, which compute then uses.
    assert {e.level for e in items} <= {"beginning", "developing", "proficient", "expert"}
    assert load_framework(env / "pulled.json").key == "CS-SUPPORT"
    code, out, _ = run(capsys, *args)
    assert list(iter_evidence(evidence)) == []
    assert json.loads(cursor.read_text())["adapter"] == "moodle"
    # With the source framework, grades map to its own level keys.
    cursor.unlink()
    code, out, _ = run(capsys, *args, "--framework", str(EXAMPLE))
    assert code == 0
    levels = {e.level for e in iter_evidence(evidence)}
    assert levels
    assert levels <= {"beginning", "developing", "proficient", "expert"}
    other = env / "other.json"
    other.write_text(EXAMPLE.read_text().replace('"CS-SUPPORT"', '"OTHER"'))
    code, _, err = run(capsys, *args, "--framework", str(other))
    assert code == 2
    assert "OTHER" in err


def test_bad_cursor_file(fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))[0] == 0
    cursor = env / "cursor.json"
    cursor.write_text('{"adapter": 3}')
    code, _, err = run(
        capsys,
        "moodle",
        "pull",
        "CS-SUPPORT",
        "-o",
        str(env / "x.json"),
        "--evidence-out",
        str(env / "e.jsonl"),
        "--learner",
        "a@b",
        "--cursor",
        str(cursor),
    )
    assert code == 1
    assert "not a cursor" in err


def test_refused_delete_exits_1(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))[0] == 0
    user = fake.add_user("ann")
    kb = fake.competency_by_idnumber("ts.knowledge-base")["id"]
    fake.dispatch(
        "core_competency_grade_competency", {"userid": user, "competencyid": kb, "grade": 2}
    )
    data = json.loads(EXAMPLE.read_text())
    data["competencies"] = [c for c in data["competencies"] if c["key"] != "ts.knowledge-base"]
    smaller = env / "smaller.json"
    smaller.write_text(json.dumps(data))
    code, _, err = run(
        capsys, "moodle", "push", str(smaller), "--scale-id", str(FOUR_LEVEL_SCALE), "--prune"
    )
    assert code == 1
    assert "refused: delete:" in err
    assert "in use" in err


def test_remote_errors_are_reported_without_traceback(
    fake: FakeMoodle, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMP_ADAPTERS_MOODLE_TOKEN", "f" * 32)
    code, _, err = run(capsys, "moodle", "pull", "CS-SUPPORT", "-o", str(env / "x.json"))
    assert code == 1
    assert "invalidtoken" in err
    assert "Traceback" not in err


def test_pull_writes_nothing_when_it_cannot_finish(
    env: Path, rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    site = FakeMoodle(scales={FOUR_LEVEL_SCALE: list(FOUR_LEVELS)})
    site.install(rsps)
    assert run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))[0] == 0
    pull = ["moodle", "pull", "CS-SUPPORT", "-o", "fw.json", "--evidence-out", "e.jsonl"]
    code, _, err = run(capsys, *pull)
    assert code == 2
    assert "--learner" in err
    assert sorted(p.name for p in env.iterdir()) == []
    # The framework reads fine but the evidence cannot be read: still no file.
    site.functions.discard("tool_lp_data_for_user_competency_summary")
    code, _, err = run(capsys, *pull, "--learner", "ann@example.com")
    assert code == 2
    assert "tool_lp_data_for_user_competency_summary" in err
    assert sorted(p.name for p in env.iterdir()) == []


def test_pull_evidence_of_a_framework_we_did_not_push_needs_the_framework(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, item 8: without our level keys in Moodle, grades would read back as
    Moodle's item names ("Developing"), which compute drops: --framework is required."""
    config = '[{"scaleid":"5"},{"id":3,"scaledefault":1,"proficient":1}]'
    fake.dispatch(
        "core_competency_create_competency_framework",
        {
            "competencyframework": {
                "shortname": "By hand",
                "idnumber": "HAND",
                "scaleid": FOUR_LEVEL_SCALE,
                "scaleconfiguration": config,
                "contextid": 1,
            }
        },
    )
    args = ["moodle", "pull", "HAND", "-o", str(env / "hand.json")]
    args += ["--evidence-out", str(env / "e.jsonl"), "--learner", "a@b.cd"]
    code, _, err = run(capsys, *args)
    assert code == 2
    assert "was not pushed by comp-adapters" in err
    assert "--framework" in err
    assert not (env / "hand.json").exists()


def test_push_refuses_a_foreign_framework_unless_adopted(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.dispatch(
        "core_competency_create_competency_framework",
        {
            "competencyframework": {
                "shortname": "Theirs",
                "idnumber": "CS-SUPPORT",
                "scaleid": 2,
                "scaleconfiguration": '[{"scaleid":"2"},{"id":2,"scaledefault":1,"proficient":1}]',
                "contextid": 1,
            }
        },
    )
    push = ["moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE)]
    writes = fake.writes
    code, _, err = run(capsys, *push)
    assert code == 1
    assert "was not made from this framework" in err
    assert "shortname: 'Theirs' -> 'Customer support fundamentals'" in err
    assert "Traceback" not in err
    assert fake.writes == writes
    code, out, _ = run(capsys, *push, "--adopt")
    assert code == 0
    assert "note: adopting framework 'CS-SUPPORT'" in out
    assert run(capsys, *push)[0] == 0


def test_the_plan_shows_only_what_changes(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, item 10: no "id: null -> N", and of long text only the changed part."""
    push = ["moodle", "push", "--scale-id", str(FOUR_LEVEL_SCALE)]
    assert run(capsys, *push, str(EXAMPLE))[0] == 0
    data = json.loads(EXAMPLE.read_text())
    catalogue = next(c for c in data["competencies"] if c["key"] == "product.catalogue")
    catalogue["description"] = catalogue["description"].replace("accurately", "precisely")
    data["title"] = "Customer support basics"
    changed = env / "changed.json"
    changed.write_text(json.dumps(data))
    code, out, _ = run(capsys, *push, str(changed), "--dry-run")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("  update")]
    assert len(lines) == 2
    assert "shortname: 'Customer support fundamentals' -> 'Customer support basics'" in lines[0]
    assert "id:" not in out
    assert "descriptionformat" not in out
    assert "limits accurately.' -> " in lines[1]
    assert "limits precisely.'" in lines[1]


def test_misconfigured_sites_get_one_clear_line(
    rsps: responses.RequestsMock, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, item 6 (recording 50): web services off is HTTP 403 with an empty body."""
    FakeMoodle(web_services=False).install(rsps)
    code, _, err = run(capsys, "moodle", "push", str(EXAMPLE))
    assert code == 1
    assert err.count("\n") == 1
    assert "web services or the REST protocol are disabled" in err


def test_rate_names_the_functions_to_add(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, item 2: not a raw {'errorcode': 'accessexception'} dict."""
    assert run(capsys, "moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))[0] == 0
    fake.functions.discard("core_user_get_users_by_field")
    results = env / "results.json"
    assert main(["compute", "--as-of", "2026-03-01T00:00:00Z", "--json"]) == 0
    results.write_text(capsys.readouterr().out)
    code, _, err = run(capsys, "moodle", "rate", str(results), "--framework", str(EXAMPLE))
    assert code == 2
    assert "core_user_get_users_by_field" in err
    assert "Add them to the service" in err
    assert "errorcode" not in err


def test_writing_commands_save_the_plan_and_speak_json(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push = ["moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE)]
    plan_file = env / "plan.json"
    code, out, _ = run(capsys, *push, "--dry-run", "--json", "--plan-out", str(plan_file))
    assert code == 0
    shown = json.loads(out)
    assert shown["dry_run"] is True
    assert shown["applied"] == 0
    saved = Plan.from_json(plan_file.read_text())
    assert shown["plan"]["fingerprint"] == saved.fingerprint
    assert saved.adapter == "moodle"
    assert fake.writes == 0
    code, out, _ = run(capsys, *push, "--json")
    assert code == 0
    assert json.loads(out)["applied"] == len(saved.writes)
    code, out, _ = run(capsys, "moodle", "pull", "CS-SUPPORT", "-o", str(env / "p.json"), "--json")
    assert code == 0
    assert json.loads(out) == {
        "framework": "CS-SUPPORT",
        "output": str(env / "p.json"),
        "format": "native",
        "competencies": len(load_framework(EXAMPLE).competencies),
    }


def test_a_misspelt_config_key_exits_2_naming_it(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = env / "site.toml"
    config.write_text(f'[moodle]\nurl = "{URL}"\nscale_idd = 3\n')
    code, _, err = run(capsys, "moodle", "push", str(EXAMPLE), "--config", str(config))
    assert code == 2
    assert "scale_idd" in err


def test_a_saved_plan_is_applied_by_the_generic_apply_and_refused_once_stale(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = env / "plan.json"
    push = ["moodle", "push", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE)]
    assert run(capsys, *push, "--dry-run", "--plan-out", str(plan_file))[0] == 0
    assert fake.writes == 0
    code, out, err = run(capsys, "apply", str(plan_file))
    assert code == 0, err
    assert fake.writes > 0
    code, _, err = run(capsys, "apply", str(plan_file))  # the site holds it now
    assert code == 1
    assert "changed since the plan was made" in err
    # the generic verbs reach the same adapter
    code, out, err = run(
        capsys, "push", "moodle", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE)
    )
    assert code == 0, err
    assert "nothing to do" in out


def test_the_generic_verbs_publish_and_read_evidence_from_settings_alone(
    fake: FakeMoodle, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "push", "moodle", str(EXAMPLE), "--scale-id", str(FOUR_LEVEL_SCALE))[0] == 0
    for name in LEARNERS:
        fake.add_user(name)
    results = env / "results.json"
    assert main(["compute", "--as-of", "2026-03-01T00:00:00Z", "--json"]) == 0
    results.write_text(capsys.readouterr().out)
    publish = ["publish", "moodle", str(results), "--framework", str(EXAMPLE)]
    code, _, err = run(capsys, *publish, "--user-field", "username")
    assert code == 0, err
    rated = fake.writes
    evidence, cursor = env / "ratings.jsonl", env / "cursor.json"
    read = ["evidence", "moodle", "-o", str(evidence), "--cursor", str(cursor)]
    read += ["--framework-key", "CS-SUPPORT", "--user-field", "username"]
    for name in LEARNERS:
        read += ["--learners", name]
    code, _, err = run(capsys, *read)
    assert code == 0, err
    items = list(iter_evidence(evidence))
    assert items
    assert {e.learner for e in items} <= set(LEARNERS)
    assert {e.level for e in items} <= {"beginning", "developing", "proficient", "expert"}
    assert run(capsys, *read)[0] == 0
    assert list(iter_evidence(evidence)) == []  # the cursor moved past them
    assert fake.writes == rated
