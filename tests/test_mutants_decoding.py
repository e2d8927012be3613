"""Decoding's helpers at the ends of their ranges: written to kill the mutants that the project's
first mutation tool (on decoding; ``make mutate`` now runs mutmut) found surviving the module's
own tests.

Expected values come from torch (``torch.softmax``, ``argmax``, ``topk``) applied row by
row, or are known by construction (a vocabulary of one token has probability 1).
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.decoding import (
    generate,
    greedy_choice,
    greedy_decode,
    next_token_probabilities,
    one_hot_choice,
    sample_decode,
    sampling_choice,
)
from lessons_lib.transformer import Transformer


def logits_3d() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 5, generator=generator, dtype=torch.float64)  # (batch, steps, V)


def test_the_default_temperature_is_one():
    logits = logits_3d()
    assert torch.allclose(next_token_probabilities(logits), torch.softmax(logits, -1))


@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_top_k_cuts_along_the_vocabulary_of_a_3d_tensor(top_k):
    logits = logits_3d()
    probabilities = next_token_probabilities(logits, top_k=top_k)
    kept = logits.topk(top_k, dim=-1).indices  # (batch, steps, k)
    cut = torch.full_like(logits, float("-inf")).scatter(-1, kept, logits.gather(-1, kept))
    assert torch.allclose(probabilities, torch.softmax(cut, -1))
    assert ((probabilities > 0).sum(-1) == top_k).all()


def test_one_hot_choice_of_a_3d_tensor_marks_each_row_argmax():
    probabilities = torch.softmax(logits_3d(), -1)
    expected = torch.zeros_like(probabilities)
    for b in range(2):
        for t in range(3):
            expected[b, t, probabilities[b, t].argmax()] = 1.0
    assert torch.equal(one_hot_choice(probabilities), expected)


def test_a_vocabulary_of_one_token_is_certain():
    assert torch.equal(next_token_probabilities(torch.tensor([5.0])), torch.tensor([1.0]))
    assert torch.equal(next_token_probabilities(torch.tensor([[5.0], [-3.0]])), torch.ones(2, 1))
    assert torch.equal(one_hot_choice(torch.tensor([1.0])), torch.tensor([1.0]))
    assert torch.equal(
        greedy_choice(torch.tensor([[2.0], [7.0]])), torch.zeros(2, dtype=torch.long)
    )


@pytest.mark.parametrize(
    ("function", "shape"),
    [
        (next_token_probabilities, ()),
        (next_token_probabilities, (3, 0)),
        (one_hot_choice, ()),
        (one_hot_choice, (3, 0)),
        (greedy_choice, (3, 0)),
    ],
)
def test_no_vocabulary_is_refused(function, shape):
    with pytest.raises(ValueError, match="vocabulary dimension with at least one token"):
        function(torch.zeros(shape))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 5)])
def test_greedy_choice_wants_a_batch_of_logits(shape):
    with pytest.raises(ValueError, match=r"logits must have 2 dimensions \(batch, vocab\)"):
        greedy_choice(torch.zeros(shape))


def many_rows() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(400, 6, generator=generator) * 2  # (batch, vocab)


def test_the_sampler_draws_from_softmax_at_temperature_one_by_default():
    logits = many_rows()
    drawn = sampling_choice(generator=torch.Generator().manual_seed(3))(logits)
    reference = torch.multinomial(
        torch.softmax(logits, -1), 1, generator=torch.Generator().manual_seed(3)
    )[:, 0]
    assert torch.equal(drawn, reference)
    half = sampling_choice(2.0, generator=torch.Generator().manual_seed(3))(logits)
    assert not torch.equal(half, reference)  # so the temperature does decide the draws


def test_a_sampler_without_a_generator_is_seeded_afresh_and_leaves_the_global_state():
    logits = torch.zeros(400, 10)  # uniform: two fresh seeds agree on 400 rows with odds 1e-400
    state = torch.random.get_rng_state()
    one, two = sampling_choice()(logits), sampling_choice()(logits)
    assert not torch.equal(one, two)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_sampler_refuses_what_is_not_a_generator_and_logits_not_in_a_batch():
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator or None, got 5"):
        sampling_choice(generator=5)
    choose = sampling_choice(generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"logits must have 2 dimensions \(batch, vocab\)"):
        choose(torch.zeros(6))


def test_decoding_refuses_a_model_that_is_not_a_transformer():
    with pytest.raises(TypeError, match="model must be a Transformer, got Linear"):
        generate(torch.nn.Linear(3, 3), torch.zeros(1, 3, dtype=torch.long), bos=0)


def test_a_sampler_over_a_vocabulary_of_one_token_always_draws_it():
    choose = sampling_choice(generator=torch.Generator().manual_seed(0))
    assert torch.equal(choose(torch.tensor([[0.5], [-2.0]])), torch.zeros(2, dtype=torch.long))


def small_model(max_len: int = 6) -> Transformer:
    torch.manual_seed(0)
    return Transformer(5, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=max_len).eval()


def test_token_zero_may_be_the_begin_token_and_steps_may_reach_max_len():
    model, source = small_model(max_len=6), torch.tensor([[1, 2, 3]])
    trace = generate(model, source, bos=0, steps=6)
    assert trace.tokens.shape == (1, 6)
    prefix = torch.zeros(1, 1, dtype=torch.long)  # the same loop by hand, from token 0
    with torch.no_grad():
        for _ in range(6):
            next_token = model(source, prefix)[:, -1].argmax(-1)
            prefix = torch.cat([prefix, next_token[:, None]], dim=1)
    assert torch.equal(trace.tokens, prefix[:, 1:])
    with pytest.raises(ValueError, match="steps=7 is more than the model's max_len=6"):
        generate(model, source, bos=0, steps=7)


def test_decoding_a_model_in_training_mode_switches_dropout_off_and_back_on():
    torch.manual_seed(0)
    model = Transformer(5, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=6, dropout=0.5)
    source = torch.tensor([[1, 2, 3], [3, 2, 1]])
    model.train()
    trained_mode = generate(model, source, bos=0, steps=5)
    assert model.training
    model.eval()
    evaluated = generate(model, source, bos=0, steps=5)
    assert torch.equal(trained_mode.tokens, evaluated.tokens)
    assert torch.equal(trained_mode.logits, evaluated.logits)


def test_decoding_refuses_a_chooser_that_is_not_callable():
    with pytest.raises(TypeError, match=r"choose must map logits \(batch, vocab\)"):
        generate(small_model(), torch.tensor([[1, 2]]), bos=0, choose="greedy")


@pytest.mark.parametrize("use_cache", [True, False])
def test_the_trace_keeps_the_last_decoder_layers_cross_attention(use_cache):
    torch.manual_seed(0)
    model = Transformer(5, d_model=8, num_heads=2, num_layers=3, d_ff=16, max_len=6).eval()
    source = torch.tensor([[1, 2, 3, 4], [4, 3, 2, 1]])
    trace = generate(model, source, bos=0, steps=4, use_cache=use_cache)
    target_in = torch.cat([torch.zeros(2, 1, dtype=torch.long), trace.tokens[:, :-1]], dim=1)
    with torch.no_grad():  # the whole prefix at once: row t is what step t saw (causal mask)
        _, weights = model.decode(target_in, model.encode(source), need_weights=True)
    expected = weights[2]["cross"].mean(dim=1)  # (batch, steps, L_src): heads averaged
    assert torch.allclose(trace.cross_attention, expected, atol=1e-6)
    assert not torch.allclose(weights[1]["cross"].mean(dim=1), expected, atol=1e-3)


class Recording(Transformer):
    """A Transformer that records how many tokens each call of ``decode`` is fed."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(5, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=6)
        self.fed: list[int] = []

    def decode(self, target_in, *args, **kwargs):
        self.fed.append(target_in.shape[1])
        return super().decode(target_in, *args, **kwargs)


