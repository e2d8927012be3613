"""Chapter 02's softmax checkers: the hints about NaN name its true cause, overflow or underflow.

A hint that says "overflow" must be about an exp() that became inf; one that says
"underflow" about rows whose every exp() became 0, so that the row is 0 / 0. Each test
rebuilds the slip's intermediate values on the checker's own inputs and looks.
"""

import pytest
import torch

from lessons_lib.checks import EXERCISES, check_softmax, check_temperature_softmax

GLOBAL_MAX = "subtracted the global maximum, not each row's (underflow)"
NO_SHIFT = "no max-subtraction (overflow)"


def global_max_softmax(logits):
    exps = torch.exp(logits - logits.max())
    return exps / exps.sum(dim=-1, keepdim=True)


def plain_softmax(logits):
    exps = torch.exp(logits)
    return exps / exps.sum(dim=-1, keepdim=True)


def scaled_inputs(name):
    """Each case's logits as the reader's softmax sees them (divided by T if there is one)."""
    cases = EXERCISES[name].cases()
    return [case.args[0] / case.args[1] if len(case.args) == 2 else case.args[0] for case in cases]


@pytest.mark.parametrize("name", ["check_softmax", "check_temperature_softmax"])
def test_the_global_maximum_gives_nan_by_underflow_and_the_hint_says_so(name):
    underflowed_rows = 0
    for logits in scaled_inputs(name):
        exps = torch.exp(logits - logits.max())  # (rows, n)
        assert torch.isfinite(exps).all()  # nothing overflows: every exponent is <= 0
        dead = (exps == 0).all(dim=-1)  # rows whose every exp() underflowed to 0
        nan_rows = global_max_softmax(logits).isnan().any(dim=-1)
        assert torch.equal(nan_rows, dead)  # the NaN rows are exactly the 0 / 0 rows
        underflowed_rows += int(dead.sum())
    assert underflowed_rows > 0  # the cases do show the slip

    check = check_softmax if name == "check_softmax" else check_temperature_softmax
    answer = (
        global_max_softmax if name == "check_softmax" else lambda x, t: global_max_softmax(x / t)
    )
    message = check(answer).message
    assert message.startswith(f"{GLOBAL_MAX}: ")
    assert "underflow" in message and "0 / 0" in message and "not overflow" in message


@pytest.mark.parametrize("name", ["check_softmax", "check_temperature_softmax"])
def test_no_shift_gives_nan_by_overflow_and_the_hint_says_so(name):
    overflowed_rows = 0
    for logits in scaled_inputs(name):
        exps = torch.exp(logits)
        nan_rows = plain_softmax(logits).isnan().any(dim=-1)
        assert torch.equal(nan_rows, torch.isinf(exps).any(dim=-1))  # inf / inf, not 0 / 0
        overflowed_rows += int(nan_rows.sum())
    assert overflowed_rows > 0

    check = check_softmax if name == "check_softmax" else check_temperature_softmax
    answer = plain_softmax if name == "check_softmax" else lambda x, t: plain_softmax(x / t)
    message = check(answer).message
    assert message.startswith(f"{NO_SHIFT}: ")
    assert "overflow" in message and "underflow" not in message


@pytest.mark.parametrize("name", ["check_softmax", "check_temperature_softmax"])
def test_each_row_shifted_by_its_own_maximum_passes(name):
    def row_max_softmax(logits, temperature=1.0):
        scaled = logits / temperature
        exps = torch.exp(scaled - scaled.amax(dim=-1, keepdim=True))
        return exps / exps.sum(dim=-1, keepdim=True)

    assert EXERCISES[name].check(row_max_softmax).passed
