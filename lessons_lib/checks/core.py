"""The one checker mechanism that every chapter's exercises use.

An :class:`Exercise` knows the reader's task: the inputs to try (several
:class:`Case` s, of other sizes than the chapter's example, chosen so that the
usual wrong answers show), the right answer, and the known :class:`Mistake` s.
``Exercise.check(function)`` then

1. computes the reference for every case *before* the reader's code runs, on
   deep copies of the inputs (tensors and models), in float64 where it can;
2. calls the reader's function on other deep copies, so that a function that
   changes its inputs or the model in place cannot change the reference;
3. turns whatever came back (a tensor, a numpy array, a number) into float64
   and compares it with a tolerance that suits the answer's dtype;
4. when it is wrong, :func:`match_mistake` names the mistake whose answer
   agrees with the reader's on *every* case, or the first case that differs
   is described (a crash with its line, None, a wrong type or shape, NaN, or
   how far the values are off).

A checker never raises into the notebook and always returns a
:class:`CheckResult`.

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
import re
import sysconfig
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn


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

# Smallest tolerance by the answer's dtype, relative to the reference's scale.
# float64 and float32 answers get float32's: the inputs are float32, so even an
# answer in float64 may carry float32 rounding from an earlier step.
TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 4e-2}
FLOAT_TOLERANCE = 1e-4


def tolerance(dtype: torch.dtype) -> float:
    """The comparison tolerance for an answer of ``dtype``: 0 (exact) for integers and bools.

    >>> tolerance(torch.float16), tolerance(torch.int64)
    (0.01, 0.0)
    """
    if not dtype.is_floating_point:
        return 0.0
    return TOLERANCE.get(dtype, FLOAT_TOLERANCE)


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


# --- turning what the reader returned into a float64 tensor ---------------------------


class AnswerError(Exception):
    """An answer that cannot be compared; its message is for the reader."""


def as_tensor(answer: object) -> torch.Tensor:
    """A torch tensor or numpy array (or scalar) -> a detached CPU tensor; else AnswerError."""
    if answer is None:
        raise AnswerError("your function returned None: did you forget `return`?")
    if isinstance(answer, (np.ndarray, np.generic)):
        if answer.dtype.kind not in "biuf":
            raise AnswerError(
                f"expected a tensor of numbers, got a numpy array of dtype {answer.dtype}"
            )
        return torch.from_numpy(np.array(answer))
    if not isinstance(answer, torch.Tensor):
        raise AnswerError(f"expected a torch.Tensor, got {type(answer).__name__}")
    if answer.is_complex():
        raise AnswerError(f"expected real numbers, got dtype {answer.dtype}")
    return answer.detach().cpu()


def as_count(answer: object) -> torch.Tensor:
    """A number (int, numpy integer, float, 0-d tensor) -> a 0-d tensor; else AnswerError."""
    if answer is None:
        raise AnswerError("your function returned None: did you forget `return`?")
    if isinstance(answer, (torch.Tensor, np.ndarray, np.generic)):
        value = as_tensor(answer)
        if value.dim() != 0:
            shape = tuple(value.shape)
            raise AnswerError(f"expected a single number, got a tensor of shape {shape}")
        if value.dtype == torch.bool:
            raise AnswerError("expected a number, got a bool")
        return value
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise AnswerError(f"expected a number, got {type(answer).__name__}")
    return torch.tensor(answer, dtype=torch.int64 if isinstance(answer, int) else torch.float64)


def _format_number(value: torch.Tensor) -> str:
    number = value.item()
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return f"{number:,}"


# --- calling the reader's function ----------------------------------------------------

_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parents[1])}
)


def _is_readers_file(filename: str) -> bool:
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return not path.startswith(_LIBRARY_DIRS)


def where_it_raised(error: BaseException) -> str:
    """ " (line N of your cell: `code`)" for the deepest frame of the reader's own code, or ""."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if _is_readers_file(frame.filename) and frame.filename != __file__
    ]
    if not frames:
        return ""
    frame = frames[-1]
    in_cell = re.search(r"ipykernel_|<ipython-input-", frame.filename)
    place = "your cell" if in_cell else Path(frame.filename).name
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (line {frame.lineno} of {place}{code})"


def call_reader(function: Callable[..., object], args: tuple[object, ...]) -> object:
    """Call the reader's function; a crash becomes an :class:`AnswerError` naming its line."""
    try:
        return function(*args)
    except Exception as error:  # the reader's code may raise anything
        first_line = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        said = f": {first_line}" if first_line else ""
        raise AnswerError(
            f"your function raised {type(error).__name__}{said}{where_it_raised(error)}"
        ) from None


def _changed(before: object, after: object) -> bool:
    """Whether the reader's copy of an argument differs from the checker's own afterwards."""
    if isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor):
        return before.shape != after.shape or not torch.equal(before, after)
    if isinstance(before, nn.Module) and isinstance(after, nn.Module):
        ours, theirs = before.state_dict(), after.state_dict()
        return ours.keys() != theirs.keys() or any(_changed(ours[key], theirs[key]) for key in ours)
    return False


# --- comparing ------------------------------------------------------------------------


