"""The transformer module's layers, models and checks: written to kill the mutants that the
project's first mutation tool (on transformer; ``make mutate`` now runs mutmut) found surviving
the module's own tests, and then those that mutmut 3.8.1 found.

Expected values are known by construction (with the default dropout of 0 a layer gives the
same output in training mode as in eval mode), computed independently (the sinusoidal codes
as a plain loop over the paper's formula, attention and whole layers by torch's
``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer``,
parameter counts by hand), the whole-prefix decode that a cached decode must equal, or the
error messages the project promises: each names the bad argument first, then what it expected
and what it got.
"""

from __future__ import annotations

import inspect
import math
import re

import pytest
import torch
from torch import nn

from lessons_lib.attention import copy_into_torch
from lessons_lib.masking import causal_mask
from lessons_lib.transformer import (
    DecoderLayer,
    EncoderLayer,
    EncoderStack,
    LayerCache,
    TinyCrossAttentionModel,
    Transformer,
    copy_torch_weights,
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


# --- bad arguments: each refused with a message that begins with the argument's own name ----


def small_layer(make=EncoderLayer, **options) -> EncoderLayer | DecoderLayer:
    return make(d_model=8, num_heads=2, d_ff=16, **options)


def small_transformer(**options) -> Transformer:
    torch.manual_seed(0)
    sizes = dict(d_model=8, num_heads=2, num_layers=2, d_ff=16, max_len=4)
    return Transformer(11, **{**sizes, **options}).eval()


def uneven_cache(model: Transformer) -> list[LayerCache]:
    """A cache whose first layer has seen one token and whose second has seen none."""
    cache = model.new_cache()
    with torch.no_grad():
        model.decode(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 2, 8), cache=cache)
    cache[1] = LayerCache()
    return cache


def enc_torch_layer(**options) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, **options)