@pytest.mark.parametrize("decode", ["generate", "greedy_decode", "sample_decode"])
def test_the_cache_is_used_by_default_so_each_step_feeds_one_token(decode):
    model, source = Recording().eval(), torch.tensor([[1, 2, 3, 4]])
    function = {
        "generate": generate,
        "greedy_decode": greedy_decode,
        "sample_decode": sample_decode,
    }
    function[decode](model, source, 0)
    assert model.fed == [1, 1, 1, 1]
    model.fed.clear()
    function[decode](model, source, 0, use_cache=False)
    assert model.fed == [1, 2, 3, 4]


def test_the_recorded_probabilities_are_at_temperature_one_by_default():
    trace = generate(small_model(), torch.tensor([[1, 2, 3], [3, 1, 2]]), bos=0)
    assert torch.allclose(trace.probabilities, torch.softmax(trace.logits, -1))


def test_sample_decode_draws_at_temperature_one_by_default():
    torch.manual_seed(0)
    model = Transformer(5, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=6).eval()
    source = torch.randint(0, 5, (200, 4), generator=torch.Generator().manual_seed(2))

    def by_hand(temperature: float) -> torch.Tensor:
        choose = sampling_choice(temperature, generator=torch.Generator().manual_seed(7))
        return generate(model, source, 0, choose).tokens

    drawn = sample_decode(model, source, 0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(drawn, by_hand(1.0))
    assert not torch.equal(drawn, by_hand(2.0))  # so the temperature does decide the draws
