"""The xAPI adapter through the generic verbs (``comp-adapters evidence|publish xapi``),
built by the registry from ``XapiSettings`` alone: settings from the environment, the
mapping from ``--mapping``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from comp_adapters.cli.main import main
from comp_adapters.native import dump_framework, iter_evidence, proficiencies_to_data
from tests.xapi.conftest import results
from tests.xapi.contract_fixtures import AS_OF, make_framework
from tests.xapi.fake_lrs import FakeLrs
from tests.xapi.test_xapi_quirks import Cli, passed


@pytest.fixture
def run(
    fake_lrs: Callable[..., FakeLrs], tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeLrs, Cli]:
    lrs = fake_lrs()
    return lrs, Cli(lrs, tmp_path, monkeypatch)  # type: ignore[arg-type]


def test_evidence_verb_reads_the_lrs_incrementally(
    run: tuple[FakeLrs, Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    lrs, cli = run
    for name in ("ann", "bob"):
        lrs.store(passed(name))
    argv = ["evidence", "xapi", "--mapping", str(cli.mapping), "-o", str(cli.out)]
    argv += ["--cursor", str(cli.cursor)]
    assert main(argv) == 0
    assert len(list(iter_evidence(cli.out))) == 2
    saved = json.loads(cli.cursor.read_text())
    assert saved["cursor"]["adapter"] == "xapi"
    assert len(saved["query"]) == 64  # the fingerprint of evidence_query()
    capsys.readouterr()
    lrs.store(passed("cem"))
    assert main(argv) == 0
    assert [e.learner for e in iter_evidence(cli.out)] == ["cem"]  # only what is newer


def test_evidence_verb_refuses_a_cursor_saved_under_another_mapping(
    run: tuple[FakeLrs, Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    """The mapping is part of what a read selects (its digest is in evidence_query()):
    resuming with another mapping would leave earlier statements mapped the old way."""
    lrs, cli = run
    lrs.store(passed("ann"))
    argv = ["evidence", "xapi", "-o", str(cli.out), "--cursor", str(cli.cursor)]
    assert main([*argv, "--mapping", str(cli.mapping)]) == 0
    other = cli.folder / "other.toml"
    text = cli.mapping.read_text()
    other.write_text(text.replace('competencies = ["q"]', 'competencies = ["r"]'))
    before = cli.cursor.read_text()
    capsys.readouterr()
    assert main([*argv, "--mapping", str(other)]) != 0
    assert "cursor" in capsys.readouterr().err.lower()
    assert cli.cursor.read_text() == before


def test_publish_verb_pushes_results_once(
    run: tuple[FakeLrs, Cli], capsys: pytest.CaptureFixture[str]
) -> None:
    lrs, cli = run
    framework = cli.folder / "framework.json"
    dump_framework(make_framework(), framework)
    results_file = cli.folder / "results.json"
    results_file.write_text(json.dumps(proficiencies_to_data(results(3, as_of=AS_OF))))
    argv = ["publish", "xapi", str(results_file), "--framework", str(framework)]
    argv += ["--mapping", str(cli.mapping)]
    assert main([*argv, "--dry-run", "--plan-out", str(cli.folder / "plan.json")]) == 0
    assert lrs.rows == []
    assert main(argv) == 0
    assert len(lrs.rows) == 3
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    assert len(lrs.rows) == 3  # re-publish writes nothing
