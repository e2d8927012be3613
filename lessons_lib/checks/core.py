"""The one checker mechanism that every chapter's exercises use.

An :class:`Exercise` knows the reader's task: the inputs to try (several
:class:`Case` s, of other sizes than the chapter's example, chosen so that the
usual wrong answers show), the right answer, and the known :class:`Mistake` s.
``Exercise.check(function)`` then

1. computes the reference for every case *before* the reader's code runs, on
   deep copies of the inputs (tensors and models), in float64 where it can;
2. calls the reader's function on other deep copies, so that a function that
   changes its inputs or the model in place cannot change the reference, and
   stops it after :data:`TIME_LIMIT` seconds on one case (``checks.running``);
3. turns whatever came back (a tensor, a numpy array, a number) into a plain
   CPU tensor (``checks.answers``) and compares it in float64 with a tolerance that comes from the
   reference and the exercise, never from the answer's dtype: a float32
   exercise allows 1e-4 of the values' scale, so an answer cast to bfloat16
   that loses more than that fails, and is told so;
4. when it is wrong, :func:`match_mistake` names the mistake whose answer
   agrees with the reader's on *every* case, or the first case that differs
   is described (a crash with its line, a time-out, None, a wrong type or
   shape, NaN, a low-precision dtype, or how far the values are off).

A checker never raises into the notebook (only the reader's own
KeyboardInterrupt goes through), always returns a :class:`CheckResult`, and
leaves the global random generators of torch, numpy and ``random`` as it found
them, whatever the reader's function does to them.

>>> def double(x):
...     return 2 * x
>>> exercise = Exercise(
...     "check_double", ("x",), lambda: [Case((torch.ones(2),), "x = [1, 1]")],
...     double, [Mistake("not doubled", "multiply by 2", lambda x: x)], "doubled.")
>>> exercise.check(lambda x: x)
❌ Not yet: not doubled: multiply by 2
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lessons_lib.checks.answers import (
    AnswerError,
    as_count,
    as_tensor,
    dtype_name,
    format_number,
    low_precision,
)
from lessons_lib.checks.running import (
    PASSED_THROUGH,
    ReaderRaisedError,
    TimeLimitError,
    call_reader,
    call_within,
    crash_summary,
    global_state_kept,
    positive_seconds,
    where_it_raised,
)
from lessons_lib.language import translate

__all__ = [
    "FLOAT_TOLERANCE",
    "TIME_LIMIT",
    "AnswerError",
    "Case",
    "CheckResult",
    "Exercise",
    "Mistake",
    "as_count",
    "as_tensor",
    "call_reader",
    "call_within",
    "close",
    "deep_copy",
    "global_state_kept",
    "in_float64",
    "inputs_dtype",
    "match_mistake",
    "where_it_raised",
]

TIME_LIMIT = 10.0
"""Seconds the reader's function may take on one input before the checker stops it."""

FLOAT_TOLERANCE = 1e-4
"""The default tolerance of a floating reference, relative to its scale: what float32 work
keeps (the inputs are float32; the reference is computed in float64)."""


