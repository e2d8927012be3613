"""The checker mechanism shared by every chapter's exercises.

A checker calls the reader's function on fresh random inputs, compares the
answer with the package's reference, and, when it is wrong, compares it with
known mistakes so that it can *name* the mistake instead of saying "wrong".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CheckResult:
    """What a checker found: ``passed`` and a message for the reader."""

    passed: bool
    message: str

    def __str__(self) -> str:
        verdict = "✅ Correct:" if self.passed else "❌ Not yet:"
        return f"{verdict} {self.message}"

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: how to compute it, and what to tell the reader."""

    name: str
    hint: str
    compute: Callable[..., torch.Tensor]


def call_reader(function: Callable[..., object], *args: object) -> torch.Tensor | CheckResult:
    """Call the reader's function; turn a crash or a non-tensor into a CheckResult.

    Tensors are passed as copies, so a function that changes its inputs in
    place cannot change the checker's own.
    """
    copies = [arg.clone() if isinstance(arg, torch.Tensor) else arg for arg in args]
    try:
        answer = function(*copies)
    except Exception as error:  # the reader's code may raise anything
        return CheckResult(False, f"your function raised {type(error).__name__}: {error}")
    if answer is None:
        return CheckResult(False, "your function returned None: did you forget `return`?")
    if not isinstance(answer, torch.Tensor):
        return CheckResult(False, f"expected a torch.Tensor, got {type(answer).__name__}")
    return answer


def diagnose(
    answer: torch.Tensor,
    expected: torch.Tensor,
    mistakes: Sequence[Mistake],
    args: tuple[torch.Tensor, ...],
    success: str,
    atol: float = 1e-5,
) -> CheckResult:
    """Compare ``answer`` with ``expected``, then with each known mistake."""
    if answer.shape != expected.shape:
        for mistake in mistakes:
            wrong = mistake.compute(*args)
            if wrong.shape == answer.shape and torch.allclose(answer, wrong, atol=atol):
                return CheckResult(False, f"{mistake.name}: {mistake.hint}")
        return CheckResult(
            False, f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}"
        )
    if torch.allclose(answer, expected, atol=atol):
        return CheckResult(True, success)
    for mistake in mistakes:
        wrong = mistake.compute(*args)
        if wrong.shape == answer.shape and torch.allclose(answer, wrong, atol=atol):
            return CheckResult(False, f"{mistake.name}: {mistake.hint}")
    error = float((answer - expected).abs().max())
    return CheckResult(
        False, f"the values differ from the reference by up to {error:.3g}; compare step by step"
    )


def check_against(
    function: Callable[..., object],
    args: tuple[object, ...],
    expected: torch.Tensor,
    mistakes: Sequence[Mistake],
    success: str,
    atol: float = 1e-5,
) -> CheckResult:
    """Call the reader's function on ``args``; compare with ``expected``, naming known mistakes."""
    answer = call_reader(function, *args)
    if isinstance(answer, CheckResult):
        return answer
    return diagnose(answer, expected, mistakes, args, success, atol)
