"""Chapter 10's RoPE exercise: answers a learner might write, and what the checker says."""

import torch

from lessons_lib.checks import check_rotary


def complex_rotary(x):
    """A right answer written another way: pair (2i, 2i+1) as a complex number, times e^{imθ_i}."""
    seq, d = x.shape
    pairs = torch.view_as_complex(x.double().reshape(seq, d // 2, 2).contiguous())
    thetas = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.arange(seq, dtype=torch.float64)[:, None] * thetas[None, :]
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).reshape(seq, d)


def half_split_attempt(x):
    """The chapter's attempt: right angles, wrong pairs (i, i + d/2)."""
    seq, d = x.shape
    thetas = 10000 ** (-torch.arange(0, d, 2) / d)
    angles = torch.arange(seq)[:, None] * thetas[None, :]
    first, second = x[:, : d // 2], x[:, d // 2 :]
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


def test_a_complex_number_answer_passes_in_float32_and_float64():
    assert check_rotary(complex_rotary).passed
    assert check_rotary(lambda x: complex_rotary(x).float()).passed


def test_the_chapters_attempt_is_named_as_the_wrong_pairs():
    result = check_rotary(half_split_attempt)
    assert not result.passed
    assert result.message.startswith("rotated the wrong pairs of dimensions:")


def test_no_rotation_at_all_gets_a_measured_message():
    result = check_rotary(lambda x: x.clone())
    assert not result.passed
    assert result.message.startswith("with x of shape (6, 8): the values differ")


def test_a_wrong_shape_is_named():
    result = check_rotary(lambda x: complex_rotary(x)[:, ::2])
    assert not result.passed
    assert "shape" in result.message