@dataclass(frozen=True)
class CheckResult:
    """What a checker found: ``passed`` and a message for the reader."""

    passed: bool
    message: str

    def __str__(self) -> str:
        verdict = translate("✅ Correct:" if self.passed else "❌ Not yet:")  # set_language's
        return f"{verdict} {self.message}"

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: its name, a hint, and the wrong answer itself.

    ``compute`` takes the same arguments as the reader's function and returns
    what the mistaken function would, so it doubles as a wrong answer in tests.
    """

    name: str
    hint: str
    compute: Callable[..., object]


@dataclass(frozen=True)
class Case:
    """One input the checker tries: the arguments, and how to name them in a message."""

    args: tuple[object, ...]
    label: str


AnswerKind = Literal["tensor", "bool mask", "count"]


def deep_copy(args: tuple[object, ...]) -> tuple[object, ...]:
    """Independent copies of tensors, models and anything else in ``args``."""
    return copy.deepcopy(args)


def in_float64(args: tuple[object, ...]) -> tuple[object, ...]:
    """Deep copies of ``args`` with floating tensors and models in float64 (ints unchanged)."""
    copies = []
    for arg in deep_copy(args):
        if isinstance(arg, torch.Tensor) and arg.is_floating_point():
            arg = arg.double()
        elif isinstance(arg, nn.Module):
            arg = arg.double()
        copies.append(arg)
    return tuple(copies)


def inputs_dtype(args: tuple[object, ...]) -> torch.dtype:
    """The floating dtype of the first float tensor or model in ``args`` (float32 if none).

    >>> inputs_dtype((3, torch.ones(2, dtype=torch.float64)))
    torch.float64
    """
    for arg in args:
        tensors = arg.parameters() if isinstance(arg, nn.Module) else [arg]
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
                return tensor.dtype
    return torch.float32


def _changed(before: object, after: object) -> bool:
    """Whether the reader's copy of an argument differs from the checker's own afterwards."""
    try:
        if isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor):
            return before.shape != after.shape or not torch.equal(before, after)
        if isinstance(before, nn.Module) and isinstance(after, nn.Module):
            ours, theirs = before.state_dict(), after.state_dict()
            return ours.keys() != theirs.keys() or any(
                _changed(ours[key], theirs[key]) for key in ours
            )
    except Exception:  # an argument changed beyond comparing (another device, a subclass...)
        return True
    return False


# --- comparing ------------------------------------------------------------------------


def close(answer: torch.Tensor, expected: torch.Tensor, tol: float) -> bool:
    """Same shape and equal within ``tol`` relative to the scale (NaN equals NaN, inf inf).

    Both are compared in float64, whatever their dtypes; ``tol`` is the
    reference's, so a low-precision answer gets no more slack.

    >>> close(torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), FLOAT_TOLERANCE)
    True
    """
    if answer.shape != expected.shape:
        return False
    answer, expected = answer.double(), expected.double()
    finite = expected[torch.isfinite(expected)]
    scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
    return bool(torch.allclose(answer, expected, rtol=tol, atol=tol * scale, equal_nan=True))


@dataclass
class _Outcome:
    """What the reader's function did on one case: an answer, or a problem to report."""

    case: Case
    expected: torch.Tensor
    answer: torch.Tensor | None = None
    problem: str | None = None
    raised: bool = False
    timed_out: bool = False
    note: str = ""


def match_mistake(
    outcomes: Sequence[_Outcome],
    mistakes: Sequence[Mistake],
    pristine: Sequence[tuple[object, ...]],
    convert: Callable[[object], torch.Tensor],
    tol: Callable[[torch.Tensor], float],
) -> Mistake | None:
    """The first mistake that agrees with the reader's function on every case, if any.

    Agreeing means: both raised the same error with the same message, or both gave
    answers equal within the case's
    tolerance, ``tol(reference)`` (NaN matching NaN, so overflows match). A
    mistake must explain every case, so a slip that happens to coincide with
    another one on one input is not misnamed.
    """
    if any(outcome.answer is None and not outcome.raised for outcome in outcomes):
        return None  # a time-out or an answer of the wrong type: no mistake gives that
    for mistake in mistakes:
        for outcome, args in zip(outcomes, pristine, strict=True):
            try:
                wrong = convert(mistake.compute(*deep_copy(args)))
            except Exception as error:  # a mistake may fail where the reader's code fails too
                if outcome.raised and (outcome.problem or "").startswith(crash_summary(error)):
                    continue  # the same error with the same message: the same slip
                break
            if outcome.answer is None or not close(outcome.answer, wrong, tol(outcome.expected)):
                break
        else:
            return mistake
    return None


def _describe(outcome: _Outcome, kind: AnswerKind, tol: float) -> str:
    """Why the reader's answer on this case is wrong, when no known mistake explains it."""
    answer, expected = outcome.answer, outcome.expected
    if kind == "count" and outcome.problem is None:
        label = outcome.case.label
        return f"expected {format_number(expected)} for {label}, got {format_number(answer)}"
    return f"with {outcome.case.label}: {_what_is_wrong(outcome, kind, tol)}"


