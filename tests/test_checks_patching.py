"""The chapter-8 checkers pass right answers and name each mistake they know."""

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.checks.patching import (
    CONV_MISTAKES,
    PATCHIFY_MISTAKES,
    check_conv_embedding,
    check_patchify,
)


def right_patchify(images, p):
    return F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)


def right_conv(images, weight, bias):
    p = weight.shape[-1]
    return F.conv2d(images, weight, bias, stride=p).flatten(2).transpose(1, 2)


def test_right_answers_pass():
    assert check_patchify(right_patchify).passed
    assert check_conv_embedding(right_conv).passed


@pytest.mark.parametrize("mistake", PATCHIFY_MISTAKES, ids=lambda m: m.name)
def test_patchify_mistakes_are_named(mistake):
    result = check_patchify(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", CONV_MISTAKES, ids=lambda m: m.name)
def test_conv_mistakes_are_named(mistake):
    result = check_conv_embedding(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_patchify(lambda x, p: right_patchify(x, p) * 2)
    assert not result.passed and "differ from the reference" in result.message
    result = check_patchify(lambda x, p: None)
    assert not result.passed and "returned None" in result.message
    result = check_conv_embedding(lambda *args: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message
    result = check_conv_embedding(lambda x, w, b: torch.zeros(2, 2))
    assert not result.passed and "expected shape (2, 6, 6), got (2, 2)" in result.message
