"""Calculation methods: how a learner's time-ordered scores on one competency become one score.

The names and the ranges of their integer parameter are Canvas's
(``OutcomeCalculationMethod``), so a method chosen here can be written to Canvas unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class CalculationMethod(StrEnum):
    """A rollup of time-ordered scores into one score (Canvas's stored method names)."""

    LATEST = "latest"
    HIGHEST = "highest"
    AVERAGE = "average"
    DECAYING_AVERAGE = "decaying_average"
    """Canvas's legacy "weighted average": latest weighted against the mean of the older ones."""
    STANDARD_DECAYING_AVERAGE = "standard_decaying_average"
    """A true exponential moving average, newest score weighted by ``int/100`` at each step."""
    N_MASTERY = "n_mastery"
    """Mean of the mastering scores once at least ``int`` of them exist."""


CALCULATION_INT_RANGE: dict[CalculationMethod, tuple[int, int] | None] = {
    CalculationMethod.LATEST: None,
    CalculationMethod.HIGHEST: None,
    CalculationMethod.AVERAGE: None,
    CalculationMethod.DECAYING_AVERAGE: (1, 99),
    CalculationMethod.STANDARD_DECAYING_AVERAGE: (50, 99),
    CalculationMethod.N_MASTERY: (1, 10),
}
"""Inclusive range of ``calculation_int`` per method; ``None``: the method takes no int."""

DEFAULT_CALCULATION_INT: dict[CalculationMethod, int | None] = {
    CalculationMethod.LATEST: None,
    CalculationMethod.HIGHEST: None,
    CalculationMethod.AVERAGE: None,
    CalculationMethod.DECAYING_AVERAGE: 65,
    CalculationMethod.STANDARD_DECAYING_AVERAGE: 65,
    CalculationMethod.N_MASTERY: 5,
}
"""Canvas's default ``calculation_int`` per method."""


def check_calculation_int(method: CalculationMethod, value: int | None) -> str | None:
    """Why ``value`` is not a valid int for ``method`` (Canvas's rules), or ``None`` if it is."""
    allowed = CALCULATION_INT_RANGE[method]
    if allowed is None:
        if value is not None:
            return f"{method.value} takes no calculation_int (got {value})"
        return None
    if value is None:
        return None
    low, high = allowed
    if not low <= value <= high:
        return f"calculation_int {value} is out of range for {method.value}: must be {low}-{high}"
    return None


def effective_calculation_int(method: CalculationMethod, value: int | None) -> int | None:
    """The int a method runs with: the given one, else Canvas's default for the method."""
    return value if value is not None else DEFAULT_CALCULATION_INT[method]
