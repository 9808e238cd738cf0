"""Fixtures: the fakes served over real HTTP, and the kill sweeps' summary at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.canvas.fake_canvas import FakeCanvas
from tests.harness.kill import REPORTS
from tests.harness.servers import FakeServer, canvas_server, moodle_server
from tests.moodle.fake_moodle import FakeMoodle


@pytest.fixture
def moodle_site() -> Iterator[FakeServer[FakeMoodle]]:
    """A ``FakeMoodle`` on 127.0.0.1: ``.url``, ``.fake``, ``.hook``, ``.seen``."""
    with moodle_server() as server:
        yield server


@pytest.fixture
def canvas_site() -> Iterator[FakeServer[FakeCanvas]]:
    """A ``FakeCanvas`` on 127.0.0.1: ``.url``, ``.fake``, ``.hook``, ``.seen``."""
    with canvas_server() as server:
        yield server


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The kill sweeps' counts (kill points tried, duplicates found), one line each."""
    if REPORTS:
        terminalreporter.section("kill sweeps")
        for report in REPORTS:
            terminalreporter.write_line(report.line())
