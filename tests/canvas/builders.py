"""Frameworks built for tests and the benchmark."""

from __future__ import annotations

from typing import Any

from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data


def big_framework(leaves: int = 1000, groups: int = 10, *, key: str = "BIG") -> Framework:
    """``groups`` parents with ``leaves / groups`` outcomes each, one 3-level scale."""
    competencies: list[dict[str, Any]] = []
    per_group = leaves // groups
    for g in range(groups):
        competencies.append({"key": f"g{g}", "title": f"Domain {g}"})
        competencies.extend(
            {
                "key": f"g{g}.c{i}",
                "title": f"Competency {g}.{i}",
                "description": f"Does thing {i} of domain {g}",
                "parent": f"g{g}",
            }
            for i in range(per_group)
        )
    return framework_from_data(
        {
            "key": key,
            "title": f"{key} framework",
            "scale": {
                "levels": [
                    {"key": "no", "name": "Not yet", "points": 0},
                    {"key": "ok", "name": "Competent", "points": 2, "proficient": True},
                    {"key": "top", "name": "Expert", "points": 3, "proficient": True},
                ],
                "default_level": "ok",
            },
            "calculation_method": "decaying_average",
            "calculation_int": 70,
            "competencies": competencies,
        }
    )
