"""``comp-adapters xapi pull|push`` end to end: files, the real LRS, settings from env."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework, proficiencies_to_data
from comp_adapters.rules import evaluate
from tests.xapi.conftest import Lrs, account, statement, void

FIXTURES = Path(__file__).parent / "fixtures"
HOME = "https://lms.example.org"
MAPPING_TOML = f"""
competency_iri_base = "https://competencies.example.org/cs/"

[identity]
account_home_pages = ["{HOME}", "http://example.org/"]
push_home_page = "{HOME}"

[[activities]]
prefix = "https://courses.example.org/"
competencies = ["ts.escalation"]

[[activities]]
prefix = "http://example.org/cmi5/"
competencies = ["geology"]
"""


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING_TOML)
    return path


def test_pull_from_a_file(
    tmp_path: Path, mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evidence.jsonl"
    cursor = tmp_path / "cursor.json"
    args = ["xapi", "pull", "--file", str(FIXTURES / "cmi5_failed_then_passed.json")]
    code = main([*args, "--mapping", str(mapping), "-o", str(out), "--cursor", str(cursor)])
    assert code == 0
    evidence = list(iter_evidence(out))
    assert [e.score for e in evidence] == [0.82, 0.91, None, None]
    assert json.loads(cursor.read_text())["adapter"] == "xapi"
    text = capsys.readouterr().out
    assert "7 statements, 4 evidence" in text
    assert "unmatched: 3 verb is no evidence" in text


def test_bad_file_stops_and_writes_nothing_unless_skipping(
    tmp_path: Path, mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evidence.jsonl"
    bad = FIXTURES / "broken_second_statement.json"
    base = ["xapi", "pull", "--file", str(bad), "--mapping", str(mapping), "-o", str(out)]
    assert main(base) == 1
    assert f"{bad}:100: invalid JSON" in capsys.readouterr().err
    assert not out.exists()
    assert main([*base, "--verb", "http://adlnet.gov/expapi/verbs/passed"]) == 2
    assert "--verb filter(s) the LRS query" in capsys.readouterr().err
    assert main([*base, "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert "1 bad (skipped)" in captured.out
    assert f"{bad}:100" in captured.err
    assert out.exists()


def test_pull_and_push_against_the_real_lrs_with_env_settings(
    lrs: Lrs, tmp_path: Path, mapping: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = lrs.new_client()
    monkeypatch.setenv("COMP_ADAPTERS_XAPI_ENDPOINT", lrs.endpoint)
    monkeypatch.setenv("COMP_ADAPTERS_XAPI_KEY", credentials.key)
    monkeypatch.setenv("COMP_ADAPTERS_XAPI_SECRET", credentials.secret)
    monkeypatch.setenv("COMP_ADAPTERS_XAPI_ALLOW_HTTP", "true")
    monkeypatch.setenv("COMP_ADAPTERS_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    client = lrs.xapi_client(credentials)
    first = [statement("passed", actor=account("ann"), scaled=0.9) for _ in range(3)]
    client.post_statements(first)
    out, cursor = tmp_path / "evidence.jsonl", tmp_path / "cursor.json"
    pull = ["xapi", "pull", "--mapping", str(mapping), "-o", str(out), "--cursor", str(cursor)]
    assert main(pull) == 0
    assert len(list(iter_evidence(out))) == 3
    client.post_statements([void(first[0]["id"]), statement("failed", actor=account("ann"))])
    assert main([*pull, "--append"]) == 0
    evidence = list(iter_evidence(out))
    withdrawn = {e.id for e in evidence if e.voided}
    active = {e.id for e in evidence if not e.voided} - withdrawn
    assert len(active) == 3
    assert f"xapi:{first[0]['id']}:ts.escalation" in withdrawn
    # The withdrawal is written once (the look-up and the earlier output both gave it).
    assert [e.id for e in evidence if e.voided] == [f"xapi:{first[0]['id']}:ts.escalation"]

    folder = example_dir()
    results = evaluate(
        load_framework(folder / "framework.json"),
        list(iter_evidence(folder / "evidence.jsonl")),
        as_of=datetime(2026, 2, 1, tzinfo=UTC),
    )
    proficiency = tmp_path / "proficiency.json"
    proficiency.write_text(json.dumps(proficiencies_to_data(results[:3])))
    push = ["xapi", "push", str(proficiency), "--mapping", str(mapping)]
    push += ["--framework", str(folder / "framework.json")]
    with pytest.raises(SystemExit):
        main([*push, "--bogus"])
    assert main([*push, "--dry-run", "--plan-json", str(tmp_path / "plan.json")]) == 0
    assert len(json.loads((tmp_path / "plan.json").read_text())["changes"]) == 3
    assert main(push) == 0
    assert main(push) == 0  # nothing left to do


def test_missing_settings_are_a_usage_error(
    tmp_path: Path,
    mapping: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("ENDPOINT", "KEY", "SECRET"):
        monkeypatch.delenv(f"COMP_ADAPTERS_XAPI_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(["xapi", "pull", "--mapping", str(mapping), "-o", str(tmp_path / "x.jsonl")])
    assert code == 2
    assert "COMP_ADAPTERS_XAPI_ENDPOINT" in capsys.readouterr().err
