"""Exercises of the chapter "Softmax"."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from lessons_lib.checks.core import CheckResult, Mistake, call_reader, diagnose
from lessons_lib.softmax import naive_softmax, softmax


def diagnose_non_finite(
    answer: torch.Tensor,
    expected: torch.Tensor,
    mistakes: Sequence[Mistake],
    args: tuple,
    success: str,
) -> CheckResult:
    """Like :func:`~lessons_lib.checks.core.diagnose`, but NaN/inf answers are named too.

    An answer with NaN or inf where the reference is finite is matched against
    the mistakes with NaN equal to NaN (an overflow gives NaN in the same places).
    """
    if answer.shape == expected.shape and not torch.isfinite(answer).all():
        for mistake in mistakes:
            wrong = mistake.compute(*args)
            if wrong.shape == answer.shape and torch.allclose(
                answer, wrong, atol=1e-5, equal_nan=True
            ):
                return CheckResult(False, f"{mistake.name}: {mistake.hint}")
        return CheckResult(
            False,
            "your answer holds NaN or inf although every input is finite: "
            "look for an exp() that overflows or a division by zero",
        )
    return diagnose(answer, expected, mistakes, args, success)


def _logits() -> torch.Tensor:
    """Square on purpose (a missing keepdim then gives a wrong answer, not a crash)."""
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(5, 5, generator=generator) * 3  # (5, 5)
    logits[2] += 1000.0  # one row of huge logits: exp(1000) overflows float32
    return logits


SOFTMAX_MISTAKES = [
    Mistake(
        "no max-subtraction (overflow)",
        "exp(1000) is inf in float32 and inf / inf is NaN; subtract each row's maximum "
        "before exp (the factor exp(-max) cancels in the ratio)",
        lambda x: naive_softmax(x, dim=-1),
    ),
    Mistake(
        "softmax over the wrong axis",
        "each row must sum to 1: take the max and the sum over dim=-1",
        lambda x: softmax(x, dim=0),
    ),
    Mistake(
        "not normalised",
        "after exp, divide by the row's sum so that the row sums to 1",
        lambda x: torch.exp(x - x.amax(dim=-1, keepdim=True)),
    ),
    Mistake(
        "sum without keepdim",
        "x.sum(dim=-1) drops the axis, so the division broadcasts the wrong way; "
        "use .sum(dim=-1, keepdim=True)",
        lambda x: (
            torch.exp(x - x.amax(dim=-1, keepdim=True))
            / torch.exp(x - x.amax(dim=-1, keepdim=True)).sum(dim=-1)
        ),
    ),
]


def check_softmax(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(logits (rows, n)) -> probabilities``, softmax over the last axis.

    One row of the test logits is near 1000, where a naive exp() overflows.
    """
    logits = _logits()
    answer = call_reader(function, logits)
    if isinstance(answer, CheckResult):
        return answer
    return diagnose_non_finite(
        answer,
        softmax(logits),
        SOFTMAX_MISTAKES,
        (logits,),
        "stable, and every row sums to 1, even the row of logits near 1000.",
    )


TEMPERATURE_MISTAKES = [
    Mistake(
        "temperature multiplied",
        "divide the logits by T: a small T must sharpen the distribution",
        lambda x, t: softmax(x * t),
    ),
    Mistake(
        "temperature ignored",
        "use T: softmax(x / T)",
        lambda x, t: softmax(x),
    ),
    Mistake(
        "temperature applied after softmax",
        "divide the logits by T *before* the softmax; dividing the probabilities "
        "breaks the sum to 1",
        lambda x, t: softmax(x) / t,
    ),
    Mistake(
        "softmax over the wrong axis",
        "each row must sum to 1: softmax over dim=-1",
        lambda x, t: softmax(x / t, dim=0),
    ),
]


def check_temperature_softmax(
    function: Callable[[torch.Tensor, float], torch.Tensor],
) -> CheckResult:
    """Check ``function(logits (rows, n), temperature) -> softmax(logits / T)`` for several T."""
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(4, 6, generator=generator) * 2  # (4, 6)
    for temperature in (0.5, 2.0):
        answer = call_reader(function, logits, temperature)
        if isinstance(answer, CheckResult):
            return answer
        result = diagnose_non_finite(
            answer,
            softmax(logits, temperature=temperature),
            TEMPERATURE_MISTAKES,
            (logits, temperature),
            "right for T = 0.5 and T = 2: small T sharpens, large T flattens.",
        )
        if not result.passed:
            return CheckResult(False, f"with T = {temperature}: {result.message}")
    return result
