"""The chapter-5 checkers pass right answers and name each mistake they know."""

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.checks.add_norm import (
    ADD_NORM_MISTAKES,
    LAYER_NORM_MISTAKES,
    check_add_norm,
    check_layer_norm,
)


def right_layer_norm(x):
    return F.layer_norm(x, x.shape[-1:])


def test_right_answers_pass():
    assert check_layer_norm(right_layer_norm).passed
    assert check_add_norm(lambda x, out: right_layer_norm(x + out)).passed


@pytest.mark.parametrize("mistake", LAYER_NORM_MISTAKES, ids=lambda m: m.name)
def test_layer_norm_mistakes_are_named(mistake):
    result = check_layer_norm(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", ADD_NORM_MISTAKES, ids=lambda m: m.name)
def test_add_norm_mistakes_are_named(mistake):
    result = check_add_norm(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_layer_norm(lambda x: right_layer_norm(x) * 2)
    assert not result.passed and "differ from the reference" in result.message
    result = check_layer_norm(lambda x: None)
    assert not result.passed and "returned None" in result.message
    result = check_add_norm(lambda x, out: x.nonexistent)
    assert not result.passed and "AttributeError" in result.message
    result = check_add_norm(lambda x, out: torch.zeros(3))
    assert not result.passed and "expected shape (2, 5, 16), got (3,)" in result.message
