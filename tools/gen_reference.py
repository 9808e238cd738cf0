#!/usr/bin/env python3
"""Generate the CLI and config-file references from the code, so they cannot drift.

    .venv/bin/python tools/gen_reference.py          # write docs/reference/{cli,config}.md
    .venv/bin/python tools/gen_reference.py --check  # exit 1 if either is stale

The Markdown comes from :mod:`comp_adapters.cli.reference` (the argparse parser and every
built-in adapter's ``settings_model``). Installed plug-ins are left out
(``COMP_ADAPTERS_NO_PLUGINS=1``): they document their own settings. tests/test_docs.py
fails when the checked-in files differ from what this writes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


def outputs() -> dict[Path, str]:
    """What the reference files must hold, built with plug-ins disabled."""
    previous = os.environ.get("COMP_ADAPTERS_NO_PLUGINS")
    os.environ["COMP_ADAPTERS_NO_PLUGINS"] = "1"
    try:
        from comp_adapters.cli.reference import render_cli, render_config  # noqa: PLC0415

        return {REFERENCE / "cli.md": render_cli(), REFERENCE / "config.md": render_config()}
    finally:
        if previous is None:
            del os.environ["COMP_ADAPTERS_NO_PLUGINS"]
        else:
            os.environ["COMP_ADAPTERS_NO_PLUGINS"] = previous


def stale() -> list[Path]:
    """The reference files that differ from what the code gives."""
    return [
        path
        for path, text in outputs().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for path in found:
            print(f"stale: {path.relative_to(ROOT)} (run tools/gen_reference.py)")
        return 1 if found else 0
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for path, text in outputs().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
