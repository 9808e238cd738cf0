"""The bundled examples: shipped inside the wheel, read from ``examples/`` in a checkout."""

from __future__ import annotations

from pathlib import Path

from comp_adapters.errors import ConfigurationError

EXAMPLE = "customer-support"


def example_dir(name: str = EXAMPLE) -> Path:
    """Folder of a bundled example (framework.json, evidence.jsonl)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_examples" / name, here.parents[1] / "examples" / name):
        if (candidate / "framework.json").is_file():
            return candidate
    raise ConfigurationError(f"bundled example {name!r} is missing from this installation")
