"""The stateful fakes (``FakeMoodle``, ``FakeCanvas``) behind a real HTTP server on 127.0.0.1.

The fakes were written for ``responses``: each registers callbacks with
``rsps.add_callback(method, url, callback=...)``. Here the fake registers with a small
recorder instead, and a :class:`http.server.ThreadingHTTPServer` (stdlib, in a thread, on a
free port) routes every real request into the callback the fake registered for it, exactly
as ``responses`` would. Nothing of the fakes' logic is copied: the server only translates
HTTP on the wire into the ``requests.PreparedRequest`` the callbacks read, and their
``(status, headers, body)`` back into an answer.

Like a reverse proxy, it shows the fake its own origin (``https://moodle.test``,
``https://canvas.test``) and rewrites that origin to the served one (``http://127.0.0.1:N``)
in the answer's headers and body, so the links a fake hands out (Canvas's ``Link`` pages,
redirects, report files) point back at the server.

A **hook** sees every request twice: when it arrives (``"received"``, before the fake sees
it; other requests are served meanwhile, so a hook may hold one back) and once the fake has
handled it (``"handled"``, before the answer is sent, with the fake locked). A hook
that raises :class:`NoAnswer` makes the server close the connection without answering,
the fake having handled the request or not depending on the stage. The kill harness
(:mod:`tests.harness.kill`) uses it to SIGKILL the client at its k-th write.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.canvas.fake_canvas import BASE as CANVAS_ORIGIN
from tests.canvas.fake_canvas import TOKEN as CANVAS_TOKEN
from tests.canvas.fake_canvas import FakeCanvas
from tests.moodle.fake_moodle import BATCH, WRITE_FUNCTIONS, FakeMoodle, parse_php_form
from tests.moodle.fake_moodle import TOKEN as MOODLE_TOKEN
from tests.moodle.fake_moodle import URL as MOODLE_ORIGIN

Stage = Literal["received", "handled"]
Reply = tuple[int, dict[str, str], "str | bytes"]
Callback = Callable[[requests.PreparedRequest], Any]
IsWrite = Callable[[requests.PreparedRequest], bool]
FakeT = TypeVar("FakeT")

MOODLE_FOUR_LEVEL_SCALE = 5
"""The extra scale the served Moodle offers (as tests/moodle's fixtures do)."""
MOODLE_FOUR_LEVELS = ["Beginning", "Developing", "Proficient", "Expert"]


class NoAnswer(Exception):  # noqa: N818 - a signal to the server, not an error
    """Raised by a hook: close the connection without answering."""


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    number: int
    """1-based, over every request."""
    method: str
    path: str
    write: bool
    write_number: int | None
    """1-based among the write requests; ``None`` for a read."""


Hook = Callable[[Seen, Stage], None]


@dataclass(frozen=True)
class _Route:
    method: str
    url: str | re.Pattern[str]
    callback: Callback

    def matches(self, method: str, url: str) -> bool:
        if method != self.method:
            return False
        if isinstance(self.url, re.Pattern):
            return self.url.match(url) is not None
        # responses compares a plain URL without its query string (strict_match off).
        return url.split("?", 1)[0] == self.url


class _Recorder:
    """Stands in for ``responses.RequestsMock`` while a fake registers its callbacks."""

    def __init__(self) -> None:
        self.routes: list[_Route] = []

    def add_callback(
        self, method: str, url: str | re.Pattern[str], callback: Callback, **_options: Any
    ) -> None:
        self.routes.append(_Route(method.upper(), url, callback))


class FakeServer(Generic[FakeT]):
    """A fake served over real HTTP. Use as a context manager (or :meth:`start`/:meth:`stop`).

    ``url`` is the served origin; ``fake`` the fake (inspect its state between requests);
    ``seen`` every request so far; ``hook`` is called at both stages of each request.
    Requests reach the fake one at a time (the fakes are not thread-safe; neither is a
    single-process PHP site's session, which is beside the point here).
    """

    def __init__(
        self,
        fake: FakeT,
        register: Callable[[Any], None],
        *,
        origin: str,
        is_write: IsWrite,
    ) -> None:
        recorder = _Recorder()
        register(recorder)
        self.fake = fake
        self.origin = origin.rstrip("/")
        self.routes = tuple(recorder.routes)
        self.is_write = is_write
        self.hook: Hook | None = None
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer[FakeT]:
        handler = type("Handler", (_Handler,), {"server_of": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"fake-server-{self.origin}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeServer[FakeT]:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- counters ---------------------------------------------------------------------------

    @property
    def write_requests(self) -> int:
        return sum(1 for seen in self.seen if seen.write)

    def forget_requests(self) -> None:
        """Start counting requests afresh (the fake's own state stays)."""
        with self.lock:
            self.seen.clear()

    # -- serving ----------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """The fake's answer to one request (raises :class:`NoAnswer` when a hook says so)."""
        prepared = requests.Request(
            method, self.origin + target, headers=headers, data=body or None
        ).prepare()
        with self.lock:
            write = self.is_write(prepared)
            writes = self.write_requests
            seen = Seen(
                number=len(self.seen) + 1,
                method=method,
                path=urlsplit(target).path,
                write=write,
                write_number=writes + 1 if write else None,
            )
            self.seen.append(seen)
            hook = self.hook
        if hook is not None:
            hook(seen, "received")  # outside the lock: a hook may hold this request back
        with self.lock:
            status, reply_headers, reply_body = self._dispatch(method, prepared)
            if hook is not None:
                hook(seen, "handled")
        return status, reply_headers, reply_body

    def _dispatch(self, method: str, prepared: requests.PreparedRequest) -> Reply:
        url = prepared.url or ""
        for route in self.routes:
            if route.matches(method, url):
                status, headers, body = route.callback(prepared)
                return int(status), {str(k): str(v) for k, v in dict(headers).items()}, body
        return 404, {"Content-Type": "text/plain"}, f"no route of the fake for {method} {url}"

    def rewrite(self, text: str) -> str:
        """The fake's origin → the served origin (in answers)."""
        return text.replace(self.origin, self.url)


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to :meth:`FakeServer.answer` (HTTP/1.1, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_of: FakeServer[Any]

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        server = self.server_of
        try:
            status, reply_headers, reply_body = server.answer(
                self.command, self.path, headers, body
            )
        except NoAnswer:
            self.close_connection = True
            return
        payload = (
            server.rewrite(reply_body).encode("utf-8")
            if isinstance(reply_body, str)
            else reply_body
        )
        self.send_response(status)
        for name, value in reply_headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(name, server.rewrite(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        """Quiet: the tests read :attr:`FakeServer.seen` instead."""


# -- which requests write ----------------------------------------------------------------------


def moodle_is_write(request: requests.PreparedRequest) -> bool:
    """A Moodle web-service call of a function the fake lists as writing
    (``WRITE_FUNCTIONS``), alone or inside a ``tool_mobile_call_external_functions`` batch."""
    raw = request.body or ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        params = parse_php_form(parse_qsl(text, keep_blank_values=True))
    except Exception:  # noqa: BLE001 - a malformed body is the fake's to refuse; it writes nothing
        return False
    function = params.get("wsfunction")
    if function in WRITE_FUNCTIONS:
        return True
    if function != BATCH:
        return False
    calls = params.get("requests")
    items = calls.values() if isinstance(calls, dict) else calls if isinstance(calls, list) else []
    return any(isinstance(item, dict) and item.get("function") in WRITE_FUNCTIONS for item in items)


def canvas_is_write(request: requests.PreparedRequest) -> bool:
    """Every method but GET writes (``FakeCanvas.writes``), except a GraphQL query, which
    only reads (a GraphQL write is a ``mutation``)."""
    if request.method == "GET":
        return False
    if urlsplit(request.url or "").path == "/api/graphql":
        raw = request.body or b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            query = str(json.loads(text).get("query", ""))
        except (ValueError, AttributeError):
            return True
        return "mutation" in query
    return True


# -- ready-made servers -------------------------------------------------------------------------


def moodle_server(fake: FakeMoodle | None = None) -> FakeServer[FakeMoodle]:
    """A served ``FakeMoodle`` (by default with the four-level scale 5 of tests/moodle)."""
    site = fake or FakeMoodle(scales={MOODLE_FOUR_LEVEL_SCALE: list(MOODLE_FOUR_LEVELS)})
    return FakeServer(site, site.install, origin=MOODLE_ORIGIN, is_write=moodle_is_write)


def canvas_server(fake: FakeCanvas | None = None) -> FakeServer[FakeCanvas]:
    """A served ``FakeCanvas`` (account 1; imports and reports run as background jobs)."""
    canvas = fake or FakeCanvas()
    return FakeServer(canvas, canvas.register, origin=CANVAS_ORIGIN, is_write=canvas_is_write)


def moodle_environment(server: FakeServer[FakeMoodle]) -> dict[str, str]:
    """``COMP_ADAPTERS_MOODLE_*`` for a CLI process that talks to ``server``."""
    return {
        "COMP_ADAPTERS_MOODLE_URL": server.url,
        "COMP_ADAPTERS_MOODLE_TOKEN": MOODLE_TOKEN,
        "COMP_ADAPTERS_MOODLE_ALLOW_HTTP": "true",
    }


def canvas_environment(server: FakeServer[FakeCanvas], account: str = "1") -> dict[str, str]:
    """``COMP_ADAPTERS_CANVAS_*`` for a CLI process that talks to ``server``."""
    return {
        "COMP_ADAPTERS_CANVAS_URL": server.url,
        "COMP_ADAPTERS_CANVAS_TOKEN": CANVAS_TOKEN,
        "COMP_ADAPTERS_CANVAS_ACCOUNT": account,
        "COMP_ADAPTERS_CANVAS_ALLOW_HTTP": "true",
        "COMP_ADAPTERS_CANVAS_POLL_INTERVAL": "0",
    }
