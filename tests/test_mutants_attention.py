"""Attention at the ends of its ranges, its messages and its options: written to kill the
mutants that the project's first mutation tool (on attention; ``make mutate`` now runs mutmut)
and then mutmut (``make mutate MUTATE=attention``) found surviving the module's own tests.

Expected values are the formula Q K^T / sqrt(d_k) computed with plain torch in float64, torch's
own ``scaled_dot_product_attention`` and ``nn.MultiheadAttention`` given the same inputs and
weights, or known by construction (with d_k = 0 every score is an empty sum, 0; dropout zeroes
a weight or scales it by 1 / (1 - p)). Each bad argument is refused with an error whose message
begins with that argument's own name, read here from its first word.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.attention import (
    KVCache,
    MultiHeadAttention,
    attention_per_token,
    attention_scores,
    copy_from_torch,
    copy_into_torch,
    require_dropout,
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


# mutmut's survivors (make mutate MUTATE=attention). First the messages: one bad argument per
# row, and the start of the error it must raise, which names that argument and its layout.
INTS = torch.ones(3, 4, dtype=torch.long)  # not a floating-point tensor
EYE = torch.eye(4)  # a (d_model, d_k) weight
Q, K, V = torch.ones(3, 4), torch.ones(5, 4), torch.ones(5, 2)  # (L_q, d_k), (L_k, d_k), (L_k, d_v)
X = torch.ones(1, 3, 8)  # (batch, seq, d_model)
FLOAT_MESSAGE = "{} must be a floating-point tensor (e.g. torch.float32), got dtype torch.int64"


def layer() -> MultiHeadAttention:
    return MultiHeadAttention(8, 2)  # built at each call: importing draws no random numbers


def float_case(name, call):
    return pytest.param(call, TypeError, FLOAT_MESSAGE.format(name), id=f"{name}-not-float")


MESSAGES = [
    float_case("inputs", lambda: attention_per_token(INTS, EYE, EYE, EYE)),
    float_case("w_q", lambda: attention_per_token(Q, INTS.T, EYE, EYE)),
    float_case("w_k", lambda: attention_per_token(Q, EYE, INTS.T, EYE)),
    float_case("w_v", lambda: attention_per_token(Q, EYE, EYE, INTS.T)),
    *(
        pytest.param(
            call,
            ValueError,
            f"{name} must have 2 dimensions (d_model, d_k), got 1 dimensions with shape (4,)",
            id=f"{name}-rank",
        )
        for name, call in [
            ("w_q", lambda: attention_per_token(Q, torch.ones(4), EYE, EYE)),
            ("w_k", lambda: attention_per_token(Q, EYE, torch.ones(4), EYE)),
            ("w_v", lambda: attention_per_token(Q, EYE, EYE, torch.ones(4))),
        ]
    ),
    float_case("q", lambda: scaled_dot_product_attention(INTS, K, V)),
    float_case("k", lambda: scaled_dot_product_attention(Q, INTS, V)),
    float_case("v", lambda: scaled_dot_product_attention(Q, K, INTS)),
    *(
        pytest.param(
            call,
            ValueError,
            f"{name} must have at least 2 dimensions (..., seq, dim), got shape (4,)",
            id=f"{name}-rank",
        )
        for name, call in [
            ("q", lambda: scaled_dot_product_attention(torch.ones(4), K, V)),
            ("k", lambda: scaled_dot_product_attention(Q, torch.ones(4), V)),
            ("v", lambda: scaled_dot_product_attention(Q, K, torch.ones(4))),
        ]
    ),
    pytest.param(
        lambda: scaled_dot_product_attention(Q, K, torch.ones(4, 2)),
        ValueError,
        "k has L_k=5 positions but v has 4; every key needs exactly one value$",
        id="k-and-v-lengths",
    ),
    pytest.param(
        lambda: MultiHeadAttention(0, 2), ValueError, "d_model must be > 0, got 0$", id="d_model"
    ),
    pytest.param(
        lambda: MultiHeadAttention(8, 0),
        ValueError,
        "num_heads must be > 0, got 0$",
        id="num_heads",
    ),
    pytest.param(
        lambda: MultiHeadAttention(8, 2, dropout="half"),
        TypeError,
        "dropout must be a number, got str$",
        id="dropout-not-a-number",
    ),
    *(
        pytest.param(
            lambda p=p: MultiHeadAttention(8, 2, dropout=p),
            ValueError,
            f"dropout must be a probability in [0, 1), got {p!r}$",
            id=f"dropout-{p}",
        )
        for p in (1, 1.0, 1.5, -0.1)
    ),
    float_case("query", lambda: layer()(INTS.view(1, 3, 4).repeat(1, 1, 2), X, X)),
    float_case("key", lambda: layer()(X, INTS.view(1, 3, 4).repeat(1, 1, 2), X)),
    float_case("value", lambda: layer()(X, X, INTS.view(1, 3, 4).repeat(1, 1, 2))),
    *(
        pytest.param(
            call,
            ValueError,
            f"{name} must have 3 dimensions (batch, seq, d_model), got 2 dimensions with shape",
            id=f"{name}-rank",
        )
        for name, call in [
            ("key", lambda: layer()(X, X[0], X)),
            ("value", lambda: layer()(X, X, X[0])),
        ]
    ),
    *(
        pytest.param(
            call,
            ValueError,
            f"{name} has last dimension 4 but this layer was built with d_model=8",
            id=f"{name}-d_model",
        )
        for name, call in [
            ("key", lambda: layer()(X, torch.ones(1, 3, 4), X)),
            ("value", lambda: layer()(X, X, torch.ones(1, 3, 4))),
        ]
    ),
    pytest.param(
        lambda: layer()(X, X, torch.ones(1, 2, 8)),
        ValueError,
        "key (1, 3, 8) and value (1, 2, 8) must share (batch, L_k): "
        "every key needs exactly one value$",
        id="key-and-value-lengths",
    ),
    pytest.param(
        lambda: layer()(X, X, X, bias=torch.zeros(3, 3, dtype=torch.long)),
        TypeError,
        FLOAT_MESSAGE.format("bias"),
        id="bias-not-float",
    ),
    pytest.param(
        lambda: layer()(X, X, X, mask=torch.ones(1, 1, 3, 3, dtype=torch.bool)),
        ValueError,
        "mask must broadcast to (batch, L_q, L_k) and is shared by all heads, "
        "got 4 dimensions with shape (1, 1, 3, 3)$",
        id="mask-rank",
    ),
    pytest.param(
        lambda: layer()(
            torch.ones(2, 1, 8),
            torch.ones(2, 1, 8),
            torch.ones(2, 1, 8),
            cache=KVCache(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4)),
        ),
        ValueError,
        "the cache holds keys of shape (1, 2, 1, 4) (batch, heads, seen, d_head) but this call "
        "needs (batch, heads, d_head) = (2, 2, 4): "
        "use one cache per layer and per batch of sequences$",
        id="cache-of-another-batch",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), MESSAGES)
def test_a_bad_argument_is_refused_by_its_own_name_and_layout(call, error, message):
    # the expected text is literal up to a trailing "$", which ends the message there
    pattern = "^" + re.escape(message.removesuffix("$")) + ("$" if message.endswith("$") else "")
    with pytest.raises(error, match=pattern):
        call()


def test_a_dropout_probability_is_refused_by_the_name_it_is_given():
    with pytest.raises(TypeError, match=r"^rate must be a number, got str$"):
        require_dropout("rate", "half")
    with pytest.raises(ValueError, match=r"^rate must be a probability in \[0, 1\), got 1$"):
        require_dropout("rate", 1)
    assert require_dropout("rate", 0.999) == 0.999


@pytest.mark.parametrize(
    ("d_model", "num_heads", "divisors"),
    [
        (12, 5, [1, 2, 3, 4, 6, 12]),  # every divisor, d_model itself included
        (7, 2, [1, 7]),  # a prime: only 1 and itself
        (36, 5, [1, 2, 3, 4, 6, 9, 12, 18]),  # 9 divisors: the first 8 are offered
    ],
    ids=["12", "prime-7", "36-first-eight"],
)
def test_an_indivisible_d_model_suggests_its_divisors_as_num_heads(d_model, num_heads, divisors):
    message = (
        f"d_model={d_model} must be divisible by num_heads={num_heads} (each head gets "
        f"d_model / num_heads dimensions); try num_heads in {divisors}"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        MultiHeadAttention(d_model, num_heads)


@pytest.mark.parametrize("ours_has_bias", [True, False], ids=["ours-biased", "theirs-biased"])
def test_copy_from_torch_says_which_layer_has_the_biases(ours_has_bias):
    ours = MultiHeadAttention(8, 2, bias=ours_has_bias)
    theirs = torch.nn.MultiheadAttention(8, 2, bias=not ours_has_bias, batch_first=True)
    message = (
        "one layer has biases and the other not "
        f"(theirs: {not ours_has_bias}, ours: {ours_has_bias})"
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        copy_from_torch(ours, theirs)


def test_copy_from_torch_refuses_separate_projections_with_the_message_from_its_start():
    separate = torch.nn.MultiheadAttention(8, 2, kdim=4, vdim=4, batch_first=True)
    message = "theirs keeps separate q/k/v weights (kdim or vdim != embed_dim)"
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        copy_from_torch(MultiHeadAttention(8, 2), separate)


# Then the options and the logic, each against torch's own attention or a fact of construction.
def seeded(*shape: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(sum(shape))
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def test_unscaled_attention_is_torchs_with_a_scale_of_one():
    q, k, v = seeded(2, 3, 4), seeded(2, 5, 4), seeded(2, 5, 3)
    out, weights = scaled_dot_product_attention(q, k, v, scaled=False)
    expected = F.scaled_dot_product_attention(q, k, v, scale=1.0)
    assert torch.allclose(out, expected, atol=1e-12)
    assert torch.allclose(weights, torch.softmax(q @ k.transpose(-2, -1), dim=-1), atol=1e-12)
    # and the scale matters here: the scaled attention is another one
    assert not torch.allclose(scaled_dot_product_attention(q, k, v)[0], expected, atol=1e-6)


@pytest.mark.parametrize(
    ("k_batch", "v_batch"), [((2,), ()), ((), (2,))], ids=["batch-in-k", "batch-in-v"]
)
def test_the_batch_of_k_or_v_alone_counts_in_the_batch_shape(k_batch, v_batch):
    q, k, v = seeded(3, 4), seeded(*k_batch, 5, 4), seeded(*v_batch, 5, 3)
    mask = torch.ones(2, 3, 5, dtype=torch.bool)  # (batch, L_q, L_k): the batch comes from k or v
    mask[0, :, 1] = mask[1, 0, 3:] = False
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    rows = [  # one sequence at a time, by torch, taking the batch from whichever has it
        F.scaled_dot_product_attention(
            q, k[b] if k_batch else k, v[b] if v_batch else v, attn_mask=mask[b]
        )
        for b in range(2)
    ]
    assert torch.allclose(out, torch.stack(rows), atol=1e-12)
    # a batch of k or v that does not broadcast with q's is refused before any product
    q3 = seeded(3, 3, 4)
    with pytest.raises(ValueError, match=r"^the leading \(batch\) dimensions of q \(3, 3, 4\)"):
        scaled_dot_product_attention(q3, k, v)


def test_with_one_feature_the_scale_divides_by_one():
    # d_k = 1: 1/sqrt(1) leaves the values, but the division is still made, so integer
    # vectors (attention_scores checks nothing) give float scores as for any d_k > 0
    queries, keys = torch.tensor([[2], [-3]]), torch.tensor([[1], [4], [0]])
    scores = attention_scores(queries, keys)
    assert scores.is_floating_point()
    assert torch.equal(scores, torch.tensor([[2.0, 8.0, 0.0], [-3.0, -12.0, 0.0]]))


def test_a_layer_built_without_biases_has_none_and_matches_torchs():
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, bias=False, batch_first=True).double()
    ours = MultiHeadAttention(8, 2, bias=False).double()
    assert [ours.w_q.bias, ours.w_k.bias, ours.w_v.bias, ours.w_o.bias] == [None] * 4
    assert sum(p.numel() for p in ours.parameters()) == 4 * 8 * 8  # the four weights alone
    copy_from_torch(ours, theirs)
    query, memory = seeded(2, 3, 8), seeded(2, 4, 8)
    expected_out, expected_weights = theirs(query, memory, memory, average_attn_weights=False)
    out, weights = ours(query, memory, memory)
    assert torch.allclose(out, expected_out, atol=1e-12)
    assert torch.allclose(weights, expected_weights, atol=1e-12)


def test_attention_dropout_in_training_zeroes_weights_or_scales_them_by_one_over_keep():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 6, 8)
    kept = mha.eval()(x, x, x)[1]  # (batch, heads, L_q, L_k), no dropout
    torch.manual_seed(1)
    dropped = mha.train()(x, x, x)[1]
    zeroed = dropped == 0
    assert zeroed.any() and (~zeroed).any()
    assert torch.allclose(dropped[~zeroed], kept[~zeroed] / (1 - 0.5))
