"""The chapter-9 checkers pass right answers and name each mistake they know."""

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.checks.positions import (
    CODES_2D_MISTAKES,
    SIMILARITY_MISTAKES,
    check_codes_2d,
    check_cosine_similarity,
)
from lessons_lib.positions import PositionCodes2D


def right_codes_2d(row_codes, col_codes):
    module = PositionCodes2D(row_codes.shape[0], col_codes.shape[0], 2 * row_codes.shape[1])
    with torch.no_grad():
        module.row_codes.copy_(row_codes)
        module.col_codes.copy_(col_codes)
    return module().detach()


def right_similarity(codes):
    return F.cosine_similarity(codes[:, None], codes[None, :], dim=-1)


def test_right_answers_pass():
    assert check_codes_2d(right_codes_2d).passed
    assert check_cosine_similarity(right_similarity).passed


@pytest.mark.parametrize("mistake", CODES_2D_MISTAKES, ids=lambda m: m.name)
def test_codes_2d_mistakes_are_named(mistake):
    result = check_codes_2d(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", SIMILARITY_MISTAKES, ids=lambda m: m.name)
def test_similarity_mistakes_are_named(mistake):
    result = check_cosine_similarity(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_codes_2d(lambda rows, cols: right_codes_2d(rows, cols) + 1)
    assert not result.passed and "differ from the reference" in result.message
    result = check_cosine_similarity(lambda codes: "no")
    assert not result.passed and "expected a torch.Tensor, got str" in result.message
    result = check_codes_2d(lambda rows, cols: rows.foo)
    assert not result.passed and "AttributeError" in result.message
