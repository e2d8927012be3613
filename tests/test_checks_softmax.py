"""The chapter-2 checkers pass right answers and name each mistake they know."""

import pytest
import torch

from lessons_lib.checks.softmax import (
    SOFTMAX_MISTAKES,
    TEMPERATURE_MISTAKES,
    check_softmax,
    check_temperature_softmax,
)


def right_softmax(logits):
    exps = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
    return exps / exps.sum(dim=-1, keepdim=True)


def test_right_answers_pass():
    assert check_softmax(right_softmax).passed
    assert check_softmax(lambda x: torch.softmax(x, dim=-1)).passed
    assert check_temperature_softmax(lambda x, t: right_softmax(x / t)).passed


@pytest.mark.parametrize("mistake", SOFTMAX_MISTAKES, ids=lambda m: m.name)
def test_softmax_mistakes_are_named(mistake):
    result = check_softmax(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", TEMPERATURE_MISTAKES, ids=lambda m: m.name)
def test_temperature_mistakes_are_named(mistake):
    result = check_temperature_softmax(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_softmax(lambda x: right_softmax(x) * 0.5)
    assert not result.passed and "differ from the reference" in result.message
    result = check_softmax(lambda x: right_softmax(x) / 0.0)
    assert not result.passed and "NaN or inf" in result.message
    result = check_softmax(lambda x: None)
    assert not result.passed and "returned None" in result.message
    result = check_temperature_softmax(lambda x, t: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message
    result = check_temperature_softmax(lambda x, t: right_softmax(x / t) if t < 1 else x)
    assert not result.passed and "T = 2.0" in result.message
