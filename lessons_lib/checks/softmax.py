"""Exercises of the chapter "Softmax" (``book/*_softmax.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.softmax import naive_softmax, softmax


def _spread_rows(columns: int, generator: torch.Generator) -> torch.Tensor:
    """Rows whose spread overflows exp() unless the row's *maximum* is subtracted.

    Row 0 sits near 1000 (a plain exp overflows); row 1 has one logit at -1000
    (subtracting the minimum overflows); row 2 has one at +1000 (subtracting
    the mean overflows); row 3 is ordinary.
    """
    logits = torch.randn(4, columns, generator=generator)  # (4, columns)
    logits[0] += 1000.0
    logits[1, 3] = -1000.0
    logits[2, 5] = 1000.0
    return logits


def _softmax_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(3)
    square = torch.randn(5, 5, generator=generator) * 3  # square: a missing keepdim misleads
    square[2] += 1000.0  # one row of huge logits: exp(1000) overflows float32
    # ... and the other rows lie 1000 below it: a *global* max underflows them to 0 / 0.
    wide = _spread_rows(20, generator)  # (4, 20)
    return [
        Case((square,), "logits (5, 5) with one row near 1000"),
        Case((wide,), "logits (4, 20) whose rows span 1000 or more"),
    ]


def _subtract(statistic: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    def shifted_softmax(logits: torch.Tensor) -> torch.Tensor:
        exps = torch.exp(logits - statistic(logits))
        return exps / exps.sum(dim=-1, keepdim=True)

    return shifted_softmax


def _no_keepdim(logits: torch.Tensor) -> torch.Tensor:
    exps = torch.exp(logits - logits.amax(dim=-1, keepdim=True))
    return exps / exps.sum(dim=-1)  # (rows, n) / (rows,): broadcasts along the wrong axis


SOFTMAX_MISTAKES = [
    Mistake(
        "no max-subtraction (overflow)",
        "exp(1000) is inf in float32 and inf / inf is NaN; subtract each row's maximum "
        "before exp (the factor exp(-max) cancels in the ratio)",
        lambda logits: naive_softmax(logits, dim=-1),
    ),
    Mistake(
        "subtracted the global maximum, not each row's (underflow)",
        "logits.max() is the largest logit of the whole tensor: in a row whose logits all lie "
        "far below it (more than about 100 in float32), every exp() underflows to 0 and the row "
        "becomes 0 / 0 = NaN. That is underflow, not overflow; subtract each row's own maximum, "
        "logits.amax(dim=-1, keepdim=True)",
        _subtract(lambda logits: logits.amax()),
    ),
    Mistake(
        "subtracted the minimum, not the maximum",
        "after subtracting the row's minimum, the largest logit can still be 1000 or more above "
        "zero and exp overflows; subtract the maximum, so every exponent is <= 0",
        _subtract(lambda logits: logits.amin(dim=-1, keepdim=True)),
    ),
    Mistake(
        "subtracted the mean, not the maximum",
        "a logit far above the row's mean still overflows exp; subtract the maximum, so every "
        "exponent is <= 0",
        _subtract(lambda logits: logits.mean(dim=-1, keepdim=True)),
    ),
    Mistake(
        "softmax over the wrong axis",
        "each row must sum to 1: take the max and the sum over dim=-1",
        lambda logits: softmax(logits, dim=0),
    ),
    Mistake(
        "not normalised",
        "after exp, divide by the row's sum so that the row sums to 1",
        lambda logits: torch.exp(logits - logits.amax(dim=-1, keepdim=True)),
    ),
    Mistake(
        "sum without keepdim",
        "x.sum(dim=-1) drops the axis, so the division broadcasts the wrong way; "
        "use .sum(dim=-1, keepdim=True)",
        _no_keepdim,
    ),
]

SOFTMAX = Exercise(
    name="check_softmax",
    parameters=("logits",),
    cases=_softmax_cases,
    solution=lambda logits: softmax(logits, dim=-1),
    mistakes=SOFTMAX_MISTAKES,
    success="stable, and every row sums to 1, even rows of logits near 1000.",
)


def check_softmax(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(logits (rows, n)) -> probabilities``, softmax over the last axis.

    Some rows of the test logits are near 1000 or span 1000, where an exp()
    shifted by less than the row's maximum overflows, and one shifted by the whole
    tensor's maximum underflows to 0 in the rows far below it (0 / 0 = NaN).
    """
    return SOFTMAX.check(function)


def _temperature_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(4, 6, generator=generator) * 2  # (4, 6)
    other = torch.randn(3, 9, generator=generator) * 2  # (3, 9)
    sharp = torch.randn(2, 5, generator=generator) * 20  # / 0.1: exponents up to ~1000
    return [
        Case((logits, 0.5), "logits (4, 6) and T = 0.5"),
        Case((logits, 2.0), "logits (4, 6) and T = 2.0"),
        Case((other, 1.5), "logits (3, 9) and T = 1.5"),
        Case((sharp, 0.1), "logits (2, 5) of size ~40 and T = 0.1"),
    ]


