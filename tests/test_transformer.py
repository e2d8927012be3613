"""Encoder and decoder layers against torch's own, the whole model's shapes, causality, errors."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from lessons_lib.attention import MultiHeadAttention
from lessons_lib.masking import causal_mask, padding_mask
from lessons_lib.transformer import DecoderLayer, EncoderLayer, Transformer, copy_torch_weights

LAYER_SHAPES = [  # (batch, seq, d_model, heads, d_ff)
    (2, 5, 16, 4, 32),
    (1, 9, 32, 8, 64),
    (3, 1, 8, 1, 8),
    (2, 7, 24, 3, 96),
]


def torch_layer(kind, d_model, heads, d_ff, norm_first):
    cls = nn.TransformerEncoderLayer if kind == "encoder" else nn.TransformerDecoderLayer
    layer = cls(d_model, heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first)
    with torch.no_grad():  # norms start at gain 1, bias 0: make them matter
        for name, parameter in layer.named_parameters():
            if name.startswith("norm"):
                parameter.normal_()
    return layer.eval()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize(("batch", "seq", "d_model", "heads", "d_ff"), LAYER_SHAPES)
def test_encoder_layer_matches_torch(seed, norm_first, batch, seq, d_model, heads, d_ff):
    torch.manual_seed(seed)
    theirs = torch_layer("encoder", d_model, heads, d_ff, norm_first)
    ours = EncoderLayer(d_model, num_heads=heads, d_ff=d_ff, norm_first=norm_first).eval()
    copy_torch_weights(ours, theirs)
    x = torch.randn(batch, seq, d_model)
    mask = torch.rand(seq, seq) < 0.7
    mask[:, 0] = True
    for our_mask in (None, mask):
        their_mask = None if our_mask is None else ~our_mask  # torch: True = blocked
        expected = theirs(x, src_mask=their_mask)
        assert torch.allclose(ours(x, our_mask), expected, atol=1e-5)
    out, weights = ours(x, mask, need_weights=True)
    assert torch.allclose(out, theirs(x, src_mask=~mask), atol=1e-5)
    assert weights.shape == (batch, heads, seq, seq)
    assert torch.allclose(weights.sum(-1), torch.ones(batch, heads, seq), atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize(("batch", "seq", "d_model", "heads", "d_ff"), LAYER_SHAPES)
def test_decoder_layer_matches_torch(seed, norm_first, batch, seq, d_model, heads, d_ff):
    torch.manual_seed(seed)
    theirs = torch_layer("decoder", d_model, heads, d_ff, norm_first)
    ours = DecoderLayer(d_model, num_heads=heads, d_ff=d_ff, norm_first=norm_first).eval()
    copy_torch_weights(ours, theirs)
    source_len = seq + 2
    y, memory = torch.randn(batch, seq, d_model), torch.randn(batch, source_len, d_model)
    lengths = torch.randint(1, source_len + 1, (batch,))
    memory_mask = padding_mask(lengths, source_len)  # (batch, 1, L_src)
    expected = theirs(
        y,
        memory,
        tgt_mask=~causal_mask(seq),
        memory_key_padding_mask=~memory_mask[:, 0],
    )
    assert torch.allclose(ours(y, memory, causal_mask(seq), memory_mask), expected, atol=1e-5)
    out, weights = ours(y, memory, causal_mask(seq), memory_mask, need_weights=True)
    assert torch.allclose(out, expected, atol=1e-5)
    assert weights["self"].shape == (batch, heads, seq, seq)
    assert weights["cross"].shape == (batch, heads, seq, source_len)
    assert torch.equal(weights["self"].triu(1), torch.zeros_like(weights["self"]))  # causal


def test_layers_have_the_promised_parts():
    layer = EncoderLayer(16, num_heads=4, d_ff=32)
    assert isinstance(layer.self_attention, MultiHeadAttention)
    assert isinstance(layer(torch.randn(1, 3, 16)), torch.Tensor)
    _, weights = layer(torch.randn(1, 3, 16), need_weights=True)
    assert weights.shape == (1, 4, 3, 3)
    assert not hasattr(layer, "attention_weights")  # returned, never stored on the module


def test_post_norm_and_pre_norm_differ():
    torch.manual_seed(0)
    post = EncoderLayer(16, num_heads=4, d_ff=32)
    pre = EncoderLayer(16, num_heads=4, d_ff=32, norm_first=True)
    pre.load_state_dict(post.state_dict())
    x = torch.randn(2, 5, 16) * 3
    out_post, out_pre = post(x), pre(x)
    # post-norm ends with a layer norm: every token has mean 0; pre-norm does not
    assert torch.allclose(out_post.mean(-1), torch.zeros(2, 5), atol=1e-5)
    assert not torch.allclose(out_pre.mean(-1), torch.zeros(2, 5), atol=1e-2)


def small_model(norm_first=False, seed=0):
    torch.manual_seed(seed)
    return Transformer(11, d_model=32, num_heads=4, num_layers=2, d_ff=64, norm_first=norm_first)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_shapes(norm_first):
    model = small_model(norm_first)
    source, target_in = torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 5))
    assert model.encode(source).shape == (3, 8, 32)
    assert model(source, target_in).shape == (3, 5, 11)
    memory, encoder_weights = model.encode(source, need_weights=True)
    assert [tuple(w.shape) for w in encoder_weights] == [(3, 4, 8, 8)] * 2
    logits, weights = model.decode(target_in, memory, need_weights=True)
    assert torch.allclose(logits, model(source, target_in), atol=1e-6)
    cross = weights[-1]["cross"]
    assert cross.shape == (3, 4, 5, 8)
    assert torch.allclose(cross.sum(-1), torch.ones(3, 4, 5), atol=1e-5)


@given(st.integers(1, 7), st.integers(0, 10_000), st.booleans())
def test_decoder_is_causal_changing_a_later_target_never_changes_earlier_logits(t, seed, pre):
    model = small_model(pre).eval()
    generator = torch.Generator().manual_seed(seed)
    source = torch.randint(0, 11, (2, 8), generator=generator)
    target_in = torch.randint(0, 11, (2, 8), generator=generator)
    changed = target_in.clone()
    changed[:, t:] = torch.randint(0, 11, (2, 8 - t), generator=generator)
    with torch.no_grad():
        before, after = model(source, target_in), model(source, changed)
    assert torch.allclose(before[:, :t], after[:, :t], atol=1e-6)


def test_source_padding_is_ignored():
    model = small_model().eval()
    source = torch.randint(0, 11, (1, 8))
    padded = source.clone()
    padded[:, 5:] = torch.randint(0, 11, (1, 3))
    mask = padding_mask([5], 8)
    target_in = torch.randint(0, 11, (1, 4))
    with torch.no_grad():
        assert torch.allclose(model(source, target_in, mask), model(padded, target_in, mask))


def test_bad_inputs_give_clear_errors():
    model = small_model()
    source = torch.randint(0, 11, (2, 8))
    with pytest.raises(TypeError, match=r"token ids \(torch.long\), got dtype torch.float32"):
        model(source.float(), source)
    with pytest.raises(ValueError, match=r"outside 0..vocab_size-1 = 0..10"):
        model(source + 5, source)
    with pytest.raises(ValueError, match=r"source must have 2 dimensions \(batch, seq\)"):
        model(source[0], source)
    with pytest.raises(ValueError, match="past max_len=128"):
        model(torch.zeros(1, 200, dtype=torch.long), source[:1])
    with pytest.raises(ValueError, match=r"x must end in d_model=16, got shape \(2, 3, 8\)"):
        EncoderLayer(16, num_heads=4, d_ff=32)(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match=r"x must have 3 dimensions"):
        EncoderLayer(16, num_heads=4, d_ff=32)(torch.randn(3, 16))
    with pytest.raises(ValueError, match="y has batch 2 but memory has batch 3"):
        DecoderLayer(16, num_heads=4, d_ff=32)(torch.randn(2, 3, 16), torch.randn(3, 5, 16))
    with pytest.raises(ValueError, match="divisible by num_heads=3"):
        EncoderLayer(16, num_heads=3, d_ff=32)
    with pytest.raises(ValueError, match="num_layers must be > 0"):
        Transformer(11, num_layers=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("chunks", [[1] * 6, [2, 3, 1], [6]])
def test_decoding_with_a_cache_equals_decoding_the_whole_prefix(norm_first, chunks):
    """Feeding the target a chunk at a time through the cache gives the full decode's logits."""
    model = small_model(norm_first).eval()
    source, target_in = torch.randint(0, 11, (2, 7)), torch.randint(0, 11, (2, 6))
    with torch.no_grad():
        memory = model.encode(source)
        full = model.decode(target_in, memory)
        cache = model.new_cache()
        pieces, start = [], 0
        for size in chunks:
            pieces.append(model.decode(target_in[:, start : start + size], memory, cache=cache))
            start += size
            assert cache[0].self_attention.length == start
            assert cache[-1].cross_attention.length == 7
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


