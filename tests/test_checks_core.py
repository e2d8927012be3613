"""The checker mechanism itself: conversion, tolerance, crash reports, mistake matching."""

import numpy as np
import pytest
import torch

from lessons_lib.checks.core import (
    AnswerError,
    Case,
    CheckResult,
    Exercise,
    Mistake,
    as_count,
    as_tensor,
    close,
    tolerance,
)


def doubling_exercise(mistakes=(), calls=None):
    """A tiny exercise, 2 * x, on two cases; ``calls`` records who ran when."""

    def solution(x):
        if calls is not None:
            calls.append("reference")
        return 2 * x

    def cases():
        return [
            Case((torch.tensor([1.0, 2.0]),), "x = [1, 2]"),
            Case((torch.tensor([0.0, 3.0, -1.0]),), "x = [0, 3, -1]"),
        ]

    return Exercise("check_double", ("x",), cases, solution, list(mistakes), "doubled.")


def test_check_results_print_their_verdict():
    assert str(CheckResult(True, "fine.")) == "✅ Correct: fine."
    assert repr(CheckResult(False, "no.")) == "❌ Not yet: no."
    assert CheckResult(False, "no.")._repr_markdown_() == "❌ Not yet: no."


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.float64, 1e-4),
        (torch.float32, 1e-4),
        (torch.float16, 1e-2),
        (torch.bfloat16, 4e-2),
        (torch.int64, 0.0),
        (torch.bool, 0.0),
    ],
)
def test_the_tolerance_suits_the_dtype(dtype, expected):
    assert tolerance(dtype) == expected


def test_close_compares_in_float64_relative_to_the_scale():
    reference = torch.tensor([1000.0, 2000.0], dtype=torch.float64)
    assert close(reference.half(), reference, tolerance(torch.float16))
    assert close(torch.tensor([1000.1, 2000.0]), reference, tolerance(torch.float32))
    assert not close(torch.tensor([1000.5, 2000.0]), reference, tolerance(torch.float32))
    assert not close(torch.tensor([1001, 2000]), reference, tolerance(torch.int64))
    assert not close(torch.ones(2, 1), torch.ones(2), 1.0)  # shapes must agree
    nan = torch.tensor([float("nan"), float("-inf")])
    assert close(nan, nan.clone(), 0.0)


def test_answers_become_tensors_from_numpy_and_torch():
    assert torch.equal(as_tensor(np.array([1, 2])), torch.tensor([1, 2]))
    assert as_tensor(np.float32(2.5)).item() == 2.5
    grad = torch.ones(2, requires_grad=True) * 2
    assert not as_tensor(grad).requires_grad
    with pytest.raises(AnswerError, match="returned None"):
        as_tensor(None)
    with pytest.raises(AnswerError, match=r"expected a torch\.Tensor, got list"):
        as_tensor([1.0])
    with pytest.raises(AnswerError, match="numpy array of dtype object"):
        as_tensor(np.array([None]))
    with pytest.raises(AnswerError, match="expected real numbers"):
        as_tensor(torch.ones(2, dtype=torch.complex64))


@pytest.mark.parametrize(
    "answer", [6440, np.int64(6440), np.int32(6440), torch.tensor(6440), 6440.0, np.float64(6440)]
)
def test_a_count_can_be_any_kind_of_number(answer):
    assert as_count(answer).item() == 6440


def test_a_count_keeps_its_fraction_and_refuses_other_things():
    assert as_count(6440.4).item() == 6440.4  # float64: the fraction is not rounded away
    with pytest.raises(AnswerError, match="expected a number, got bool"):
        as_count(True)
    with pytest.raises(AnswerError, match=r"single number, got a tensor of shape \(2,\)"):
        as_count(torch.ones(2))
    with pytest.raises(AnswerError, match="expected a number, got str"):
        as_count("6440")


def test_the_reference_is_computed_before_the_readers_code_runs():
    calls = []

    def reader(x):
        calls.append("reader")
        return 2 * x

    assert doubling_exercise(calls=calls).check(reader).passed
    assert calls == ["reference", "reference", "reader", "reader"]


def test_a_mistake_is_named_only_if_it_explains_every_case():
    plus_one = Mistake("added one", "multiply, do not add", lambda x: x + 1)  # 2x = x+1 at x = 1
    exercise = doubling_exercise([plus_one])
    assert exercise.check(lambda x: x + 1).message.startswith("added one:")
    only_first = exercise.check(lambda x: x + 1 if x.numel() == 2 else -x)
    assert not only_first.passed
    assert only_first.message.startswith("with x = [1, 2]: the values differ")


def test_a_mistake_that_raises_matches_a_reader_that_raises_on_the_same_case():
    def strict(x):
        if x.numel() == 3:
            raise RuntimeError("three")
        return 3 * x

    mistake = Mistake("tripled", "double instead", strict)
    exercise = doubling_exercise([mistake])
    assert exercise.check(strict).message.startswith("tripled:")
    assert exercise.check(lambda x: 3 * x).message.startswith("with x = [1, 2]: the values")


def test_a_crash_in_a_notebook_cell_names_the_line_of_the_cell():
    cell = "def reader(x):\n    y = 2 * x\n    return y / undefined_name\n"
    namespace = {}
    exec(compile(cell, "/tmp/ipykernel_4242/1234567.py", "exec"), namespace)
    result = doubling_exercise().check(namespace["reader"])
    assert result.message == (
        "with x = [1, 2]: your function raised NameError: name 'undefined_name' is not "
        "defined (line 3 of your cell)"
    )


def test_a_crash_inside_torch_names_the_readers_line_not_torchs():
    def reader(x):
        return torch.nn.functional.layer_norm(x, (5,))

    message = doubling_exercise().check(reader).message
    assert message.startswith("with x = [1, 2]: your function raised RuntimeError:")
    assert message.endswith(
        "of test_checks_core.py: `return torch.nn.functional.layer_norm(x, (5,))`)"
    )


def test_a_crash_of_the_reference_is_not_blamed_on_the_reader():
    def broken(x):
        raise KeyError("ours")

    exercise = Exercise("check_broken", ("x",), lambda: [Case((1,), "x = 1")], broken, [], "")
    result = exercise.check(lambda x: x)
    assert not result.passed
    assert result.message == "the checker itself failed (KeyError('ours')); please report it"


def test_the_readers_argument_changes_are_noted_and_ignored():
    def in_place(x):
        return x.mul_(2)

    result = doubling_exercise().check(in_place)
    assert result.passed
    assert result.message == (
        "doubled. (Note: your function changed `x` in place; the checker gave it a copy.)"
    )
