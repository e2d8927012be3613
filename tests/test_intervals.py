"""Intervals over seeds: standard errors and Student's t intervals, by hand and as properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from lessons_lib.intervals import T_975, interval_95, mean_and_standard_error, paired_gap, t_975


def test_the_t_quantiles_are_scipys_and_the_textbooks():
    assert T_975 == tuple(stats.t.ppf(0.975, df) for df in range(1, 31))
    # the printed table's values (to 3 decimals) for 1, 2, 3, 11 and 30 degrees of freedom
    for df, printed in ((1, 12.706), (2, 4.303), (3, 3.182), (11, 2.201), (30, 2.042)):
        assert round(t_975(df), 3) == printed
    assert 1.96 < t_975(1000) < t_975(30) < t_975(2)  # falls towards the normal's 1.96


def test_an_interval_of_a_known_sample_by_hand():
    values = [1.0, 2.0, 3.0, 4.0]
    s = math.sqrt(((1.5**2) * 2 + (0.5**2) * 2) / 3)  # the sample standard deviation
    mean, error = mean_and_standard_error(values)
    assert mean == 2.5 and error == pytest.approx(s / 2)
    assert interval_95(values) == pytest.approx((2.5, stats.t.ppf(0.975, 3) * s / 2))
    # many values: scipy's t with 39 degrees of freedom, not a rounded 1.96
    many = [0.0, 1.0] * 20
    assert interval_95(many)[1] == pytest.approx(
        stats.t.ppf(0.975, 39) * mean_and_standard_error(many)[1]
    )


def test_paired_gap_is_the_interval_of_the_gaps():
    scores = {"a": [0.9, 0.8, 0.7], "b": [0.8, 0.8, 0.5]}
    gap, half_width = paired_gap(scores, "a", "b")
    gaps = [0.1, 0.0, 0.2]
    s = math.sqrt(sum((g - 0.1) ** 2 for g in gaps) / 2)
    assert gap == pytest.approx(0.1)
    assert half_width == pytest.approx(stats.t.ppf(0.975, 2) * s / math.sqrt(3))


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="at least 2 values, got 1"):
        mean_and_standard_error([0.5])
    with pytest.raises(TypeError, match="values must be a sequence of numbers, got int"):
        mean_and_standard_error(3)
    with pytest.raises(TypeError, match="values must be a sequence of numbers, got str"):
        interval_95("0.5")
    with pytest.raises(ValueError, match="values must be finite"):
        interval_95([0.5, float("nan")])
    with pytest.raises(TypeError, match="df must be an int"):
        t_975(2.0)
    with pytest.raises(ValueError, match="df must be at least 1, got 0"):
        t_975(0)
    with pytest.raises(TypeError, match="scores must map kinds"):
        paired_gap([0.5, 0.6], "a", "b")
    scores = {"a": [0.9, 0.8, 0.7], "b": [0.8, 0.8, 0.5]}
    with pytest.raises(ValueError, match=r"scores has no kind 'c'; it has \['a', 'b'\]"):
        paired_gap(scores, "c", "b")
    with pytest.raises(ValueError, match="'a' has 3 seeds but 'b' has 2"):
        paired_gap({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]}, "a", "b")


samples = st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40)


@given(samples, st.floats(-1e3, 1e3), st.floats(0.1, 10))
def test_an_interval_moves_with_a_shift_and_scales_with_a_factor(values, shift, factor):
    mean, half = interval_95(values)
    moved_mean, moved_half = interval_95([v * factor + shift for v in values])
    assert moved_mean == pytest.approx(mean * factor + shift, abs=1e-6)
    assert moved_half == pytest.approx(half * factor, rel=1e-6, abs=1e-6)
    assert half >= 0


@given(samples)
def test_the_half_width_is_t_standard_errors(values):
    _, error = mean_and_standard_error(values)
    assert interval_95(values)[1] == pytest.approx(t_975(len(values) - 1) * error)
