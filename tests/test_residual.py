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
