"""The decoder-only layer against torch's encoder layer run with a causal mask; GPT's cache,
causality, parameter count and errors; generate_text, cached and not."""

from __future__ import annotations

import inspect

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lessons_lib.decoding import generate_text, greedy_choice, sampling_choice
from lessons_lib.gpt import GPT
from lessons_lib.masking import causal_mask
from lessons_lib.residual import LayerNorm
from lessons_lib.transformer import (
    DecoderLayer,
    EncoderLayer,
    Transformer,
    check_token_ids,
    copy_torch_weights,
)

DTYPES = [torch.float32, torch.float64]
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}
HALF = {torch.float16: 0.05, torch.bfloat16: 0.3}
LAYER_SHAPES = [(2, 5, 16, 4, 32), (1, 9, 32, 8, 64), (3, 1, 8, 1, 8), (2, 7, 24, 3, 96)]
VARIANTS = [  # (norm, positions, tie_weights)
    ("pre", "learned", False),
    ("post", "sinusoidal", False),
    ("pre", "sinusoidal", True),
    ("post", "learned", True),
]


# --- the decoder-only layer -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize(("batch", "seq", "d_model", "heads", "d_ff"), LAYER_SHAPES)
def test_a_decoder_only_layer_is_torchs_encoder_layer_with_a_causal_mask(
    batch, seq, d_model, heads, d_ff, norm_first, seed, dtype
):
    torch.manual_seed(seed)
    theirs = nn.TransformerEncoderLayer(
        d_model, heads, d_ff, dropout=0.0, batch_first=True, norm_first=norm_first
    )
    with torch.no_grad():  # norms start at gain 1, bias 0: make them matter
        for name, parameter in theirs.named_parameters():
            if name.startswith("norm"):
                parameter.normal_()
    theirs.to(dtype).eval()
    ours = DecoderLayer(
        d_model, num_heads=heads, d_ff=d_ff, norm_first=norm_first, cross_attention=False
    )
    ours.to(dtype).eval()
    copy_torch_weights(ours, theirs)
    x = torch.randn(batch, seq, d_model, dtype=dtype)
    expected = theirs(x, src_mask=~causal_mask(seq), is_causal=True)  # torch: True = blocked
    out, weights = ours(x, target_mask=causal_mask(seq), need_weights=True)
    torch.testing.assert_close(out, expected, atol=TOLERANCE[dtype], rtol=0)
    assert set(weights) == {"self"}
    assert torch.equal(weights["self"].triu(1), torch.zeros_like(weights["self"]))


def test_a_decoder_only_layer_has_no_cross_attention_parameters():
    full = DecoderLayer(16, num_heads=4, d_ff=32)
    alone = DecoderLayer(16, num_heads=4, d_ff=32, cross_attention=False)
    assert alone.cross_attention is None and not hasattr(alone, "norm2")
    assert not any("cross" in name or "norm2" in name for name in alone.state_dict())
    encoder = EncoderLayer(16, num_heads=4, d_ff=32)
    count = sum(p.numel() for p in alone.parameters())
    assert count == sum(p.numel() for p in encoder.parameters())
    cross = sum(p.numel() for p in full.cross_attention.parameters()) + 2 * 16  # + its norm
    assert sum(p.numel() for p in full.parameters()) == count + cross
    assert set(full.state_dict()) >= set(alone.state_dict())  # the shipped names are unchanged


