from __future__ import annotations

import importlib

import pytest

import comp_adapters

PACKAGES = [
    "comp_adapters",
    "comp_adapters.core",
    "comp_adapters.rules",
    "comp_adapters.store",
    "comp_adapters.sync",
    "comp_adapters.testing",
]


def _isort_style(name: str) -> tuple[int, str]:
    """CONSTANTS first, then Classes, then functions, each alphabetically."""
    if name.isupper() or name.upper() == name:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_style), "sorted as ruff's RUF022 sorts"
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol}"


def test_version() -> None:
    assert comp_adapters.__version__.count(".") == 2


def test_columnar_evaluation_is_public() -> None:
    """The table form of evaluate (issue 17, item 1) is part of the curated API."""
    from comp_adapters import rules  # noqa: PLC0415

    for name in ("EvidenceTable", "ProficiencyTable", "evaluate_table"):
        assert name in comp_adapters.__all__
        assert getattr(comp_adapters, name) is getattr(rules, name)
