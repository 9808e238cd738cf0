"""The governance package's public names, held to the rule of tests/test_public_api.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import comp_adapters.governance as package
from tests import test_public_api

MODULES = [
    "comp_adapters.governance",
    "comp_adapters.governance.approvals",
    "comp_adapters.governance.audit",
    "comp_adapters.governance.diff",
    "comp_adapters.governance.evaluation",
    "comp_adapters.governance.signing",
    "comp_adapters.governance.versions",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted(name: str) -> None:
    test_public_api.test_all_is_sorted_and_importable(name)


def test_governance_is_pure() -> None:
    """No clock and no I/O in the pure core: nothing imports time, os, pathlib or sockets."""
    forbidden = {"time", "os", "pathlib", "socket", "requests", "sqlalchemy", "subprocess"}
    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
            if isinstance(node, ast.Attribute) and node.attr in {"now", "utcnow", "today"}:
                raise AssertionError(f"{path.name} reads the clock ({node.attr})")
