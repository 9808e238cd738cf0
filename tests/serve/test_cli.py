"""``comp-adapters serve load|keys`` and ``comp-adapters serve`` itself: a real uvicorn on
127.0.0.1, started by a fixture, answering the CASE and proficiency routes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from comp_adapters.cli.main import main
from comp_adapters.serve import ApiKeys
from comp_adapters.store import open_store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_load_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    code, _, err = run(capsys, "serve", "load", "--store", url, "--as-of", "2026-03-01T00:00:00Z")
    assert code == 0
    assert "221 evidence read" in err
    with open_store(url) as store:
        assert store.evidence_count(include_voided=True) == 221
        assert list(store.latest_proficiency("CS-SUPPORT"))
    code, out, err = run(
        capsys, "serve", "keys", "add", "--store", url, "--name", "hr",
        "--scope", "proficiency.read", "--viewer", "manager:julia.nowak",
    )  # fmt: skip
    assert code == 0
    key = out.strip()
    assert key.startswith("cak_")
    assert "shown this once" in err
    with open_store(url) as store:
        found = ApiKeys(store).verify(key)
    assert found is not None
    assert str(found.viewer) == "manager:julia.nowak"
    code, out, _ = run(capsys, "serve", "keys", "list", "--store", url)
    assert code == 0
    assert "hr\tproficiency.read\tmanager:julia.nowak" in out
    assert key not in out
    assert run(capsys, "serve", "keys", "revoke", "--store", url, "--name", "hr")[0] == 0
    code, _, err = run(capsys, "serve", "keys", "revoke", "--store", url, "--name", "hr")
    assert code == 2
    assert "no active API key" in err
    code, _, err = run(
        capsys, "serve", "keys", "add", "--store", url, "--name", "x", "--scope", "case.read",
        "--viewer", "boss",
    )  # fmt: skip
    assert code == 2
    assert "viewer 'boss'" in err


def test_serve_refuses_half_a_jwt_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    code, _, err = run(capsys, "serve", "--store", url, "--jwt-issuer", "https://id.example/")
    assert code == 2
    assert "jwt_audience" in err
    assert "Traceback" not in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    base: str
    key: str
    log: Path


@pytest.fixture
def running_server(tmp_path: Path) -> Iterator[Running]:
    """``comp-adapters serve`` on the example, a real uvicorn on a free loopback port."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert main(["serve", "load", "--store", url, "--as-of", "2026-03-01T00:00:00Z"]) == 0
    with open_store(url) as store:
        from comp_adapters.reports.policy import Viewer  # noqa: PLC0415

        key, _ = ApiKeys(store).add(
            "smoke", scopes=["case.read", "proficiency.read"], viewer=Viewer.parse("admin")
        )
    port = free_port()
    log = tmp_path / "serve.log"
    command = [
        sys.executable, "-m", "comp_adapters.cli.main", "serve", "--store", url,
        "--port", str(port),
    ]  # fmt: skip
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, cwd=tmp_path, env=dict(os.environ)
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {log.read_text()}")
            time.sleep(0.2)
        yield Running(base=base, key=key, log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_real_uvicorn_answers_case_and_proficiency(running_server: Running) -> None:
    base, auth = running_server.base, {"Authorization": f"Bearer {running_server.key}"}
    assert requests.get(f"{base}/ims/case/v1p1/CFDocuments", timeout=10).status_code == 401
    documents = requests.get(f"{base}/ims/case/v1p1/CFDocuments", headers=auth, timeout=10)
    assert documents.status_code == 200
    identifier = documents.json()["CFDocuments"][0]["identifier"]
    package = requests.get(
        f"{base}/ims/case/v1p1/CFPackages/{identifier}", headers=auth, timeout=10
    )
    assert package.status_code == 200
    assert package.json()["CFItems"]
    learner = requests.get(
        f"{base}/api/v1/frameworks/CS-SUPPORT/learners/diego.ramos/proficiency",
        headers=auth,
        timeout=10,
    )
    assert learner.status_code == 200
    assert learner.json()["proficiency"]
    again = requests.get(
        learner.url, headers={**auth, "If-None-Match": learner.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304
    assert requests.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    log = running_server.log.read_text()
    assert '"who":"key:smoke"' in log
    assert running_server.key not in log
    assert f"http://127.0.0.1:{base.rsplit(':', 1)[1]}" in log  # bound to loopback