def test_a_decoder_only_layer_refuses_memory_and_a_full_one_requires_it():
    alone = DecoderLayer(16, num_heads=4, d_ff=32, cross_attention=False)
    y = torch.randn(2, 3, 16)
    with pytest.raises(ValueError, match="built with cross_attention=False: it reads no encoder"):
        alone(y, torch.randn(2, 4, 16))
    with pytest.raises(ValueError, match="call it without memory and memory_mask"):
        alone(y, memory_mask=torch.ones(2, 1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"memory \(the encoder's output"):
        DecoderLayer(16, num_heads=4, d_ff=32)(y)
    with pytest.raises(TypeError, match="positional"):
        DecoderLayer(16, 4, 32)
    with pytest.raises(
        TypeError, match=r"theirs must be an nn.TransformerEncoderLayer .* got TransformerDecoder"
    ):
        copy_torch_weights(alone, nn.TransformerDecoderLayer(16, 4, 32, batch_first=True))


# --- GPT --------------------------------------------------------------------------------


def small_gpt(norm="pre", positions="learned", tie_weights=False, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    model = GPT(
        13,
        d_model=32,
        num_heads=4,
        num_layers=2,
        d_ff=64,
        max_len=12,
        norm=norm,
        positions=positions,
        tie_weights=tie_weights,
    )
    with torch.no_grad():  # make the final norm matter
        for module in model.modules():
            if isinstance(module, LayerNorm):
                module.bias.normal_(0, 0.1)
    return model.to(dtype).eval()


@pytest.mark.parametrize(("norm", "positions", "tie_weights"), VARIANTS)
def test_gpt_is_its_layers_stacked_by_hand(norm, positions, tie_weights):
    model = small_gpt(norm, positions, tie_weights)
    tokens = torch.randint(0, 13, (3, 10))
    logits, weights = model(tokens, need_weights=True)
    assert logits.shape == (3, 10, 13)
    assert [tuple(w.shape) for w in weights] == [(3, 4, 10, 10)] * 2
    table = model.position_codes() if positions == "learned" else model.sinusoidal_codes
    scale = 32**0.5 if tie_weights else 1.0
    h = model.token_embedding(tokens) * scale + table[:10]
    for layer in model.layers:
        assert layer.cross_attention is None and layer.norm_first is (norm == "pre")
        h = layer(h, target_mask=causal_mask(10))
    if norm == "pre":
        h = model.final_norm(h)
    else:
        assert isinstance(model.final_norm, nn.Identity)
    torch.testing.assert_close(logits, h @ model.output.weight.T + model.output.bias)
    assert (model.output.weight is model.token_embedding.weight) is tie_weights


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("norm", "positions", "tie_weights"), VARIANTS)
@pytest.mark.parametrize("chunks", [[1] * 9, [4, 1, 3, 1], [9]])
def test_gpt_with_a_cache_gives_the_logits_of_the_whole_text(
    norm, positions, tie_weights, dtype, chunks
):
    model = small_gpt(norm, positions, tie_weights, dtype)
    tokens = torch.randint(0, 13, (2, 9))
    with torch.no_grad():
        full = model(tokens)
        cache, pieces, start = model.new_cache(), [], 0
        for size in chunks:
            pieces.append(model(tokens[:, start : start + size], cache=cache))
            start += size
            assert all(layer.self_attention.length == start for layer in cache)
            assert all(layer.cross_attention.length == 0 for layer in cache)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=TOLERANCE[dtype], rtol=0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(0, 10_000), st.sampled_from(VARIANTS))
def test_changing_a_later_token_never_changes_an_earlier_logit(t, seed, variant):
    model = small_gpt(*variant)
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 13, (2, 10), generator=generator)
    changed = tokens.clone()
    changed[:, t:] = (tokens[:, t:] + torch.randint(1, 13, (2, 10 - t), generator=generator)) % 13
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert torch.equal(before[:, :t], after[:, :t])
    assert not torch.allclose(before[:, t], after[:, t])  # the changed position itself moves


@pytest.mark.parametrize(("norm", "positions", "tie_weights"), VARIANTS)
def test_the_parameter_count_follows_the_formula(norm, positions, tie_weights):
    vocab, d, heads, layers, d_ff, max_len = 13, 32, 4, 2, 64, 12
    model = small_gpt(norm, positions, tie_weights)
    attention = 4 * (d * d + d)  # W_Q, W_K, W_V, W_O with biases
    feed_forward = d * d_ff + d_ff + d_ff * d + d
    per_layer = attention + feed_forward + 2 * (2 * d)  # two LayerNorms: gain and bias
    expected = (
        vocab * d  # token embedding
        + (max_len * d if positions == "learned" else 0)
        + layers * per_layer
        + (2 * d if norm == "pre" else 0)  # the final LayerNorm
        + (0 if tie_weights else vocab * d)  # the output matrix, unless it is the embedding's
        + vocab  # the output bias
    )
    assert sum(p.numel() for p in model.parameters()) == expected
    assert heads == model.layers[0].self_attention.num_heads


