"""The chapter-10 checkers pass right answers and name each mistake they know."""

import pytest
import torch

from lessons_lib.checks.vit import (
    READ_OUT_MISTAKES,
    SEQUENCE_MISTAKES,
    check_input_sequence,
    check_read_out,
)


def right_sequence(patches, class_token, codes):
    class_tokens = class_token.expand(patches.shape[0], 1, -1)
    return torch.cat([class_tokens, patches], dim=1) + codes


def right_read_out(encoded, weight, bias):
    summary = torch.nn.functional.layer_norm(encoded[:, 0], (encoded.shape[-1],))
    return summary @ weight.T + bias


def test_right_answers_pass():
    assert check_input_sequence(right_sequence).passed
    assert check_read_out(right_read_out).passed


@pytest.mark.parametrize("mistake", SEQUENCE_MISTAKES, ids=lambda m: m.name)
def test_sequence_mistakes_are_named(mistake):
    result = check_input_sequence(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", READ_OUT_MISTAKES, ids=lambda m: m.name)
def test_read_out_mistakes_are_named(mistake):
    result = check_read_out(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_input_sequence(lambda x, cls, codes: right_sequence(x, cls, codes) * 2)
    assert not result.passed and "differ from the reference" in result.message
    result = check_read_out(lambda z, w, b: z[:, 0])
    assert not result.passed and "expected shape (3, 4), got (3, 6)" in result.message
    result = check_read_out(lambda *args: None)
    assert not result.passed and "returned None" in result.message