def _precision_lost(outcome: _Outcome, error: float, tol: float) -> str | None:
    """The message for an answer in float16/bfloat16 that is off by about its rounding.

    Only where the reference is floating (``tol`` > 0): token ids and masks are
    compared exactly, and their dtype is not the inputs' float dtype.
    """
    dtype = outcome.answer.dtype
    if tol == 0 or not low_precision(dtype):
        return None
    name, wanted = dtype_name(dtype), dtype_name(inputs_dtype(outcome.case.args))
    eps = torch.finfo(dtype).eps
    if not close(outcome.answer, outcome.expected, max(tol, 8 * eps)):
        return (
            f"the values differ from the reference by up to {error:.3g}; compare step by step "
            f"(your answer is also in {name}: return it in {wanted}, the inputs' dtype)"
        )
    digits = max(1, int(-math.log10(eps)))
    plural = "s" if digits > 1 else ""
    return (
        f"your answer came back in {name}, which keeps only about {digits} significant "
        f"digit{plural}: it is off by up to {error:.3g}, more than this check allows "
        f"({tol:g} of the values' scale); compute and return it in {wanted}, the inputs' dtype"
    )


def _what_is_wrong(outcome: _Outcome, kind: AnswerKind, tol: float) -> str:
    if outcome.problem is not None:
        return outcome.problem
    answer, expected = outcome.answer, outcome.expected
    if answer.shape != expected.shape:
        return (
            f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}; "
            "does your function use the sizes it is given?"
        )
    if not torch.isfinite(answer).all():
        return (
            "your answer holds NaN or inf although every input is finite: "
            "look for an exp() that overflows to inf, exp()s that all underflow to 0 and are "
            "then divided by their sum (0 / 0), or another division by zero"
        )
    if kind == "bool mask" and close(answer, expected, 0.0):
        return (
            f"the pattern is right, but expected a bool tensor (True = may attend), got dtype "
            f"{answer.dtype}; compare with a condition or call .bool()"
        )
    error = float((answer.double() - expected.double()).abs().max())
    lost = _precision_lost(outcome, error, tol)
    if lost is not None:
        return lost
    return f"the values differ from the reference by up to {error:.3g}; compare step by step"


def _time_out_message(late: TimeLimitError) -> str:
    unit = "second" if late.seconds == 1 else "seconds"
    running = " (it still runs in the background: restart the kernel to stop it)"
    return (
        f"your function did not return within {late.seconds:g} {unit}: look for an endless "
        "loop, e.g. a `while` whose condition never becomes false"
        + (running if late.still_running else "")
    )


