"""Fault injection: make a client "crash" at its k-th HTTP request."""

from __future__ import annotations

from typing import Any

import requests


class SimulatedCrash(BaseException):
    """The process died here. A ``BaseException`` so no ``except Exception`` swallows it."""


class CrashingSession(requests.Session):
    """A session that crashes at request number ``crash_at`` (1-based).

    With ``after_send=True`` (the default) the request reaches the server and is processed,
    and the crash happens before the client sees the answer: the nastiest case, where a
    careless client creates duplicates on the re-run. With ``after_send=False`` the request
    never leaves. ``crash_at=None`` never crashes and only counts.
    """

    def __init__(self, crash_at: int | None = None, *, after_send: bool = True) -> None:
        super().__init__()
        self.crash_at = crash_at
        self.after_send = after_send
        self.count = 0

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.count += 1
        crash_now = self.crash_at is not None and self.count == self.crash_at
        if crash_now and not self.after_send:
            raise SimulatedCrash(f"crash before request {self.count}: {method!r} {url!r}")
        response = super().request(method, url, *args, **kwargs)
        if crash_now:
            raise SimulatedCrash(f"crash after request {self.count}: {method!r} {url!r}")
        return response
