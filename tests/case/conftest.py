"""Shared helpers of the CASE tests: fixtures, the official schema, a fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PACKAGES = sorted(p.name for p in FIXTURES.glob("*.json"))

_SCHEMA = json.loads((FIXTURES / "schema" / "case-v1p1-cfpackage-jsonschema.json").read_text())
_VALIDATOR = jsonschema.Draft201909Validator(
    _SCHEMA, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def schema_errors(data: Any) -> list[str]:
    """Every violation of the official CASE 1.1 CFPackage schema (formats checked too)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in _VALIDATOR.iter_errors(data)
    ]


def assert_valid_case(data: Any) -> None:
    errors = schema_errors(data)
    assert not errors, "\n".join(errors[:20])


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
