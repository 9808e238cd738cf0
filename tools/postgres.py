#!/usr/bin/env python3
"""PostgreSQL for the tests and benchmarks: find (or install) the server, run a private cluster.

    python3 tools/postgres.py     # prints the bin folder; installs postgresql first if needed

The test suite and benchmarks/store_bench.py start a private PostgreSQL cluster, so they need
``initdb`` and ``pg_ctl``: found under /usr/lib/postgresql/<version>/bin (Debian's layout,
newest version first) or on PATH. Installing uses apt-get non-interactively (as root, else
through ``sudo -n``).

:func:`private_cluster` runs ``initdb`` in a fresh temporary folder and starts the server on
127.0.0.1 only, on a free port, its socket in that folder, with a random password for its
superuser; it stops the server and removes the folder on exit. Run as root, the server
binaries run as the unprivileged ``postgres`` user Debian's package creates (initdb refuses
root), with the folder owned by it.

Standard library only: dev.py runs this before any virtual environment exists; tests/pg.py
and the benchmark load it by path.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")
NEEDED = ("initdb", "pg_ctl")
INSTALL_HINT = (
    "PostgreSQL's server (initdb, pg_ctl) is required by the test suite, which starts a "
    "private cluster for the store tests: install Debian's package "
    "(apt-get install postgresql) and run again"
)


def _version(bin_dir: Path) -> tuple[int, ...]:
    name = bin_dir.parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl (newest Debian version, else PATH), or None."""
    candidates = sorted(
        (path.parent for path in DEBIAN_ROOT.glob("*/bin/initdb")), key=_version, reverse=True
    )
    for folder in candidates:
        if all((folder / name).is_file() for name in NEEDED):
            return folder
    found = [shutil.which(name) for name in NEEDED]
    if all(found) and len({Path(str(path)).parent for path in found}) == 1:
        return Path(str(found[0])).parent
    return None


def install() -> None:
    """Install Debian's postgresql package; refreshes the package lists when it must."""
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(INSTALL_HINT + " (no apt-get on this machine)")
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            sys.exit(INSTALL_HINT + " (installing needs root or sudo)")
        prefix = [sudo, "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [*prefix, apt, "install", "-y", "--no-install-recommends", "postgresql"]
    if _call(command, env) != 0:
        _call([*prefix, apt, "update"], env)
        if _call(command, env) != 0:
            sys.exit(INSTALL_HINT + " (apt-get install failed, see above)")


def _call(command: list[str], env: dict[str, str]) -> int:
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, env=env)  # noqa: S603 - fixed commands, no outside input


SERVER_USER = "postgres"
SUPERUSER = "comp_test"
START_ATTEMPTS = 3


class ClusterError(RuntimeError):
    """The private cluster cannot be had; the message says what to install or what failed."""


@dataclass(frozen=True)
class Cluster:
    """A running private cluster: connect as :data:`SUPERUSER` with ``password``."""

    base: Path
    port: int
    password: str
    user: str = SUPERUSER

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"


class _Runner:
    """Runs server binaries, as the ``postgres`` user when we are root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.account: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ClusterError(
                    f"running as root, the PostgreSQL server must run as the unprivileged user "
                    f"{SERVER_USER!r}, which does not exist: install Debian's postgresql "
                    "package (it creates the user) or run as another user"
                ) from None

    def own(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def __call__(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / name), *args]
        if self.account is not None:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(run: _Runner, base: Path, settings: str) -> int:
    """Start the server on a free port (again on another when a process took the port)."""
    data, log = base / "data", base / "server.log"
    failure = ""
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {base} {settings}"
        done = run(
            "pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "120", "-o", options, "start"
        )
        if done.returncode == 0:
            return port
        failure = done.stdout + done.stderr + (log.read_text() if log.exists() else "")
    raise ClusterError(f"the private PostgreSQL server did not start:\n{failure}")


@contextmanager
def private_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A private cluster for the block. Not ``durable``: ``fsync=off`` (right for tests,
    which kill clients, never the server; a commit is then as durable for them)."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise ClusterError(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found under "
            f"{DEBIAN_ROOT}/*/bin or on PATH: install Debian's postgresql package "
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
            *("-D", str(base / "data"), "-U", SUPERUSER, f"--pwfile={pwfile}"),
            *("--auth-local=trust", "--auth-host=scram-sha-256"),
            *("--encoding=UTF8", "--no-locale", "--no-sync"),
        )
        pwfile.unlink()
        if initdb.returncode != 0:
            raise ClusterError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        settings = "-c max_connections=200"
        if not durable:
            settings += " -c fsync=off -c full_page_writes=off"
        port = _start(run, base, settings)
        started = True
        yield Cluster(base=base, port=port, password=password)
    finally:
        if started:
            run("pg_ctl", "-D", str(base / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    folder = server_bin()
    if folder is None:
        install()
        folder = server_bin()
    if folder is None:
        sys.exit(INSTALL_HINT + " (installed, but initdb/pg_ctl are still not found)")
    print(f"PostgreSQL server binaries: {folder}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
