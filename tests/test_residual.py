"""Add & norm and the feed-forward block against torch, their invariants, and bad input."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from lessons_lib.residual import (
    AddNorm,
    FeedForward,
    LayerNorm,
    layer_norm,
)

SHAPES = [(5, 8), (2, 7, 16), (3, 4, 6, 32), (1, 1, 3)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_norm_matches_torch(seed, shape):
    torch.manual_seed(seed)
    x = torch.randn(shape) * 3 + 2
    reference = F.layer_norm(x, shape[-1:])
    assert torch.allclose(layer_norm(x), reference, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_norm_module_matches_torch_with_gain_and_bias(seed, shape):
    torch.manual_seed(seed)
    theirs = nn.LayerNorm(shape[-1])
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = LayerNorm(shape[-1])
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(shape)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)


@given(st.integers(2, 40), st.integers(0, 10_000), st.floats(0.1, 100), st.floats(-50, 50))
def test_layer_norm_gives_mean_zero_std_one_and_ignores_shift_and_scale(d, seed, scale, shift):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(3, d, generator=generator, dtype=torch.float64)
    x[:, 0] += 1.0  # never a constant row
    normed = layer_norm(x, eps=0.0)
    assert torch.allclose(normed.mean(-1), torch.zeros(3, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(normed.std(-1, unbiased=False), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(layer_norm(x * scale + shift, eps=0.0), normed, atol=1e-8)


def test_add_norm_is_layer_norm_of_the_sum():
    torch.manual_seed(0)
    add_norm = AddNorm(16)
    with torch.no_grad():
        add_norm.norm.weight.normal_()
        add_norm.norm.bias.normal_()
    x, sublayer_out = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    expected = F.layer_norm(x + sublayer_out, (16,), add_norm.norm.weight, add_norm.norm.bias)
    assert torch.allclose(add_norm(x, sublayer_out), expected, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_feed_forward_is_two_linear_layers_with_relu(seed):
    torch.manual_seed(seed)
    ff = FeedForward(16, 48)
    x = torch.randn(2, 5, 16)
    hidden = torch.relu(x @ ff.linear1.weight.T + ff.linear1.bias)
    assert torch.allclose(ff(x), hidden @ ff.linear2.weight.T + ff.linear2.bias, atol=1e-5)
    assert sum(p.numel() for p in ff.parameters()) == 16 * 48 + 48 + 48 * 16 + 16


@given(st.integers(1, 6), st.integers(0, 10_000))
def test_feed_forward_treats_every_position_alike(seq, seed):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ff = FeedForward(8, 16).double()
    x = torch.randn(1, seq, 8, generator=generator, dtype=torch.float64)
    order = torch.randperm(seq, generator=generator)
    assert torch.allclose(ff(x[:, order]), ff(x)[:, order])


def test_bad_inputs_give_clear_errors():
    with pytest.raises(TypeError, match="floating-point"):
        layer_norm(torch.arange(4))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        layer_norm(torch.randn(4), eps=-1.0)
    with pytest.raises(ValueError, match=r"must end in d_model=8, got shape \(2, 3, 4\)"):
        LayerNorm(8)(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="must have the same shape"):
        AddNorm(8)(torch.randn(2, 3, 8), torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match=r"must end in d_model=8"):
        FeedForward(8, 16)(torch.randn(2, 3, 7))
    with pytest.raises(ValueError, match="d_ff must be > 0"):
        FeedForward(8, 0)
    with pytest.raises(TypeError, match="d_model must be an int"):
        LayerNorm(8.0)


def test_feed_forward_activation_gelu_matches_torch_and_relu_stays_the_default():
    from lessons_lib.residual import FeedForward

    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    relu, gelu = FeedForward(8, 16), FeedForward(8, 16, activation="gelu")
    gelu.load_state_dict(relu.state_dict())
    assert relu.activation == "relu"
    hidden = relu.linear1(x)
    assert torch.allclose(relu(x), relu.linear2(F.relu(hidden)), atol=1e-6)
    assert torch.allclose(gelu(x), relu.linear2(torch.nn.GELU()(hidden)), atol=1e-6)
    with pytest.raises(
        ValueError, match=r"activation must be one of \('relu', 'gelu'\), got 'tanh'"
    ):
        FeedForward(8, 16, activation="tanh")


# --- every dtype, rows far from 0, constant rows (issue 20) -------------------------------

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
# How closely two correct layer norms agree, compared as in torch.testing: |a - b| <=
# atol + rtol |b|. Half precision: about one unit in the last place of the output.
HALF_TOLERANCES = {torch.float16: 1e-3, torch.bfloat16: 1e-2}


def _reference_layer_norm(x: torch.Tensor, *affine: torch.Tensor) -> torch.Tensor:
    """F.layer_norm on the same input, with its statistics in float32 at least.

    For half-precision input that is what F.layer_norm does on the GPU, and what we
    promise: compute in float32, round the result once. (On the CPU, torch 2.x's half
    kernel is itself off by up to 0.08 on a constant row at 1e4, where the answer is 0.)
    """
    wide = x.to(torch.promote_types(x.dtype, torch.float32))
    affine = tuple(tensor.to(wide.dtype) for tensor in affine)
    return F.layer_norm(wide, x.shape[-1:], *affine).to(x.dtype)


def _tolerances(dtype: torch.dtype, offset: float, spread: float) -> dict[str, float]:
    if dtype in HALF_TOLERANCES:
        return {"atol": HALF_TOLERANCES[dtype], "rtol": HALF_TOLERANCES[dtype]}
    # A row near `offset` is only known to offset * eps of its dtype: two exact methods that
    # round in another order differ by a few such steps, over the row's spread.
    return {"atol": 1e-5 + 8 * offset * torch.finfo(dtype).eps / spread, "rtol": 1e-5}


def _rows(dtype: torch.dtype, offset: float, spread: float, d: int = 48) -> torch.Tensor:
    """(4, 6, d) rows of mean about ``offset`` and standard deviation ``spread``; row 0 constant."""
    generator = torch.Generator().manual_seed(int(offset) + int(spread))
    x = torch.randn(4, 6, d, generator=generator, dtype=torch.float64) * spread + offset
    x[0] = offset + 1.2345  # constant rows: the variance is 0
    return x.to(dtype)


@pytest.mark.parametrize("spread", [3.0, 300.0])  # 300: squares past float16's 65504
@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_layer_norm_matches_torch_in_every_dtype_far_from_zero(dtype, offset, spread):
    x = _rows(dtype, offset, spread)
    ours = layer_norm(x)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, _reference_layer_norm(x), **_tolerances(dtype, offset, spread))
    # Row 0 is constant, and so are rows that the dtype rounds to one value (bfloat16 at 1e4
    # has steps of 64): those give exactly 0; every other row, mean 0 and std 1.
    constant = (x == x[..., :1]).all(dim=-1)  # (4, 6)
    assert constant[0].all() and torch.equal(ours[constant], torch.zeros_like(ours[constant]))
    if (~constant).any():
        spreads = ours[~constant].double().std(dim=-1, unbiased=False)
        assert torch.allclose(
            spreads, torch.ones_like(spreads), atol=HALF_TOLERANCES.get(dtype, 1e-3)
        )


@pytest.mark.parametrize("spread", [3.0, 300.0])
@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_layer_norm_module_matches_torch_in_every_dtype_far_from_zero(dtype, offset, spread):
    torch.manual_seed(0)
    ours = LayerNorm(48)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    ours = ours.to(dtype)
    x = _rows(dtype, offset, spread)
    expected = _reference_layer_norm(x, ours.weight, ours.bias)
    torch.testing.assert_close(ours(x), expected, **_tolerances(dtype, offset, spread))


@pytest.mark.parametrize("d", [48, 1000])
@pytest.mark.parametrize("value", [1.2345, 1001.2345, 10001.2345])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_a_constant_row_normalises_to_exactly_zero(dtype, value, d):
    x = torch.full((3, d), value, dtype=dtype)
    wide = x.to(torch.promote_types(dtype, torch.float32))
    assert torch.equal(layer_norm(x), torch.zeros_like(x))
    assert torch.equal(F.layer_norm(wide, (d,)), torch.zeros_like(wide))  # torch agrees


def test_half_precision_no_longer_gives_zeros_256_from_the_mean():
    x = torch.tensor([[-300.0, 0.0, 300.0]], dtype=torch.float16)  # squares of 9e4 > 65504
    expected = torch.tensor([[-1.2247, 0.0, 1.2247]], dtype=torch.float16)
    torch.testing.assert_close(layer_norm(x), expected, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(LayerNorm(3).half()(x), expected, atol=1e-3, rtol=1e-3)


def test_layer_norm_keeps_empty_input_and_its_gradient_matches_torch():
    for shape in [(0, 8), (2, 0), (0, 3, 8)]:
        x = torch.zeros(shape)
        assert layer_norm(x).shape == F.layer_norm(x, x.shape[-1:]).shape == shape
    x = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 5, 8, dtype=torch.float64)
    (layer_norm(x) * upstream).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (F.layer_norm(x, (8,)) * upstream).sum().backward()
    assert torch.allclose(ours, x.grad, atol=1e-10)


def test_layer_norm_eps_and_a_layer_norm_module_refuse_bad_values():
    with pytest.raises(TypeError, match="eps must be a number, got str"):
        layer_norm(torch.randn(4), eps="1e-5")
    with pytest.raises(ValueError, match=r"eps must be >= 0, got nan"):
        layer_norm(torch.randn(4), eps=float("nan"))
    with pytest.raises(ValueError, match="eps must be >= 0, got -1"):
        LayerNorm(4, eps=-1)
