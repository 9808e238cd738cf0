"""``comp-adapters framework diff`` on files, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.native import dump_framework
from tests.governance.builders import v1, v2


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "support-1.0.json", tmp_path / "support-2.0.yaml"
    dump_framework(v1(version="1.0"), old)
    dump_framework(v2().model_copy(update={"version": "2.0"}), new)
    return old, new


def test_diff_prints_a_table(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = files
    assert main(["framework", "diff", str(old), str(new)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Framework SUPPORT: 1.0 [")
    assert "  replaced      comm          replaced by comm.written, comm.verbal (split)" in lines
    assert "competencies: 2 added, 1 replaced, 1 moved, 1 other" in lines


def test_diff_prints_json(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = files
    assert main(["framework", "diff", str(old), str(new), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["replacements"] == {"comm": ["comm.written", "comm.verbal"]}
    assert [c["kind"] for c in data["competencies"]][:2] == ["added", "added"]


def test_the_same_framework_in_two_formats_has_no_differences(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = files
    copy = tmp_path / "same.yaml"
    dump_framework(v1(version="1.0"), copy)
    assert main(["framework", "diff", str(old), str(copy)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  no differences"


def test_a_stored_version_without_a_store_is_refused_and_no_store_is_created(
    files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, _ = files
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMP_ADAPTERS_STORE", raising=False)
    assert main(["framework", "diff", str(old), "SUPPORT@2.0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: SUPPORT@2.0: not a file, and there is no store at ")
    assert "Traceback" not in err
    assert not (tmp_path / ".comp-adapters").exists()


def test_a_file_named_like_a_reference_is_read_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    dump_framework(v1(), tmp_path / "SUPPORT@1.0.json")
    assert main(["framework", "diff", "SUPPORT@1.0.json", "SUPPORT@1.0.json"]) == 0
    assert "no differences" in capsys.readouterr().out


def test_missing_and_invalid_files_are_reported(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = files
    assert main(["framework", "diff", str(old), str(tmp_path / "nope.json")]) == 1
    assert (
        capsys.readouterr().err == f"error: 1 error\n  {tmp_path / 'nope.json'}: file not found\n"
    )
    bad = tmp_path / "bad.json"
    data = json.loads(old.read_text())
    data["competencies"][1]["parent"] = "nowhere"
    bad.write_text(json.dumps(data))
    assert main(["framework", "diff", str(old), str(bad)]) == 1
    assert "unknown parent 'nowhere'" in capsys.readouterr().err


def test_framework_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["framework"])
    assert caught.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["framework", "--help"])
    assert "what changed between two versions of a framework" in capsys.readouterr().out
