"""Add & norm at the ends of its ranges: written to kill the mutants that the project's first
mutation tool (on residual; ``make mutate`` now runs mutmut) found surviving the module's own
tests.

Every expected value is known by construction (a constant row normalises to 0) or is
torch's own layer (``F.layer_norm``, ``nn.LayerNorm``) with the same eps.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.residual import AddNorm, FeedForward, LayerNorm, layer_norm


def test_layer_norm_of_a_0d_tensor_is_refused():
    with pytest.raises(ValueError, match="d_model"):
        layer_norm(torch.tensor(3.0))


@pytest.mark.parametrize("shape", [(1,), (1, 1), (4, 1)])
def test_a_vector_of_one_element_normalises_to_zero(shape):
    x = torch.full(shape, 7.5)
    assert torch.equal(layer_norm(x), torch.zeros(shape))
    assert torch.equal(layer_norm(x), F.layer_norm(x, shape[-1:]))


def test_empty_input_comes_back_empty():
    x = torch.empty(0, 4)
    assert layer_norm(x).shape == (0, 4)


def test_layer_norm_with_eps_zero_is_allowed_and_matches_torch():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    norm = LayerNorm(5, eps=0.0)
    assert norm.eps == 0.0
    reference = F.layer_norm(x, (5,), eps=0.0)
    assert torch.allclose(norm.double()(x), reference, atol=1e-12)
    assert torch.allclose(layer_norm(x, eps=0.0), reference, atol=1e-12)


def test_layer_norm_takes_one_vector_of_rank_one():
    x = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(LayerNorm(3)(x), F.layer_norm(x, (3,)), atol=1e-6)


def test_feed_forward_takes_one_vector_of_rank_one():
    torch.manual_seed(0)
    block = FeedForward(3, 6)
    x = torch.tensor([1.0, -2.0, 0.5])
    expected = block.linear2(torch.relu(block.linear1(x)))
    assert torch.allclose(block(x), expected, atol=1e-6)


def test_add_norm_uses_torch_default_eps():
    """The default eps is nn.LayerNorm's 1e-5: on rows of tiny spread it decides the output."""
    x = torch.tensor([[[0.0, 0.001, 0.002, 0.003]]], dtype=torch.float64)  # var ~ 1.25e-6
    zero = torch.zeros_like(x)
    add_norm = AddNorm(4).double()
    assert add_norm.norm.eps == 1e-5
    reference = F.layer_norm(x, (4,), eps=1e-5)
    assert torch.allclose(add_norm(x, zero), reference, atol=1e-12)
    assert torch.allclose(LayerNorm(4).double()(x), reference, atol=1e-12)
    assert torch.allclose(layer_norm(x), reference, atol=1e-12)
