"""Attention against torch's own implementations, its invariants, and bad input."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from lessons_lib.attention import (
    KVCache,
    attend,
    attention_per_token,
    copy_from_torch,
    copy_into_torch,
)

SHAPES = [  # (q shape, k shape, d_v)
    ((5, 8), (7, 8), 3),
    ((2, 5, 8), (2, 7, 8), 4),
    ((3, 4, 6, 16), (3, 4, 6, 16), 16),
    ((2, 1, 1, 32), (2, 1, 9, 32), 5),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("shape_q", "shape_k", "d_v"), SHAPES)
@pytest.mark.parametrize("use_mask", [False, True])
def test_sdpa_matches_torch(seed, shape_q, shape_k, d_v, use_mask):
    torch.manual_seed(seed)
    q, k = torch.randn(shape_q), torch.randn(shape_k)
    v = torch.randn(*shape_k[:-1], d_v)
    mask = None
    if use_mask:
        mask = torch.rand(shape_q[-2], shape_k[-2]) < 0.6
        mask[:, 0] = True  # torch gives NaN for fully masked rows; compare where it is defined
    ours, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-6)
    if mask is not None:
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = (torch.randn(1, 3, 4, requires_grad=True) for _ in range(3))
    mask = torch.tensor([[True, False, True], [False, False, False], [True, True, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.equal(weights[0, 1], torch.zeros(3))
    assert torch.equal(out[0, 1], torch.zeros(4))
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_extreme_logits_stay_finite():
    q = torch.full((1, 2, 4), 100.0)
    k = torch.tensor([[[100.0] * 4, [-100.0] * 4]])
    out, weights = scaled_dot_product_attention(q, k, torch.randn(1, 2, 3))
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert torch.allclose(weights[0, :, 0], torch.ones(2))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_keeps_dtype(dtype):
    q, k, v = (torch.randn(2, 3, 4, dtype=dtype) for _ in range(3))
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.dtype == dtype and weights.dtype == dtype


@given(st.integers(2, 7), st.integers(0, 10_000))
def test_attention_without_positions_is_permutation_equivariant(seq, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(seq, 6, generator=generator, dtype=torch.float64)
    w_q, w_k, w_v = (torch.randn(6, 4, generator=generator, dtype=torch.float64) for _ in range(3))
    order = torch.randperm(seq, generator=generator)

    def head(inputs):
        return scaled_dot_product_attention(inputs @ w_q, inputs @ w_k, inputs @ w_v)[0]

    assert torch.allclose(head(x[order]), head(x)[order], atol=1e-10)


@given(st.integers(1, 8), st.integers(0, 10_000))
def test_per_token_loop_equals_matrix_form(seq, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(seq, 6, generator=generator, dtype=torch.float64)
    w_q, w_k, w_v = (torch.randn(6, 4, generator=generator, dtype=torch.float64) for _ in range(3))
    matrix_form, _ = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)
    assert torch.allclose(attention_per_token(x, w_q, w_k, w_v), matrix_form, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    ("d_model", "num_heads", "l_q", "l_k"), [(16, 4, 5, 5), (24, 3, 4, 7), (8, 1, 6, 2)]
)
def test_mha_matches_torch_without_mask(seed, d_model, num_heads, l_q, l_k):
    torch.manual_seed(seed)
    ours = MultiHeadAttention(d_model, num_heads)
    theirs = copy_into_torch(ours)
    query, key = torch.randn(2, l_q, d_model), torch.randn(2, l_k, d_model)
    value = torch.randn(2, l_k, d_model)
    out, weights = ours(query, key, value)
    ref_out, ref_weights = theirs(query, key, value, need_weights=True, average_attn_weights=False)
    assert weights.shape == (2, num_heads, l_q, l_k)
    assert torch.allclose(out, ref_out, atol=1e-5)
    assert torch.allclose(weights, ref_weights, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_mha_matches_torch_with_causal_and_padding_masks(seed):
    torch.manual_seed(seed)
    ours = MultiHeadAttention(32, 4)
    theirs = copy_into_torch(ours)
    x = torch.randn(3, 6, 32)
    lengths = [6, 4, 2]
    mask = causal_mask(6) & padding_mask(lengths, max_len=6)  # (3, 6, 6), True = may attend
    out, weights = ours(x, x, x, mask=mask)
    ref_out, ref_weights = theirs(
        x,
        x,
        x,
        attn_mask=~causal_mask(6),  # torch: True = may NOT attend
        key_padding_mask=~padding_mask(lengths, max_len=6)[:, 0],
        need_weights=True,
        average_attn_weights=False,
    )
    assert torch.allclose(out, ref_out, atol=1e-5)
    assert torch.allclose(weights, ref_weights, atol=1e-5)
    # Each mask form passes as it is and is shared by every head.
    for each in (causal_mask(6), padding_mask(lengths, max_len=6)):
        _, per_head = ours(x, x, x, mask=each)
        assert (
            per_head.masked_select(~MultiHeadAttention.mask_for_heads(each).expand_as(per_head))
            == 0
        ).all()


def test_sdpa_bad_input():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 4)
    with pytest.raises(ValueError, match=r"q has d_k=8 but k has d_k=4"):
        scaled_dot_product_attention(q, torch.randn(2, 7, 4), v)
    with pytest.raises(ValueError, match=r"k has L_k=7 positions but v has 6"):
        scaled_dot_product_attention(q, k, torch.randn(2, 6, 4))
    with pytest.raises(ValueError, match=r"q must have at least 2 dimensions"):
        scaled_dot_product_attention(torch.randn(8), k, v)
    with pytest.raises(TypeError, match=r"mask must be a bool tensor.*torch.float32"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 7))
    with pytest.raises(ValueError, match=r"mask of shape \(5, 6\) does not broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"one dtype"):
        scaled_dot_product_attention(q.double(), k, v)
    with pytest.raises(TypeError, match=r"floating-point tensor"):
        scaled_dot_product_attention(q.long(), k, v)


def test_mha_bad_input():
    with pytest.raises(ValueError, match=r"d_model=10 must be divisible by num_heads=3"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must have 3 dimensions \(batch, seq, d_model\)"):
        mha(torch.randn(5, 8), torch.randn(5, 8), torch.randn(5, 8))
    with pytest.raises(
        ValueError, match=r"last dimension 6 but this layer was built with d_model=8"
    ):
        x = torch.randn(1, 5, 6)
        mha(x, x, x)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"key \(2, 5, 8\) and value \(2, 4, 8\)"):
        mha(x, x, torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match=r"mask must broadcast to \(batch, L_q, L_k\)"):
        mha(x, x, x, mask=torch.ones(2, 2, 5, 5, dtype=torch.bool))


# --- cross-attention and the tiny alignment model (chapter "Cross-attention") -------------

from lessons_lib.data import ReversalTask  # noqa: E402
from lessons_lib.metrics import token_accuracy  # noqa: E402
from lessons_lib.training import train_alignment_model  # noqa: E402
from lessons_lib.transformer import TinyCrossAttentionModel  # noqa: E402


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("l_q", "l_k"), [(3, 7), (6, 2)])
def test_mha_cross_attention_with_padding_matches_torch(seed, l_q, l_k):
    torch.manual_seed(seed)
    ours = MultiHeadAttention(16, 4)
    theirs = copy_into_torch(ours)
    decoder, encoder = torch.randn(3, l_q, 16), torch.randn(3, l_k, 16)
    lengths = [l_k, 1, max(l_k - 1, 1)]
    mask = padding_mask(lengths, max_len=l_k)  # (3, 1, L_k): padded source tokens hidden
    out, weights = ours(decoder, encoder, encoder, mask=mask)
    ref_out, ref_weights = theirs(
        decoder,
        encoder,
        encoder,
        key_padding_mask=~mask[:, 0],
        need_weights=True,
        average_attn_weights=False,
    )
    assert out.shape == (3, l_q, 16) and weights.shape == (3, 4, l_q, l_k)
    assert torch.allclose(out, ref_out, atol=1e-5)
    assert torch.allclose(weights, ref_weights, atol=1e-5)


def test_mha_split_and_merge_are_inverse_and_head_h_gets_block_h():
    mha = MultiHeadAttention(12, 3)
    x = torch.randn(2, 5, 12)
    heads = mha.split_heads(x)  # (2, 3, 5, 4)
    assert torch.equal(heads[:, 1], x[..., 4:8])
    assert torch.equal(mha.merge_heads(heads), x)


def test_mha_fully_masked_rows_give_finite_outputs_and_gradients():
    mha = MultiHeadAttention(8, 2)
    query = torch.randn(2, 3, 8, requires_grad=True)
    memory = torch.randn(2, 4, 8)
    mask = padding_mask([0, 4], max_len=4)  # the first source is all padding
    out, weights = mha(query, memory, memory, mask=mask)
    assert torch.isfinite(out).all() and torch.equal(weights[0], torch.zeros(2, 3, 4))
    out.sum().backward()
    assert torch.isfinite(query.grad).all()


def train_tiny_model(steps: int, seed: int = 0):
    torch.manual_seed(seed)
    task = ReversalTask(length=8)
    model = TinyCrossAttentionModel(task.vocab_size, length=task.length, d_model=32, num_heads=2)
    validation = task.sample(128, torch.Generator().manual_seed(98), held_out=True)
    history = train_alignment_model(model, task, validation, steps=steps, seed=seed, progress=False)
    assert history.steps[-1] == steps and len(history.scores) == steps // 50
    return task, model


def test_tiny_model_learns_the_anti_diagonal_alignment():
    task, model = train_tiny_model(steps=150)
    sources, targets = task.sample(128, torch.Generator().manual_seed(99), held_out=True)
    assert token_accuracy(model, sources, targets) > 0.9
    _, weights = model(sources)  # (batch, heads, L, L)
    read_most = weights.mean(dim=(0, 1)).argmax(-1)  # (L,) source read by each output
    mirrored = torch.arange(task.length - 1, -1, -1)
    assert (read_most == mirrored).sum() >= task.length - 1
    # An untrained model reads no such pattern.
    torch.manual_seed(0)
    untrained = TinyCrossAttentionModel(task.vocab_size, length=task.length)
    assert token_accuracy(untrained, sources, targets) < 0.3


def test_tiny_model_shapes_and_bad_input():
    model = TinyCrossAttentionModel(vocab_size=11, length=8, d_model=16, num_heads=4)
    logits, weights = model(torch.randint(0, 10, (3, 8)))
    assert logits.shape == (3, 8, 11) and weights.shape == (3, 4, 8, 8)
    with pytest.raises(TypeError, match=r"sources must be a LongTensor"):
        model(torch.zeros(3, 8))
    with pytest.raises(ValueError, match=r"sources have 9 tokens but this model was built"):
        model(torch.zeros(3, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"sources must have 2 dimensions"):
        model(torch.zeros(8, dtype=torch.long))


# --- the key/value cache (chapter "Autoregressive decoding") ------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_growing_cache_one_token_at_a_time_equals_causal_attention(seed):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 6, 16)
    full, full_weights = mha(x, x, x, mask=causal_mask(6))
    cache = KVCache()
    for t in range(6):
        out, weights = mha(x[:, t : t + 1], x[:, t : t + 1], x[:, t : t + 1], cache=cache)
        assert cache.length == t + 1 and weights.shape == (2, 4, 1, t + 1)
        assert torch.allclose(out[:, 0], full[:, t], atol=1e-6)
        assert torch.allclose(weights[:, :, 0], full_weights[:, :, t, : t + 1], atol=1e-6)


def test_fixed_cache_projects_the_memory_once():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    memory, query = torch.randn(1, 5, 8), torch.randn(1, 1, 8)
    cache = KVCache(fixed=True)
    first, _ = mha(query, memory, memory, cache=cache)
    keys = cache.keys
    calls = []
    handle = mha.w_k.register_forward_hook(lambda *args: calls.append(1))
    second, _ = mha(query, memory, memory, cache=cache)
    handle.remove()
    assert calls == [] and cache.keys is keys and cache.length == 5
    assert torch.equal(first, second)
    assert torch.allclose(first, mha(query, memory, memory)[0], atol=1e-6)


def test_cached_mask_must_span_every_cached_key():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(1, 1, 8)
    cache = KVCache()
    mha(x, x, x, cache=cache)
    with pytest.raises(ValueError, match=r"does not broadcast to the scores' shape \(1, 1, 2\)"):
        mha(x, x, x, mask=torch.ones(1, 1, dtype=torch.bool).expand(1, 3), cache=cache)


def test_copy_into_torch_and_back_round_trips():
    torch.manual_seed(0)
    ours = MultiHeadAttention(12, 3)
    theirs = copy_into_torch(ours)
    again = MultiHeadAttention(12, 3)
    copy_from_torch(again, theirs)
    for name, parameter in ours.state_dict().items():
        assert torch.equal(parameter, again.state_dict()[name]), name
    with pytest.raises(TypeError, match="ours must be a MultiHeadAttention, got Linear"):
        copy_into_torch(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("use_mask", [False, True])
def test_attend_with_a_float_bias_matches_torchs_float_attn_mask(seed, use_mask):
    torch.manual_seed(seed)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    bias = torch.randn(3, 5, 7)  # (heads, L_q, L_k), broadcast over the batch
    mask = torch.rand(5, 7) < 0.6 if use_mask else None
    if mask is not None:
        mask[:, 0] = True
    ours, weights = attend(q, k, v, mask=mask, bias=bias)
    torch_mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=torch_mask)
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5), atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bias_shape", [(4, 6, 6), (1, 6, 6), (2, 4, 6, 6)])
def test_multi_head_bias_matches_torch_per_head(seed, bias_shape):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 6, 16)
    bias = torch.randn(bias_shape)
    ours, _ = mha(x, x, x, bias=bias)
    heads = [mha.split_heads(linear(x)) for linear in (mha.w_q, mha.w_k, mha.w_v)]
    reference = F.scaled_dot_product_attention(*heads, attn_mask=bias)  # (2, 4, 6, 4)
    assert torch.allclose(ours, mha.w_o(mha.merge_heads(reference)), atol=1e-5)
    plain, _ = mha(x, x, x)
    zero, _ = mha(x, x, x, bias=torch.zeros(1, 6, 6))
    assert torch.allclose(plain, zero, atol=1e-6) and not torch.allclose(plain, ours, atol=1e-3)


def test_multi_head_bias_can_be_computed_from_the_queries():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(3, 5, 8)
    seen = {}

    def from_queries(queries):
        seen["queries"] = queries
        return queries.sum(-1, keepdim=True).expand(-1, -1, -1, 5)  # (batch, heads, L_q, L_k)

    out, _ = mha(x, x, x, bias=from_queries)
    assert torch.allclose(seen["queries"], mha.split_heads(mha.w_q(x)))
    expected, _ = mha(x, x, x, bias=from_queries(mha.split_heads(mha.w_q(x))))
    assert torch.allclose(out, expected)


def test_multi_head_bias_bad_input():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(3, 5, 8)
    with pytest.raises(
        ValueError, match=r"bias must broadcast to .*\(3, 2, 5, 5\), got shape \(3, 5, 4\)"
    ):
        mha(x, x, x, bias=torch.zeros(3, 5, 4))
    with pytest.raises(TypeError, match="bias"):
        mha(x, x, x, bias=torch.zeros(2, 5, 5, dtype=torch.long))
    with pytest.raises(TypeError, match=r"bias has dtype torch\.float64"):
        mha(x, x, x, bias=torch.zeros(2, 5, 5, dtype=torch.float64))


# --- masks may not enlarge the scores; each call checks its mask once (issue 20) ----------

import lessons_lib._validate as validate_module  # noqa: E402
from lessons_lib.masking import apply_mask  # noqa: E402
from lessons_lib.softmax import softmax  # noqa: E402

ENLARGING = "does not broadcast to the scores' shape {} without enlarging it"


def test_sdpa_refuses_a_mask_with_more_batch_entries_than_the_scores():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 4)
    with pytest.raises(
        ValueError, match=r"mask of shape \(3, 5, 7\) " + ENLARGING.format(r"\(2, 5, 7\)")
    ):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 5, 7, dtype=torch.bool))
    q2, k2, v2 = q[0], k[0], v[0]  # no batch axis: a batched mask would add one
    with pytest.raises(
        ValueError, match=r"mask of shape \(2, 5, 7\) " + ENLARGING.format(r"\(5, 7\)")
    ):
        scaled_dot_product_attention(q2, k2, v2, mask=torch.ones(2, 5, 7, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"mask of shape \(1, 2, 5, 7\) " + ENLARGING.format(r"\(2, 5, 7\)")
    ):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(1, 2, 5, 7, dtype=torch.bool))


def test_mha_refuses_a_mask_with_more_batch_entries_than_the_inputs():
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8)
    with pytest.raises(
        ValueError, match=r"mask of shape \(3, 5, 5\) " + ENLARGING.format(r"\(2, 5, 5\)")
    ):
        mha(x, x, x, mask=torch.ones(3, 5, 5, dtype=torch.bool))
    one = torch.randn(1, 5, 8)
    with pytest.raises(
        ValueError, match=r"mask of shape \(2, 1, 5\) " + ENLARGING.format(r"\(1, 5, 5\)")
    ):
        mha(one, one, one, mask=padding_mask([5, 3], max_len=5))


def test_apply_mask_refuses_a_mask_that_would_enlarge_the_scores():
    with pytest.raises(
        ValueError, match=r"mask of shape \(2, 3, 3\) " + ENLARGING.format(r"\(3, 3\)")
    ):
        apply_mask(torch.zeros(3, 3), torch.ones(2, 3, 3, dtype=torch.bool))


@pytest.mark.parametrize(
    "mask_shape", [(7,), (5, 7), (1, 7), (5, 1), (2, 5, 7), (1, 5, 7), (2, 1, 7), (1, 1, 1)]
)
def test_masks_that_broadcast_without_enlarging_still_work_and_keep_the_shape(mask_shape):
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 4)
    mask = torch.rand(mask_shape) < 0.7
    mask[..., 0] = True
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.shape == (2, 5, 4) and weights.shape == (2, 5, 7)
    assert torch.allclose(out, expected, atol=1e-5)
    assert apply_mask(torch.zeros(2, 5, 7), mask).shape == (2, 5, 7)
    if len(mask_shape) <= 3:
        mha = MultiHeadAttention(8, 2)
        x = torch.randn(2, 5, 8)
        keys = torch.randn(2, 7, 8)
        assert mha(x, keys, keys, mask=mask)[1].shape == (2, 2, 5, 7)


def _count_mask_checks(monkeypatch) -> list[tuple]:
    """Count every call of require_bool_mask, wherever it was imported."""
    import lessons_lib.attention as attention_module
    import lessons_lib.masking as masking_module

    calls: list[tuple] = []
    original = validate_module.require_bool_mask

    def counting(*args):
        calls.append(args[2])
        return original(*args)

    for module in (validate_module, attention_module, masking_module):
        monkeypatch.setattr(module, "require_bool_mask", counting, raising=False)
    return calls


def test_each_call_checks_its_mask_exactly_once(monkeypatch):
    calls = _count_mask_checks(monkeypatch)
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 4)
    scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 7, dtype=torch.bool))
    assert calls == [(2, 5, 7)]
    x = torch.randn(2, 5, 8)
    MultiHeadAttention(8, 2)(x, x, x, mask=causal_mask(5))
    assert calls == [(2, 5, 7), (2, 5, 5)]
    apply_mask(torch.zeros(5, 5), causal_mask(5))
    assert calls == [(2, 5, 7), (2, 5, 5), (5, 5)]


def test_a_bad_mask_leaves_the_key_value_cache_as_it_was():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    cache = KVCache()
    x = torch.randn(1, 1, 8)
    mha(x, x, x, cache=cache)
    keys, values = cache.keys.clone(), cache.values.clone()
    with pytest.raises(ValueError, match=r"does not broadcast to the scores' shape \(1, 1, 2\)"):
        mha(x, x, x, mask=torch.ones(1, 1, 3, dtype=torch.bool), cache=cache)
    assert cache.length == 1
    assert torch.equal(cache.keys, keys) and torch.equal(cache.values, values)
    mha(x, x, x, mask=torch.ones(1, 1, 2, dtype=torch.bool), cache=cache)  # right: grows
    assert cache.length == 2


def test_a_cache_from_another_layer_or_batch_is_refused_by_shape():
    mha = MultiHeadAttention(8, 2)
    cache = KVCache()
    mha(torch.randn(3, 1, 8), torch.randn(3, 1, 8), torch.randn(3, 1, 8), cache=cache)
    x = torch.randn(2, 1, 8)
    with pytest.raises(ValueError, match=r"holds keys of shape \(3, 2, 1, 4\) .* \(2, 2, 4\)"):
        mha(x, x, x, cache=cache)
    with pytest.raises(ValueError, match=r"holds keys of shape \(3, 2, 1, 4\) .* \(3, 4, 2\)"):
        MultiHeadAttention(8, 4)(*(torch.randn(3, 1, 8),) * 3, cache=cache)
    with pytest.raises(TypeError, match=r"cache must be a KVCache, got dict"):
        mha(x, x, x, cache={})


# --- softmax and attention in half precision (issue 20) ------------------------------------

HALF = {torch.float16: 1e-3, torch.bfloat16: 1e-2}


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3])
@pytest.mark.parametrize("offset", [0.0, 1e3, 6e4])
@pytest.mark.parametrize("dtype", list(HALF), ids=str)
def test_softmax_matches_torch_in_half_precision_with_large_logits(dtype, offset, scale):
    if dtype == torch.float16 and offset + 4 * scale > 65504:
        offset = 6e4 - 4 * scale  # keep the logits finite in float16
    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 64, generator=generator) * scale + offset).to(dtype)
    ours = softmax(logits)
    assert ours.dtype == dtype and torch.isfinite(ours).all()
    expected = torch.softmax(logits.float(), dim=-1).to(dtype)  # computed in float32, rounded once
    torch.testing.assert_close(ours, expected, atol=HALF[dtype], rtol=HALF[dtype])
    theirs = torch.softmax(logits, dim=-1)  # torch's own half kernel: also float32 inside
    torch.testing.assert_close(ours, theirs, atol=HALF[dtype], rtol=HALF[dtype])
    for temperature in (0.5, 3.0):
        expected = torch.softmax(logits.float() / temperature, dim=-1).to(dtype)
        torch.testing.assert_close(
            softmax(logits, temperature=temperature), expected, atol=HALF[dtype], rtol=HALF[dtype]
        )


@pytest.mark.parametrize("dtype", list(HALF), ids=str)
def test_small_probabilities_keep_their_relative_accuracy_in_half_precision(dtype):
    # In bfloat16, 0.30078125 - 64 rounds to -63.75: computing x - max in the input's
    # dtype changed such a weight by 5%. In float32 it stays within two units of the last place.
    generator = torch.Generator().manual_seed(1)
    logits = (torch.randn(16, 32, generator=generator) * 20).to(dtype)
    ours = softmax(logits).float()
    expected = torch.softmax(logits.double(), dim=-1)
    shown = expected > torch.finfo(dtype).tiny  # normal numbers of the dtype
    relative = ((ours.double() - expected).abs() / expected)[shown]
    assert relative.max() <= 2 * torch.finfo(dtype).eps


@pytest.mark.parametrize("dtype", list(HALF), ids=str)
def test_attention_in_half_precision_matches_torch_computed_in_float32(dtype):
    generator = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 5, 8, generator=generator) * 4 for _ in range(3))
    mask = causal_mask(5)
    out, weights = scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), mask=mask)
    assert out.dtype == weights.dtype == dtype
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out.float(), expected, atol=4 * HALF[dtype], rtol=4 * HALF[dtype])


# --- the per-token loop and copying weights refuse what does not fit ---------------------


def test_attention_per_token_names_the_weight_that_does_not_fit():
    inputs = torch.randn(3, 4)
    w = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"w_q has 5 rows but the inputs have d_model=4"):
        attention_per_token(inputs, torch.randn(5, 2), w, w)
    with pytest.raises(ValueError, match=r"w_q gives d_k=3 but w_k gives d_k=2"):
        attention_per_token(inputs, torch.randn(4, 3), w, w)
    with pytest.raises(ValueError, match=r"inputs hold no tokens \(shape \(0, 4\)\)"):
        attention_per_token(torch.randn(0, 4), w, w, w)
    with pytest.raises(TypeError, match=r"w_v must be a floating-point tensor"):
        attention_per_token(inputs, w, w, torch.ones(4, 2, dtype=torch.long))


def test_copy_from_torch_refuses_a_layer_of_another_size():
    with pytest.raises(ValueError, match=r"\(embed_dim, num_heads\) = \(4, 2\) .* \(8, 2\)"):
        copy_from_torch(MultiHeadAttention(8, 2), torch.nn.MultiheadAttention(4, 2))
    with pytest.raises(TypeError, match=r"theirs must be an nn.MultiheadAttention, got str"):
        copy_from_torch(MultiHeadAttention(8, 2), "layer")
    with pytest.raises(ValueError, match=r"one layer has biases and the other not"):
        copy_from_torch(MultiHeadAttention(8, 2), torch.nn.MultiheadAttention(8, 2, bias=False))
