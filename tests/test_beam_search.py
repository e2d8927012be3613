"""Beam search: against exhaustive search on a tiny model, greedy at beam 1, cache, bad input.

The exhaustive reference enumerates every sequence of a small vocabulary and scores it by
teacher forcing (one pass of the model over the whole sequence), independently of the
step-by-step loop that beam search runs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from lessons_lib.data import shift_right
from lessons_lib.decoding import beam_search, gnmt_length_penalty, greedy_decode
from lessons_lib.masking import padding_mask
from lessons_lib.transformer import Transformer

VOCAB, BOS = 4, 3  # bos is a token id the model may also output


def make_model(seed=0, vocab=VOCAB, norm_first=False):
    torch.manual_seed(seed)
    model = Transformer(
        vocab, d_model=16, num_heads=2, num_layers=2, d_ff=32, max_len=12, norm_first=norm_first
    )
    with torch.no_grad():  # larger logits than at init: sharper, more varied distributions
        model.output.weight.mul_(4.0)
    return model.double().eval()


def make_source(batch=2, length=4, seed=1, vocab=VOCAB):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch, length), generator=generator)


def teacher_forced_log_probability(model, source, sequences, bos, source_mask=None):
    """sequences ``(n, steps)`` for one source row ``(1, L_src)`` -> ``(n, steps)`` log p."""
    n = sequences.shape[0]
    with torch.no_grad():
        logits = model(source.expand(n, -1), shift_right(sequences, bos), source_mask)
    return torch.log_softmax(logits, -1).gather(-1, sequences[:, :, None])[:, :, 0]


def every_sequence(vocab, steps):
    return torch.tensor(list(itertools.product(range(vocab), repeat=steps)))  # (V^steps, steps)


def exhaustive(model, source_row, steps, bos=BOS, source_mask=None):
    """Every sequence of ``steps`` tokens and its log-probability, most probable first."""
    sequences = every_sequence(model.vocab_size, steps)
    scores = teacher_forced_log_probability(model, source_row, sequences, bos, source_mask)
    order = scores.sum(-1).argsort(descending=True)
    return sequences[order], scores.sum(-1)[order]


# --- against exhaustive search -------------------------------------------------------------


@pytest.mark.parametrize(("vocab", "steps"), [(3, 3), (3, 4), (4, 3), (4, 4)])
@pytest.mark.parametrize("seed", range(3))
def test_a_beam_that_holds_every_prefix_finds_the_best_sequences(vocab, steps, seed):
    model = make_model(seed, vocab)
    source = make_source(batch=2, length=3, seed=seed, vocab=vocab)
    beam_size = vocab ** (steps - 1)
    found = beam_search(model, source, vocab - 1, beam_size, steps=steps)
    for row in range(2):
        sequences, scores = exhaustive(model, source[row : row + 1], steps, bos=vocab - 1)
        assert torch.equal(found.tokens[row], sequences[0])
        assert abs(found.log_probability[row].item() - scores[0].item()) < 1e-5
        # the last step ranks all vocab ** steps sequences: the beams are the exact top ones
        assert torch.allclose(found.beam_log_probabilities[row], scores[:beam_size], atol=1e-5)


@pytest.mark.parametrize("beam_size", [1, 2, 3, 5])
@pytest.mark.parametrize("seed", range(4))
def test_a_narrow_beam_reports_true_scores_of_distinct_sequences(beam_size, seed):
    model, source, steps = make_model(seed), make_source(batch=3, seed=seed), 4
    found = beam_search(model, source, BOS, beam_size, steps=steps)
    assert found.beams.shape == (3, beam_size, steps)
    for row in range(3):
        best_possible = exhaustive(model, source[row : row + 1], steps)[1][0]
        beams = found.beams[row]  # (beam, steps)
        true = teacher_forced_log_probability(model, source[row : row + 1], beams, BOS).sum(-1)
        assert torch.allclose(found.beam_log_probabilities[row], true, atol=1e-9)
        assert (true <= best_possible + 1e-9).all()
        assert len({tuple(beam.tolist()) for beam in beams}) == beam_size  # no duplicates
        assert (found.beam_log_probabilities[row].diff() <= 0).all()  # best first
    assert torch.equal(found.tokens, found.beams[:, 0])
    assert torch.equal(found.log_probability, found.beam_log_probabilities[:, 0])


def test_the_exhaustive_reference_can_tell_a_best_sequence_from_another():
    model, source = make_model(), make_source(batch=1)
    _, scores = exhaustive(model, source, 3)
    assert scores[0] > scores[-1] + 1.0  # the sharpened model has clear favourites
    assert math.isclose(scores.exp().sum().item(), 1.0, rel_tol=1e-9)  # a distribution


@pytest.mark.parametrize("seed", range(4))
def test_beam_size_one_is_greedy(seed):
    model = make_model(seed, vocab=9)
    source = make_source(batch=4, length=6, seed=seed, vocab=8)
    for use_cache in (True, False):
        found = beam_search(model, source, 8, 1, use_cache=use_cache)
        assert torch.equal(found.tokens, greedy_decode(model, source, 8))
    true = torch.cat(
        [
            teacher_forced_log_probability(
                model, source[row : row + 1], found.tokens[row : row + 1], 8
            )
            for row in range(4)
        ]
    ).sum(-1)
    assert torch.allclose(found.log_probability, true, atol=1e-9)


# --- the loop: cache, batch, padding, history ----------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_cached_beam_search_equals_uncached(seed, norm_first):
    model = make_model(seed, vocab=7, norm_first=norm_first)
    source = make_source(batch=3, length=5, seed=seed, vocab=7)
    mask = padding_mask([5, 3, 1], 5)
    cached = beam_search(model, source, 6, 4, steps=8, source_mask=mask, use_cache=True)
    plain = beam_search(model, source, 6, 4, steps=8, source_mask=mask, use_cache=False)
    assert torch.equal(cached.beams, plain.beams)
    assert torch.allclose(cached.beam_log_probabilities, plain.beam_log_probabilities, atol=1e-10)


def test_each_source_row_gets_a_beam_of_its_own():
    model, source = make_model(vocab=7), make_source(batch=4, length=5, vocab=7)
    mask = padding_mask([5, 2, 4, 1], 5)
    together = beam_search(model, source, 6, 3, steps=6, source_mask=mask)
    for row in range(4):
        alone = beam_search(
            model, source[row : row + 1], 6, 3, steps=6, source_mask=mask[row : row + 1]
        )
        assert torch.equal(together.beams[row], alone.beams[0])
        assert torch.allclose(together.beam_log_probabilities[row], alone.beam_log_probabilities[0])


def test_padding_changes_nothing():
    model, source = make_model(vocab=7), make_source(batch=1, length=6, vocab=7)
    padded = source.clone()
    padded[:, 3:] = (padded[:, 3:] + 1) % 6
    mask = padding_mask([3], 6)
    one = beam_search(model, source, 6, 3, source_mask=mask)
    two = beam_search(model, padded, 6, 3, source_mask=mask)
    assert torch.equal(one.beams, two.beams)


def test_the_history_records_the_beams_after_every_step():
    model, source = make_model(), make_source(batch=2)
    found = beam_search(model, source, BOS, 3, steps=5)
    assert len(found.history) == 5
    for step, (tokens, log_probabilities) in enumerate(found.history, start=1):
        assert tokens.shape == (2, 3, step) and log_probabilities.shape == (2, 3)
        assert (log_probabilities.diff(dim=-1) <= 0).all()
    assert torch.equal(found.history[-1][0], found.beams)
    # at step 1 the beams are the three most probable first tokens
    first = teacher_forced_log_probability(model, source[:1], torch.arange(VOCAB)[:, None], BOS)
    assert torch.allclose(found.history[0][1][0], first[:, 0].sort(descending=True).values[:3])


def test_without_eos_the_length_penalty_changes_nothing():
    model, source = make_model(), make_source(batch=3)
    plain = beam_search(model, source, BOS, 3)
    penalised = beam_search(model, source, BOS, 3, length_penalty=1.5)
    assert torch.equal(plain.beams, penalised.beams)
    assert torch.equal(plain.beam_scores, penalised.beam_scores)
    assert torch.equal(plain.beam_scores, plain.beam_log_probabilities)


def test_beam_search_leaves_the_training_mode_as_it_was():
    model = make_model().train()
    beam_search(model, make_source(), BOS, 2)
    assert model.training


def test_a_beam_larger_than_the_sequences_so_far_still_ends_full():
    model, source = make_model(), make_source(batch=1)
    found = beam_search(model, source, BOS, VOCAB**3, steps=3)  # every sequence
    assert torch.isfinite(found.beam_log_probabilities).all()
    assert len({tuple(beam.tolist()) for beam in found.beams[0]}) == VOCAB**3
    assert torch.isinf(found.history[0][1][0, VOCAB:]).all()  # after step 1: 4 real beams


# --- an end token and the length penalty -----------------------------------------------------


def exhaustive_with_eos(model, source_row, steps, eos, alpha):
    """Every sequence that continues with eos only after its first eos, ranked by score."""
    sequences = every_sequence(model.vocab_size, steps)
    is_eos = sequences == eos
    seen_eos = is_eos.cumsum(-1) - is_eos.int() > 0  # an eos came before this position
    valid = (~seen_eos | is_eos).all(-1)
    sequences, seen_eos = sequences[valid], seen_eos[valid]
    log_p = teacher_forced_log_probability(model, source_row, sequences, BOS)
    log_probability = log_p.masked_fill(seen_eos, 0.0).sum(-1)  # up to and with the first eos
    lengths = (~seen_eos).sum(-1).double()
    scores = log_probability / ((5 + lengths) / 6) ** alpha
    order = scores.argsort(descending=True)
    return sequences[order], log_probability[order], scores[order]


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
@pytest.mark.parametrize("seed", range(4))
def test_with_eos_a_full_beam_finds_the_best_penalised_sequence(seed, alpha):
    model, source, steps, eos = make_model(seed), make_source(batch=2, seed=seed), 4, 0
    found = beam_search(model, source, BOS, VOCAB**steps, alpha, steps, eos=eos)
    for row in range(2):
        sequences, log_probability, scores = exhaustive_with_eos(
            model, source[row : row + 1], steps, eos, alpha
        )
        assert torch.equal(found.tokens[row], sequences[0])
        assert abs(found.log_probability[row].item() - log_probability[0].item()) < 1e-5
        assert abs(found.beam_scores[row, 0].item() - scores[0].item()) < 1e-5
        finite = torch.isfinite(found.beam_scores[row])
        assert finite.sum() == len(sequences)  # every valid sequence, and only those
        assert torch.allclose(found.beam_scores[row, finite], scores, atol=1e-5)


def test_after_eos_a_beam_only_repeats_eos():
    model, source = make_model(), make_source(batch=3)
    found = beam_search(model, source, BOS, 6, steps=6, eos=1)
    for beam in found.beams.reshape(-1, 6):
        if (beam == 1).any():
            first = int((beam == 1).int().argmax())
            assert (beam[first:] == 1).all()


def test_gnmt_length_penalty_is_one_at_length_one_and_grows_with_alpha():
    lengths = torch.tensor([1.0, 4.0, 10.0])
    assert torch.equal(gnmt_length_penalty(lengths, 0.0), torch.ones(3))
    assert torch.allclose(gnmt_length_penalty(lengths, 1.0), (5 + lengths) / 6)
    assert torch.allclose(gnmt_length_penalty(lengths, 0.5), ((5 + lengths) / 6).sqrt())


# --- bad input -------------------------------------------------------------------------------


def test_bad_inputs_give_clear_errors():
    model, source = make_model(), make_source()
    with pytest.raises(TypeError, match="model must be a Transformer, got Linear"):
        beam_search(torch.nn.Linear(2, 2), source, BOS, 2)
    with pytest.raises(ValueError, match="source must have 2 dimensions"):
        beam_search(model, source[0], BOS, 2)
    with pytest.raises(TypeError, match=r"source must be a torch\.Tensor, got list"):
        beam_search(model, [[1, 2]], BOS, 2)
    with pytest.raises(ValueError, match=r"bos must be a token id in 0..3, got 4"):
        beam_search(model, source, 4, 2)
    with pytest.raises(ValueError, match="beam_size must be > 0, got 0"):
        beam_search(model, source, BOS, 0)
    for beam_size, kind in [(2.0, "float"), (True, "bool"), (None, "NoneType")]:
        with pytest.raises(TypeError, match=f"beam_size must be an int, got {kind}"):
            beam_search(model, source, BOS, beam_size)
    message = (
        "beam_size must be at most the 64 sequences of 3 tokens from a vocabulary of 4, got 65"
    )
    with pytest.raises(ValueError, match=message):
        beam_search(model, source, BOS, 65, steps=3)
    with pytest.raises(ValueError, match="steps=13 is more than the model's max_len=12"):
        beam_search(model, source, BOS, 2, steps=13)
    with pytest.raises(ValueError, match=r"eos must be a token id in 0..3, got -1"):
        beam_search(model, source, BOS, 2, eos=-1)
    with pytest.raises(TypeError, match="eos must be an int, got float"):
        beam_search(model, source, BOS, 2, eos=1.0)
    with pytest.raises(ValueError, match="length_penalty must be a finite number, got nan"):
        beam_search(model, source, BOS, 2, math.nan)
    with pytest.raises(TypeError, match="length_penalty must be a number, got str"):
        beam_search(model, source, BOS, 2, "0.6")


def test_numpy_integers_are_ints():
    model, source = make_model(), make_source()
    expected = beam_search(model, source, BOS, 2, steps=3)
    found = beam_search(model, source, np.int64(BOS), np.int64(2), steps=np.int64(3))
    assert torch.equal(found.beams, expected.beams)
