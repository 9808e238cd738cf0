"""Progress on standard error: plain lines, rich on a terminal, nothing when quiet."""

from __future__ import annotations

import io

from comp_adapters.sync.progress import SyncProgress


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    SyncProgress(stream=stream).step("ingest lms", "3 evidence [new]")
    assert stream.getvalue() == "sync: ingest lms 3 evidence [new]\n"


def test_rich_on_a_terminal_keeps_brackets() -> None:
    stream = io.StringIO()
    SyncProgress(stream=stream, rich=True).step("plan [[target]]", "1 change [x]")
    assert "plan [[target]] 1 change [x]" in stream.getvalue()


def test_quiet_says_nothing() -> None:
    stream = io.StringIO()
    SyncProgress(stream=stream, quiet=True, rich=True).step("compute", "full")
    assert stream.getvalue() == ""