BAD_ARGUMENTS = {
    "Transformer vocab_size": (
        lambda: Transformer(0),
        ValueError,
        "vocab_size must be > 0, got 0",
    ),
    "Transformer d_model": (
        lambda: Transformer(11, d_model=0),
        ValueError,
        "d_model must be > 0, got 0",
    ),
    "Transformer max_len": (
        lambda: Transformer(11, max_len=0),
        ValueError,
        "max_len must be > 0, got 0",
    ),
    "Transformer dropout": (
        lambda: Transformer(11, dropout=1.0),
        ValueError,
        "dropout must be a probability in [0, 1), got 1.0",
    ),
    "EncoderLayer dropout": (
        lambda: small_layer(EncoderLayer, dropout=1.0),
        ValueError,
        "dropout must be a probability in [0, 1), got 1.0",
    ),
    "DecoderLayer dropout": (
        lambda: small_layer(DecoderLayer, dropout=-0.5),
        ValueError,
        "dropout must be a probability in [0, 1), got -0.5",
    ),
    "EncoderStack vocab_size": (
        lambda: EncoderStack(0, length=6),
        ValueError,
        "vocab_size must be > 0, got 0",
    ),
    "EncoderStack length": (
        lambda: EncoderStack(11, length=0),
        ValueError,
        "length must be > 0, got 0",
    ),
    "EncoderStack d_model": (
        lambda: EncoderStack(11, length=6, d_model=-2),
        ValueError,
        "d_model must be > 0, got -2",
    ),
    "EncoderStack tokens rank": (
        lambda: EncoderStack(11, length=6, d_model=8)(torch.zeros(6, dtype=torch.long)),
        ValueError,
        "tokens must have 2 dimensions (batch, length), got 1 dimensions with shape (6,)",
    ),
    "TinyCrossAttentionModel vocab_size": (
        lambda: TinyCrossAttentionModel(0, length=4),
        ValueError,
        "vocab_size must be > 0, got 0",
    ),
    "TinyCrossAttentionModel length": (
        lambda: TinyCrossAttentionModel(11, length=0),
        ValueError,
        "length must be > 0, got 0",
    ),
    "TinyCrossAttentionModel empty sources": (
        lambda: TinyCrossAttentionModel(11, length=4)(torch.zeros(1, 0, dtype=torch.long)),
        ValueError,
        "sources have no tokens (shape (1, 0)): cross-attention needs at least one to read",
    ),
    "EncoderLayer x rank": (
        lambda: small_layer(EncoderLayer)(torch.zeros(5, 8)),
        ValueError,
        "x must have 3 dimensions (batch, seq, d_model), got 2 dimensions with shape (5, 8)",
    ),
    "DecoderLayer memory rank": (
        lambda: small_layer(DecoderLayer)(torch.zeros(1, 5, 8), torch.zeros(5, 8)),
        ValueError,
        "memory must have 3 dimensions (batch, seq, d_model), got 2 dimensions with shape (5, 8)",
    ),
    "DecoderLayer memory missing": (
        lambda: small_layer(DecoderLayer)(torch.zeros(1, 5, 8)),
        ValueError,
        "memory (the encoder's output, (batch, L_src, d_model)) is missing: this DecoderLayer "
        "has cross-attention; build it with cross_attention=False for a decoder-only model",
    ),
    "decoder-only DecoderLayer given memory": (
        lambda: small_layer(DecoderLayer, cross_attention=False)(
            torch.zeros(1, 5, 8), torch.zeros(1, 5, 8)
        ),
        ValueError,
        "this DecoderLayer was built with cross_attention=False: it reads no encoder memory, "
        "so call it without memory and memory_mask",
    ),
    "encode source not a tensor": (
        lambda: small_transformer().encode([[1, 2]]),
        TypeError,
        "source must be a torch.Tensor, got list",
    ),
    "encode empty source": (
        lambda: small_transformer().encode(torch.zeros(1, 0, dtype=torch.long)),
        ValueError,
        "source has no tokens (shape (1, 0)): the encoder needs at least one, so that the "
        "decoder's cross-attention has something to read",
    ),
    "encode past max_len": (
        lambda: small_transformer().encode(torch.zeros(1, 5, dtype=torch.long)),
        ValueError,
        "position 4 is past max_len=4; build the model with a larger max_len",
    ),
    "decode target_in dtype": (
        lambda: small_transformer().decode(torch.zeros(1, 2), torch.zeros(1, 2, 8)),
        TypeError,
        "target_in must hold token ids (torch.long), got dtype torch.float32",
    ),
    "decode empty target_in": (
        lambda: small_transformer().decode(
            torch.zeros(1, 0, dtype=torch.long), torch.zeros(1, 2, 8)
        ),
        ValueError,
        "target_in has no tokens (shape (1, 0)): the decoder needs at least one, e.g. the "
        "begin token that shift_right puts first",
    ),
    "decode cache of too few layers": (
        lambda: small_transformer().decode(
            torch.zeros(1, 1, dtype=torch.long),
            torch.zeros(1, 2, 8),
            cache=small_transformer().new_cache()[:1],
        ),
        ValueError,
        "cache has 1 layers but the model has 2; make it with this model's new_cache()",
    ),
    "decode cache of uneven layers": (
        lambda: small_transformer().decode(
            torch.zeros(1, 1, dtype=torch.long),
            torch.zeros(1, 2, 8),
            cache=uneven_cache(small_transformer()),
        ),
        ValueError,
        "the cache's layers hold different numbers of tokens [0, 1]; they must all have seen "
        "the same tokens",
    ),
    "copy_torch_weights theirs of the wrong kind": (
        lambda: copy_torch_weights(small_layer(DecoderLayer), enc_torch_layer()),
        TypeError,
        "theirs must be an nn.TransformerDecoderLayer for ours, a DecoderLayer, got "
        "TransformerEncoderLayer",
    ),
}


@pytest.mark.parametrize(
    ("call", "error", "message"), BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys()
)
def test_a_bad_argument_is_refused_by_its_own_name(call, error, message):
    """The message begins with the argument's name and says what was expected and what came."""
    with pytest.raises(error, match="^" + re.escape(message)):
        call()


# --- options passed down, final norms and the stack of chapter 05 ---------------------------


def test_a_decoder_layer_passes_its_activation_to_the_feed_forward_block():
    """DecoderLayer(activation="gelu") equals nn.TransformerDecoderLayer(activation="gelu")."""
    torch.manual_seed(0)
    theirs = nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.0, activation="gelu", batch_first=True
    ).eval()
    ours = small_layer(DecoderLayer, activation="gelu").eval()
    copy_torch_weights(ours, theirs)
    generator = torch.Generator().manual_seed(1)
    y, memory = torch.randn(2, 4, 8, generator=generator), torch.randn(2, 3, 8, generator=generator)
    mask = causal_mask(4)
    with torch.no_grad():
        expected = theirs(y, memory, tgt_mask=~mask)  # torch: True = may not attend
        assert torch.allclose(ours(y, memory, mask), expected, atol=1e-5)


def test_a_torch_layer_without_norm_first_is_taken_as_post_norm():
    """A layer pickled before torch had ``norm_first`` (torch < 1.10) is post-norm: it copies."""
    torch.manual_seed(0)
    theirs = enc_torch_layer().eval()
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(x)
    del theirs.norm_first  # as an old checkpoint's layer: the attribute does not exist
    ours = small_layer(EncoderLayer).eval()
    copy_torch_weights(ours, theirs)
    with torch.no_grad():
        assert torch.allclose(ours(x), expected, atol=1e-5)
    pre_norm = EncoderLayer(8, num_heads=2, d_ff=16, norm_first=True)
    with pytest.raises(
        ValueError, match=r"^theirs has norm_first=False but ours has norm_first=True"
    ):
        copy_torch_weights(pre_norm, theirs)  # the message reads no missing attribute


