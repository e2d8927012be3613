"""The Transformer's layers at their defaults: written to kill the mutants that the project's first
mutation tool (on transformer; ``make mutate`` now runs mutmut) found surviving the module's own
tests.

Expected values are known by construction (with the default dropout of 0 a layer gives the
same output in training mode as in eval mode), computed independently (the sinusoidal codes
as a plain loop over the paper's formula, attention by torch's ``nn.MultiheadAttention``), or
the whole-prefix decode that a cached decode must equal.
"""

from __future__ import annotations

import math

import pytest
import torch

from lessons_lib.attention import copy_into_torch
from lessons_lib.masking import causal_mask
from lessons_lib.transformer import (
    DecoderLayer,
    EncoderLayer,
    TinyCrossAttentionModel,
    Transformer,
)


def states(length: int, seed: int) -> torch.Tensor:
    return torch.randn(2, length, 16, generator=torch.Generator().manual_seed(seed))


def test_an_encoder_layer_has_no_dropout_by_default():
    torch.manual_seed(0)
    layer = EncoderLayer(d_model=16, num_heads=2, d_ff=32)
    x = states(5, 1)
    trained_mode = layer.train()(x)
    assert torch.equal(trained_mode, layer.eval()(x))
    assert layer.dropout.p == 0.0 and layer.feed_forward.dropout.p == 0.0


def test_a_decoder_layer_has_no_dropout_by_default():
    torch.manual_seed(0)
    layer = DecoderLayer(d_model=16, num_heads=2, d_ff=32)
    y, memory = states(5, 1), states(7, 2)
    trained_mode = layer.train()(y, memory, causal_mask(5))
    assert torch.equal(trained_mode, layer.eval()(y, memory, causal_mask(5)))
    assert layer.dropout.p == 0.0 and layer.feed_forward.dropout.p == 0.0


def test_layers_are_post_norm_by_default():
    """As the paper and the notes: LayerNorm(x + Sublayer(x)), the norm after the sum."""
    y, memory = states(5, 1), states(7, 2)
    for make, inputs in (
        (EncoderLayer, (y,)),
        (DecoderLayer, (y, memory, causal_mask(5))),
    ):
        torch.manual_seed(0)
        default = make(d_model=16, num_heads=2, d_ff=32).eval()
        assert default.norm_first is False
        for norm_first, same in ((False, True), (True, False)):
            other = make(d_model=16, num_heads=2, d_ff=32, norm_first=norm_first).eval()
            other.load_state_dict(default.state_dict())
            assert torch.equal(default(*inputs), other(*inputs)) is same
        # post-norm ends in a LayerNorm with gain 1 and bias 0: every row has mean 0
        assert torch.allclose(default(*inputs).mean(-1), torch.zeros(2, 5), atol=1e-5)


def test_the_transformer_defaults_are_those_of_its_signature():
    """Transformer(vocab) alone: d_model 64, 4 heads, 2 layers each side, d_ff 128, max_len 128."""
    model = Transformer(11)
    assert (model.d_model, model.max_len) == (64, 128)
    assert model.positions.shape == (128, 64)
    assert len(model.encoder_layers) == len(model.decoder_layers) == 2
    for layer in (*model.encoder_layers, *model.decoder_layers):
        assert layer.self_attention.num_heads == 4
        assert layer.feed_forward.linear1.out_features == 128
        assert layer.norm_first is False and layer.dropout.p == 0.0


def test_the_fixed_position_codes_are_computed_not_saved():
    """The sinusoidal codes are a non-persistent buffer: a checkpoint holds learned weights only."""
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=10)
    assert "positions" in dict(model.named_buffers())
    assert "positions" not in model.state_dict()
    longer = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=20)
    longer.load_state_dict(model.state_dict())  # so max_len may change between the two


# --- the whole model's embeddings, token checks and ends of its ranges ---------------------


