"""The ops (softmax, masks) at the ends of their ranges: written to kill the mutants that the
project's first mutation tool (on softmax masking; ``make mutate`` now runs mutmut) found
surviving the modules' own tests.

Each expected value is known by construction: a formula evaluated in float64, torch's own
function, a uniform or one-hot row, the first and last axis, a length of 0 or of max_len.
"""

from __future__ import annotations

import math

import pytest
import torch

from lessons_lib.masking import causal_mask, padding_mask
from lessons_lib.softmax import entropy, naive_softmax, softmax


def logits_3d() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 4, generator=generator) * 2  # (batch, L_q, L_k)


def by_formula(x: torch.Tensor, dim: int) -> torch.Tensor:
    exps = x.double().exp()
    return (exps / exps.sum(dim=dim, keepdim=True)).float()


# --- softmax ------------------------------------------------------------------------------


@pytest.mark.parametrize("function", [softmax, naive_softmax])
def test_the_default_axis_is_the_last_one_of_a_3d_tensor(function):
    x = logits_3d()
    result = function(x)
    assert torch.allclose(result, by_formula(x, -1), atol=1e-6)
    assert torch.allclose(result.sum(-1), torch.ones(2, 3), atol=1e-6)


@pytest.mark.parametrize("dim", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("function", [softmax, naive_softmax])
def test_every_axis_from_the_first_to_the_last_normalises_that_axis(function, dim):
    x = logits_3d()
    assert torch.allclose(function(x, dim=dim), by_formula(x, dim), atol=1e-6)


@pytest.mark.parametrize("dim", [-4, 3])
def test_softmax_refuses_the_axis_just_past_either_end(dim):
    with pytest.raises(ValueError, match="dim"):
        softmax(logits_3d(), dim=dim)


def test_a_single_number_is_its_own_whole_distribution():
    x = torch.tensor(5.0)
    assert softmax(x, dim=0).item() == 1.0
    assert softmax(x, dim=-1).item() == 1.0
    for dim in (1, -2):
        with pytest.raises(ValueError, match="dim"):
            softmax(x, dim=dim)


def test_one_entry_gets_all_the_weight_and_no_entries_stay_empty():
    assert softmax(torch.tensor([7.0])).tolist() == [1.0]
    assert softmax(torch.tensor([[-3.0], [1e4]])).tolist() == [[1.0], [1.0]]
    assert softmax(torch.zeros(0)).shape == (0,)
    assert softmax(torch.zeros(3, 0)).shape == (3, 0)


def test_entropy_of_one_hot_and_uniform_rows_along_the_last_axis():
    rows = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]])  # (1, 2, 4)
    assert entropy(rows).shape == (1, 2)
    assert entropy(rows)[0].tolist() == pytest.approx([0.0, math.log(4)])
    weights = softmax(logits_3d())
    expected = -(weights.double() * weights.double().log()).sum(-1)
    assert torch.allclose(entropy(weights).double(), expected, atol=1e-6)
    assert torch.allclose(entropy(weights, dim=0), -(weights * weights.log()).sum(0), atol=1e-6)


# --- masks --------------------------------------------------------------------------------


def test_a_causal_mask_of_one_token_and_the_first_and_last_rows_of_a_longer_one():
    assert causal_mask(1).tolist() == [[True]]
    mask = causal_mask(6)
    assert mask[0].tolist() == [True] + [False] * 5  # the first query sees only itself
    assert mask[-1].tolist() == [True] * 6  # the last sees everything
    assert mask[:, 0].all() and mask[:, -1].tolist() == [False] * 5 + [True]


@pytest.mark.parametrize("as_tensor", [False, True])
def test_padding_lengths_of_0_and_of_max_len(as_tensor):
    lengths = [0, 3, 1]
    mask = padding_mask(torch.tensor(lengths) if as_tensor else lengths, max_len=3)
    assert mask.shape == (3, 1, 3)
    assert mask[:, 0].tolist() == [[False] * 3, [True] * 3, [True, False, False]]


@pytest.mark.parametrize("lengths", [[2, -1], [-1, 2], [1, 4], [4, 1], [3, 4]])
def test_padding_mask_refuses_a_length_outside_0_to_max_len_beside_good_ones(lengths):
    with pytest.raises(ValueError, match="length"):
        padding_mask(lengths, max_len=3)


def test_padding_mask_of_one_sequence_and_of_none():
    assert padding_mask([2], max_len=3).tolist() == [[[True, True, False]]]
    with pytest.raises(ValueError, match="at least one"):
        padding_mask([], max_len=3)
    with pytest.raises(ValueError, match="at least one"):
        padding_mask(torch.zeros(0, dtype=torch.long), max_len=3)


@pytest.mark.parametrize("lengths", [["a"], [1.5], [None]])
def test_padding_mask_refuses_lengths_that_are_not_whole_numbers(lengths):
    with pytest.raises(TypeError, match="lengths"):
        padding_mask(lengths, max_len=3)
