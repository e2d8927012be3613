"""The checker mechanism itself: conversion, tolerance, crash reports, mistake matching."""

import inspect
import random
import signal
import threading
import time

import numpy as np
import pytest
import torch

from lessons_lib.checks import core
from lessons_lib.checks.answers import low_precision
from lessons_lib.checks.core import (
    FLOAT_TOLERANCE,
    AnswerError,
    Case,
    CheckResult,
    Exercise,
    Mistake,
    as_count,
    as_tensor,
    close,
    inputs_dtype,
)
from lessons_lib.checks.running import TimeLimitError, call_within


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
        (torch.float16, True),
        (torch.bfloat16, True),
        (torch.float8_e4m3fn, True),
        (torch.float32, False),
        (torch.float64, False),
        (torch.int64, False),
        (torch.bool, False),
    ],
)
def test_low_precision_means_fewer_digits_than_float32(dtype, expected):
    assert low_precision(dtype) is expected


def test_the_inputs_dtype_is_the_first_float_tensors_or_models():
    assert inputs_dtype((3, torch.ones(2, dtype=torch.int64))) == torch.float32  # none: float32
    assert inputs_dtype((torch.ones(1, dtype=torch.float64), torch.ones(1))) == torch.float64
    assert inputs_dtype((torch.nn.Linear(2, 2).half(),)) == torch.float16


def test_close_compares_in_float64_relative_to_the_scale():
    reference = torch.tensor([1000.0, 2000.0], dtype=torch.float64)
    assert close(torch.tensor([1000.1, 2000.0]), reference, FLOAT_TOLERANCE)
    assert not close(torch.tensor([1000.5, 2000.0]), reference, FLOAT_TOLERANCE)
    assert not close(torch.tensor([1001, 2000]), reference, 0.0)
    assert close(torch.tensor([1000, 2000]), reference, 0.0)
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


# --- the tolerance comes from the reference, not from the answer's dtype ----------------------


def thirds():
    return [Case((torch.tensor([1.0, 2.0, -4.0]) / 3,), "x = [1, 2, -4] / 3")]


def thirds_exercise(rtol=FLOAT_TOLERANCE):
    """2 * x on values that no low-precision dtype holds exactly."""
    return Exercise("check_thirds", ("x",), thirds, lambda x: 2 * x, [], "doubled.", rtol=rtol)


def test_a_wrong_answer_in_bfloat16_is_still_wrong():
    # 1% too large, then bfloat16: inside bfloat16's own 4e-2 but far outside float32's 1e-4
    result = doubling_exercise().check(lambda x: (2.02 * x).bfloat16())
    assert not result.passed
    x = torch.tensor([1.0, 2.0])
    error = float(((2.02 * x).bfloat16().double() - 2 * x).abs().max())
    assert error < 4e-2 * 4  # within the slack the answer's dtype once bought it
    assert result.message == (
        f"with x = [1, 2]: your answer came back in bfloat16, which keeps only about 2 "
        f"significant digits: it is off by up to {error:.3g}, more than this check allows "
        "(0.0001 of the values' scale); compute and return it in float32, the inputs' dtype"
    )


@pytest.mark.parametrize(
    ("to_low", "name", "digits"),
    [
        (lambda t: t.half(), "float16", 3),
        (lambda t: t.bfloat16(), "bfloat16", 2),
        (lambda t: t.numpy().astype(np.float16), "float16", 3),
    ],
)
def test_a_right_answer_that_lost_precision_is_told_to_return_the_inputs_dtype(
    to_low, name, digits
):
    x = torch.tensor([1.0, 2.0, -4.0]) / 3
    error = float((torch.as_tensor(to_low(2 * x)).double() - 2 * x.double()).abs().max())
    assert error > FLOAT_TOLERANCE  # the loss is real
    result = thirds_exercise().check(lambda x: to_low(2 * x))
    assert not result.passed
    assert result.message.startswith(
        f"with x = [1, 2, -4] / 3: your answer came back in {name}, which keeps only about "
        f"{digits} significant digits: it is off by up to {error:.3g}"
    )
    assert thirds_exercise().check(lambda x: 2 * x).passed  # the same in float32 passes


