"""The chapter-3 checkers pass right answers and name each mistake they know."""

import pytest
import torch

from lessons_lib.checks.masking import (
    CAUSAL_MISTAKES,
    MASKED_WEIGHT_MISTAKES,
    check_causal_mask,
    check_masked_weights,
)


def right_causal_mask(n):
    rows, cols = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return cols <= rows


def right_masked_weights(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def test_right_answers_pass():
    assert check_causal_mask(right_causal_mask).passed
    assert check_masked_weights(right_masked_weights).passed
    # The notes' "huge negative number" works as well when every row allows a key.
    assert check_masked_weights(lambda s, m: torch.softmax(s.masked_fill(~m, -1e9), -1)).passed


@pytest.mark.parametrize("mistake", CAUSAL_MISTAKES, ids=lambda m: m.name)
def test_causal_mistakes_are_named(mistake):
    result = check_causal_mask(lambda n: mistake.compute(n).bool())
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", MASKED_WEIGHT_MISTAKES, ids=lambda m: m.name)
def test_masked_weight_mistakes_are_named(mistake):
    result = check_masked_weights(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_mistakes_made_with_torch_softmax_are_named_too():
    inverted = check_masked_weights(
        lambda s, m: torch.softmax(s.masked_fill(m, float("-inf")), dim=-1)
    )
    assert "mask inverted" in inverted.message
    after = check_masked_weights(lambda s, m: torch.softmax(s, dim=-1) * m)
    assert "mask applied after softmax" in after.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_causal_mask(lambda n: right_causal_mask(n).float())
    assert not result.passed and "expected a bool tensor" in result.message
    result = check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool))
    assert not result.passed and "differ from the reference" in result.message
    result = check_masked_weights(lambda s, m: right_masked_weights(s, m).T[:2])
    assert not result.passed and "expected shape (5, 5)" in result.message
    result = check_masked_weights(lambda s, m: "weights")
    assert not result.passed and "expected a torch.Tensor, got str" in result.message
