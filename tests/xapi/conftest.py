"""Fixtures of the xAPI tests: statement builders and a real LRS (npm xapi-statements).

The LRS runs once per session: Node.js with our preload (tests/lrs/preload.js), memory
models, started from an empty temp dir on a free 127.0.0.1 port, with real key/secret
checks (AUTH_REPO=fetch against a tiny auth stub below). Each test asks for its own client
credentials, and the stub gives each key its own store (lrs_id), so tests are isolated in
one server. A missing Node.js or node_modules is an error, never a skip.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.http import HttpTransport
from comp_adapters.xapi.client import XapiClient
from tests.xapi.fake_lrs import FakeLrs, Quirks

LRS_DIR = Path(__file__).resolve().parents[1] / "lrs"
ENTRY = LRS_DIR / "node_modules" / "xapi-statements" / "dist" / "index.js"
PRELOAD = LRS_DIR / "preload.js"
ADL = "http://adlnet.gov/expapi/verbs/"
T0 = "2026-01-05T09:00:00.000Z"


# -- statement builders ----------------------------------------------------------------------


def account(name: str, home: str = "https://lms.example.org") -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": home, "name": name}}


def statement(
    verb: str = "passed",
    *,
    actor: dict[str, Any] | None = None,
    activity: str = "https://courses.example.org/quiz/1",
    sid: str | None = None,
    scaled: float | None = None,
    success: bool | None = None,
    timestamp: str = T0,
    context: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A statement with sensible defaults; verb is a short ADL name or a full IRI."""
    body: dict[str, Any] = {
        "id": sid or str(uuid.uuid4()),
        "actor": actor or account("ann"),
        "verb": {"id": verb if "://" in verb else ADL + verb, "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": timestamp,
    }
    res = dict(result or {})
    if scaled is not None:
        res.setdefault("score", {})["scaled"] = scaled
    if success is not None:
        res["success"] = success
    if res:
        body["result"] = res
    if context is not None:
        body["context"] = context
    body.update(extra)
    return body


def void(target: str, *, sid: str | None = None, actor: dict[str, Any] | None = None) -> dict:
    return {
        "id": sid or str(uuid.uuid4()),
        "actor": actor or account("admin"),
        "verb": {"id": ADL + "voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


def results(n: int, *, as_of: datetime) -> list[Proficiency]:
    """``n`` computed results on competency ``q``, learners ``l0``, ``l1``, ..., every
    other one proficient (what a push sends)."""
    return [
        Proficiency(
            learner=f"l{i}",
            competency="q",
            score=None,
            level=None,
            proficient=i % 2 == 0,
            method="latest",
            as_of=as_of,
            explanation=f"result {i}",
        )
        for i in range(n)
    ]


@pytest.fixture
def make_statement() -> Callable[..., dict[str, Any]]:
    return statement


@pytest.fixture
def fake_lrs() -> Iterator[Callable[..., FakeLrs]]:
    """Start fake LRSs (``fake_lrs()`` conformant, ``fake_lrs(RALPH)`` ...); all stopped after."""
    started: list[FakeLrs] = []

    def make(quirks: Quirks | None = None) -> FakeLrs:
        fake = FakeLrs(quirks=quirks or Quirks()).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


# -- the real LRS ----------------------------------------------------------------------------


@dataclass
class Client:
    key: str
    secret: str
    scopes: list[str]


@dataclass
class Lrs:
    """A running LRS: its endpoint, and a way to mint isolated credentials."""

    endpoint: str
    clients: dict[str, Client] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)

    def new_client(self, *, scopes: tuple[str, ...] = ("all",), store: str | None = None) -> Client:
        """Fresh credentials; with a store of their own unless ``store`` names a shared one."""
        client = Client(
            key=f"key-{secrets.token_hex(6)}", secret=secrets.token_hex(12), scopes=list(scopes)
        )
        self.clients[client.key] = client
        self.stores[client.key] = store or client.key
        return client

    def xapi_client(self, client: Client, **options: Any) -> XapiClient:
        """Our client for this LRS with these credentials."""
        transport = HttpTransport(
            adapter="xapi", base_url=self.endpoint, allow_http=True, sleep=_no_sleep
        )
        return XapiClient(transport, key=client.key, secret=SecretStr(client.secret), **options)

    def client_info(self, authorization: str | None) -> dict[str, Any] | None:
        """What the auth stub answers for an Authorization header (None: unknown client)."""
        if not authorization or not authorization.startswith("Basic "):
            return None
        try:
            key, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        client = self.clients.get(key)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None
        return {
            "_id": f"{key:0<24}"[:24],
            "title": key,
            "isTrusted": True,
            "authority": {"objectType": "Agent", "mbox": f"mailto:{key}@clients.example.org"},
            "lrs_id": self.stores[key],
            "organisation": "comp-adapters-tests",
            "scopes": client.scopes,
        }


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the client tried to sleep {seconds} s against the test LRS")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _auth_stub(lrs: Lrs) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            info = lrs.client_info(self.headers.get("Authorization"))
            body = json.dumps(info or {"message": "no such client"}).encode()
            self.send_response(200 if info else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@pytest.fixture(scope="session")
def lrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lrs]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "Node.js is required for the xAPI tests (they run a real LRS): install Node.js "
            ">= 18 and run `python3 dev.py test`"
        )
    if not ENTRY.exists():
        raise RuntimeError(
            f"the test LRS is not installed ({ENTRY} is missing): run `python3 dev.py test`, "
            "or `npm ci --ignore-scripts --no-audit --no-fund` in tests/lrs"
        )
    workdir = tmp_path_factory.mktemp("lrs")
    storage = workdir / "storage"
    port = _free_port()
    placeholder = Lrs(endpoint=f"http://127.0.0.1:{port}/xAPI/")
    stub = _auth_stub(placeholder)
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
        "EXPRESS_PORT": str(port),
        "MODELS_REPO": "memory",
        "STORAGE_REPO": "local",
        "FS_LOCAL_STORAGE_DIR": str(storage),
        "EXPRESS_MORGAN_DIRECTORY": str(storage / "accessLogs"),
        "EVENTS_REPO": "test",
        "AUTH_REPO": "fetch",
        "LL_CLIENT_INFO_ENDPOINT": f"http://127.0.0.1:{stub.server_address[1]}/client",
        "SERVICE_AWAIT_UPDATES": "true",
        "WINSTON_CONSOLE_LEVEL": "warn",
    }
    log = workdir / "lrs.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, "-r", str(PRELOAD), str(ENTRY)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the test LRS exited ({process.returncode}):\n{_tail(log)}")
            try:
                if requests.get(placeholder.endpoint + "about", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test LRS did not start in 60 s:\n{_tail(log)}")
            time.sleep(0.1)
        yield placeholder
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stub.shutdown()
        stub.server_close()