def test_a_far_off_answer_in_bfloat16_hears_of_its_values_first():
    result = thirds_exercise().check(lambda x: (3 * x).bfloat16())
    assert not result.passed
    assert result.message.startswith("with x = [1, 2, -4] / 3: the values differ from the ref")
    assert result.message.endswith(
        "(your answer is also in bfloat16: return it in float32, the inputs' dtype)"
    )


def test_an_answer_that_is_exact_in_a_low_precision_dtype_passes():
    assert doubling_exercise().check(lambda x: (2 * x).half()).passed  # 2, 4, 0, 6, -2: exact


def test_the_exercises_rtol_sets_the_tolerance():
    assert thirds_exercise(rtol=1e-2).check(lambda x: (2 * x).half()).passed
    assert not thirds_exercise().check(lambda x: (2 * x).half()).passed


# --- answers of every kind get a message, never an exception -----------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")  # sparse CSR, quantized, nested: beta
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: torch.ones(2, device="meta"),
            "on the 'meta' device: it has a shape but no values",
        ),
        (lambda: torch.ones(2).to_sparse(), "expected a dense tensor, got a sparse_coo one"),
        (lambda: torch.ones(2, 2).to_sparse_csr(), "expected a dense tensor, got a sparse_csr one"),
        (
            lambda: torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8),
            r"got a quantized tensor \(quint8\): call .dequantize\(\)",
        ),
        (
            lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]),
            "expected an ordinary tensor, got a nested tensor",
        ),
        (
            lambda: torch.ones(2, dtype=torch.complex64),
            "expected real numbers, got dtype torch.complex64",
        ),
        (
            lambda: np.ones(2, dtype=np.complex128),
            "expected real numbers, got a numpy array of dtype",
        ),
        (lambda: np.array(["a"]), "expected a tensor of numbers, got a numpy array of dtype <U1"),
        (
            lambda: torch.empty(2, dtype=torch.bits8),
            "expected a tensor of numbers, got dtype torch.bits8",
        ),
        (
            lambda: np.ma.masked_array([1.0, 2.0], mask=[False, True]),
            "masked array with masked entries",
        ),
        (lambda: [[1.0, 2.0]], r"expected a torch\.Tensor, got list"),
        (lambda: {"x": 1}, r"expected a torch\.Tensor, got dict"),
        (lambda: (n for n in range(2)), r"expected a torch\.Tensor, got generator"),
    ],
)
def test_answers_that_cannot_be_compared_get_a_message(make, message):
    with pytest.raises(AnswerError, match=message):
        as_tensor(make())


@pytest.mark.parametrize(
    ("answer", "dtype"),
    [
        (np.array([1.5, -2.0], dtype=">f8"), torch.float64),  # big-endian
        (np.array([1.5, -2.0], dtype=">f4"), torch.float32),
        (np.array([1.5, -2.0], dtype=np.longdouble), torch.float64),
        (np.ma.masked_array([1.5, -2.0], mask=[False, False]), torch.float64),  # nothing masked
        (torch.nn.Parameter(torch.tensor([1.5, -2.0])), torch.float32),
        (torch.tensor([1.5, -2.0], requires_grad=True) * 1, torch.float32),
    ],
)
def test_numbers_in_any_byte_order_or_wrapper_are_read(answer, dtype):
    value = as_tensor(answer)
    assert type(value) is torch.Tensor and not value.requires_grad
    assert value.dtype == dtype
    assert value.tolist() == [1.5, -2.0]


def test_unsigned_numpy_integers_keep_their_values():
    assert as_tensor(np.array([3, 2**40], dtype=np.uint64)).tolist() == [3, 2**40]
    assert as_tensor(np.array([2**64 - 1], dtype=np.uint64)).item() == float(2**64 - 1)
    assert as_tensor(np.array([7], dtype=">u4")).dtype == torch.int64


