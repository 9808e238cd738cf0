"""Shared fixtures: small frameworks and evidence built in code, readable at a glance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from comp_adapters.core import Evidence, Framework, framework_from_data

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)

FOUR_LEVELS: dict[str, Any] = {
    "levels": [
        {"key": "beginning", "name": "Beginning", "points": 1},
        {"key": "developing", "name": "Developing", "points": 2},
        {"key": "proficient", "name": "Proficient", "points": 3, "proficient": True},
        {"key": "expert", "name": "Expert", "points": 4, "proficient": True},
    ],
    "default_level": "proficient",
    "mastery_points": 3,
}


def framework_data(**overrides: Any) -> dict[str, Any]:
    """A small valid framework document: one parent with three leaves, one extra root."""
    data: dict[str, Any] = {
        "key": "FW",
        "title": "Test framework",
        "scale": FOUR_LEVELS,
        "competencies": [
            {"key": "p", "title": "Parent", "rollup": {"type": "all_children"}},
            {"key": "a", "title": "A", "parent": "p", "sequence": 1},
            {"key": "b", "title": "B", "parent": "p", "sequence": 2},
            {"key": "c", "title": "C", "parent": "p", "sequence": 3},
            {"key": "solo", "title": "Solo"},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def framework() -> Framework:
    return framework_from_data(framework_data())


def ev(
    id: str,  # noqa: A002 - mirrors the field name
    competency: str,
    *,
    learner: str = "ann",
    day: int = 1,
    **fields: Any,
) -> Evidence:
    """Evidence observed on day ``day`` of January 2026."""
    return Evidence(
        id=id,
        learner=learner,
        competency=competency,
        observed_at=datetime(2026, 1, day, 12, tzinfo=UTC),
        **fields,
    )


pytest_plugins = ["tests.pg"]
"""The private PostgreSQL cluster (``postgres_cluster``, ``postgres_url``) for any test folder."""
