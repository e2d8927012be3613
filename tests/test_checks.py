"""Every checker, through the one registry: the right answer passes, each known mistake is
named, and anything else gets a message, never an exception."""

import inspect

import pytest
import torch

import lessons_lib.checks as checks
from lessons_lib.checks import EXERCISES

NAMES = sorted(EXERCISES)


def mistake_params():
    return [
        pytest.param(name, mistake, id=f"{name}-{mistake.name}")
        for name in NAMES
        for mistake in EXERCISES[name].mistakes
    ]


def test_the_registry_holds_every_public_checker():
    public = {name for name in checks.__all__ if name.startswith("check_")}
    assert set(EXERCISES) == public
    assert len(EXERCISES) == 28


@pytest.mark.parametrize("name", NAMES)
def test_the_right_answer_passes(name):
    result = getattr(checks, name)(EXERCISES[name].solution)
    assert isinstance(result, checks.CheckResult)
    assert result.passed, result.message
    assert result.message == EXERCISES[name].success
    assert str(result).startswith("✅ Correct:")


@pytest.mark.parametrize(("name", "mistake"), mistake_params())
def test_each_known_mistake_is_named(name, mistake):
    result = getattr(checks, name)(mistake.compute)
    assert not result.passed
    assert result.message == f"{mistake.name}: {mistake.hint}"
    assert str(result).startswith("❌ Not yet:")


@pytest.mark.parametrize("name", NAMES)
def test_mistake_names_are_unique_and_every_exercise_has_several(name):
    names = [mistake.name for mistake in EXERCISES[name].mistakes]
    assert len(names) == len(set(names)) >= 3


def slightly_off(name):
    solution = EXERCISES[name].solution
    if EXERCISES[name].kind == "count":
        return lambda *args: solution(*args) + 1
    return lambda *args: torch.as_tensor(solution(*args)).double() * 1.5 + 0.1


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_wrong_answer_gets_a_measured_message(name):
    exercise = EXERCISES[name]
    result = exercise.check(slightly_off(name))
    assert not result.passed
    first_case = exercise.cases()[0]
    if exercise.kind == "count":
        expected = exercise.solution(*first_case.args)
        assert result.message == (
            f"expected {expected:,} for {first_case.label}, got {expected + 1:,}"
        )
    else:
        assert result.message.startswith(f"with {first_case.label}: the values differ")
        assert "compare step by step" in result.message


def raises_value_error(*args):
    raise ValueError("no luck")


RAISE_LINE = inspect.getsourcelines(raises_value_error)[1] + 1


@pytest.mark.parametrize("name", NAMES)
def test_a_function_that_raises_gets_a_message_with_its_line(name):
    result = getattr(checks, name)(raises_value_error)
    assert not result.passed
    label = EXERCISES[name].cases()[0].label
    assert result.message == (
        f"with {label}: your function raised ValueError: no luck "
        f'(line {RAISE_LINE} of test_checks.py: `raise ValueError("no luck")`)'
    )


@pytest.mark.parametrize("name", NAMES)
def test_none_gets_a_message(name):
    result = getattr(checks, name)(lambda *args: None)
    assert not result.passed
    assert "your function returned None: did you forget `return`?" in result.message


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_type_gets_a_message(name):
    result = getattr(checks, name)(lambda *args: "an answer")
    assert not result.passed
    wanted = "a number" if EXERCISES[name].kind == "count" else "a torch.Tensor"
    assert f"expected {wanted}, got str" in result.message


@pytest.mark.parametrize("name", [n for n in NAMES if EXERCISES[n].kind != "count"])
def test_a_wrong_shape_gets_a_message_naming_both_shapes(name):
    exercise = EXERCISES[name]
    result = exercise.check(lambda *args: torch.as_tensor(exercise.solution(*args))[None])
    assert not result.passed
    case = exercise.cases()[0]
    shape = tuple(torch.as_tensor(exercise.solution(*case.args)).shape)
    assert f"with {case.label}: expected shape {shape}, got {(1, *shape)}" in result.message


def test_a_checker_given_something_not_callable_says_so():
    result = checks.check_softmax(torch.ones(3))
    assert not result.passed and result.message == "expected a function, got Tensor"
