"""The chapter-6 checkers pass right answers and name each mistake they know."""

import pytest
import torch

from lessons_lib.checks.decoding import (
    GREEDY_MISTAKES,
    PROBABILITY_MISTAKES,
    check_greedy_decode,
    check_next_token_probabilities,
)


def right_greedy(model, source, bos, steps):
    prefix = torch.full((source.shape[0], 1), bos)
    with torch.no_grad():
        for _ in range(steps):
            token = model(source, prefix)[:, -1].argmax(-1)
            prefix = torch.cat([prefix, token[:, None]], dim=1)
    return prefix[:, 1:]


def right_probabilities(logits, temperature, top_k):
    kth = logits.topk(top_k, dim=-1).values[..., -1:]
    return torch.softmax(logits.masked_fill(logits < kth, float("-inf")) / temperature, dim=-1)


def test_right_answers_pass():
    assert check_greedy_decode(right_greedy).passed
    assert check_next_token_probabilities(right_probabilities).passed


@pytest.mark.parametrize("mistake", GREEDY_MISTAKES, ids=lambda m: m.name)
def test_greedy_mistakes_are_named(mistake):
    result = check_greedy_decode(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", PROBABILITY_MISTAKES, ids=lambda m: m.name)
def test_probability_mistakes_are_named(mistake):
    result = check_next_token_probabilities(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_greedy_decode(
        lambda model, source, bos, steps: right_greedy(model, source, bos, steps) * 0
    )
    assert not result.passed and "differ from the reference" in result.message
    result = check_greedy_decode(lambda *args: None)
    assert not result.passed and "returned None" in result.message
    result = check_next_token_probabilities(lambda logits, t, k: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message
    result = check_next_token_probabilities(lambda logits, t, k: logits[0])
    assert not result.passed and "expected shape (4, 10), got (10,)" in result.message
