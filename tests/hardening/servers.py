"""Real HTTP(S) servers on 127.0.0.1 (ephemeral ports) for the hardening tests.

Each :class:`LocalServer` runs in a thread, answers through a handler per path and keeps
a log of every request it received (method, path, headers, body), so a test can assert
that a "foreign" server received nothing. TLS servers use a certificate from a throw-away
CA made with ``trustme``.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[["Exchange"], None]


@dataclass
class Exchange:
    """What a handler gets: the request, and ways to answer it."""

    request: Seen
    raw: BaseHTTPRequestHandler
    server: LocalServer

    def reply(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        *,
        content_type: str = "application/json",
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.raw.send_response(status)
        self.raw.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.raw.send_header(name, value)
        self.raw.send_header("Content-Length", str(len(data)))
        self.raw.end_headers()
        self.raw.wfile.write(data)

    def redirect(self, location: str, status: int = 302) -> None:
        self.reply(status, b"", {"Location": location})

    def drip(self, data: bytes, *, every: float, declared: int | None = None) -> int:
        """Send ``data`` one byte at a time; returns how many bytes got out."""
        self.raw.send_response(200)
        self.raw.send_header("Content-Type", "application/json")
        self.raw.send_header("Content-Length", str(declared if declared is not None else len(data)))
        self.raw.end_headers()
        self.raw.wfile.flush()
        sent = 0
        try:
            for byte in data:
                self.raw.wfile.write(bytes([byte]))
                self.raw.wfile.flush()
                sent += 1
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.server.dripped.append(sent)
        return sent

    def cut_off(self, declared: int, sent: bytes) -> None:
        """Declare ``declared`` bytes, send fewer, close the connection."""
        self.raw.send_response(200)
        self.raw.send_header("Content-Type", "application/json")
        self.raw.send_header("Content-Length", str(declared))
        self.raw.end_headers()
        self.raw.wfile.write(sent)
        self.raw.wfile.flush()
        self.raw.close_connection = True


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path
        seen = Seen(self.command, path, dict(self.headers.items()), body)
        owner = self.server.owner
        owner.requests.append(seen)
        handler = owner.routes.get(path.split("?", 1)[0], owner.default)
        handler(Exchange(seen, self, owner))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalServer


def _not_found(exchange: Exchange) -> None:
    exchange.reply(404, b'{"message": "not found"}')


@dataclass
class LocalServer:
    """A threaded HTTP(S) server on 127.0.0.1 with per-path handlers and a request log."""

    tls: ssl.SSLContext | None = None
    routes: dict[str, Handler] = field(default_factory=dict)
    default: Handler = _not_found
    requests: list[Seen] = field(default_factory=list)
    dripped: list[int] = field(default_factory=list)
    _server: _Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def start(self) -> LocalServer:
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.owner = self
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextlib.contextmanager
def serving(**options: Any) -> Iterator[LocalServer]:
    server = LocalServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class TlsSetup:
    """A throw-away CA, a server context for 127.0.0.1 and the CA's PEM file."""

    ca: trustme.CA
    context: ssl.SSLContext
    ca_pem: str


def tls_setup(folder: Any) -> TlsSetup:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    pem = folder / "private-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return TlsSetup(ca, context, str(pem))
