"""Exercises of the chapter "Putting it together"."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, check_against, diagnose
from lessons_lib.transformer import EncoderLayer


def _layer_and_input() -> tuple[EncoderLayer, torch.Tensor]:
    """A random post-norm layer whose two norms have different gains and biases."""
    with torch.random.fork_rng():
        torch.manual_seed(3)
        layer = EncoderLayer(16, 4, 32).eval()
        with torch.no_grad():
            for add_norm in (layer.norm1, layer.norm2):
                add_norm.norm.weight.normal_()
                add_norm.norm.bias.normal_()
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(4))
    return layer, x


def _attend(layer: EncoderLayer, x: torch.Tensor) -> torch.Tensor:
    return layer.self_attention(x, x, x)[0]


def _encoder_variant(
    layer, x, norm_first=False, attention_residual=True, ff_residual=True, same_norm=False
):
    norm1 = layer.norm1.norm
    norm2 = norm1 if same_norm else layer.norm2.norm
    if norm_first:
        x = x + _attend(layer, norm1(x))
        return x + layer.feed_forward(norm2(x))
    x = norm1((x if attention_residual else 0) + _attend(layer, x))
    return norm2((x if ff_residual else 0) + layer.feed_forward(x))


ENCODER_MISTAKES = [
    Mistake(
        "pre-norm instead of post-norm",
        "this book's layer normalises *after* adding: norm1(x + attention(x)), as in the paper",
        lambda layer, x: _encoder_variant(layer, x, norm_first=True),
    ),
    Mistake(
        "no residual around attention",
        "add the input back: norm1(x + attention(x)), not norm1(attention(x))",
        lambda layer, x: _encoder_variant(layer, x, attention_residual=False),
    ),
    Mistake(
        "no residual around the feed-forward block",
        "the feed-forward sublayer has its own residual: norm2(x + feed_forward(x))",
        lambda layer, x: _encoder_variant(layer, x, ff_residual=False),
    ),
    Mistake(
        "one norm used twice",
        "each sublayer has its own layer norm with its own gain and bias: use norm2 after the "
        "feed-forward block",
        lambda layer, x: _encoder_variant(layer, x, same_norm=True),
    ),
]


def check_encoder_layer(
    function: Callable[[EncoderLayer, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(layer, x (batch, seq, d_model))`` against ``layer(x)`` (post-norm)."""
    layer, x = _layer_and_input()
    with torch.no_grad():
        args = (layer, x)
        return check_against(function, args, layer(x), ENCODER_MISTAKES, "your layer matches.")


def encoder_layer_parameters(d_model: int, d_ff: int) -> int:
    """Parameters of one encoder layer: attention, feed-forward, two layer norms."""
    attention = 4 * (d_model * d_model + d_model)  # W_Q, W_K, W_V, W_O and their biases
    feed_forward = d_model * d_ff + d_ff + d_ff * d_model + d_model
    norms = 2 * (2 * d_model)  # a gain and a bias per feature, twice
    return attention + feed_forward + norms


PARAMETER_MISTAKES = [
    Mistake(
        "forgot the biases",
        "every nn.Linear has a bias: d_out more parameters each",
        lambda d, f: torch.tensor(float(4 * d * d + 2 * d * f + 4 * d)),
    ),
    Mistake(
        "forgot the layer norms",
        "each of the two layer norms has a gain and a bias of d_model numbers",
        lambda d, f: torch.tensor(float(encoder_layer_parameters(d, f) - 4 * d)),
    ),
    Mistake(
        "counted one attention matrix instead of four",
        "attention has four projections, W_Q, W_K, W_V and W_O, each d_model x d_model + bias",
        lambda d, f: torch.tensor(float(encoder_layer_parameters(d, f) - 3 * (d * d + d))),
    ),
]


def check_parameter_count(function: Callable[[int, int], int]) -> CheckResult:
    """Check ``function(d_model, d_ff) -> int``, the parameters of one encoder layer."""
    d_model, d_ff = 24, 80
    try:
        answer = function(d_model, d_ff)
    except Exception as error:  # the reader's code may raise anything
        return CheckResult(False, f"your function raised {type(error).__name__}: {error}")
    if isinstance(answer, torch.Tensor):
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return CheckResult(False, f"expected a number, got {type(answer).__name__}")
    expected = encoder_layer_parameters(d_model, d_ff)
    result = diagnose(
        torch.tensor(float(answer)),
        torch.tensor(float(expected)),
        PARAMETER_MISTAKES,
        (d_model, d_ff),
        f"{expected:,} parameters for d_model = {d_model}, d_ff = {d_ff}.",
        atol=0.5,
    )
    if not result.passed and "differ from the reference" in result.message:
        return CheckResult(
            False, f"expected {expected:,} for d_model = {d_model}, d_ff = {d_ff}, got {answer:,}"
        )
    return result