def test_a_tensor_subclass_is_read_by_its_numbers():
    class Loud(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise RuntimeError("not me")

    value = as_tensor(torch.tensor([1.0, 2.0]).as_subclass(Loud))
    assert type(value) is torch.Tensor and value.tolist() == [1.0, 2.0]


def test_a_count_too_big_for_64_bits_gets_a_message():
    with pytest.raises(AnswerError, match="fits in 64 bits, got one of 401 digits"):
        as_count(10**400)
    assert as_count(np.longdouble(6440)).item() == 6440
    assert as_count(-(2**63)).item() == -(2**63)


# --- the time limit ----------------------------------------------------------------------------


def loop_forever(*args):
    while True:
        pass


def test_call_within_returns_the_value_or_stops_the_function():
    assert call_within(lambda: 42, 1.0) == 42
    started = time.monotonic()
    with pytest.raises(TimeLimitError, match=r"did not return within 0\.2 seconds") as late:
        call_within(loop_forever, 0.2)
    assert not late.value.still_running  # the alarm stopped it
    assert 0.2 <= time.monotonic() - started < 2


def test_an_alarm_swallowed_by_the_readers_code_comes_again():
    def stubborn():
        try:
            loop_forever()
        except BaseException:  # the reader's code catches everything, once
            loop_forever()

    with pytest.raises(TimeLimitError):
        call_within(stubborn, 0.2)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="SIGALRM is POSIX only")
