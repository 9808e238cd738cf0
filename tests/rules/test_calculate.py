"""Canvas's rollup arithmetic, checked against Canvas's own worked examples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comp_adapters.rules import calculate, ruby_round, ruby_sum

SCORES = [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize(
    ("method", "n", "expected"),
    [
        # Canvas examples (reference canvas.md §3.4, from Canvas's specs)
        ("decaying_average", 65, 4.13),  # 0.65*5 + 0.35*2.5 = 4.125 -> 4.13 (half up)
        ("standard_decaying_average", 65, 4.47),  # 1.65, 2.5275, 3.4846, 4.4696
        ("n_mastery", 3, 4.0),  # mean(3, 4, 5) with mastery 3
        ("n_mastery", 4, None),  # only 3 mastering scores
        ("highest", None, 5.0),
        ("latest", None, 5.0),
        ("average", None, 3.0),
    ],
)
def test_canvas_worked_examples(method: str, n: int | None, expected: float | None) -> None:
    assert calculate(method, SCORES, calculation_int=n, mastery_points=3) == expected


def test_defaults_are_canvas_defaults() -> None:
    assert calculate("decaying_average", SCORES) == 4.13  # int 65
    assert calculate("n_mastery", [3, 3, 3, 3, 3], mastery_points=3) == 3.0  # n = 5
    assert calculate("n_mastery", [3, 3, 3, 3], mastery_points=3) is None


def test_latest_uses_time_order_not_value() -> None:
    assert calculate("latest", [4.0, 1.0]) == 1.0


def test_single_score_and_empty_input() -> None:
    assert calculate("decaying_average", [2.345]) == 2.35
    assert calculate("standard_decaying_average", [2.345]) == 2.35
    assert calculate("average", []) is None


def test_n_mastery_needs_n_results_before_looking_at_mastery() -> None:
    assert calculate("n_mastery", [5.0, 5.0], calculation_int=3, mastery_points=3) is None
    assert calculate("n_mastery", [1, 5, 5, 5], calculation_int=3, mastery_points=3) == 5.0


@pytest.mark.parametrize(
    ("method", "n", "message"),
    [
        ("decaying_average", 0, "must be 1-99"),
        ("standard_decaying_average", 40, "must be 50-99"),
        ("n_mastery", 11, "must be 1-10"),
        ("highest", 3, "takes no calculation_int"),
    ],
)
def test_invalid_ints_are_refused_like_canvas(method: str, n: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calculate(method, SCORES, calculation_int=n, mastery_points=3)


def test_n_mastery_requires_mastery_points() -> None:
    with pytest.raises(ValueError, match="mastery_points"):
        calculate("n_mastery", SCORES, calculation_int=2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4.125, 4.13),  # Python's round gives 4.12
        (2.675, 2.68),  # binary 2.67499999...: Ruby's correction step still rounds up
        (1.005, 1.01),
        (0.125, 0.13),
        (2.5, 2.5),
        (4.4696187500000005, 4.47),
        (-2.675, -2.68),
        (0.0, 0.0),
        (1e20, 1e20),  # too large to have decimals: unchanged (float_round_overflow)
        (1e-20, 0.0),  # below the last digit: 0 (float_round_underflow)
    ],
)
def test_ruby_round_matches_ruby(value: float, expected: float) -> None:
    assert ruby_round(value) == expected


@pytest.mark.parametrize("value", [-0.001, -0.004, -0.0049999])
def test_ruby_round_keeps_the_sign_of_a_negative_zero(value: float) -> None:
    # numeric.c: flo_round -> round_half_up(x, s) = round(x * s) / s, and C's round(-0.1)
    # is -0.0, so Ruby's (-0.001).round(2) is -0.0; only float_round_underflow answers +0.0.
    result = ruby_round(value)
    assert result == 0.0
    assert math.copysign(1.0, result) == -1.0


def test_python_round_would_differ() -> None:
    assert round(4.125, 2) != ruby_round(4.125)


def test_ruby_sum_is_compensated() -> None:
    values = [0.1] * 10
    assert sum(values) != 1.0
    assert ruby_sum(values) == 1.0
    assert ruby_sum([1e100, 1.0, -1e100]) == 1.0


def test_equal_weights_give_exactly_the_unweighted_result() -> None:
    scores = [2.2, 3.7, 1.9, 3.05]
    for method in ("average", "decaying_average"):
        assert calculate(method, scores, weights=[1.0] * 4) == calculate(method, scores)


def test_weights_shift_the_mean() -> None:
    assert calculate("average", [1.0, 4.0], weights=[3.0, 1.0]) == 1.75
    with pytest.raises(ValueError, match="one entry per score"):
        calculate("average", [1.0, 4.0], weights=[1.0])
    with pytest.raises(ValueError, match="> 0"):
        calculate("average", [1.0, 4.0], weights=[1.0, 0.0])


@given(st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=30))
def test_results_stay_within_the_scores(scores: list[float]) -> None:
    low, high = ruby_round(min(scores)), ruby_round(max(scores))
    for method, n in (
        ("latest", None),
        ("highest", None),
        ("average", None),
        ("decaying_average", 65),
        ("standard_decaying_average", 80),
    ):
        result = calculate(method, scores, calculation_int=n)
        assert result is not None
        assert low - 0.01 <= result <= high + 0.01, (method, scores, result)
        assert math.isclose(result, ruby_round(result))
