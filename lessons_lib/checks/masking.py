"""Exercises of the chapter "Masking"."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, call_reader
from lessons_lib.checks.softmax import diagnose_non_finite
from lessons_lib.masking import apply_mask, causal_mask
from lessons_lib.softmax import softmax

CAUSAL_MISTAKES = [
    Mistake(
        "mask inverted",
        "True must mean *may attend*: query i may see keys 0..i (on and below the diagonal)",
        lambda n: (~causal_mask(n)).float(),
    ),
    Mistake(
        "diagonal excluded",
        "a token may attend to itself: keep the diagonal (torch.tril with diagonal=0)",
        lambda n: causal_mask(n).tril(-1).float(),
    ),
    Mistake(
        "upper triangle",
        "rows are queries, columns keys: query i may see keys j <= i, the lower triangle",
        lambda n: causal_mask(n).T.float(),
    ),
]


def check_causal_mask(function: Callable[[int], torch.Tensor]) -> CheckResult:
    """Check ``function(n) -> (n, n)`` bool mask, True where query i may attend to key j."""
    n = 5
    answer = call_reader(function, n)
    if isinstance(answer, CheckResult):
        return answer
    if answer.dtype != torch.bool:
        return CheckResult(
            False,
            f"expected a bool tensor (True = may attend), got dtype {answer.dtype}; "
            "compare with a condition or call .bool()",
        )
    return diagnose_non_finite(
        answer.float(),
        causal_mask(n).float(),
        CAUSAL_MISTAKES,
        (n,),
        "query i sees keys 0..i and nothing later.",
    )


def _masked_weights(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return softmax(apply_mask(scores, mask), dim=-1)


MASKED_WEIGHT_MISTAKES = [
    Mistake(
        "mask applied after softmax",
        "zeroing weights after the softmax leaves rows that no longer sum to 1; "
        "set the masked *scores* to -inf before the softmax",
        lambda s, m: softmax(s, dim=-1).masked_fill(~m, 0.0),
    ),
    Mistake(
        "mask inverted",
        "True = may attend: fill the scores where the mask is False (~mask), not where it is True",
        lambda s, m: softmax(s.masked_fill(m, float("-inf")), dim=-1),
    ),
    Mistake(
        "masked scores set to 0",
        "a score of 0 still gets weight exp(0) > 0; use -inf so the weight is exactly 0",
        lambda s, m: softmax(s.masked_fill(~m, 0.0), dim=-1),
    ),
    Mistake(
        "softmax over the wrong axis",
        "each query's row must sum to 1 over the keys: softmax over dim=-1",
        lambda s, m: softmax(apply_mask(s, m), dim=0),
    ),
]


def _mask_with_something_allowed(generator: torch.Generator) -> torch.Tensor:
    """A random (5, 5) mask in which every row and column has a True and a False."""
    mask = torch.rand(5, 5, generator=generator) < 0.5  # (5, 5)
    mask |= torch.eye(5, dtype=torch.bool)
    mask &= ~torch.eye(5, dtype=torch.bool).roll(1, dims=1)
    return mask


def check_masked_weights(
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(scores (L_q, L_k), mask (L_q, L_k) bool) -> weights (L_q, L_k)``.

    True in the mask = may attend. Every row allows at least one key.
    """
    generator = torch.Generator().manual_seed(5)
    scores = torch.randn(5, 5, generator=generator) * 2  # (5, 5)
    mask = _mask_with_something_allowed(generator)
    answer = call_reader(function, scores, mask)
    if isinstance(answer, CheckResult):
        return answer
    return diagnose_non_finite(
        answer,
        _masked_weights(scores, mask),
        MASKED_WEIGHT_MISTAKES,
        (scores, mask),
        "masked keys get weight exactly 0 and every row sums to 1.",
    )
