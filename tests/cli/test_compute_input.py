"""compute streams its evidence into columns: bounded memory, progress on stderr (issue 9 §4)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from comp_adapters import evidence_builder, evidence_reader
from comp_adapters.cli import compute_input, progress
from comp_adapters.cli.main import main
from comp_adapters.cli.progress import ProgressReporter
from comp_adapters.examples import example_dir

EXAMPLE = example_dir()
AS_OF = "2026-11-01T00:00:00Z"
FRAMEWORK = {
    "key": "M",
    "title": "Memory",
    "scale": {
        "levels": [
            {"key": "no", "name": "No", "points": 0},
            {"key": "yes", "name": "Yes", "points": 1, "proficient": True},
        ],
        "default_level": "yes",
    },
    "competencies": [{"key": f"c{i}", "title": f"C{i}"} for i in range(20)],
}


def write_large_evidence(path: Path, lines: int) -> None:
    with path.open("w") as handle:
        for n in range(lines):
            record = {
                "id": f"ev-{n:08d}",
                "learner": f"learner-{n % 5000:05d}",
                "competency": f"c{n % 20}",
                "kind": "assessment",
                "score": (n % 101) / 100,
                "observed_at": f"2026-0{1 + n % 9}-1{n % 10}T10:{n % 60:02d}:00Z",
                "source_system": "lms",
            }
            handle.write(json.dumps(record) + "\n")


PEAK_CHILD = """
import contextlib, io, sys
from pathlib import Path
from comp_adapters.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
status = Path("/proc/self/status").read_text().splitlines()
print(code, next(int(s.split()[1]) for s in status if s.startswith("VmHWM:")) // 1024)
"""


def test_compute_memory_is_bounded(tmp_path: Path) -> None:
    """200,000 lines (35 MB): the old list of Evidence objects peaked near 600 MB; columns
    stay well under 350 MB (this very command in a child process; VmHWM, not ru_maxrss,
    which would also count this test process's memory at the fork)."""
    framework = tmp_path / "framework.json"
    framework.write_text(json.dumps(FRAMEWORK))
    evidence = tmp_path / "evidence.jsonl"
    write_large_evidence(evidence, 200_000)
    child = subprocess.run(
        [sys.executable, "-c", PEAK_CHILD, "compute", "--framework", str(framework)]  # noqa: RUF005
        + ["--evidence", str(evidence), "--as-of", AS_OF, "--quiet"],
        capture_output=True,
        text=True,
        check=True,
    )
    code, peak_mb = map(int, child.stdout.split())
    assert code == 0
    assert peak_mb < 350, f"peak RSS {peak_mb} MB"


def test_compute_shows_progress_on_stderr_unless_quiet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    monkeypatch.setattr(evidence_builder, "CHUNK", 4096)
    argv = ["compute", "--as-of", AS_OF, "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    json.loads(out)  # standard output stays clean JSON
    lines = err.splitlines()
    assert lines, "progress expected"
    assert all(line.startswith("reading evidence.jsonl: ") for line in lines)
    assert lines[-1].startswith("reading evidence.jsonl: 100% (")
    assert len(lines) > 2
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_short_runs_show_nothing() -> None:
    """Below DELAY seconds nothing is printed, so quick commands stay quiet."""
    stream = io.StringIO()
    now = [0.0]
    reporter = ProgressReporter("reading e.jsonl", stream=stream, clock=lambda: now[0], rich=False)
    for done in (10, 50, 100):
        now[0] += 0.1
        reporter(done, 100)
    assert stream.getvalue() == ""


def test_plain_lines_are_spaced() -> None:
    stream = io.StringIO()
    now = [0.0]
    reporter = ProgressReporter("reading e.jsonl", stream=stream, clock=lambda: now[0], rich=False)
    for done in range(1, 101):
        now[0] += 0.5  # 50 s in all: first line after DELAY, then one per INTERVAL, then done
        reporter(done * 1_000_000, 100_000_000)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "reading e.jsonl: 2% (2.0 of 100.0 MB, 1 s)"
    assert lines[-1] == "reading e.jsonl: 100% (100.0 of 100.0 MB, 50 s)"
    assert 9 <= len(lines) <= 12


def test_rich_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    now = [0.0]
    reporter = ProgressReporter("reading e.jsonl", stream=stream, clock=lambda: now[0], rich=True)
    for done in range(1, 11):
        now[0] += 1.0
        reporter(done, 10)
    reporter.close()
    assert "reading e.jsonl" in stream.getvalue()


def test_scheduler_needs_the_dask_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compute", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


def test_without_numpy_compute_streams_through_the_row_engine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No NumPy: evidence objects stream through the row engine, with the same output."""
    argv = ["compute", "--as-of", AS_OF, "--json", "--quiet"]
    assert main(argv) == 0
    columns = capsys.readouterr().out
    real = compute_input.importlib.util.find_spec
    monkeypatch.setattr(
        compute_input.importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "numpy" else real(name, *rest),
    )

    def columns_not_available(*args: object, **kwargs: object) -> None:
        raise AssertionError("the columnar reader needs NumPy")

    monkeypatch.setattr(evidence_reader, "read_evidence_table", columns_not_available)
    assert main(argv) == 0
    assert capsys.readouterr().out == columns
