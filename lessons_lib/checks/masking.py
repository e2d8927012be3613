"""Exercises of the chapter "Masking" (``book/*_masking.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.masking import apply_mask, causal_mask
from lessons_lib.softmax import softmax


def _causal_cases() -> list[Case]:
    return [Case((n,), f"n = {n}") for n in (5, 7, 2)]


CAUSAL_MISTAKES = [
    Mistake(
        "mask inverted",
        "True must mean *may attend*: query i may see keys 0..i (on and below the diagonal)",
        lambda n: ~causal_mask(n),
    ),
    Mistake(
        "diagonal excluded",
        "a token may attend to itself: keep the diagonal (torch.tril with diagonal=0)",
        lambda n: causal_mask(n).tril(-1),
    ),
    Mistake(
        "upper triangle",
        "rows are queries, columns keys: query i may see keys j <= i, the lower triangle",
        lambda n: causal_mask(n).T,
    ),
    Mistake(
        "size hard-coded",
        "the mask must be (n, n) for the n your function is given, not always 5 x 5",
        lambda n: causal_mask(5),
    ),
]

CAUSAL_MASK = Exercise(
    name="check_causal_mask",
    parameters=("n",),
    cases=_causal_cases,
    solution=causal_mask,
    mistakes=CAUSAL_MISTAKES,
    success="query i sees keys 0..i and nothing later, for every n.",
    kind="bool mask",
)


def check_causal_mask(function: Callable[[int], torch.Tensor]) -> CheckResult:
    """Check ``function(n) -> (n, n)`` bool mask, True where query i may attend to key j.

    Tried for n = 5, 7 and 2, so a mask of a fixed size does not pass.
    """
    return CAUSAL_MASK.check(function)


def _mask_with_something_allowed(rows: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    """A random ``(rows, cols)`` mask in which every row has a True and a False."""
    mask = torch.rand(rows, cols, generator=generator) < 0.5  # (rows, cols)
    diagonal = torch.eye(rows, cols, dtype=torch.bool)  # (rows, cols)
    mask |= diagonal
    mask &= ~diagonal.roll(1, dims=1)
    return mask


def _masked_weight_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(5)
    cases = []
    for rows, cols in ((5, 5), (3, 6)):
        scores = torch.randn(rows, cols, generator=generator) * 2  # (rows, cols)
        mask = _mask_with_something_allowed(rows, cols, generator)
        cases.append(Case((scores, mask), f"scores and mask of shape ({rows}, {cols})"))
    return cases


MASKED_WEIGHT_MISTAKES = [
    Mistake(
        "mask applied after softmax",
        "zeroing weights after the softmax leaves rows that no longer sum to 1; "
        "set the masked *scores* to -inf before the softmax",
        lambda scores, mask: softmax(scores, dim=-1).masked_fill(~mask, 0.0),
    ),
    Mistake(
        "mask inverted",
        "True = may attend: fill the scores where the mask is False (~mask), not where it is True",
        lambda scores, mask: softmax(scores.masked_fill(mask, float("-inf")), dim=-1),
    ),
    Mistake(
        "masked scores set to 0",
        "a score of 0 still gets weight exp(0) > 0; use -inf so the weight is exactly 0",
        lambda scores, mask: softmax(scores.masked_fill(~mask, 0.0), dim=-1),
    ),
    Mistake(
        "softmax over the wrong axis",
        "each query's row must sum to 1 over the keys: softmax over dim=-1",
        lambda scores, mask: softmax(apply_mask(scores, mask), dim=0),
    ),
    Mistake(
        "no softmax",
        "the masked scores are not weights yet: apply softmax over dim=-1 after masking",
        lambda scores, mask: scores.masked_fill(~mask, float("-inf")),
    ),
]

MASKED_WEIGHTS = Exercise(
    name="check_masked_weights",
    parameters=("scores", "mask"),
    cases=_masked_weight_cases,
    solution=lambda scores, mask: softmax(apply_mask(scores, mask), dim=-1),
    mistakes=MASKED_WEIGHT_MISTAKES,
    success="masked keys get weight exactly 0 and every row sums to 1.",
)


def check_masked_weights(
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(scores (L_q, L_k), mask (L_q, L_k) bool) -> weights (L_q, L_k)``.

    True in the mask = may attend. Every row allows at least one key.
    """
    return MASKED_WEIGHTS.check(function)
