"""Greedy and sampled decoding, the key/value cache, the probability helpers, and bad input."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.decoding import (
    generate,
    greedy_decode,
    next_token_probabilities,
    one_hot_choice,
    sample_decode,
)
from lessons_lib.masking import padding_mask
from lessons_lib.metrics import exact_match_accuracy
from lessons_lib.softmax import softmax
from lessons_lib.transformer import Transformer

VOCAB, BOS = 12, 11


def make_model(seed=0, norm_first=False, layers=2, dtype=torch.float32):
    torch.manual_seed(seed)
    model = Transformer(
        VOCAB,
        d_model=32,
        num_heads=4,
        num_layers=layers,
        d_ff=64,
        max_len=40,
        norm_first=norm_first,
    )
    return model.to(dtype).eval()


def make_source(batch=3, length=7, seed=1):
    return torch.randint(0, BOS, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("seed", range(3))
def test_greedy_equals_a_step_by_step_argmax_loop(seed):
    model, source = make_model(seed), make_source(seed=seed)
    prefix = torch.full((3, 1), BOS)
    with torch.no_grad():
        for _ in range(9):
            next_token = model(source, prefix)[:, -1].argmax(-1)  # the output ...
            prefix = torch.cat([prefix, next_token[:, None]], dim=1)  # ... is the next input
    for use_cache in (True, False):
        assert torch.equal(
            greedy_decode(model, source, BOS, steps=9, use_cache=use_cache), prefix[:, 1:]
        )


@pytest.mark.parametrize("seed", range(3))
def test_top_k_one_equals_greedy(seed):
    model, source = make_model(seed), make_source(seed=seed)
    generator = torch.Generator().manual_seed(seed)
    sampled = sample_decode(model, source, BOS, temperature=3.0, top_k=1, generator=generator)
    assert torch.equal(sampled, greedy_decode(model, source, BOS))


def test_seeded_sampling_reproduces_itself_and_seeds_matter():
    model, source = make_model(), make_source(batch=8, length=12)

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return sample_decode(model, source, BOS, temperature=2.0, generator=generator)

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_cached_decoding_equals_uncached(seed, norm_first):
    model = make_model(seed, norm_first, dtype=torch.float64)
    source = make_source(batch=4, length=9, seed=seed)
    trace_cached = generate(model, source, BOS, steps=20, use_cache=True)
    trace_plain = generate(model, source, BOS, steps=20, use_cache=False)
    assert torch.equal(trace_cached.tokens, trace_plain.tokens)
    assert torch.allclose(trace_cached.logits, trace_plain.logits, atol=1e-10)
    assert torch.allclose(trace_cached.cross_attention, trace_plain.cross_attention, atol=1e-10)
    sampled = [  # sampling with the same seed draws the same tokens too
        sample_decode(
            model, source, BOS, 20, 1.5, 5, torch.Generator().manual_seed(seed), use_cache=cache
        )
        for cache in (True, False)
    ]
    assert torch.equal(*sampled)


def test_cached_step_logits_match_the_whole_prefix_in_float32_with_padding():
    """The decoding loop's two forms: one new token through the cache, or the whole prefix."""
    model, source = make_model(layers=3), make_source(batch=3, length=7)
    mask = padding_mask([7, 4, 2], 7)  # (batch, 1, L_src)
    with torch.no_grad():
        memory = model.encode(source, mask)
        cache = model.new_cache()
        prefix = torch.full((3, 1), BOS)
        for _ in range(12):
            logits_cached = model.decode(prefix[:, -1:], memory, mask, cache=cache)[:, -1]
            logits_plain = model.decode(prefix, memory, mask)[:, -1]
            assert torch.allclose(logits_cached, logits_plain, atol=1e-5)
            prefix = torch.cat([prefix, logits_plain.argmax(-1)[:, None]], dim=1)
    assert cache[0].self_attention.keys.shape == (3, 4, 12, 8)  # one key per decoded position
    assert cache[0].cross_attention.keys.shape == (3, 4, 7, 8)