@dataclass(frozen=True)
class Exercise:
    """An exercise: its inputs, its right answer and its known mistakes; ``check`` grades.

    ``cases`` builds fresh inputs at every check; the first case is the
    chapter's example. ``solution`` has the reader's signature and gives the
    right answer: with ``precise`` it runs on float64 copies of the inputs.
    ``kind`` says what the reader returns: a tensor, a bool mask (values and
    dtype), or a count (a number, compared exactly). ``rtol`` is the tolerance
    of a floating reference, relative to its scale (integer and bool references
    are compared exactly).
    """

    name: str
    parameters: tuple[str, ...]
    cases: Callable[[], Sequence[Case]]
    solution: Callable[..., object]
    mistakes: Sequence[Mistake]
    success: str
    kind: AnswerKind = "tensor"
    precise: bool = True
    rtol: float = FLOAT_TOLERANCE

    def _convert(self, answer: object) -> torch.Tensor:
        return as_count(answer) if self.kind == "count" else as_tensor(answer)

    def _read(self, answer: object) -> torch.Tensor:
        """The reader's answer as a tensor; whatever goes wrong is an AnswerError."""
        try:
            return self._convert(answer)
        except (AnswerError, *PASSED_THROUGH):
            raise
        except BaseException as error:  # an object whose __float__, __array__, ... raises
            kind = "number" if self.kind == "count" else "tensor"
            raise AnswerError(
                f"expected a {kind}, got {type(answer).__name__}, which could not be read "
                f"({type(error).__name__})"
            ) from None

    def _reference(self, args: tuple[object, ...]) -> torch.Tensor:
        with torch.no_grad():
            inputs = in_float64(args) if self.precise else deep_copy(args)
            return self._convert(self.solution(*inputs))

    def _run(
        self, function: Callable[..., object], case: Case, expected: torch.Tensor, seconds: float
    ) -> _Outcome:
        outcome = _Outcome(case, expected)
        pristine = deep_copy(case.args)
        given = deep_copy(case.args)
        try:
            outcome.answer = call_within(lambda: self._read(call_reader(function, given)), seconds)
        except TimeLimitError as late:
            outcome.problem, outcome.timed_out = _time_out_message(late), True
            return outcome
        except AnswerError as problem:
            outcome.problem, outcome.raised = str(problem), isinstance(problem, ReaderRaisedError)
            if outcome.raised:
                return outcome
        changed = [
            name
            for name, before, after in zip(self.parameters, pristine, given, strict=True)
            if _changed(before, after)
        ]
        if changed:
            names = ", ".join(f"`{name}`" for name in changed)
            outcome.note = (
                f" (Note: your function changed {names} in place; the checker gave it a copy.)"
            )
        return outcome

    def _tolerance(self, expected: torch.Tensor) -> float:
        """The case's tolerance, from its reference: 0 (exact) for counts, ints and bools."""
        if self.kind == "count" or not expected.is_floating_point():
            return 0.0
        return self.rtol

    def _right(self, outcome: _Outcome) -> bool:
        answer = outcome.answer
        if answer is None or not close(answer, outcome.expected, self._tolerance(outcome.expected)):
            return False
        return self.kind != "bool mask" or answer.dtype == torch.bool

    def check(
        self, function: Callable[..., object], *, time_limit: float | None = None
    ) -> CheckResult:
        """Run ``function`` on every case and grade it; never raises into the notebook.

        ``function`` gets ``time_limit`` seconds per case (:data:`TIME_LIMIT`
        when None); after one time-out the other cases are not tried. The
        global random generators are the same afterwards as before.
        """
        seconds = positive_seconds(TIME_LIMIT if time_limit is None else time_limit, "time_limit")
        if not callable(function):
            return CheckResult(False, f"expected a function, got {type(function).__name__}")
        with global_state_kept():
            try:
                return self._grade(function, seconds)
            except Exception as error:  # a bug of ours must not look like the reader's
                message = f"the checker itself failed ({error!r}); please report it"
                return CheckResult(False, message)

    def _grade(self, function: Callable[..., object], seconds: float) -> CheckResult:
        cases = list(self.cases())
        references = [self._reference(case.args) for case in cases]  # before the reader's code
        pristine = [deep_copy(case.args) for case in cases]
        outcomes: list[_Outcome] = []
        for case, expected in zip(cases, references, strict=True):
            if any(outcome.timed_out for outcome in outcomes):  # it would run out of time again
                outcomes.append(_Outcome(case, expected, problem="not tried after a time-out"))
            else:
                outcomes.append(self._run(function, case, expected, seconds))
        note = next((outcome.note for outcome in outcomes if outcome.note), "")
        if all(self._right(outcome) for outcome in outcomes):
            return CheckResult(True, translate(self.success) + note)
        mistake = match_mistake(outcomes, self.mistakes, pristine, self._read, self._tolerance)
        if mistake is not None:  # in the language set_language chose, where the catalog has it
            return CheckResult(False, f"{translate(mistake.name)}: {translate(mistake.hint)}{note}")
        first_wrong = next(outcome for outcome in outcomes if not self._right(outcome))
        tol = self._tolerance(first_wrong.expected)
        return CheckResult(False, _describe(first_wrong, self.kind, tol) + note)
