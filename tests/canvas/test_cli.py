"""``comp-adapters canvas ...`` against the fake, with settings from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.core.framework import Framework
from comp_adapters.native import dump_framework, iter_evidence, load_framework
from comp_adapters.sync.plan import Plan

from .conftest import EXAMPLE
from .fake_canvas import BASE, TOKEN, FakeCanvas


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray ./comp-adapters.toml
    monkeypatch.delenv("COMP_ADAPTERS_CONFIG", raising=False)
    monkeypatch.setenv("COMP_ADAPTERS_CANVAS_URL", BASE)
    monkeypatch.setenv("COMP_ADAPTERS_CANVAS_TOKEN", TOKEN)
    monkeypatch.setenv("COMP_ADAPTERS_CANVAS_ACCOUNT", "1")
    monkeypatch.setenv("COMP_ADAPTERS_CANVAS_POLL_INTERVAL", "0")
    return tmp_path


def test_push_dry_run_then_push_then_nothing_to_do(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = env / "plan.json"
    dry = ["canvas", "push", str(EXAMPLE), "--strategy", "csv", "--dry-run"]
    assert main([*dry, "--plan-json", str(plan_file)]) == 0
    out = capsys.readouterr().out
    assert "to apply: 14 create" in out
    assert "strategy csv" in out
    assert fake.writes == 0
    assert Plan.from_json(plan_file.read_text()).fingerprint
    assert main(["canvas", "push", str(EXAMPLE), "--strategy", "csv"]) == 0
    assert "applied 14 change(s)" in capsys.readouterr().out
    assert main(["canvas", "push", str(EXAMPLE), "--strategy", "rest"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_pull_writes_a_framework_file(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["canvas", "push", str(EXAMPLE), "--course", "9", "--strategy", "rest"]) == 0
    out = env / "pulled.json"
    assert (
        main(["canvas", "pull", "--course", "9", "--framework", "CS-SUPPORT", "-o", str(out)]) == 0
    )
    pulled = load_framework(out)
    assert len(pulled.competencies) == 12
    csv_out = env / "pulled.csv"
    assert main(["canvas", "pull", "--course", "9", "-o", str(csv_out)]) == 0
    assert csv_out.read_text().startswith("vendor_guid,object_type")


def test_results_and_rollup_comparison(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_user("7", login_id="amara")
    outcome = fake._new_outcome(
        "courses/5", {"title": "O", "vendor_guid": "RX:o1", "calculation_method": "highest"}
    )
    fake._link_outcome("courses/5", fake.root_id("courses/5"), outcome["id"])
    fake.add_result(
        user="7", outcome_id=outcome["id"], score=4, possible=5, when="2026-01-01T00:00:00Z"
    )
    fake.rollups = [
        {
            "scores": [{"score": 4.0, "links": {"outcome": str(outcome["id"])}}],
            "links": {"user": "7"},
        }
    ]
    target = env / "evidence.jsonl"
    code = main(
        [
            "canvas",
            "results",
            "--course",
            "5",
            "--framework",
            "RX",
            "-o",
            str(target),
            "--compare-rollups",
        ]
    )
    assert code == 0
    (item,) = list(iter_evidence(target))
    assert (item.learner, item.competency, item.score) == ("amara", "o1", 0.8)
    assert "rollups: 1 compared, 0 differ" in capsys.readouterr().err
    fake.rollups[0]["scores"][0]["score"] = 3.0
    assert main(["canvas", "results", "--course", "5", "--compare-rollups", "-o", str(target)]) == 1
    assert "differs: user 7" in capsys.readouterr().err


def test_mastery_from_compute_output(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str], example: Framework
) -> None:
    for number, login in enumerate(["amara.okafor", "ben.schulz"], start=100):
        fake.add_user(str(number), login_id=login)
    assert main(["canvas", "push", str(EXAMPLE), "--course", "5"]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "compute",
                "--framework",
                str(EXAMPLE),
                "--evidence",
                str(EXAMPLE.parent / "evidence.jsonl"),
                "--as-of",
                "2026-03-01T00:00:00Z",
                "--json",
            ]
        )
        == 0
    )
    computed = env / "computed.json"
    computed.write_text(capsys.readouterr().out)
    assert json.loads(computed.read_text())["proficiencies"]
    assert (
        main(["canvas", "mastery", str(computed), "--framework", str(EXAMPLE), "--course", "5"])
        == 0
    )
    out = capsys.readouterr().out
    assert "rubric_assessment" in out
    assert "learner not in course" in out
    assert len(fake.assignments) == 1
    assert (
        main(["canvas", "mastery", str(computed), "--framework", str(EXAMPLE), "--course", "5"])
        == 0
    )
    assert "nothing to do" in capsys.readouterr().out


def test_missing_settings_and_bad_token_are_clear(
    fake: FakeCanvas,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    example: Framework,
) -> None:
    source = env / "fw.json"
    dump_framework(example, source)
    monkeypatch.delenv("COMP_ADAPTERS_CANVAS_TOKEN")
    assert main(["canvas", "push", str(source)]) == 2
    err = capsys.readouterr().err
    assert "canvas setting 'token': missing" in err
    assert "COMP_ADAPTERS_CANVAS_TOKEN" in err
    monkeypatch.setenv("COMP_ADAPTERS_CANVAS_TOKEN", "wrong-token-value")
    assert main(["canvas", "push", str(source)]) == 1
    err = capsys.readouterr().err
    assert "Invalid access token" in err
    assert "request id req-" in err
    assert "wrong-token-value" not in err
    monkeypatch.setenv("COMP_ADAPTERS_CANVAS_COURSE", "3")
    assert main(["canvas", "push", str(source)]) == 2
    assert "exactly one context" in capsys.readouterr().err


def test_config_file_settings(
    fake: FakeCanvas, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("URL", "TOKEN", "ACCOUNT"):
        monkeypatch.delenv(f"COMP_ADAPTERS_CANVAS_{name}")
    monkeypatch.setenv("MY_CANVAS_TOKEN", TOKEN)
    config = env / "comp-adapters.toml"
    config.write_text(f'[canvas]\nurl = "{BASE}"\ntoken_env = "MY_CANVAS_TOKEN"\naccount = "4"\n')
    assert main(["canvas", "push", str(EXAMPLE), "--dry-run", "--config", str(config)]) == 0
    assert "account:4" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_the_accounts_locale_reaches_the_import(
    fake: FakeCanvas,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    # Issue 11 item 4: Canvas parses import numbers in the account's default_locale
    # (OutcomeImport#run); its API does not show it, so it is a setting.
    fake.locale = "de"
    data = json.loads(EXAMPLE.read_text())
    data["scale"]["mastery_points"] = 2.5
    framework = env / "fractional.json"
    framework.write_text(json.dumps(data))
    args = ["canvas", "push", str(framework), "--strategy", "csv"]
    if where == "flag":
        args += ["--locale", "de"]
    else:
        monkeypatch.setenv("COMP_ADAPTERS_CANVAS_LOCALE", "de")
    assert main(args) == 0
    assert "exponent form" not in capsys.readouterr().out
    assert {o["mastery_points"] for o in fake.outcomes.values() if o["active"]} == {2.5}


def test_convert_writes_numbers_for_the_given_locale(env: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["scale"]["mastery_points"] = 2.5
    source = env / "fractional.json"
    source.write_text(json.dumps(data))
    plain, german = env / "any.csv", env / "de.csv"
    assert main(["convert", str(source), "-o", str(plain), "--to", "canvas-csv"]) == 0
    assert (
        main(
            [
                "convert",
                str(source),
                "-o",
                str(german),
                "--to",
                "canvas-csv",
                "--canvas-locale",
                "de",
            ]
        )
        == 0
    )
    assert ",25e-1," in plain.read_text()
    assert ',"2,5",' in german.read_text()


def test_plan_out_json_and_framework_key(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = env / "saved" / "plan.json"
    plan_file.parent.mkdir()
    args = ["canvas", "push", str(EXAMPLE), "--strategy", "rest", "--dry-run", "--json"]
    assert main([*args, "--plan-out", str(plan_file)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["applied"] == 0
    saved = Plan.from_json(plan_file.read_text())
    assert Plan.from_json(json.dumps(shown["plan"])).fingerprint == saved.fingerprint
    assert len(saved.writes) == 13
    assert fake.writes == 0
    assert main(["canvas", "push", str(EXAMPLE), "--strategy", "rest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == 13
    out = env / "pulled.json"
    pull = ["canvas", "pull", "--framework-key", "CS-SUPPORT", "-o", str(out), "--json"]
    assert main(pull) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "context": "account:1",
        "output": str(out),
        "format": "native",
        "competencies": 12,
    }
    assert len(load_framework(out).competencies) == 12


def test_results_json_summary(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_user("7", login_id="amara")
    outcome = fake._new_outcome("courses/5", {"title": "O", "vendor_guid": "RX:o1"})
    fake._link_outcome("courses/5", fake.root_id("courses/5"), outcome["id"])
    fake.add_result(
        user="7", outcome_id=outcome["id"], score=4, possible=5, when="2026-01-01T00:00:00Z"
    )
    fake.add_result(
        user="8", outcome_id=outcome["id"], score=1, possible=5, when="2026-01-02T00:00:00Z"
    )
    target = env / "evidence.jsonl"
    args = ["canvas", "results", "--course", "5", "--framework-key", "RX", "-o", str(target)]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"evidence": 1, "skipped": {"user without login_id": 1}}
    assert len(list(iter_evidence(target))) == 1


def test_a_misspelt_config_key_is_refused(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = env / "comp-adapters.toml"
    config.write_text('[canvas]\nstrategie = "csv"\n')
    assert main(["canvas", "push", str(EXAMPLE), "--dry-run", "--config", str(config)]) == 2
    assert "'strategie'" in capsys.readouterr().err


def test_the_generic_verbs_drive_canvas(
    fake: FakeCanvas, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 13 item 3: push/pull/evidence/publish/apply SYSTEM, flags from CanvasSettings.
    plan_file = env / "plan.json"
    push = ["push", "canvas", str(EXAMPLE), "--strategy", "rest"]
    assert main([*push, "--dry-run", "--plan-out", str(plan_file)]) == 0
    assert fake.writes == 0
    capsys.readouterr()
    assert main(["apply", str(plan_file)]) == 0
    assert len([o for o in fake.outcomes.values() if o["active"]]) == 9
    writes = fake.writes
    capsys.readouterr()
    # The same saved plan again: the context changed since it was made, so it is refused.
    assert main(["apply", str(plan_file)]) == 1
    assert "changed since" in capsys.readouterr().err
    assert fake.writes == writes
    assert main([*push, "--json"]) == 0
    assert fake.writes == writes
    pulled = env / "pulled.json"
    assert main(["pull", "canvas", "--framework-key", "CS-SUPPORT", "-o", str(pulled)]) == 0
    assert len(load_framework(pulled).competencies) == 12


def test_the_generic_publish_and_evidence_verbs(
    fake: FakeCanvas, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The generic verbs merge settings as adapter_settings does: a --course flag does not
    # replace a configured account there (exactly one context is then an error).
    assert main(["push", "canvas", str(EXAMPLE), "--course", "5", "--dry-run"]) == 2
    assert "exactly one context" in capsys.readouterr().err
    monkeypatch.delenv("COMP_ADAPTERS_CANVAS_ACCOUNT")
    fake.add_user("100", login_id="amara.okafor")
    assert main(["push", "canvas", str(EXAMPLE), "--course", "5", "--strategy", "rest"]) == 0
    capsys.readouterr()
    compute = ["compute", "--framework", str(EXAMPLE), "--evidence"]
    evidence_file = str(EXAMPLE.parent / "evidence.jsonl")
    assert main([*compute, evidence_file, "--as-of", "2026-03-01T00:00:00Z", "--json"]) == 0
    computed = env / "computed.json"
    computed.write_text(capsys.readouterr().out)
    publish = ["publish", "canvas", str(computed), "--framework", str(EXAMPLE), "--course", "5"]
    assert main(publish) == 0
    assert len(fake.assignments) == 1
    assert fake.assessments
    writes = fake.writes
    assert main(publish) == 0  # re-publish writes nothing
    assert fake.writes == writes
    out = env / "evidence.jsonl"
    args = ["evidence", "canvas", "--course", "5", "--framework-key", "CS-SUPPORT", "-o", str(out)]
    assert main(args) == 0
    assert list(iter_evidence(out)) == []  # our own write-back is not evidence