def test_padding_changes_nothing_when_decoding():
    model, source = make_model(), make_source(batch=1, length=7)
    padded = source.clone()
    padded[:, 4:] = (padded[:, 4:] + 1) % BOS
    mask = padding_mask([4], 7)
    for use_cache in (True, False):
        one = generate(model, source, BOS, steps=6, use_cache=use_cache, source_mask=mask)
        two = generate(model, padded, BOS, steps=6, use_cache=use_cache, source_mask=mask)
        assert torch.allclose(one.logits, two.logits, atol=1e-6)
        assert (one.cross_attention[..., 4:] == 0).all()


def test_trace_records_probabilities_and_cross_attention():
    model, source = make_model(), make_source()
    trace = generate(model, source, BOS, steps=5, temperature=2.0)
    assert trace.tokens.shape == (3, 5) and trace.logits.shape == (3, 5, VOCAB)
    assert torch.allclose(trace.probabilities, softmax(trace.logits, temperature=2.0))
    assert trace.cross_attention.shape == (3, 5, 7)
    assert torch.allclose(trace.cross_attention.sum(-1), torch.ones(3, 5), atol=1e-5)
    assert trace.steps == [1, 2, 3, 4, 5]


def test_decoding_leaves_the_training_mode_as_it_was():
    model = make_model().train()
    greedy_decode(model, make_source(), BOS)
    assert model.training


@given(st.integers(1, 12), st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_top_k_keeps_exactly_k_tokens_and_sums_to_one(k, seed, temperature):
    logits = torch.randn(4, 12, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    probabilities = next_token_probabilities(logits, temperature, top_k=k)
    assert torch.allclose(probabilities.sum(-1), torch.ones(4, dtype=torch.float64))
    assert ((probabilities > 0).sum(-1) == k).all()
    kept = logits.topk(k, dim=-1).indices
    assert (probabilities.gather(-1, kept) > 0).all()


@given(st.integers(0, 10_000))
def test_temperature_sharpens_or_flattens_but_keeps_the_argmax(seed):
    logits = torch.randn(12, generator=torch.Generator().manual_seed(seed)) * 3
    cold, warm, hot = (next_token_probabilities(logits, t) for t in (0.3, 1.0, 5.0))
    assert cold.max() >= warm.max() >= hot.max()
    assert cold.argmax() == warm.argmax() == hot.argmax() == logits.argmax()


def test_one_hot_choice_puts_a_one_at_the_argmax():
    probabilities = softmax(torch.randn(5, 9))
    one_hot = one_hot_choice(probabilities)
    assert torch.equal(one_hot.sum(-1), torch.ones(5))
    assert torch.equal(one_hot.argmax(-1), probabilities.argmax(-1))
    assert set(one_hot.unique().tolist()) == {0.0, 1.0}


def test_bad_inputs_give_clear_errors():
    model, source = make_model(), make_source()
    with pytest.raises(ValueError, match=r"bos must be a token id in 0..11, got 12"):
        greedy_decode(model, source, 12)
    with pytest.raises(ValueError, match=r"source must have 2 dimensions"):
        greedy_decode(model, source[0], BOS)
    with pytest.raises(ValueError, match="steps=50 is more than the model's max_len=40"):
        greedy_decode(model, source, BOS, steps=50)
    with pytest.raises(ValueError, match="steps must be > 0"):
        greedy_decode(model, source, BOS, steps=0)
    with pytest.raises(ValueError, match="top_k must be at most the vocabulary size 12, got 13"):
        next_token_probabilities(torch.randn(12), top_k=13)
    with pytest.raises(TypeError, match="top_k must be an int"):
        next_token_probabilities(torch.randn(12), top_k=2.5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_decode(model, source, BOS, temperature=0.0)
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        next_token_probabilities(torch.arange(5))
    with pytest.raises(ValueError, match=r"sources \(3, 7\) and targets \(3, 6\) must match"):
        exact_match_accuracy(model, source, source[:, :6], BOS)