def test_tied_embeddings_start_scaled_as_in_the_paper():
    torch.manual_seed(0)
    tied = GPT(500, d_model=64, num_heads=4, num_layers=1, d_ff=64, max_len=8, tie_weights=True)
    untied = GPT(500, d_model=64, num_heads=4, num_layers=1, d_ff=64, max_len=8)
    assert abs(tied.token_embedding.weight.std().item() - 64**-0.5) < 0.01
    assert abs(untied.token_embedding.weight.std().item() - 1.0) < 0.05
    tokens = torch.arange(8)[None]
    assert abs(tied.embed(tokens).std().item() - 1.0) < 0.2  # scaled by sqrt(d_model)


def test_gpt_trains_the_tied_matrix_once():
    model = small_gpt(tie_weights=True).train()
    tokens = torch.randint(0, 13, (2, 6))
    model(tokens).sum().backward()
    assert model.token_embedding.weight.grad is not None
    names = [name for name, _ in model.named_parameters()]
    assert "output.weight" not in names  # shared: listed once, as the embedding's


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_gpt_runs_in_half_precision(dtype):
    tokens = torch.randint(0, 13, (2, 5))
    logits = small_gpt(dtype=dtype)(tokens)
    assert logits.dtype == dtype and torch.isfinite(logits).all()
    reference = small_gpt()(tokens)  # the same seed: the same weights, in float32
    torch.testing.assert_close(logits.float(), reference, atol=HALF[dtype], rtol=0)


def test_gpt_runs_on_the_meta_device():
    model = small_gpt().to("meta")
    tokens = torch.zeros(2, 5, dtype=torch.long, device="meta")
    assert model(tokens).device.type == "meta"
    out = generate_text(model, tokens, steps=3, choose=lambda logits: logits.argmax(-1))
    assert out.shape == (2, 8) and out.device.type == "meta"


def test_bad_input_gives_clear_errors():
    model = small_gpt()
    tokens = torch.randint(0, 13, (2, 5))
    with pytest.raises(TypeError, match=r"token ids \(torch.long\), got dtype torch.float32"):
        model(tokens.float())
    with pytest.raises(ValueError, match=r"ids from .* outside 0..vocab_size-1 = 0..12"):
        model(tokens + 13)
    with pytest.raises(ValueError, match=r"tokens must have 2 dimensions \(batch, seq\)"):
        model(tokens[0])
    with pytest.raises(ValueError, match=r"tokens hold no positions"):
        model(tokens[:, :0])
    with pytest.raises(ValueError, match=r"0 cached \+ 13 new tokens is more than max_len=12"):
        model(torch.zeros(1, 13, dtype=torch.long))
    cache = model.new_cache()
    model(torch.zeros(2, 10, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match=r"10 cached \+ 3 new tokens is more than max_len=12"):
        model(tokens[:, :3], cache=cache)
    assert cache[0].self_attention.length == 10  # the refused call left the cache as it was
    with pytest.raises(ValueError, match="cache has 1 layers but the model has 2"):
        model(tokens, cache=cache[:1])
    with pytest.raises(TypeError, match="cache must be a list of LayerCache"):
        model(tokens, cache=cache[0])
    sizes = dict(d_model=32, num_heads=4, num_layers=2, d_ff=64, max_len=12)
    with pytest.raises(ValueError, match=r"norm must be one of \('pre', 'post'\), got 'first'"):
        GPT(13, **sizes, norm="first")
    with pytest.raises(ValueError, match=r"positions must be one of .* got 'rotary'"):
        GPT(13, **sizes, positions="rotary")
    with pytest.raises(TypeError, match="tie_weights must be a bool, got int"):
        GPT(13, **sizes, tie_weights=1)
    with pytest.raises(ValueError, match="num_layers must be > 0, got 0"):
        GPT(13, **{**sizes, "num_layers": 0})
    with pytest.raises(TypeError, match="positional"):
        GPT(13, 32, 4, 2, 64, 12)
    with pytest.raises(TypeError, match="positional"):
        model(tokens, True)


def test_gpt_takes_sizes_and_flags_by_name_only():
    parameters = list(inspect.signature(GPT.__init__).parameters.values())[2:]
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters)
    forward = inspect.signature(inspect.unwrap(GPT.forward)).parameters
    assert forward["need_weights"].kind is inspect.Parameter.KEYWORD_ONLY


