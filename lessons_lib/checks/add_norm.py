"""Exercises of the chapter "Add & norm" (``book/*_add_norm.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.residual import layer_norm

EPS = 1e-5


def _rows(rows: int, d_model: int, generator: torch.Generator) -> torch.Tensor:
    """Rows of very different spread and mean, the last nearly constant, so that eps matters."""
    spread = torch.rand(rows, 1, generator=generator) * 8 + 0.5  # (rows, 1)
    x = torch.randn(rows, d_model, generator=generator) * spread  # (rows, d_model)
    x = x + torch.randn(rows, 1, generator=generator) * 4  # each row its own mean
    # Near 0.5 so that float32 still resolves the deviations of 1e-3.
    x[-1] = 0.5 + 1e-3 * torch.randn(d_model, generator=generator)  # variance 1e-6, below eps
    return x


def _layer_norm_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(3)
    return [
        Case((_rows(rows, d_model, generator),), f"x of shape ({rows}, {d_model})")
        for rows, d_model in ((5, 12), (3, 7))
    ]


def _normalise(x: torch.Tensor, dim: int = -1, unbiased: bool = False) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over ``dim``; variants for the mistakes."""
    mean = x.mean(dim, keepdim=True)
    variance = x.var(dim, unbiased=unbiased, keepdim=True)
    return (x - mean) / torch.sqrt(variance + EPS)


LAYER_NORM_MISTAKES = [
    Mistake(
        "normalised over the wrong axis",
        "each token (row) is normalised on its own: take the mean and variance over dim=-1",
        lambda x: _normalise(x, dim=0),
    ),
    Mistake(
        "unbiased variance",
        "layer norm divides the squared deviations by n, not n - 1: use unbiased=False",
        lambda x: _normalise(x, unbiased=True),
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
    Mistake(
        "eps outside the square root",
        "eps goes under the root: sqrt(var + eps), not sqrt(var) + eps; the nearly constant "
        "row shows the difference",
        lambda x: (x - x.mean(-1, keepdim=True)) / (x.std(-1, unbiased=False, keepdim=True) + EPS),
    ),
]

LAYER_NORM = Exercise(
    name="check_layer_norm",
    parameters=("x",),
    cases=_layer_norm_cases,
    solution=lambda x: layer_norm(x, EPS),
    mistakes=LAYER_NORM_MISTAKES,
    success="your layer norm matches.",
)


def check_layer_norm(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(x (tokens, d_model)) -> (x - mean) / sqrt(var + 1e-5)`` per row."""
    return LAYER_NORM.check(function)


def _add_norm_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(4)
    cases = []
    for shape in ((2, 5, 16), (3, 4, 8)):
        x = torch.randn(*shape, generator=generator) * 2 + 1
        sublayer_out = torch.randn(*shape, generator=generator)
        cases.append(Case((x, sublayer_out), f"x and sublayer_out of shape {shape}"))
    return cases


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

ADD_NORM = Exercise(
    name="check_add_norm",
    parameters=("x", "sublayer_out"),
    cases=_add_norm_cases,
    solution=lambda x, sublayer_out: layer_norm(x + sublayer_out, EPS),
    mistakes=ADD_NORM_MISTAKES,
    success="your add & norm matches.",
)


def check_add_norm(function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(x, sublayer_out) -> layer_norm(x + sublayer_out)`` (post-norm)."""
    return ADD_NORM.check(function)
