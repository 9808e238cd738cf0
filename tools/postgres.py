#!/usr/bin/env python3
"""Find Debian's PostgreSQL server binaries, installing the package when they are missing.

    python3 tools/postgres.py     # prints the bin folder; installs postgresql first if needed

The test suite starts a private PostgreSQL cluster (tests/pg.py), so it needs ``initdb`` and
``pg_ctl``: found under /usr/lib/postgresql/<version>/bin (Debian's layout, newest version
first) or on PATH. Installing uses apt-get non-interactively (as root, else through
``sudo -n``). Standard library only: dev.py runs this before any virtual environment exists,
and tests/pg.py imports :func:`server_bin` from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
