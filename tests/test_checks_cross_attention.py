"""The chapter-4 checkers pass right answers and name each mistake they know."""

import pytest
import torch

from lessons_lib import MultiHeadAttention
from lessons_lib.checks.cross_attention import (
    MULTI_HEAD_MISTAKES,
    SPLIT_MISTAKES,
    check_multi_head,
    check_split_heads,
)


def right_split(x, num_heads):
    batch, seq, d_model = x.shape
    return x.view(batch, seq, num_heads, d_model // num_heads).transpose(1, 2)


def right_multi_head(decoder, encoder, w_q, w_k, w_v, w_o, num_heads):
    """Through the package's layer, with the matrices copied in (nn.Linear uses x @ W.T)."""
    layer = MultiHeadAttention(decoder.shape[-1], num_heads, bias=False)
    with torch.no_grad():
        for linear, matrix in zip(
            (layer.w_q, layer.w_k, layer.w_v, layer.w_o), (w_q, w_k, w_v, w_o)
        ):
            linear.weight.copy_(matrix.T)
    return layer(decoder, encoder, encoder)[0].detach()


def test_right_answers_pass():
    assert check_split_heads(right_split).passed
    assert check_multi_head(right_multi_head).passed


@pytest.mark.parametrize("mistake", SPLIT_MISTAKES, ids=lambda m: m.name)
def test_split_mistakes_are_named(mistake):
    result = check_split_heads(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", MULTI_HEAD_MISTAKES, ids=lambda m: m.name)
def test_multi_head_mistakes_are_named(mistake):
    result = check_multi_head(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_split_heads(lambda x, h: right_split(x, h) + 1)
    assert not result.passed and "differ from the reference" in result.message
    result = check_split_heads(lambda x, h: x.view(2, 5, 4, 3))
    assert not result.passed and "expected shape (2, 3, 5, 4)" in result.message
    result = check_multi_head(lambda *args: None)
    assert not result.passed and "returned None" in result.message