def transformer_parameters(vocab: int, d: int, d_ff: int, layers: int, final_norms: bool) -> int:
    """By hand: embeddings, attention (4 Linear d->d), feed-forward, LayerNorms, final Linear."""
    attention = 4 * (d * d + d)
    feed_forward = (d * d_ff + d_ff) + (d_ff * d + d)
    norm = 2 * d  # gain and bias
    encoder = attention + feed_forward + 2 * norm
    decoder = 2 * attention + feed_forward + 3 * norm
    ends = 2 * vocab * d + (d * vocab + vocab) + (2 * norm if final_norms else 0)
    return layers * (encoder + decoder) + ends


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_only_a_pre_norm_transformer_has_final_layer_norms(norm_first):
    """A final LayerNorm after each side's last layer: pre-norm needs it, post-norm has none."""
    model = small_transformer(norm_first=norm_first)
    count = sum(p.numel() for p in model.parameters())
    assert count == transformer_parameters(11, 8, 16, 2, final_norms=norm_first)
    final = {"encoder_norm.weight", "encoder_norm.bias", "decoder_norm.weight", "decoder_norm.bias"}
    assert final & set(model.state_dict()) == (final if norm_first else set())
    for layer in (*model.encoder_layers, *model.decoder_layers):
        assert layer.norm_first is norm_first


def test_a_pre_norm_transformer_is_torch_pre_norm_layers_then_a_final_layer_norm():
    """memory = LN(EncLayer(x)), logits = Linear(LN(DecLayer(y, memory))), torch's layers in."""
    model = small_transformer(num_layers=1, norm_first=True)
    torch.manual_seed(1)
    encoder = enc_torch_layer(norm_first=True).eval()
    decoder = nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True, norm_first=True
    ).eval()
    copy_torch_weights(model.encoder_layers[0], encoder)
    copy_torch_weights(model.decoder_layers[0], decoder)
    source, target_in = torch.tensor([[1, 4, 10], [0, 2, 2]]), torch.tensor([[3, 7], [9, 0]])
    codes = sinusoid_by_hand(range(3), 8)
    with torch.no_grad():
        x = model.source_embedding.weight[source] + codes
        memory = nn.functional.layer_norm(encoder(x), (8,))  # the final norm: gain 1, bias 0
        y = model.target_embedding.weight[target_in] + codes[:2]
        hidden = decoder(y, memory, tgt_mask=~causal_mask(2))
        logits = model.output(nn.functional.layer_norm(hidden, (8,)))
        assert torch.allclose(model.encode(source), memory, atol=1e-5)
        assert torch.allclose(model(source, target_in), logits, atol=1e-5)


def test_the_encoder_stack_defaults_are_those_of_its_signature():
    """EncoderStack(vocab, length=...) alone: d_model 32, 2 heads, 4 post-norm layers, d_ff 64."""
    model = EncoderStack(11, length=6)
    assert (model.vocab_size, model.length) == (11, 6)
    assert model.embedding.weight.shape == (11, 32)
    assert len(model.layers) == 4
    for layer in model.layers:
        assert layer.self_attention.num_heads == 2 and layer.norm_first is False
    assert isinstance(model.final_norm, nn.Identity)
    defaults = inspect.signature(EncoderStack).parameters
    assert defaults["num_layers"].default == 4 and defaults["norm_first"].default is False


@pytest.mark.parametrize("d_model", [8, 12])
def test_the_encoder_stack_layers_have_d_ff_twice_d_model(d_model):
    """As the docstring says: EncoderLayer with d_ff = 2 d_model."""
    model = EncoderStack(11, length=3, d_model=d_model, num_heads=2, num_layers=1)
    feed_forward = model.layers[0].feed_forward
    assert (feed_forward.linear1.in_features, feed_forward.linear1.out_features) == (
        d_model,
        2 * d_model,
    )


def test_the_encoder_stack_position_codes_are_computed_not_saved():
    """Its sinusoidal codes are a non-persistent buffer: the checkpoint holds learned weights."""
    model = EncoderStack(11, length=3, d_model=8, num_layers=1)
    assert torch.allclose(
        dict(model.named_buffers())["positions"], sinusoid_by_hand(range(3), 8), atol=1e-6
    )
    assert "positions" not in model.state_dict()
    longer = EncoderStack(11, length=5, d_model=8, num_layers=1)
    longer.load_state_dict(model.state_dict())  # so length may change between the two
