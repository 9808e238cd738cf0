"""What a sync is doing, on standard error: rich on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import IO, Any


class SyncProgress:
    """One line per step (ingest, compute, plan, apply); nothing when ``quiet``."""

    def __init__(
        self, *, quiet: bool = False, stream: IO[str] | None = None, rich: bool | None = None
    ) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        use_rich = self.stream.isatty() if rich is None else rich
        self._console: Any = None
        if use_rich and not quiet:
            from rich.console import Console  # noqa: PLC0415 - only on a terminal

            self._console = Console(file=self.stream, highlight=False)

    def step(self, what: str, detail: str = "") -> None:
        if self.quiet:
            return
        if self._console is not None:
            from rich.markup import escape  # noqa: PLC0415

            self._console.print(f"[bold cyan]{escape(what)}[/] {escape(detail)}".rstrip())
        else:
            print(f"sync: {what} {detail}".rstrip(), file=self.stream, flush=True)