def test_the_previous_alarm_handler_and_timer_are_restored():
    fired = []

    def theirs(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, theirs)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        with pytest.raises(TimeLimitError):
            call_within(loop_forever, 0.1)
        assert signal.getsignal(signal.SIGALRM) is theirs
        assert 95 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100  # still running, less 0.1 s
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # their own alarm still reaches them
        time.sleep(0.3)
        assert fired == [signal.SIGALRM]
        assert call_within(lambda: 7, 1.0) == 7
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # none set, none left behind
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def in_another_thread(function):
    """``function()`` run in a new thread; what it returned or raised."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as error:
            outcome["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    return outcome


def test_outside_the_main_thread_a_waited_for_thread_keeps_the_time():
    release = threading.Event()
    try:
        started = time.monotonic()
        outcome = in_another_thread(lambda: call_within(release.wait, 0.2))
        assert isinstance(outcome["error"], TimeLimitError) and outcome["error"].still_running
        assert time.monotonic() - started < 5
        assert in_another_thread(lambda: call_within(lambda: 6 * 7, 1.0))["value"] == 42
    finally:
        release.set()  # the abandoned function ends


def test_outside_the_main_thread_a_crash_still_names_the_readers_line():
    def reader(x):
        return x / undefined  # noqa: F821

    result = in_another_thread(lambda: doubling_exercise().check(reader, time_limit=1.0))["value"]
    line = inspect.getsourcelines(reader)[1] + 1
    assert result.message == (
        "with x = [1, 2]: your function raised NameError: name 'undefined' is not defined "
        f"(line {line} of test_checks_core.py: `return x / undefined  # noqa: F821`)"
    )


def test_a_check_outside_the_main_thread_gives_a_verdict_in_time():
    release = threading.Event()
    try:
        result = in_another_thread(
            lambda: doubling_exercise().check(lambda x: release.wait(), time_limit=0.2)
        )["value"]
        assert result == CheckResult(
            False,
            "with x = [1, 2]: your function did not return within 0.2 seconds: look for an "
            "endless loop, e.g. a `while` whose condition never becomes false (it still runs "
            "in the background: restart the kernel to stop it)",
        )
        assert in_another_thread(lambda: doubling_exercise().check(lambda x: 2 * x))["value"].passed
    finally:
        release.set()


def test_after_a_time_out_the_other_cases_are_not_tried():
    calls = []

    def first_case_hangs(x):
        calls.append(x.numel())
        loop_forever()

    def three_cases():
        return [Case((torch.ones(n),), f"x = ones({n})") for n in (1, 2, 3)]

    exercise = Exercise("check_double", ("x",), three_cases, lambda x: 2 * x, [], "doubled.")
    result = exercise.check(first_case_hangs, time_limit=0.2)
    assert result.message.startswith("with x = ones(1): your function did not return within 0.2 s")
    assert calls == [1]


def test_the_time_limit_is_per_case_and_a_module_constant(monkeypatch):
    def slow_on_the_second_case(x):
        if x.numel() == 3:
            time.sleep(0.3)
        return 2 * x

    exercise = doubling_exercise()
    assert exercise.check(slow_on_the_second_case, time_limit=1.0).passed
    monkeypatch.setattr(core, "TIME_LIMIT", 0.1)
    result = exercise.check(slow_on_the_second_case)
    assert result.message.startswith("with x = [0, 3, -1]: your function did not return within 0.1")


@pytest.mark.parametrize(
    ("time_limit", "error"),
    [
        (0, ValueError),
        (-1.0, ValueError),
        (float("inf"), ValueError),
        ("10", TypeError),
        (True, TypeError),
    ],
)
def test_a_bad_time_limit_is_refused(time_limit, error):
    with pytest.raises(error, match="time_limit must be a"):
        doubling_exercise().check(lambda x: 2 * x, time_limit=time_limit)
    with pytest.raises(error, match="seconds must be a"):
        call_within(lambda: 1, time_limit)


# --- whatever the reader's function raises or changes ------------------------------------------


class NotAnError(BaseException):
    pass


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (SystemExit(3), "SystemExit: 3"),
        (NotAnError("odd"), "NotAnError: odd"),
        (GeneratorExit(), "GeneratorExit"),
        (RecursionError("deep"), "RecursionError: deep"),
    ],
)
def test_any_exception_but_keyboard_interrupt_gets_a_verdict(error, said):
    def reader(x):
        raise error

    result = doubling_exercise().check(reader)
    assert not result.passed
    assert result.message.startswith(f"with x = [1, 2]: your function raised {said} (line ")


def test_keyboard_interrupt_stops_the_check():
    def reader(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        doubling_exercise().check(reader)


def test_an_exception_whose_str_raises_is_still_reported():
    class UnprintableError(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def reader(x):
        raise UnprintableError

    message = doubling_exercise().check(reader).message
    assert message.startswith("with x = [1, 2]: your function raised UnprintableError (line ")


def test_an_answer_that_cannot_be_read_gets_a_message():
    class BadNumber(float):
        def __float__(self):
            raise SystemExit("not a number after all")

    count = Exercise(
        "check_count", ("n",), lambda: [Case((2,), "n = 2")], lambda n: n, [], "", kind="count"
    )
    result = count.check(lambda n: BadNumber(2.0))
    assert (
        result.message
        == "with n = 2: expected a number, got BadNumber, which could not be read (SystemExit)"
    )


def test_the_global_random_state_and_modes_are_kept():
    def meddler(x):
        torch.manual_seed(0)
        np.random.seed(0)
        random.seed(0)
        torch.rand(3)
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        return 2 * x

    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    python_state = random.getstate()
    assert doubling_exercise().check(meddler).passed
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert random.getstate() == python_state
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def test_a_crashing_mistake_names_only_the_same_crash():
    # A mistake whose wrong answer raises matches a reader's function only when it raises
    # the same error with the same message: a typo's NameError is reported, never named.
    def wrong_axis(x):
        raise RuntimeError("Expected target size [2, 7]")

    exercise = doubling_exercise([Mistake("the wrong axis", "move the class axis", wrong_axis)])

    def same(x):
        raise RuntimeError("Expected target size [2, 7]")

    def typo(x):
        return undefined_name * x  # noqa: F821

    def other_message(x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    assert exercise.check(same).message.startswith("the wrong axis:")
    for function in (typo, other_message):
        result = exercise.check(function)
        assert not result.passed and "the wrong axis" not in result.message
        assert "your function raised" in result.message