def close(answer: torch.Tensor, expected: torch.Tensor, tol: float) -> bool:
    """Same shape and equal within ``tol`` relative to the scale (NaN equals NaN, inf inf).

    Both are compared in float64, whatever their dtypes.

    >>> close(torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), tolerance(torch.float32))
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
    raw: object = None
    problem: str | None = None
    raised: bool = False
    note: str = ""


def match_mistake(
    outcomes: Sequence[_Outcome],
    mistakes: Sequence[Mistake],
    pristine: Sequence[tuple[object, ...]],
    convert: Callable[[object], torch.Tensor],
    tol: Callable[[torch.Tensor], float],
) -> Mistake | None:
    """The first mistake that agrees with the reader's function on every case, if any.

    Agreeing means: both raised, or both gave answers equal within the
    answer's tolerance (NaN matching NaN, so overflows match). A mistake must
    explain every case, so a slip that happens to coincide with another one
    on one input is not misnamed.
    """
    for mistake in mistakes:
        for outcome, args in zip(outcomes, pristine, strict=True):
            try:
                wrong = convert(mistake.compute(*deep_copy(args)))
            except Exception:  # a mistake may fail where the reader's code fails too
                if outcome.raised:
                    continue
                break
            if outcome.answer is None or not close(outcome.answer, wrong, tol(outcome.answer)):
                break
        else:
            return mistake
    return None


def _describe(outcome: _Outcome, kind: AnswerKind) -> str:
    """Why the reader's answer on this case is wrong, when no known mistake explains it."""
    answer, expected = outcome.answer, outcome.expected
    if kind == "count" and outcome.problem is None:
        label = outcome.case.label
        return f"expected {_format_number(expected)} for {label}, got {_format_number(answer)}"
    return f"with {outcome.case.label}: {_what_is_wrong(outcome, kind)}"


def _what_is_wrong(outcome: _Outcome, kind: AnswerKind) -> str:
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
            "look for an exp() that overflows or a division by zero"
        )
    if kind == "bool mask" and close(answer, expected, 0.0):
        return (
            f"the pattern is right, but expected a bool tensor (True = may attend), got dtype "
            f"{answer.dtype}; compare with a condition or call .bool()"
        )
    error = float((answer.double() - expected.double()).abs().max())
    return f"the values differ from the reference by up to {error:.3g}; compare step by step"


@dataclass(frozen=True)
class Exercise:
    """An exercise: its inputs, its right answer and its known mistakes; ``check`` grades.

    ``cases`` builds fresh inputs at every check; the first case is the
    chapter's example. ``solution`` has the reader's signature and gives the
    right answer: with ``precise`` it runs on float64 copies of the inputs.
    ``kind`` says what the reader returns: a tensor, a bool mask (values and
    dtype), or a count (a number, compared exactly).
    """

    name: str
    parameters: tuple[str, ...]
    cases: Callable[[], Sequence[Case]]
    solution: Callable[..., object]
    mistakes: Sequence[Mistake]
    success: str
    kind: AnswerKind = "tensor"
    precise: bool = True

    def _convert(self, answer: object) -> torch.Tensor:
        return as_count(answer) if self.kind == "count" else as_tensor(answer)

    def _reference(self, args: tuple[object, ...]) -> torch.Tensor:
        with torch.no_grad():
            inputs = in_float64(args) if self.precise else deep_copy(args)
            return self._convert(self.solution(*inputs))

    def _run(self, function: Callable[..., object], case: Case, expected: torch.Tensor) -> _Outcome:
        outcome = _Outcome(case, expected)
        pristine = deep_copy(case.args)
        given = deep_copy(case.args)
        try:
            outcome.raw = call_reader(function, given)
        except AnswerError as problem:
            outcome.problem, outcome.raised = str(problem), True
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
        try:
            outcome.answer = self._convert(outcome.raw)
        except AnswerError as problem:
            outcome.problem = str(problem)
        return outcome

    def _tolerance(self, answer: torch.Tensor) -> float:
        return 0.0 if self.kind == "count" else tolerance(answer.dtype)

    def _right(self, outcome: _Outcome) -> bool:
        answer = outcome.answer
        if answer is None or not close(answer, outcome.expected, self._tolerance(answer)):
            return False
        return self.kind != "bool mask" or outcome.answer.dtype == torch.bool

    def check(self, function: Callable[..., object]) -> CheckResult:
        """Run ``function`` on every case and grade it; never raises."""
        if not callable(function):
            return CheckResult(False, f"expected a function, got {type(function).__name__}")
        cases = list(self.cases())
        try:
            references = [self._reference(case.args) for case in cases]  # before the reader's code
        except Exception as error:  # a bug of ours must not look like the reader's
            return CheckResult(False, f"the checker itself failed ({error!r}); please report it")
        pristine = [deep_copy(case.args) for case in cases]
        outcomes = [
            self._run(function, case, expected)
            for case, expected in zip(cases, references, strict=True)
        ]
        note = next((outcome.note for outcome in outcomes if outcome.note), "")
        if all(self._right(outcome) for outcome in outcomes):
            return CheckResult(True, self.success + note)
        mistake = match_mistake(outcomes, self.mistakes, pristine, self._convert, self._tolerance)
        if mistake is not None:
            return CheckResult(False, f"{mistake.name}: {mistake.hint}{note}")
        first_wrong = next(outcome for outcome in outcomes if not self._right(outcome))
        return CheckResult(False, _describe(first_wrong, self.kind) + note)
