"""softmax: against torch, its invariants, extreme inputs and bad input."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lessons_lib import softmax
from lessons_lib.softmax import naive_softmax

finite_logits = arrays(
    "float64",
    st.tuples(st.integers(1, 5), st.integers(1, 9)),
    elements=st.floats(-1e4, 1e4, allow_nan=False),
)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_matches_torch(seed, dim):
    torch.manual_seed(seed)
    x = torch.randn(4, 7, 5) * 3
    assert torch.allclose(softmax(x, dim=dim), torch.softmax(x, dim=dim), atol=1e-6)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0, 10.0])
def test_temperature_divides_the_logits(temperature):
    x = torch.randn(3, 6)
    expected = torch.softmax(x / temperature, dim=-1)
    assert torch.allclose(softmax(x, temperature=temperature), expected, atol=1e-6)


@given(finite_logits)
def test_rows_sum_to_one_and_stay_finite(logits):
    weights = softmax(torch.from_numpy(logits))
    assert torch.isfinite(weights).all()
    assert (weights >= 0).all()
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[0], dtype=weights.dtype))


@given(finite_logits, st.floats(-1e3, 1e3))
def test_adding_a_constant_changes_nothing(logits, constant):
    x = torch.from_numpy(logits)
    assert torch.allclose(softmax(x + constant), softmax(x), atol=1e-9)


def test_extreme_logits_are_finite_where_naive_overflows():
    logits = torch.tensor([[1e4, 0.0, -1e4], [1000.0, 999.0, 0.0]])
    stable = softmax(logits)
    assert torch.isfinite(stable).all()
    assert stable[0, 0] == 1.0
    assert torch.isnan(naive_softmax(logits)).any()


def test_all_minus_inf_row_gives_zeros_and_finite_gradient():
    x = torch.tensor([[float("-inf")] * 3, [0.0, 1.0, float("-inf")]], requires_grad=True)
    weights = softmax(x)
    assert torch.equal(weights[0], torch.zeros(3))
    assert weights[1, 2] == 0
    (weights * torch.arange(3.0)).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_keeps_dtype(dtype):
    assert softmax(torch.randn(2, 3).to(dtype)).dtype == dtype


def test_bad_input():
    with pytest.raises(ValueError, match=r"temperature must be > 0, got 0"):
        softmax(torch.randn(3), temperature=0)
    with pytest.raises(TypeError, match=r"floating-point tensor.*torch.int64"):
        softmax(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match=r"must be a torch.Tensor, got list"):
        softmax([1.0, 2.0])
    with pytest.raises(ValueError, match=r"dim=2 is out of range"):
        softmax(torch.randn(3, 4), dim=2)


# --- entropy and the 1/sqrt(d_k) experiment (chapter "Softmax") ---------------------------

from lessons_lib.softmax import entropy  # noqa: E402


def test_entropy_of_uniform_and_one_hot_rows():
    uniform = torch.full((3, 8), 1 / 8)
    assert torch.allclose(entropy(uniform), torch.full((3,), float(torch.log(torch.tensor(8.0)))))
    assert torch.equal(entropy(torch.eye(4)), torch.zeros(4))
    with pytest.raises(TypeError, match=r"weights must be a floating-point tensor"):
        entropy(torch.tensor([1, 0]))


@given(finite_logits)
def test_entropy_lies_between_zero_and_log_n(logits):
    values = entropy(softmax(torch.from_numpy(logits)))
    assert (values >= -1e-9).all()
    assert (values <= torch.log(torch.tensor(float(logits.shape[1]))) + 1e-9).all()
