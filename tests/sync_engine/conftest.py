"""A copy of the bundled example project in a temporary folder, and the test adapters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from comp_adapters import plugins
from comp_adapters.examples import example_dir

PROJECT_FILES = (
    "comp-adapters.toml",
    "framework.json",
    "evidence.jsonl",
    "xapi-statements.jsonl",
    "xapi-mapping.toml",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example project, copied (without its out/ and store) into ``tmp_path``."""
    folder = tmp_path / "customer-support"
    folder.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(example_dir() / name, folder / name)
    return folder / "comp-adapters.toml"


@pytest.fixture
def refusing_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register ``refusing`` (tests/sync_engine/fake_adapters.py) as a built-in."""
    table = {
        **plugins.BUILTIN_ADAPTERS,
        "refusing": "tests.sync_engine.fake_adapters:RefusingAdapter",
    }
    monkeypatch.setattr(plugins, "BUILTIN_ADAPTERS", table)
