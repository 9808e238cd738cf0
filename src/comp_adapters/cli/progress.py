"""Progress of long runs on standard error: a rich bar on a terminal, plain lines otherwise.

Nothing is shown for runs shorter than :data:`DELAY` seconds, so quick commands stay quiet;
standard output is never touched (it may be a pipe of JSON).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

DELAY = 1.0
"""Seconds before the first report."""
INTERVAL = 5.0
"""Seconds between two plain lines."""


class ProgressReporter:
    """A ``(done, total)`` callback reporting how far ``label`` has got, in bytes."""

    def __init__(
        self,
        label: str,
        *,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rich: bool | None = None,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()
        self.last: float | None = None
        self.shown = False
        use_rich = self.stream.isatty() if rich is None else rich
        self._bar: Any = _rich_bar(self.stream) if use_rich else None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if now - self.started < DELAY and done < total:
            return
        if now - self.started < DELAY and not self.shown:
            return  # finished before anyone would have waited
        if self._bar is not None:
            if self._task is None:
                self._bar.start()
                self._task = self._bar.add_task(self.label, total=total)
            self._bar.update(self._task, completed=done)
            self.shown = True
            return
        if self.last is not None and now - self.last < INTERVAL and done < total:
            return
        self.last = now
        self.shown = True
        percent = 100 * done / total if total else 100.0
        self.stream.write(
            f"{self.label}: {percent:.0f}% ({done / 1e6:,.1f} of {total / 1e6:,.1f} MB, "
            f"{now - self.started:.0f} s)\n"
        )
        self.stream.flush()

    def close(self) -> None:
        """Stop the bar (if one was shown)."""
        if self._bar is not None and self._task is not None:
            self._bar.stop()


def _rich_bar(stream: IO[str]) -> Any:
    """A transient rich progress bar on ``stream``, or ``None`` without rich installed."""
    try:
        from rich.console import Console  # noqa: PLC0415 - optional, terminals only
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
    except ImportError:
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream, force_terminal=True),
        transient=True,
    )
