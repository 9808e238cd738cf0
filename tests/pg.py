"""A private PostgreSQL cluster for the test run (a pytest plugin, see tests/conftest.py).

``postgres_cluster`` (session) runs ``initdb`` in a fresh temporary folder and starts the
server with ``pg_ctl`` on 127.0.0.1 only, on a free port, its socket in that folder; it is
stopped and the folder removed at the end of the run. ``postgres_url`` (per test) creates an
empty database in it and drops it afterwards, so tests never see each other's data.

Run as root (CI), the server binaries run as the unprivileged ``postgres`` user that Debian's
package creates (initdb refuses root), with the folder owned by it. The server runs with
``fsync=off``: the tests kill clients, never the server, so a commit is as durable for them
as with fsync, and creating a database per test stays quick.

Missing PostgreSQL fails the tests that need it with what to install; it never skips them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
SERVER_USER = "postgres"
SUPERUSER = "comp_test"
START_ATTEMPTS = 3


def _tools_postgres() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_tools_postgres", ROOT / "tools/postgres.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class PostgresCluster:
    """A running private cluster: connect as :data:`SUPERUSER` with ``password``."""

    base: Path
    port: int
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        )

    def create_database(self, name: str) -> str:
        with self.admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Runner:
    """Runs server binaries, as ``postgres`` when we are root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self.account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                pytest.fail(
                    f"running as root, the PostgreSQL server must run as the unprivileged user "
                    f"{SERVER_USER!r}, which does not exist: install Debian's postgresql "
                    "package (it creates the user) or run the tests as another user"
                )

    def own(self, path: Path) -> None:
        if self.as_root:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def __call__(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / name), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)


def _start(run: _Runner, base: Path) -> int:
    """Start the server on a free port (retrying when another process took the port)."""
    data, log = base / "data", base / "server.log"
    failure = ""
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -k {base} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        done = run(
            "pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "120", "-o", options, "start"
        )
        if done.returncode == 0:
            return port
        failure = done.stdout + done.stderr + (log.read_text() if log.exists() else "")
    pytest.fail(f"the private PostgreSQL server did not start:\n{failure}")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = _tools_postgres().server_bin()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found under "
            "/usr/lib/postgresql/*/bin or on PATH: install Debian's postgresql package "
            "(apt-get install postgresql; python3 dev.py test installs it)"
        )
    run = _Runner(bin_dir)
    base = Path(tempfile.mkdtemp(prefix="comp-adapters-pg-"))
    started = False
    try:
        run.own(base)
        password = secrets.token_urlsafe(18)
        pwfile = base / "password"
        pwfile.write_text(password + "\n")
        run.own(pwfile)
        initdb = run(
            "initdb",
            "-D",
            str(base / "data"),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        pwfile.unlink()
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        port = _start(run, base)
        started = True
        yield PostgresCluster(base=base, port=port, password=password)
    finally:
        if started:
            run("pg_ctl", "-D", str(base / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


_numbers = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a new, empty database of the private cluster (dropped after the test)."""
    name = f"test_{os.getpid()}_{next(_numbers)}"
    url = postgres_cluster.create_database(name)
    yield url
    with contextlib.suppress(psycopg.Error):
        postgres_cluster.drop_database(name)
