"""Exercises of the chapter "Add & norm"."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, check_against
from lessons_lib.residual import layer_norm

EPS = 1e-5


def _inputs(seed: int) -> torch.Tensor:
    """Rows of very different spread, one nearly constant, so that eps matters."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 12, generator=generator) * torch.tensor([[3.0], [0.5], [1.0], [10.0], [1.0]])
    x[4] = 2.0 + 1e-3 * torch.randn(12, generator=generator)  # variance 1e-6, below eps
    return x + torch.randn(5, 1, generator=generator) * 4  # each row its own mean


LAYER_NORM_MISTAKES = [
    Mistake(
        "normalised over the wrong axis",
        "each token (row) is normalised on its own: take the mean and variance over dim=-1",
        lambda x: (
            (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, unbiased=False, keepdim=True) + EPS)
        ),
    ),
    Mistake(
        "unbiased variance",
        "layer norm divides the squared deviations by n, not n - 1: use unbiased=False",
        lambda x: (
            (x - x.mean(-1, keepdim=True))
            / torch.sqrt(x.var(-1, unbiased=True, keepdim=True) + EPS)
        ),
    ),
    Mistake(
        "mean not subtracted",
        "subtract the mean before dividing: (x - mean) / sqrt(var + eps)",
        lambda x: x / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + EPS),
    ),
    Mistake(
        "divided by the variance",
        "divide by the standard deviation, the square root of (variance + eps)",
        lambda x: (x - x.mean(-1, keepdim=True)) / (x.var(-1, unbiased=False, keepdim=True) + EPS),
    ),
    Mistake(
        "no eps",
        "add eps = 1e-5 to the variance before the square root; look at the nearly constant row",
        lambda x: (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True),
    ),
]


def check_layer_norm(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(x (tokens, d_model)) -> (x - mean) / sqrt(var + 1e-5)`` per row."""
    x = _inputs(3)
    return check_against(
        function, (x,), layer_norm(x, EPS), LAYER_NORM_MISTAKES, "your layer norm matches.", 1e-4
    )


ADD_NORM_MISTAKES = [
    Mistake(
        "no residual",
        "add the input first: LayerNorm(x + sublayer_out), not LayerNorm(sublayer_out)",
        lambda x, out: layer_norm(out),
    ),
    Mistake(
        "normalised before adding",
        "that is x + LayerNorm(sublayer_out); post-norm adds first, then normalises the sum",
        lambda x, out: x + layer_norm(out),
    ),
    Mistake(
        "normalised the input only",
        "normalise the sum x + sublayer_out, not x alone",
        lambda x, out: layer_norm(x) + out,
    ),
    Mistake(
        "added without normalising",
        "the residual sum must go through layer_norm",
        lambda x, out: x + out,
    ),
]


def check_add_norm(function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(x, sublayer_out) -> layer_norm(x + sublayer_out)`` (post-norm)."""
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(2, 5, 16, generator=generator) * 2 + 1
    sublayer_out = torch.randn(2, 5, 16, generator=generator)
    args = (x, sublayer_out)
    expected = layer_norm(x + sublayer_out)
    return check_against(
        function, args, expected, ADD_NORM_MISTAKES, "your add & norm matches.", 1e-4
    )
