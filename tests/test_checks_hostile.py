"""Every checker against hostile answers: whatever the reader's function returns, raises or
does, the checker gives a verdict (a CheckResult, never an exception), within its time limit,
and leaves the global random generators as they were.

Each row is one exercise of ``EXERCISES`` and one hostile answer, built from the exercise's
own right answer so that shapes fit where that matters (a meta tensor of the right shape, the
right values in a sparse tensor, ...).
"""

import random
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from lessons_lib.checks import EXERCISES, CheckResult
from lessons_lib.checks import core as checks_core

NAMES = sorted(EXERCISES)
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py
QUICK = 5.0  # seconds: the limit for answers that return at once (generous for a busy machine)
HANG = 0.1  # seconds: the limit for answers that never return


def global_states():
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def assert_unchanged(before):
    torch_state, numpy_state, python_state = before
    assert torch.equal(torch.get_rng_state(), torch_state), "the torch generator moved"
    now = np.random.get_state()
    assert now[0] == numpy_state[0] and np.array_equal(now[1], numpy_state[1])
    assert now[2:] == numpy_state[2:], "the numpy generator moved"
    assert random.getstate() == python_state, "random's generator moved"
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def check(name, function, time_limit=QUICK):
    """The verdict, how long it took, and a check that the global state is intact."""
    before = global_states()
    started = time.monotonic()
    result = EXERCISES[name].check(function, time_limit=time_limit)
    elapsed = time.monotonic() - started
    assert_unchanged(before)
    assert isinstance(result, CheckResult)
    assert isinstance(result.message, str) and result.message
    assert "the checker itself failed" not in result.message, result.message
    return result, elapsed


def right_answer(name, args):
    """The exercise's own right answer for these inputs, as a detached tensor."""
    return torch.as_tensor(EXERCISES[name].solution(*args)).detach()


# --- hostile answers: what the reader's function returns ---------------------------------------


class BadFloat:
    def __float__(self):
        raise ValueError("no float here")


class BadFloatSubclass(float):
    def __float__(self):
        raise ValueError("no float here")


class BadArray:
    def __array__(self, dtype=None, copy=None):
        raise ValueError("no array here")


