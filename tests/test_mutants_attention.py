"""Attention at the ends of its ranges: written to kill the mutants that the project's first
mutation tool (on attention; ``make mutate`` now runs mutmut) found surviving the module's own
tests.

Expected values are the formula Q K^T / sqrt(d_k) computed with plain torch in float64, or
known by construction (with d_k = 0 every score is an empty sum, 0).
"""

from __future__ import annotations

import math

import pytest
import torch

from lessons_lib.attention import (
    KVCache,
    MultiHeadAttention,
    attention_per_token,
    attention_scores,
    copy_from_torch,
    copy_into_torch,
    scaled_dot_product_attention,
)


def queries_and_keys(d_k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    queries = torch.randn(2, 3, d_k, generator=generator, dtype=torch.float64)  # (b, L_q, d_k)
    keys = torch.randn(2, 4, d_k, generator=generator, dtype=torch.float64)  # (b, L_k, d_k)
    return queries, keys


def test_scores_are_scaled_by_default():
    queries, keys = queries_and_keys()
    expected = queries @ keys.transpose(-2, -1) / math.sqrt(5)
    assert torch.allclose(attention_scores(queries, keys), expected, atol=1e-12)


def test_unscaled_scores_are_the_plain_dot_products():
    queries, keys = queries_and_keys()
    expected = torch.einsum("bqd,bkd->bqk", queries, keys)
    assert torch.allclose(attention_scores(queries, keys, scaled=False), expected, atol=1e-12)


@pytest.mark.parametrize("scaled", [True, False])
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_with_no_features_every_score_is_zero(scaled, batch):
    queries = torch.zeros(*batch, 3, 0)  # (..., L_q, d_k = 0)
    keys = torch.zeros(*batch, 4, 0)
    assert torch.equal(attention_scores(queries, keys, scaled=scaled), torch.zeros(*batch, 3, 4))


def test_batch_dimensions_that_do_not_broadcast_are_refused_by_name():
    q, k, v = torch.zeros(2, 3, 4), torch.zeros(3, 5, 4), torch.zeros(3, 5, 4)
    with pytest.raises(ValueError, match=r"leading \(batch\) dimensions of q \(2, 3, 4\)"):
        scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_per_token_attention_wants_one_sequence_of_rank_two(shape):
    weight = torch.eye(4)
    with pytest.raises(ValueError, match=r"inputs must have 2 dimensions \(seq, d_model\)"):
        attention_per_token(torch.ones(shape), weight, weight, weight)
    with pytest.raises(TypeError, match="inputs"):
        attention_per_token(torch.ones(3, 4, dtype=torch.long), weight, weight, weight)


def test_a_new_cache_is_empty_and_says_how_many_keys_the_next_call_reads():
    growing, fixed = KVCache(), KVCache(fixed=True)
    assert growing.length == fixed.length == 0
    assert growing.length_after(3) == 3
    assert fixed.length_after(7) == 7  # the first call projects the whole memory
    mha = MultiHeadAttention(8, 2)
    memory, x = torch.randn(1, 7, 8), torch.randn(1, 1, 8)
    mha(x, memory, memory, cache=fixed)
    mha(x, x, x, cache=growing)
    assert (fixed.length, growing.length) == (7, 1)
    assert fixed.length_after(1) == 7  # later calls read the same memory
    assert growing.length_after(1) == 2  # a growing cache gains the new position


def test_a_bias_that_is_neither_a_tensor_nor_callable_is_refused_by_name():
    mha, x = MultiHeadAttention(8, 2), torch.randn(1, 3, 8)
    with pytest.raises(TypeError, match="bias"):
        mha(x, x, x, bias=[[0.0]])


def test_inputs_of_another_dtype_than_the_layer_are_refused_by_name():
    mha, x = MultiHeadAttention(8, 2), torch.randn(1, 3, 8, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"query has dtype torch\.float64"):
        mha(x, x, x)


def test_query_and_key_of_different_batch_sizes_are_refused():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="query has batch 2 but key has batch 3"):
        mha(torch.randn(2, 1, 8), torch.randn(3, 4, 8), torch.randn(3, 4, 8))


def test_copy_into_torch_keeps_a_float64_layer_in_float64():
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2).double()
    theirs = copy_into_torch(ours)
    assert theirs.in_proj_weight.dtype == torch.float64
    x = torch.randn(2, 3, 8, dtype=torch.float64)
    expected, _ = ours(x, x, x)
    assert torch.allclose(theirs(x, x, x)[0], expected, atol=1e-12)


def test_copy_from_torch_refuses_what_it_cannot_load():
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(TypeError, match="ours must be a MultiHeadAttention, got Linear"):
        copy_from_torch(torch.nn.Linear(8, 8), theirs)
    separate = torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=4, batch_first=True)
    with pytest.raises(ValueError, match="theirs keeps separate q/k/v weights"):
        copy_from_torch(MultiHeadAttention(8, 2), separate)