def test_token_values_are_not_read_while_compiling(monkeypatch):
    """torch.compile and the dynamo ONNX export trace shapes: a check may not read values."""
    out_of_range = torch.tensor([[99]])
    with pytest.raises(ValueError, match="outside"):
        check_token_ids("tokens", out_of_range, 10)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert check_token_ids("tokens", out_of_range, 10) is out_of_range
    with pytest.raises(TypeError, match="token ids"):  # dtypes and shapes are still checked
        check_token_ids("tokens", out_of_range.float(), 10)


def test_the_transformer_checks_its_tokens_the_same_way():
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with pytest.raises(ValueError, match=r"source holds ids from 0 to 11"):
        model(torch.tensor([[0, 11]]), torch.tensor([[1]]))


# --- generate_text -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("norm", "positions", "tie_weights"), VARIANTS)
def test_cached_generation_equals_uncached(norm, positions, tie_weights, dtype):
    model = small_gpt(norm, positions, tie_weights, dtype)
    prompt = torch.randint(0, 13, (3, 4))
    cached = generate_text(model, prompt, 8)
    plain = generate_text(model, prompt, 8, use_cache=False)
    assert cached.shape == (3, 12) and torch.equal(cached[:, :4], prompt)
    assert torch.equal(cached, plain)
    sampled = [
        generate_text(
            model,
            prompt,
            8,
            sampling_choice(2.0, top_k=6, generator=torch.Generator().manual_seed(1), top_p=0.9),
            use_cache=use_cache,
        )
        for use_cache in (True, False)
    ]
    assert torch.equal(*sampled)


def test_greedy_generation_takes_the_argmax_of_the_whole_text_at_every_step():
    model = small_gpt(seed=3)
    tokens = torch.randint(0, 13, (2, 3))
    out = generate_text(model, tokens, 6)
    with torch.no_grad():
        for _ in range(6):
            tokens = torch.cat([tokens, model(tokens)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, tokens)


def test_generation_leaves_the_global_random_state_and_the_mode_as_they_were():
    model = GPT(13, d_model=32, num_heads=4, num_layers=2, d_ff=64, max_len=12, dropout=0.3)
    model.train()
    prompt = torch.randint(0, 13, (2, 3))
    state = torch.get_rng_state()
    draws = [
        generate_text(model, prompt, 5, sampling_choice(generator=torch.Generator().manual_seed(4)))
        for _ in range(2)
    ]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(*draws)  # eval mode inside: no dropout, the same seed, the same tokens
    assert model.training


def test_generation_stops_at_max_len_and_refuses_bad_input():
    model = small_gpt()
    prompt = torch.randint(0, 13, (2, 4))
    assert torch.equal(generate_text(model, prompt, 0), prompt)
    assert generate_text(model, prompt, 8).shape == (2, 12)
    with pytest.raises(ValueError, match=r"4 tokens \+ steps=9 is 13 positions, more than .*=12"):
        generate_text(model, prompt, 9)
    with pytest.raises(TypeError, match="model must be a GPT, got Transformer"):
        generate_text(Transformer(13), prompt, 2)
    with pytest.raises(ValueError, match="prompt holds no tokens"):
        generate_text(model, prompt[:, :0], 2)
    with pytest.raises(ValueError, match=r"prompt holds ids from .* outside"):
        generate_text(model, prompt + 20, 2)
    with pytest.raises(ValueError, match="steps must be >= 0, got -1"):
        generate_text(model, prompt, -1)
    with pytest.raises(TypeError, match="choose must map logits"):
        generate_text(model, prompt, 2, "greedy")
    with pytest.raises(TypeError, match="positional"):
        generate_text(model, prompt, 2, greedy_choice, False)
