"""The consistent flags of ``comp-adapters xapi`` (issue 13 item 4/5): ``-o/--output``,
``--json`` on every command that prints a result, ``--plan-out`` on push, settings (the
mapping, filters) from the config file, a misspelt config key refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.native import iter_evidence, proficiencies_to_data
from comp_adapters.sync.plan import Plan
from tests.xapi.conftest import results
from tests.xapi.fake_lrs import FakeLrs
from tests.xapi.test_xapi_quirks import Cli, passed

MakeLrs = Callable[..., FakeLrs]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Cli]:
    """``comp-adapters xapi`` against a fake LRS, settings from the environment."""
    return lambda lrs, **options: Cli(lrs, tmp_path, monkeypatch, **options)


def _results_file(run: Cli, count: int) -> Path:
    path = run.folder / "results.json"
    path.write_text(
        json.dumps(proficiencies_to_data(results(count, as_of=datetime(2026, 3, 1, tzinfo=UTC))))
    )
    return path


def test_push_saves_the_plan_and_prints_json(
    fake_lrs: MakeLrs, cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    lrs = fake_lrs()
    run = cli(lrs)
    push = ["xapi", "push", str(_results_file(run, 3)), "--mapping", str(run.mapping)]
    saved = run.folder / "plan.json"
    assert main([*push, "--dry-run", "--json", "--plan-out", str(saved)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["applied"] is None
    plan = Plan.from_json(saved.read_text())
    assert len(plan.writes) == 3
    assert printed["plan"]["changes"] == json.loads(plan.to_json())["changes"]
    assert lrs.rows == []
    assert main([*push, "--json"]) == 0
    applied = json.loads(capsys.readouterr().out)["applied"]
    assert applied == {"confirmed": 3, "posted": 3, "found": 0}
    assert len(lrs.rows) == 3
    assert main([*push, "--json", "--plan-json", str(saved)]) == 0  # the old spelling
    again = json.loads(capsys.readouterr().out)
    assert again["applied"] is None  # nothing left to write
    assert {c["action"] for c in again["plan"]["changes"]} == {"noop"}
    assert Plan.from_json(saved.read_text()).is_empty


def test_pull_prints_its_summary_as_json_and_keeps_the_old_out_flag(
    fake_lrs: MakeLrs, cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    lrs = fake_lrs()
    run = cli(lrs)
    lrs.store(passed("ann"))
    lrs.store(passed("bob"))
    argv = ["xapi", "pull", "--mapping", str(run.mapping), "--json"]
    assert main([*argv, "--output", str(run.out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["statements"] == 2
    assert summary["evidence"] == summary["written"] == 2
    assert summary["output"] == str(run.out)
    other = run.folder / "old.jsonl"
    assert main([*argv, "--out", str(other)]) == 0
    assert len(list(iter_evidence(other))) == 2


def test_the_mapping_and_filters_come_from_the_config_file(
    fake_lrs: MakeLrs,
    cli: Callable[..., Cli],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lrs = fake_lrs()
    run = cli(lrs)
    lrs.store(passed("ann"))
    config = run.folder / "comp-adapters.toml"
    config.write_text(f'[xapi]\nmapping = "{run.mapping}"\nverb = "https://verbs.example/x"\n')
    monkeypatch.setenv("COMP_ADAPTERS_CONFIG", str(config))
    assert main(["xapi", "pull", "-o", str(run.out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["evidence"] == 0  # the verb filter applied
    asked = [query for method, path, query in lrs.requests if path.endswith("/statements")]
    assert asked[-1]["verb"] == "https://verbs.example/x"


def test_a_misspelt_config_key_is_a_usage_error_naming_it(
    fake_lrs: MakeLrs,
    cli: Callable[..., Cli],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = cli(fake_lrs())
    config = run.folder / "comp-adapters.toml"
    config.write_text("[xapi]\npage_sise = 10\n")
    monkeypatch.setenv("COMP_ADAPTERS_CONFIG", str(config))
    assert main(["xapi", "pull", "--mapping", str(run.mapping), "-o", str(run.out)]) == 2
    assert "page_sise" in capsys.readouterr().err
    assert not run.out.exists()