TEMPERATURE_MISTAKES = [
    Mistake(
        "temperature multiplied",
        "divide the logits by T: a small T must sharpen the distribution",
        lambda logits, t: softmax(logits * t),
    ),
    Mistake(
        "temperature ignored",
        "use T: softmax(x / T)",
        lambda logits, t: softmax(logits),
    ),
    Mistake(
        "temperature applied after softmax",
        "divide the logits by T *before* the softmax; dividing the probabilities "
        "breaks the sum to 1",
        lambda logits, t: softmax(logits) / t,
    ),
    Mistake(
        "softmax over the wrong axis",
        "each row must sum to 1: softmax over dim=-1",
        lambda logits, t: softmax(logits / t, dim=0),
    ),
    Mistake(
        "no softmax",
        "logits / T are scores, not probabilities: apply softmax over dim=-1 to them",
        lambda logits, t: logits / t,
    ),
    Mistake(
        "no max-subtraction (overflow)",
        "with a small T, logits / T can reach 1000 and exp overflows; subtract each row's "
        "maximum of logits / T before exp, or call torch.softmax",
        lambda logits, t: naive_softmax(logits / t),
    ),
    Mistake(
        "subtracted the global maximum, not each row's (underflow)",
        "(logits / T).max() is the largest value of the whole tensor: with a small T, a row "
        "whose values all lie far below it (more than about 100 in float32) has every exp() "
        "underflow to 0, and the row becomes 0 / 0 = NaN. That is underflow, not overflow; "
        "subtract each row's own maximum of logits / T, .amax(dim=-1, keepdim=True)",
        lambda logits, t: _subtract(lambda scaled: scaled.amax())(logits / t),
    ),
]

TEMPERATURE_SOFTMAX = Exercise(
    name="check_temperature_softmax",
    parameters=("logits", "temperature"),
    cases=_temperature_cases,
    solution=lambda logits, t: softmax(logits, temperature=t),
    mistakes=TEMPERATURE_MISTAKES,
    success="right for T = 0.1, 0.5, 1.5 and 2: small T sharpens, large T flattens.",
)


def check_temperature_softmax(
    function: Callable[[torch.Tensor, float], torch.Tensor],
) -> CheckResult:
    """Check ``function(logits (rows, n), temperature) -> softmax(logits / T)`` for several T."""
    return TEMPERATURE_SOFTMAX.check(function)


def _sharpen_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(5)
    probabilities = softmax(torch.randn(4, 6, generator=generator) * 2)  # (4, 6), rows sum to 1
    other = softmax(torch.randn(3, 9, generator=generator) * 3)  # (3, 9)
    return [
        Case((probabilities, 0.5), "probabilities (4, 6) and T = 0.5"),
        Case((probabilities, 2.0), "probabilities (4, 6) and T = 2.0"),
        Case((other, 0.25), "probabilities (3, 9) and T = 0.25"),
    ]


def _renormalised(values: torch.Tensor) -> torch.Tensor:
    return values / values.sum(dim=-1, keepdim=True)


SHARPEN_MISTAKES = [
    Mistake(
        "raised to the power T, not 1/T",
        "softmax(z / T) is proportional to exp(z)^(1/T), and p is proportional to exp(z): raise "
        "p to 1/T (or take softmax(log p / T)); p^T flattens where a small T must sharpen",
        lambda p, t: _renormalised(p**t),
    ),
    Mistake(
        "the probabilities used as logits",
        "softmax(p / T) treats the probabilities as logits; the logits are log p (up to a "
        "constant that cancels), so take softmax(log(p) / T)",
        lambda p, t: softmax(p / t),
    ),
    Mistake(
        "not renormalised",
        "p^(1/T) no longer sums to 1; divide each row by its sum",
        lambda p, t: p ** (1 / t),
    ),
    Mistake(
        "temperature ignored",
        "the distribution at T = 1 is p itself; at another T, raise p to 1/T and renormalise",
        lambda p, t: p,
    ),
    Mistake(
        "log without the softmax",
        "log(p) / T are the scaled logits, not probabilities: apply softmax over dim=-1 to them",
        lambda p, t: torch.log(p) / t,
    ),
]

SHARPEN = Exercise(
    name="check_sharpen",
    parameters=("probabilities", "temperature"),
    cases=_sharpen_cases,
    solution=lambda p, t: softmax(torch.log(p) / t),
    mistakes=SHARPEN_MISTAKES,
    success="right for T = 0.25, 0.5 and 2: the same distribution as softmax(logits / T).",
)


def check_sharpen(function: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Check ``function(probabilities (rows, n), T)``: the distribution at temperature T.

    Given only the probabilities ``p = softmax(z)``, the answer is ``softmax(z / T)``,
    which is ``softmax(log(p) / T)`` = ``p^(1/T)`` renormalised.
    """
    return SHARPEN.check(function)
