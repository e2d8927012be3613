"""The chapter-1 checkers pass right answers and name each mistake they know."""

import math

import pytest
import torch

from lessons_lib import checks, softmax
from lessons_lib.checks.qkv import HEAD_MISTAKES, WEIGHT_MISTAKES


def right_weights(queries, keys):
    return softmax(queries @ keys.T / math.sqrt(queries.shape[-1]))


def right_head(inputs, w_q, w_k, w_v):
    return right_weights(inputs @ w_q, inputs @ w_k) @ (inputs @ w_v)


def test_right_answers_pass():
    assert checks.check_attention_weights(right_weights).passed
    assert checks.check_attention_head(right_head).passed


@pytest.mark.parametrize("mistake", WEIGHT_MISTAKES, ids=lambda m: m.name)
def test_weight_mistakes_are_named(mistake):
    result = checks.check_attention_weights(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", HEAD_MISTAKES, ids=lambda m: m.name)
def test_head_mistakes_are_named(mistake):
    result = checks.check_attention_head(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = checks.check_attention_weights(lambda q, k: right_weights(q, k) * 0.5)
    assert not result.passed and "rows do not sum to 1" in result.message
    result = checks.check_attention_weights(lambda q, k: None)
    assert not result.passed and "returned None" in result.message
    result = checks.check_attention_head(lambda *args: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message
    result = checks.check_attention_head(lambda x, *w: torch.zeros(2, 2))
    assert not result.passed and "expected shape (5, 5), got (2, 2)" in result.message


def test_a_function_that_changes_its_inputs_cannot_change_the_checker():
    mistake = HEAD_MISTAKES[0]

    def changes_its_inputs(inputs, w_q, w_k, w_v):
        answer = mistake.compute(inputs, w_q, w_k, w_v)
        inputs.zero_()  # in place: must not reach the checker's own tensors
        return answer

    result = checks.check_attention_head(changes_its_inputs)
    assert not result.passed and mistake.name in result.message