def test_layer_cache_must_be_a_layer_cache():
    layer = DecoderLayer(8, num_heads=2, d_ff=16)
    with pytest.raises(TypeError, match="cache must be a LayerCache, got dict"):
        layer(torch.randn(1, 1, 8), torch.randn(1, 2, 8), cache={})


# --- a cache must fit the model (issue 20) -------------------------------------------------

from lessons_lib.transformer import LayerCache, TinyCrossAttentionModel  # noqa: E402


@pytest.mark.parametrize("n_layers", [1, 3, 0])
def test_decode_refuses_a_cache_with_another_number_of_layers(n_layers):
    model = Transformer(11, d_model=16, num_heads=2, num_layers=2, d_ff=32)
    memory = model.encode(torch.randint(0, 10, (1, 4)))
    cache = [LayerCache() for _ in range(n_layers)]
    with pytest.raises(ValueError, match=rf"cache has {n_layers} layers but the model has 2"):
        model.decode(torch.full((1, 1), 10), memory, cache=cache)
    assert all(layer.self_attention.length == 0 for layer in cache)  # nothing was filled


def test_a_cache_of_another_model_would_have_skipped_layers_silently():
    """What the check prevents: zip() stopped at the shorter list, and a layer ran without cache."""
    torch.manual_seed(0)
    model = Transformer(11, d_model=16, num_heads=2, num_layers=2, d_ff=32).eval()
    memory = model.encode(torch.randint(0, 10, (1, 4)))
    right = model.decode(torch.full((1, 1), 10), memory, cache=model.new_cache())
    assert torch.allclose(right, model.decode(torch.full((1, 1), 10), memory), atol=1e-6)
    with pytest.raises(ValueError, match="make it with this model's new_cache"):
        model.decode(torch.full((1, 1), 10), memory, cache=model.new_cache()[:1])