def sinusoid_by_hand(positions: range, d: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...), as a plain loop."""
    rows = []
    for pos in positions:
        angles = [pos / 10000 ** (2 * (i // 2) / d) for i in range(d)]
        rows.append([math.sin(a) if i % 2 == 0 else math.cos(a) for i, a in enumerate(angles)])
    return torch.tensor(rows)  # (len(positions), d)


def tiny_transformer(num_layers: int = 1, max_len: int = 10) -> Transformer:
    torch.manual_seed(0)
    return Transformer(
        11, d_model=16, num_heads=2, num_layers=num_layers, d_ff=32, max_len=max_len
    ).eval()


def test_tokens_are_embedded_plus_the_code_of_their_position():
    model = tiny_transformer()
    tokens = torch.tensor([[3, 0, 10], [7, 7, 1]])  # (batch 2, seq 3)
    table = model.source_embedding.weight
    expected = table[tokens] + sinusoid_by_hand(range(3), 16)  # positions 0, 1, 2
    assert torch.allclose(model.embed(model.source_embedding, tokens), expected, atol=1e-6)
    later = table[tokens] + sinusoid_by_hand(range(4, 7), 16)  # positions 4, 5, 6
    assert torch.allclose(model.embed(model.source_embedding, tokens, 4), later, atol=1e-6)


def test_a_sequence_may_fill_max_len_but_not_pass_it():
    model = tiny_transformer(max_len=10)
    with torch.no_grad():
        assert model.encode(torch.zeros(1, 10, dtype=torch.long)).shape == (1, 10, 16)
        with pytest.raises(ValueError, match="position 10 is past max_len=10"):
            model.encode(torch.zeros(1, 11, dtype=torch.long))


def test_every_id_of_the_vocabulary_is_accepted_and_none_outside_it():
    model = tiny_transformer()
    ends = torch.tensor([[0, 10], [10, 0]])  # the first and the last id, 0 and vocab_size - 1
    with torch.no_grad():
        assert model(ends, ends).shape == (2, 2, 11)
        assert model(ends[:, :1], ends).shape == (2, 2, 11)  # a one-token source
    with pytest.raises(ValueError, match=r"ids from 0 to 11, outside 0..vocab_size-1 = 0..10"):
        model(torch.tensor([[11, 0]]), ends[:1])
    with pytest.raises(ValueError, match=r"ids from -1 to 3"):
        model(torch.tensor([[-1, 3]]), ends[:1])


def test_empty_source_and_empty_target_are_refused_by_name():
    model = tiny_transformer()
    tokens = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match=r"source has no tokens \(shape \(1, 0\)\)"):
        model.encode(torch.zeros(1, 0, dtype=torch.long))
    memory = model.encode(tokens)
    with pytest.raises(ValueError, match=r"target_in has no tokens \(shape \(1, 0\)\)"):
        model.decode(torch.zeros(1, 0, dtype=torch.long), memory)


def test_a_one_layer_model_decodes_through_its_cache_like_the_whole_prefix():
    model = tiny_transformer(num_layers=1)
    source, target_in = torch.tensor([[4, 5, 6, 7]]), torch.tensor([[10, 2, 9]])
    with torch.no_grad():
        memory = model.encode(source)
        full = model.decode(target_in, memory)
        cache = model.new_cache()
        steps = [model.decode(target_in[:, t : t + 1], memory, cache=cache) for t in range(3)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


# --- chapter 04's one-layer alignment model -------------------------------------------------


def test_the_tiny_alignment_model_is_torch_attention_from_position_codes_to_tokens():
    """logits = head(Attention(Q = PE[t], K = V = embed(source) + PE[s])), with torch's layer."""
    torch.manual_seed(0)
    model = TinyCrossAttentionModel(vocab_size=11, length=5).eval()
    assert model.embedding.embedding_dim == 32 and model.cross_attention.num_heads == 2
    sources = torch.tensor([[0, 10, 3], [5, 5, 1]])  # (batch 2, L_k 3), ids at both ends
    codes = sinusoid_by_hand(range(5), 32)  # (L 5, d 32)
    states = model.embedding.weight[sources] + codes[:3]  # (2, 3, 32)
    theirs = copy_into_torch(model.cross_attention)
    read, weights = theirs(
        codes.expand(2, 5, 32), states, states, average_attn_weights=False
    )  # (2, 5, 32), (2, heads, 5, 3)
    with torch.no_grad():
        logits, our_weights = model(sources)
        assert torch.allclose(logits, model.head(read), atol=1e-5)
    assert torch.allclose(our_weights, weights, atol=1e-6)
    with torch.no_grad():  # a source as long as the model's length is fine
        assert model(torch.zeros(2, 5, dtype=torch.long))[0].shape == (2, 5, 11)


def test_the_tiny_alignment_model_refuses_what_it_cannot_read():
    model = TinyCrossAttentionModel(vocab_size=11, length=4)
    with pytest.raises(ValueError, match=r"sources have 5 tokens but this model was built for"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"ids from 0 to 11, outside 0..vocab_size-1 = 0..10"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match=r"sources must have 2 dimensions \(batch, L_k\)"):
        model(torch.tensor([1, 2, 3]))
    for wrong in (torch.zeros(1, 3), [[1, 2, 3]]):
        with pytest.raises(TypeError, match="sources must be a LongTensor of token ids"):
            model(wrong)


def test_token_values_are_not_checked_on_the_meta_device_only_shapes():
    """On the meta device a tensor has a shape but no values: the id checks are skipped."""
    ids = torch.zeros(2, 3, dtype=torch.long, device="meta")
    tiny = TinyCrossAttentionModel(vocab_size=11, length=4).to("meta")
    logits, weights = tiny(ids)
    assert (logits.shape, weights.shape) == ((2, 4, 11), (2, 2, 4, 3))
    model = tiny_transformer().to("meta")
    assert model(ids, ids).shape == (2, 3, 11)
