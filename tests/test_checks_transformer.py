"""The chapter-7 checkers pass right answers and name each mistake they know."""

import pytest

from lessons_lib.checks.transformer import (
    ENCODER_MISTAKES,
    PARAMETER_MISTAKES,
    check_encoder_layer,
    check_parameter_count,
    encoder_layer_parameters,
)
from lessons_lib.transformer import EncoderLayer


def right_layer(layer, x):
    attended = layer.self_attention(x, x, x)[0]
    x = layer.norm1.norm(x + attended)
    return layer.norm2.norm(x + layer.feed_forward(x))


def right_count(d_model, d_ff):
    return sum(p.numel() for p in EncoderLayer(d_model, 2, d_ff).parameters())


def test_right_answers_pass():
    assert check_encoder_layer(right_layer).passed
    assert check_parameter_count(right_count).passed
    assert check_parameter_count(lambda d, f: 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d).passed


@pytest.mark.parametrize("mistake", ENCODER_MISTAKES, ids=lambda m: m.name)
def test_encoder_mistakes_are_named(mistake):
    result = check_encoder_layer(mistake.compute)
    assert not result.passed
    assert mistake.name in result.message


@pytest.mark.parametrize("mistake", PARAMETER_MISTAKES, ids=lambda m: m.name)
def test_parameter_mistakes_are_named(mistake):
    result = check_parameter_count(lambda d, f: int(mistake.compute(d, f)))
    assert not result.passed
    assert mistake.name in result.message


def test_unknown_mistakes_and_crashes_get_useful_messages():
    result = check_encoder_layer(lambda layer, x: x)
    assert not result.passed and "differ from the reference" in result.message
    result = check_encoder_layer(lambda layer, x: None)
    assert not result.passed and "returned None" in result.message
    result = check_parameter_count(lambda d, f: right_count(d, f) + 1)
    assert not result.passed and "expected 6,440 for d_model = 24" in result.message
    result = check_parameter_count(lambda d, f: "many")
    assert not result.passed and "expected a number, got str" in result.message
    result = check_parameter_count(lambda d, f: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message


@pytest.mark.parametrize(("d_model", "d_ff"), [(24, 80), (16, 64), (512, 2048)])
def test_the_reference_count_is_the_real_layers(d_model, d_ff):
    assert encoder_layer_parameters(d_model, d_ff) == right_count(d_model, d_ff)