def test_decode_refuses_a_cache_that_is_not_a_list_of_layer_caches():
    model = Transformer(11, d_model=16, num_heads=2, num_layers=2, d_ff=32)
    memory = model.encode(torch.randint(0, 10, (1, 4)))
    target = torch.full((1, 1), 10)
    with pytest.raises(TypeError, match=r"cache must be a list of LayerCache .* got LayerCache"):
        model.decode(target, memory, cache=LayerCache())
    with pytest.raises(TypeError, match=r"one LayerCache per layer, got dict"):
        model.decode(target, memory, cache=[LayerCache(), {}])
    cache = model.new_cache()
    model.decoder_layers[0](model.embed(model.target_embedding, target), memory, cache=cache[0])
    with pytest.raises(ValueError, match=r"different numbers of tokens \[0, 1\]"):
        model.decode(target, memory, cache=cache)


def test_copy_torch_weights_refuses_a_layer_that_does_not_fit():
    ours = EncoderLayer(8, num_heads=2, d_ff=16)
    with pytest.raises(
        ValueError, match=r"\(d_model, num_heads, d_ff\) = \(4, 2, 16\) .* \(8, 2, 16\)"
    ):
        copy_torch_weights(ours, nn.TransformerEncoderLayer(4, 2, 16, batch_first=True))
    with pytest.raises(
        TypeError,
        match=r"theirs must be an nn.TransformerEncoderLayer .* got TransformerDecoderLayer",
    ):
        copy_torch_weights(ours, nn.TransformerDecoderLayer(8, 2, 16, batch_first=True))
    with pytest.raises(TypeError, match=r"ours must be an EncoderLayer or a DecoderLayer, got str"):
        copy_torch_weights("layer", nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.raises(
        ValueError, match=r"theirs has norm_first=True but ours has norm_first=False"
    ):
        copy_torch_weights(ours, nn.TransformerEncoderLayer(8, 2, 16, norm_first=True))


def test_the_tiny_alignment_model_refuses_ids_outside_its_vocabulary_and_empty_sources():
    model = TinyCrossAttentionModel(vocab_size=11, length=4)
    with pytest.raises(ValueError, match=r"ids from 1 to 20, outside 0..vocab_size-1 = 0..10"):
        model(torch.tensor([[20, 1, 2, 3]]))
    with pytest.raises(ValueError, match=r"ids from -1 to 3"):
        model(torch.tensor([[-1, 1, 2, 3]]))
    with pytest.raises(ValueError, match=r"sources have no tokens \(shape \(1, 0\)\)"):
        model(torch.zeros(1, 0, dtype=torch.long))


def test_encoder_stack_writes_one_token_per_position_from_its_encoder_layers():
    from lessons_lib.residual import LayerNorm
    from lessons_lib.transformer import EncoderStack

    torch.manual_seed(0)
    tokens = torch.randint(0, 11, (3, 6))
    stack = EncoderStack(11, length=6, d_model=16, num_heads=2, num_layers=3)
    assert stack(tokens).shape == (3, 6, 11)
    assert len(stack.layers) == 3 and all(isinstance(x, EncoderLayer) for x in stack.layers)
    assert isinstance(stack.final_norm, nn.Identity)  # post-norm: each layer ends with its norm
    # by hand: embedding + sinusoidal codes, the layers in order, then the read-out
    h = stack.embedding(tokens) + stack.positions
    for layer in stack.layers:
        h = layer(h)
    torch.testing.assert_close(stack(tokens), stack.output(h))
    pre = EncoderStack(11, length=6, d_model=16, num_layers=2, norm_first=True)
    assert isinstance(pre.final_norm, LayerNorm) and all(x.norm_first for x in pre.layers)
    # position codes matter: the same token at two positions gives two different outputs
    same = torch.full((1, 6), 4)
    logits = stack(same)
    assert not torch.allclose(logits[0, 0], logits[0, 1])


def test_encoder_stack_sizes_are_keyword_only_and_bad_tokens_are_refused():
    from lessons_lib.transformer import EncoderStack

    with pytest.raises(TypeError):
        EncoderStack(11, 6)  # length is keyword-only
    with pytest.raises(ValueError, match="num_layers must be > 0, got 0"):
        EncoderStack(11, length=6, num_layers=0)
    stack = EncoderStack(11, length=6, num_layers=1)
    with pytest.raises(TypeError, match="tokens must be a LongTensor"):
        stack(torch.zeros(2, 6))
    with pytest.raises(ValueError, match="tokens have 5 positions but this model was built for"):
        stack(torch.zeros(2, 5, dtype=torch.long))
