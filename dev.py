#!/usr/bin/env python3
"""Set-up and task runner for a fresh clone: needs only python3 (>= 3.11) with pip and venv.

    python3 dev.py example   # run the main job on the bundled example
    python3 dev.py test      # lint, type-check and run the whole test suite

Each command creates (or reuses) the virtual environment `.venv` and installs the project
into it; the install is repeated only when pyproject.toml or a lockfile changes.
Extra arguments after `test` go to pytest, after `example` to `comp-adapters sync run`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# Inputs whose change means "install again".
INSTALL_INPUTS = ("pyproject.toml", "tests/lrs/package-lock.json")
LINTED = ("src", "tests", "benchmarks", "examples", "tools", "dev.py")


def run(*cmd: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=cwd, env=env)


def must(*cmd: str | Path, cwd: Path = ROOT) -> None:
    code = run(*cmd, cwd=cwd)
    if code:
        sys.exit(code)


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INSTALL_INPUTS:
        path = ROOT / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"comp_adapters needs Python >= 3.11, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    fingerprint = install_fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    must(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    must(PY, "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(fingerprint)


def ensure_node_packages() -> None:
    """Install the test-time LRS (an npm package) from its lockfile, when the project has one."""
    lock = ROOT / "tests" / "lrs" / "package-lock.json"
    if not lock.exists():
        return
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        sys.exit(
            "Node.js (node and npm on PATH) is required by the test suite: it runs a real xAPI "
            "LRS (tests/lrs). Install Node.js >= 18 and run the command again."
        )
    stamp = lock.parent / "node_modules" / ".installed"
    fingerprint = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    must(npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", cwd=lock.parent)
    stamp.write_text(fingerprint)


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """Debian's Chromium for the report's browser test (Playwright drives it; Playwright's
    own browser download is not used). Installed with apt-get when it is missing."""
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(
            f"{CHROMIUM} is missing and apt-get is not available: the report's browser test "
            "needs Debian's chromium package (apt-get install chromium)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if run(apt, "update", "-q", env=env) or run(
        apt, "install", "-y", "-q", "--no-install-recommends", "chromium", env=env
    ):
        sys.exit("installing Debian's chromium failed (see above); the browser test needs it")
    if not CHROMIUM.exists():
        sys.exit(f"the chromium package was installed but {CHROMIUM} is still missing")


def ensure_postgres() -> None:
    """Install Debian's PostgreSQL server when missing: the store tests start a private
    cluster (tests/pg.py). The logic lives in tools/postgres.py (standard library only)."""
    must(sys.executable, ROOT / "tools" / "postgres.py")


EXAMPLE_PROJECT = ROOT / "examples" / "customer-support" / "comp-adapters.toml"


def cmd_example(args: list[str]) -> int:
    """Sync the bundled example project: its evidence in, its file targets (CASE package,
    Moodle CSV, Canvas CSV, results) out; a second run changes nothing."""
    ensure_venv("store,fast,canvas,progress")
    return run(BIN / "comp-adapters", "sync", "run", "--project", str(EXAMPLE_PROJECT), *args)


def cmd_test(args: list[str]) -> int:
    ensure_venv("dev,all,scale")
    ensure_node_packages()
    ensure_chromium()
    ensure_postgres()
    failed = 0
    failed |= run(PY, "-m", "ruff", "check", *LINTED)
    failed |= run(PY, "-m", "ruff", "format", "--check", *LINTED)
    failed |= run(PY, "-m", "mypy")
    failed |= run(PY, "-m", "pytest", *args)
    if failed:
        print("FAILED: see the output above", file=sys.stderr)
    return 1 if failed else 0


COMMANDS = {"example": cmd_example, "test": cmd_test}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
