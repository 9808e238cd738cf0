"""No silent data loss, clear usage errors, and output files that behave like files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.errors import ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.sync.apply import ApplyError, ApplyReport
from comp_adapters.sync.plan import Action, Change, Plan

EXAMPLE = example_dir()
FRAMEWORK = EXAMPLE / "framework.json"
AS_OF = "2026-11-01T00:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else -1
    out, err = capsys.readouterr()
    return code, out, err


def evidence_with_typos(tmp_path: Path) -> Path:
    lines = (EXAMPLE / "evidence.jsonl").read_text().splitlines()[:5]
    records = [json.loads(line) for line in lines]
    records[1]["level"] = "Proficient"  # the key is "proficient"
    records[1].pop("score", None)
    records[3]["competency"] = records[3]["competency"] + "x"  # a typo
    path = tmp_path / "evidence.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_validate_evidence_against_a_framework_names_each_bad_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = evidence_with_typos(tmp_path)
    assert run(capsys, "validate", str(path))[0] == 0  # well-formed on its own
    code, _, err = run(capsys, "validate", str(path), "--framework", str(FRAMEWORK))
    assert code == 1
    assert f"{path}:2, field 'level': level 'Proficient'" in err
    assert "did you mean 'proficient'?" in err
    assert f"{path}:4, field 'competency'" in err
    assert "did you mean" in err.split(f"{path}:4", 1)[1]


def test_compute_warns_with_lines_and_strict_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = evidence_with_typos(tmp_path)
    base = ["compute", "--framework", str(FRAMEWORK), "--evidence", str(path), "--as-of", AS_OF]
    code, out, err = run(capsys, *base)
    assert code == 0
    assert "2 evidence records cannot count" in err
    assert f"{path}:2" in err
    assert f"{path}:4" in err
    assert "learners" in out
    code, _, err = run(capsys, *base, "--strict")
    assert code == 1
    assert f"{path}:2" in err


def test_xapi_pull_checks_the_mapping_against_the_framework_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"activities": [{"prefix": "https://x/", "competencies": ["product.pricingg"]}]})
    )
    statements = tmp_path / "statements.json"
    statements.write_text("[]")
    code, _, err = run(
        capsys,
        "xapi", "pull", "--file", str(statements), "--mapping", str(mapping),
        "--framework", str(FRAMEWORK), "-o", str(tmp_path / "out.jsonl"),
    )  # fmt: skip
    assert code == 1
    assert "'product.pricingg'" in err
    assert "did you mean 'product.pricing'?" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_lossy_conversions_warn_once_per_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "convert", str(FRAMEWORK), "-o", str(tmp_path / "o.csv"), "--to", "canvas-csv"
    )
    assert code == 0
    for kind in (
        "version",
        "rollup rules",
        "scale level keys",
        "level descriptions",
        "calculation methods",
        "tags",
    ):
        assert sum(1 for line in err.splitlines() if "cannot hold" in line and kind in line) == 1


def test_a_richer_file_is_not_replaced_by_a_poorer_one_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    framework = tmp_path / "framework.json"
    framework.write_text(FRAMEWORK.read_text())
    csv = tmp_path / "outcomes.csv"
    assert run(capsys, "convert", str(framework), "-o", str(csv), "--to", "canvas-csv")[0] == 0
    before = framework.read_bytes()
    code, _, err = run(capsys, "convert", str(csv), "-o", str(framework))
    assert code == 2
    assert "--force" in err
    assert "rollup rules" in err
    assert framework.read_bytes() == before
    assert run(capsys, "convert", str(csv), "-o", str(framework), "--force")[0] == 0
    assert framework.read_bytes() != before


def test_convert_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "convert", str(FRAMEWORK), "-o", "-", "--to", "native")
    assert code == 0
    assert json.loads(out)["key"] == "CS-SUPPORT"
    assert "competencies" in err  # the summary goes to stderr, the document to stdout


def test_output_modes_follow_the_umask_and_are_kept_when_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.json"
        assert run(capsys, "convert", str(FRAMEWORK), "-o", str(new))[0] == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        new.chmod(0o640)
        assert run(capsys, "convert", str(FRAMEWORK), "-o", str(new))[0] == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_non_regular_targets_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "convert", str(FRAMEWORK), "-o", str(fifo), "--to", "native")
    assert code == 2
    assert "FIFO" in err
    link = tmp_path / "null.json"
    link.symlink_to("/dev/null")
    code, _, err = run(capsys, "convert", str(FRAMEWORK), "-o", str(link), "--to", "native")
    assert code == 2
    assert "device" in err
    assert link.is_symlink()


def test_never_write_onto_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "fw.json"
    source.write_text(FRAMEWORK.read_text())
    hard = tmp_path / "same.json"
    os.link(source, hard)
    code, _, err = run(capsys, "convert", str(source), "-o", str(hard), "--to", "native")
    assert code == 2
    assert "inputs" in err


def test_a_flood_of_problems_shows_the_first_20(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text('{"id": "x",}\n' * 1000)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1
    assert "... and 980 more" in err
    assert len(err.splitlines()) < 30


@pytest.mark.parametrize(
    ("content", "looks_like"),
    [('[{"id": "a"}]\n', "a JSON array"), ("id,learner,competency\na,b,c\n", "a CSV file")],
)
def test_evidence_in_the_wrong_shape_says_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, looks_like: str
) -> None:
    path = tmp_path / "evidence.jsonl"
    path.write_text(content)
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1
    assert f"this looks like {looks_like}: evidence files are JSON lines" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["compute", "--min-evidence", "0"], "must be at least 1"),
        (["compute", "--weight", "attestation=-1"], "0 or more"),
        (["compute", "--as-of", "2026-11-01T10:00"], "has no time zone"),
        (["validate", "{tmp}"], "is a folder"),
        (["compute", "--framework", "{tmp}", "--evidence", "{tmp}"], "is a folder"),
    ],
)
def test_user_mistakes_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert code == 2, err
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "internal error" not in err


def test_a_bare_date_means_midnight_utc(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compute", "--as-of", "2026-11-01", "--json")
    assert code == 0
    assert json.loads(out)["as_of"] == AS_OF


def test_a_plugin_format_that_cannot_write_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "convert", str(FRAMEWORK), "-o", str(tmp_path / "x.imscc"))
    assert code == 2
    assert "canvas-cartridge" in err


def test_an_apply_error_says_to_run_the_same_command_again() -> None:
    plan = Plan(
        adapter="a", target="t", changes=(Change(id="1", action=Action.CREATE, kind="k", key="x"),)
    )
    error = ApplyError(plan.changes[0], ApplyReport(plan.fingerprint), RuntimeError("boom"))
    assert "Run the same command again" in str(error)
    assert "journal" not in str(error)


def test_validation_error_keeps_every_problem() -> None:
    from comp_adapters.errors import Problem  # noqa: PLC0415

    error = ValidationError([Problem(f"p{n}", line=n) for n in range(50)])
    assert len(error.problems) == 50
    assert "... and 30 more" in str(error)