class Loud(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("a tensor subclass that refuses every operation")


def quantized(right):
    return torch.quantize_per_tensor(right.float(), 0.1, 0, torch.quint8)


@dataclass(frozen=True)
class Returned:
    """A hostile answer made from the right one; what the message must say, by answer kind."""

    id: str
    make: Callable[[torch.Tensor], object]
    tensor_says: str | None  # for "tensor" and "bool mask" exercises; None: only that it fails
    count_says: str | None  # for "count" exercises


RETURNED = [
    Returned(
        "meta",
        lambda right: torch.empty(right.shape, device="meta"),
        "on the 'meta' device: it has a shape but no values",
        "on the 'meta' device: it has a shape but no values",
    ),
    Returned(
        "sparse",
        lambda right: right.to_sparse(),
        "expected a dense tensor, got a sparse_coo one",
        "expected a dense tensor, got a sparse_coo one",
    ),
    Returned(
        "complex",
        lambda right: right.to(torch.complex64),
        "expected real numbers, got dtype torch.complex64",
        "expected real numbers, got dtype torch.complex64",
    ),
    Returned(
        "quantized",
        quantized,
        "got a quantized tensor (quint8): call .dequantize()",
        "got a quantized tensor (quint8): call .dequantize()",
    ),
    Returned(
        "bits8",
        lambda right: torch.empty(right.shape, dtype=torch.bits8),
        "expected a tensor of numbers, got dtype torch.bits8",
        "expected a tensor of numbers, got dtype torch.bits8",
    ),
    Returned(
        "bool-ones", lambda right: torch.ones_like(right, dtype=torch.bool), None, "got a bool"
    ),
    Returned(
        "nested-list",
        lambda right: [right.tolist()],
        "expected a torch.Tensor, got list",
        "expected a number, got list",
    ),
    Returned(
        "string",
        lambda right: "6440",
        "expected a torch.Tensor, got str",
        "expected a number, got str",
    ),
    Returned(
        "dict",
        lambda right: {"answer": right},
        "expected a torch.Tensor, got dict",
        "expected a number, got dict",
    ),
    Returned(
        "generator",
        lambda right: (value for value in [right]),
        "expected a torch.Tensor, got generator",
        "expected a number, got generator",
    ),
    Returned(
        "raising-__float__",
        lambda right: BadFloat(),
        "expected a torch.Tensor, got BadFloat",
        "expected a number, got BadFloat",
    ),
    Returned(
        "float-subclass-raising-__float__",
        lambda right: BadFloatSubclass(1.0),
        "expected a torch.Tensor, got BadFloatSubclass",
        "expected a number, got BadFloatSubclass, which could not be read (ValueError)",
    ),
    Returned(
        "raising-__array__",
        lambda right: BadArray(),
        "expected a torch.Tensor, got BadArray",
        "expected a number, got BadArray",
    ),
    Returned("0-d-tensor", lambda right: torch.tensor(0.5), None, "got 0.5"),
    Returned(
        "numpy-object-array",
        lambda right: np.array(right.tolist(), dtype=object),
        "a numpy array of dtype object",
        "a numpy array of dtype object",
    ),
    Returned(
        "masked-array",
        lambda right: np.ma.masked_array(right.numpy(), mask=np.ones(right.shape, dtype=bool)),
        "masked array with masked entries",
        "masked array with masked entries",
    ),
    Returned(
        "huge-int",
        lambda right: 10**400,
        "expected a torch.Tensor, got int",
        "expected a number that fits in 64 bits, got one of 401 digits",
    ),
    Returned(
        "nan-float", lambda right: float("nan"), "expected a torch.Tensor, got float", "got nan"
    ),
    Returned(
        "nan-tensor",
        lambda right: torch.full(right.shape, float("nan")),
        "your answer holds NaN or inf",
        "got nan",
    ),
    # A wrong answer in a low-precision dtype: once inside that dtype's own slack, now wrong.
    Returned(
        "wrong-in-bfloat16", lambda right: (right.double() * 1.01 + 0.01).bfloat16(), None, None
    ),
    Returned("wrong-in-float16", lambda right: (right.double() * 1.001 + 0.001).half(), None, None),
    Returned(
        "wrong-requiring-grad", lambda right: (right.double() + 1).requires_grad_(), None, None
    ),
    Returned(
        "wrong-tensor-subclass",
        lambda right: (right.double() + 1).as_subclass(Loud),
        None,
        None,
    ),
    Returned(
        "wrong-big-endian",
        lambda right: (right.double() + 1).numpy().astype(">f8"),
        None,
        None,
    ),
    Returned(
        "expanded-huge",
        lambda right: torch.zeros(1).expand(10**6, 10**6),
        "far more than this exercise's answer",
        "far more than this exercise's answer",
    ),
    Returned(
        "uint64-zeros",
        lambda right: np.zeros(right.shape, dtype=np.uint64),
        None,
        None,
    ),
    Returned(
        "the-function-itself",
        lambda right: right_answer,
        "expected a torch.Tensor, got function",
        "expected a number, got function",
    ),
]


@pytest.mark.parametrize(
    ("name", "hostile"),
    [
        pytest.param(name, hostile, id=f"{name}-{hostile.id}")
        for name in NAMES
        for hostile in RETURNED
    ],
)
def test_a_hostile_answer_gets_a_verdict_not_an_exception(name, hostile):
    def reader(*args):
        with warnings.catch_warnings():  # quantized tensors: deprecated; sparse: beta
            warnings.simplefilter("ignore")
            return hostile.make(right_answer(name, args))

    result, elapsed = check(name, reader)
    assert not result.passed, result.message
    says = hostile.count_says if EXERCISES[name].kind == "count" else hostile.tensor_says
    if says is not None:
        assert says in result.message, result.message
    assert elapsed < QUICK


# --- the right answer in another wrapper still passes ------------------------------------------


def float_answer(name):
    case = EXERCISES[name].cases()[0]
    return EXERCISES[name].kind == "tensor" and right_answer(name, case.args).is_floating_point()


FLOAT_NAMES = [name for name in NAMES if float_answer(name)]

WRAPPERS = {
    "numpy-longdouble": lambda right: right.double().numpy().astype(np.longdouble),
    "big-endian-float64": lambda right: right.double().numpy().astype(">f8"),
    "big-endian-float32": lambda right: right.numpy().astype(">f4"),
    "requiring-grad": lambda right: right.clone().requires_grad_(),
    "parameter": lambda right: torch.nn.Parameter(right.clone()),
    "masked-array-nothing-masked": lambda right: np.ma.masked_array(right.numpy(), mask=False),
    "tensor-subclass": lambda right: right.clone().as_subclass(Loud),
}


@pytest.mark.parametrize(
    ("name", "wrap"),
    [
        pytest.param(name, wrap, id=f"{name}-{label}")
        for name in FLOAT_NAMES
        for label, wrap in WRAPPERS.items()
    ],
)
def test_the_right_answer_in_another_wrapper_passes(name, wrap):
    result, _ = check(name, lambda *args: wrap(right_answer(name, args)))
    assert result.passed, result.message


@pytest.mark.parametrize(
    "wrap",
    [
        lambda count: np.longdouble(count),
        lambda count: np.array(count, dtype=">i8"),
        lambda count: np.uint64(count),
        lambda count: torch.tensor(count, dtype=torch.int32),
    ],
    ids=["longdouble", "big-endian", "uint64", "int32-tensor"],
)
def test_a_right_count_in_another_wrapper_passes(wrap):
    name = "check_parameter_count"
    result, _ = check(name, lambda *args: wrap(EXERCISES[name].solution(*args)))
    assert result.passed, result.message


# --- hostile behaviour: never returning, raising anything, reseeding ---------------------------


class NotAnError(BaseException):
    """Neither an Exception nor a KeyboardInterrupt."""


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("cannot say")


def loop_forever(*args):
    while True:
        pass


def sleep_forever(*args):
    time.sleep(10**6)


def wait_forever(*args):
    threading.Event().wait()


def recurse_forever(*args):
    return recurse_forever(*args)


def raiser(error):
    def reader(*args):
        raise error

    return reader


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hang", [loop_forever, sleep_forever, wait_forever])
def test_a_function_that_never_returns_gets_a_verdict_in_time(name, hang):
    calls = []

    def reader(*args):
        calls.append(len(args))
        hang(*args)

    result, elapsed = check(name, reader, time_limit=HANG)
    assert not result.passed
    assert len(calls) == 1  # after one time-out the other cases are not tried
    label = EXERCISES[name].cases()[0].label
    assert result.message == (
        f"with {label}: your function did not return within {HANG:g} seconds: look for an "
        "endless loop, e.g. a `while` whose condition never becomes false"
    )
    assert elapsed < HANG + 5  # the references and the copies, then one case's limit


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("function", "says"),
    [
        (raiser(SystemExit(2)), "your function raised SystemExit: 2 (line "),
        (raiser(NotAnError("odd")), "your function raised NotAnError: odd (line "),
        (raiser(GeneratorExit()), "your function raised GeneratorExit (line "),
        (raiser(UnprintableError()), "your function raised UnprintableError (line "),
        (recurse_forever, "your function raised RecursionError: maximum recursion depth"),
    ],
    ids=["SystemExit", "BaseException", "GeneratorExit", "unprintable", "RecursionError"],
)
def test_any_exception_but_keyboard_interrupt_gets_a_verdict(name, function, says):
    result, _ = check(name, function)
    assert not result.passed
    label = EXERCISES[name].cases()[0].label
    assert result.message.startswith(f"with {label}: {says}"), result.message


