"""Canvas's rollup of one learner's scores on one outcome, number for number.

Restated from Canvas's ``RollupScore`` (app/models/rollup_score.rb): the same formulas, the
same order of floating-point operations (weights as ``0.01 * int``), Ruby's compensated
``Array#sum`` and Ruby's ``Float#round(2)``, so the results agree with Canvas to the last
bit, not just to two decimals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from comp_adapters.core.calculation import (
    CalculationMethod,
    check_calculation_int,
    effective_calculation_int,
)

PRECISION = 2
"""Canvas rounds rollup scores to 2 decimals."""

_FLOAT_DIG = 17  # DBL_DIG + 2, as in Ruby's float_round_overflow


def ruby_round(value: float, ndigits: int = PRECISION) -> float:
    """Ruby's ``Float#round(ndigits)`` (half away from zero), for ``ndigits`` in 1..14.

    Not Python's ``round`` (half to even on the binary value): Ruby gives 4.13 for 4.125
    and 2.68 for 2.675, Python 4.12 and 2.67.
    """
    if not 1 <= ndigits <= 14:
        raise ValueError("ndigits must be between 1 and 14")
    if value == 0.0 or not math.isfinite(value):
        return value
    _, binexp = math.frexp(value)
    # float_round_overflow / float_round_underflow (C integer division truncates to zero).
    overflow_limit = _FLOAT_DIG - (int(binexp / 4) if binexp > 0 else int(binexp / 3) - 1)
    if ndigits >= overflow_limit:
        return value
    if ndigits < -(int(binexp / 3) + 1 if binexp > 0 else int(binexp / 4)):
        return 0.0
    scale = 10.0**ndigits
    return _round_half_up(value, scale) / scale


def _c_round(x: float) -> float:
    """C's ``round()``: to the nearest integer, halves away from zero, keeping the sign of
    a zero result (C's ``round(-0.1)`` is ``-0.0``, which Ruby then divides and keeps)."""
    if x > 0.0:
        f = math.floor(x)
        return f + 1.0 if x - f >= 0.5 else float(f)
    if x < 0.0:
        f = math.ceil(x)
        return f - 1.0 if f - x >= 0.5 else math.copysign(float(f), x)
    return x


def _round_half_up(x: float, s: float) -> float:
    """Ruby's ``round_half_up(x, s)`` from numeric.c: round x*s, correcting x*s's error."""
    f = _c_round(x * s)
    if x > 0:
        if (f + 0.5) / s <= x:
            f += 1
    elif (f - 0.5) / s >= x:
        f -= 1
    return f


def ruby_sum(values: Sequence[float]) -> float:
    """Ruby's ``Array#sum`` over floats: Kahan-Babuska (Neumaier) compensated summation."""
    total, compensation = ruby_sum_state(0.0, 0.0, values)
    return total + compensation


def ruby_sum_state(
    total: float, compensation: float, values: Iterable[float]
) -> tuple[float, float]:
    """Continue :func:`ruby_sum` over ``values`` from a running (total, compensation)."""
    for x in values:
        t = total + x
        if abs(total) >= abs(x):
            compensation += (total - t) + x
        else:
            compensation += (x - t) + total
        total = t
    return total, compensation


def _mean(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    if weights is None:
        return ruby_sum(values) / len(values)
    return ruby_sum([v * w for v, w in zip(values, weights, strict=True)]) / ruby_sum(weights)


def calculate(
    method: CalculationMethod | str,
    scores: Sequence[float],
    *,
    calculation_int: int | None = None,
    mastery_points: float | None = None,
    weights: Sequence[float] | None = None,
) -> float | None:
    """Roll time-ordered scores (oldest first) up into one score, as Canvas does.

    Returns ``None`` for "no score": no scores at all, or ``n_mastery`` with fewer than
    ``n`` results or fewer than ``n`` mastering ones. ``calculation_int`` defaults to
    Canvas's default for the method (65 for the decaying averages, 5 for n_mastery).
    ``mastery_points`` is required by ``n_mastery``.

    ``weights`` (one per score, > 0) turn the means of ``average``, of the older scores in
    ``decaying_average`` and of the mastering scores in ``n_mastery`` into weighted means;
    the other methods ignore them. Equal weights give exactly the unweighted result.

    ``decaying_average`` is Canvas's legacy formula (UI "weighted average");
    ``standard_decaying_average`` is the exponential one Canvas uses when its
    ``outcomes_new_decaying_average_calculation`` flag is on.
    """
    method = CalculationMethod(method)
    problem = check_calculation_int(method, calculation_int)
    if problem:
        raise ValueError(problem)
    if weights is not None:
        if len(weights) != len(scores):
            raise ValueError("weights must have one entry per score")
        if any(not w > 0 for w in weights):
            raise ValueError("weights must be > 0 (leave out what should not count)")
    if method is CalculationMethod.N_MASTERY and mastery_points is None:
        raise ValueError("n_mastery needs mastery_points")
    return calculate_unchecked(
        method,
        scores,
        effective_calculation_int(method, calculation_int),
        mastery_points,
        weights,
    )


def _needs_int(method: CalculationMethod, n: int | None) -> int:
    if n is None:
        raise ValueError(f"{method.value} needs a calculation_int")
    return n


def calculate_unchecked(
    method: CalculationMethod,
    scores: Sequence[float],
    n: int | None,
    mastery_points: float | None,
    weights: Sequence[float] | None = None,
) -> float | None:
    """:func:`calculate` without argument checks, for callers that validated already."""
    if not scores:
        return None

    if method is CalculationMethod.LATEST:
        return ruby_round(scores[-1])
    if method is CalculationMethod.HIGHEST:
        return ruby_round(max(scores))
    if method is CalculationMethod.AVERAGE:
        return ruby_round(_mean(scores, weights))
    if method is CalculationMethod.DECAYING_AVERAGE:
        n = _needs_int(method, n)
        if len(scores) == 1:
            return ruby_round(scores[0])
        latest_weighted = scores[-1] * (0.01 * n)
        older = _mean(scores[:-1], None if weights is None else weights[:-1])
        older_weighted = older * (0.01 * (100 - n))
        return ruby_round(latest_weighted + older_weighted)
    if method is CalculationMethod.STANDARD_DECAYING_AVERAGE:
        n = _needs_int(method, n)
        if len(scores) == 1:
            return ruby_round(scores[0])
        keep, take = 0.01 * (100 - n), 0.01 * n
        decayed = scores[0] * keep + scores[1] * take
        for score in scores[2:]:
            decayed = decayed * keep + score * take
        return ruby_round(decayed)
    # n_mastery
    n = _needs_int(method, n)
    if mastery_points is None:
        raise ValueError("n_mastery needs mastery_points")
    if len(scores) < n:
        return None
    kept = [i for i, s in enumerate(scores) if s >= mastery_points]
    if len(kept) < n:
        return None
    mastering = [scores[i] for i in kept]
    kept_weights = None if weights is None else [weights[i] for i in kept]
    return ruby_round(_mean(mastering, kept_weights))