@pytest.mark.parametrize("name", NAMES)
def test_keyboard_interrupt_goes_through_and_the_state_is_kept(name):
    before = global_states()

    def stop(*args):
        torch.manual_seed(123)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        EXERCISES[name].check(stop, time_limit=QUICK)
    assert_unchanged(before)


def reseed_then(answer):
    def reader(*args):
        torch.manual_seed(0)
        np.random.seed(0)
        random.seed(0)
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        return answer(*args)

    return reader


@pytest.mark.parametrize("name", NAMES)
def test_a_function_that_reseeds_leaves_the_generators_as_they_were(name):
    noise = reseed_then(lambda *args: torch.randn(right_answer(name, args).shape))
    result, _ = check(name, noise)
    assert not result.passed
    right = reseed_then(lambda *args: EXERCISES[name].solution(*args))
    result, _ = check(name, right)
    assert result.passed, result.message


@pytest.mark.parametrize("name", NAMES)
def test_the_right_answer_leaves_the_generators_as_they_were(name):
    with torch.random.fork_rng(devices=[]):  # the session's own state is given back after
        torch.manual_seed(1234)  # a state of the test's own, not whatever came before
        result, _ = check(name, EXERCISES[name].solution)
    assert result.passed, result.message


def test_the_public_checkers_use_the_module_time_limit(monkeypatch):
    from lessons_lib.checks import check_codes_2d

    monkeypatch.setattr(checks_core, "TIME_LIMIT", HANG)
    before = global_states()
    result = check_codes_2d(loop_forever)
    assert_unchanged(before)
    assert f"did not return within {HANG:g} seconds" in result.message
