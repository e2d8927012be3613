"""Top-p (nucleus) sampling: against a plain numpy reference, its invariants, and bad input.

The reference sorts the probabilities in descending order, adds them up and cuts where the
sum first reaches top_p (Holtzman et al. 2020); tokens as probable as the last one kept are
kept too (the tie rule that :func:`lessons_lib.decoding.nucleus` documents).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from lessons_lib.decoding import (
    greedy_decode,
    next_token_probabilities,
    nucleus,
    one_hot_choice,
    sample_decode,
    sampling_choice,
)
from lessons_lib.transformer import Transformer


def reference_row(
    logits: np.ndarray, temperature: float, top_k: int | None, top_p: float, dtype: torch.dtype
):
    """One row: (probabilities after top k then top p, distance of top_p from a cut point).

    The softmax's probabilities are rounded to ``dtype``, as the library's softmax returns
    them; the cut is made in exact rational arithmetic (``fractions``), relative to their
    total, so that rounding cannot move it.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if top_k is not None:
        kth_largest = np.sort(logits)[::-1][top_k - 1]
        logits = np.where(logits >= kth_largest, logits, -np.inf)
    scaled = logits / temperature
    exps = np.exp(scaled - scaled.max())
    probabilities = torch.from_numpy(exps / exps.sum()).to(dtype).double().numpy()
    descending = [Fraction(float(p)) for p in np.sort(probabilities)[::-1]]
    total = sum(descending)
    held = list(itertools.accumulate(descending))  # held[i]: the i + 1 most probable tokens
    held_before = [h - p for h, p in zip(held, descending)]  # the more probable tokens
    n_kept = sum(h < Fraction(top_p) * total for h in held_before)  # a prefix: they grow
    kept = np.where(probabilities >= float(descending[n_kept - 1]), probabilities, 0.0)
    margin = min(abs(float(h / total) - top_p) for h in held)
    return kept / kept.sum(), margin


def reference(logits: torch.Tensor, temperature=1.0, top_k=None, top_p=1.0):
    """Every row of ``logits`` through :func:`reference_row`: (rows, vocab), (rows,) margins."""
    rows = logits.double().reshape(-1, logits.shape[-1]).numpy()  # (rows, vocab)
    results = [reference_row(row, temperature, top_k, top_p, logits.dtype) for row in rows]
    expected = np.stack([probabilities for probabilities, _ in results])  # (rows, vocab)
    margins = torch.tensor([margin for _, margin in results])  # (rows,)
    return torch.from_numpy(expected), margins


def random_logits(shape, seed, dtype=torch.float64, scale=3.0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(dtype)


# --- against the reference -------------------------------------------------------------

# dtype -> (how far top_p must be from a cut point for the cut to be unambiguous, tolerance)
PRECISION = {
    torch.float64: (1e-9, 1e-12),
    torch.float32: (1e-5, 1e-6),
    torch.float16: (1e-5, 2e-3),
    torch.bfloat16: (1e-5, 1e-2),
}


@pytest.mark.parametrize("dtype", list(PRECISION), ids=str)
@pytest.mark.parametrize("shape", [(7,), (4, 10), (2, 3, 6), (1, 1, 1, 12)], ids=str)
@pytest.mark.parametrize("seed", range(4))
def test_top_p_matches_the_sorting_reference(dtype, shape, seed):
    margin_needed, tolerance = PRECISION[dtype]
    logits = random_logits(shape, seed, dtype)
    generator = torch.Generator().manual_seed(seed + 100)
    compared = skipped = 0
    for top_p in [*torch.rand(12, generator=generator, dtype=torch.float64).tolist(), 1.0]:
        for temperature, top_k in [(1.0, None), (0.7, None), (2.0, min(3, shape[-1]))]:
            expected, margins = reference(logits, temperature, top_k, top_p)
            got = next_token_probabilities(logits, temperature, top_k, top_p)
            assert got.dtype == dtype and got.shape == logits.shape
            got = got.double().reshape(expected.shape)  # (rows, vocab)
            # rows where top_p sits on a cut point: rounding may fall either way
            clear = (margins >= margin_needed) | (top_p == 1.0)  # (rows,)
            assert torch.equal((got > 0)[clear], (expected > 0)[clear]), (top_p, top_k)
            assert torch.allclose(got[clear], expected[clear], atol=tolerance, rtol=tolerance)
            compared, skipped = compared + int(clear.sum()), skipped + int((~clear).sum())
    assert compared >= 4 * skipped  # the rows left out must be few


@given(
    seed=st.integers(0, 10_000),
    top_p=st.floats(0.001, 1.0),
    temperature=st.floats(0.2, 5.0),
    top_k=st.one_of(st.none(), st.integers(1, 9)),
)
def test_top_p_matches_the_reference_for_any_temperature_and_top_k(seed, top_p, temperature, top_k):
    logits = random_logits((3, 9), seed)
    expected, margins = reference(logits, temperature, top_k, top_p)
    assume(margins.min() > 1e-9 or top_p == 1.0)
    got = next_token_probabilities(logits, temperature, top_k, top_p=top_p)
    assert torch.equal(got > 0, expected > 0)
    assert torch.allclose(got, expected, atol=1e-12)


def test_the_reference_can_disagree_with_a_wrong_cut():
    """The reference keeps the token that crosses top_p: cutting before it is wrong."""
    logits = torch.log(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))
    expected, _ = reference(logits, top_p=0.6)
    assert (expected[0] > 0).tolist() == [True, True, False]
    assert torch.equal(next_token_probabilities(logits, top_p=0.6) > 0, expected[0] > 0)


# --- invariants --------------------------------------------------------------------------


@given(seed=st.integers(0, 10_000), top_p=st.floats(1e-6, 1.0), vocab=st.integers(1, 20))
def test_the_nucleus_is_the_smallest_most_probable_set_that_holds_top_p(seed, top_p, vocab):
    logits = random_logits((4, vocab), seed)
    plain = next_token_probabilities(logits)
    cut = next_token_probabilities(logits, top_p=top_p)
    assert torch.allclose(cut.sum(-1), torch.ones(4, dtype=torch.float64))
    for row_plain, row_cut in zip(plain, cut):
        kept = row_cut > 0
        # a prefix of the sorted order: every token dropped is less probable than every one kept
        if (~kept).any():
            assert row_plain[~kept].max() < row_plain[kept].min()
        # it holds top_p, and without its least probable token(s) it would not
        least = row_plain[kept].min()
        assert row_plain[kept].sum() >= top_p - 1e-12
        assert row_plain[row_plain > least].sum() < top_p
        # renormalised: the kept tokens keep their ratios
        assert torch.allclose(row_cut[kept], row_plain[kept] / row_plain[kept].sum())


@given(seed=st.integers(0, 10_000), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_top_p_one_cuts_nothing(seed, dtype):
    logits = random_logits((5, 11), seed, dtype, scale=10.0)  # tiny tails: rounding must not cut
    plain = next_token_probabilities(logits)
    cut = next_token_probabilities(logits, top_p=1.0)
    assert torch.equal(cut > 0, plain > 0)
    assert torch.allclose(cut, plain, rtol=1e-6, atol=0)


@given(
    seed=st.integers(0, 10_000),
    top_p=st.floats(1e-12, 1e-3),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_a_tiny_top_p_is_greedy(seed, top_p, dtype):
    logits = random_logits((6, 8), seed, dtype, scale=0.5)  # float32: 1 - top_p rounds to 1
    probabilities = next_token_probabilities(logits, top_p=top_p)
    assert torch.equal(probabilities, one_hot_choice(next_token_probabilities(logits)))
    assert torch.equal(probabilities.argmax(-1), logits.argmax(-1))


@given(seed=st.integers(0, 10_000), p_1=st.floats(0.001, 1.0), p_2=st.floats(0.001, 1.0))
def test_a_larger_top_p_never_drops_a_token(seed, p_1, p_2):
    smaller, larger = sorted([p_1, p_2])
    logits = random_logits((4, 10), seed, torch.float32)
    kept_smaller = next_token_probabilities(logits, top_p=smaller) > 0
    kept_larger = next_token_probabilities(logits, top_p=larger) > 0
    assert not (kept_smaller & ~kept_larger).any()


def test_tokens_tied_with_the_last_one_kept_are_kept_too():
    logits = torch.tensor([1.0, 3.0, 3.0, 3.0, 0.0])  # three equally likely leaders
    probabilities = next_token_probabilities(logits, top_p=0.1)  # one leader would do
    assert (probabilities > 0).tolist() == [False, True, True, True, False]
    assert torch.allclose(probabilities[1:4], torch.full((3,), 1 / 3))
    expected, _ = reference(logits, top_p=0.1)
    assert torch.equal(probabilities > 0, expected[0] > 0)


def test_top_k_cuts_before_top_p():
    logits = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64))
    # top k = 2 leaves 4/7 and 3/7; 4/7 alone holds 0.5. (Top p first would keep both.)
    both = next_token_probabilities(logits, top_k=2, top_p=0.5)
    assert both.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert (next_token_probabilities(logits, top_p=0.5) > 0).tolist() == [True, True, False, False]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_huge_logits_give_no_nan(dtype):
    logits = torch.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]])
    logits = logits.to(dtype)  # 1e4 fits float16 too (its largest is 65504)
    for top_p in (1e-6, 0.5, 0.999, 1.0):
        probabilities = next_token_probabilities(logits, temperature=0.01, top_p=top_p)
        assert torch.isfinite(probabilities).all()
        assert probabilities[0].tolist() == [1.0, 0.0, 0.0]
        assert probabilities[1].tolist() == [0.5, 0.5, 0.0]  # a tie at the top: both stay
        assert torch.allclose(probabilities[2].float(), torch.full((3,), 1 / 3), atol=1e-2)


def test_nucleus_of_given_probabilities():
    probabilities = torch.tensor([[0.1, 0.6, 0.3], [0.25, 0.25, 0.5]], dtype=torch.float64)
    expected = torch.tensor([[0.0, 2 / 3, 1 / 3], [0.25, 0.25, 0.5]], dtype=torch.float64)
    assert torch.allclose(nucleus(probabilities, 0.7), expected)
    assert torch.equal(nucleus(probabilities, 0.5)[1], torch.tensor([0.0, 0.0, 1.0]).double())


# --- sampling with top p -----------------------------------------------------------------


def test_sampling_draws_only_tokens_in_the_nucleus():
    logits = random_logits((1, 10), 3).expand(4000, 10)  # (draws, vocab): one row, many draws
    choose = sampling_choice(top_p=0.6, generator=torch.Generator().manual_seed(0))
    drawn = choose(logits)
    nucleus_tokens = torch.nonzero(next_token_probabilities(logits[0], top_p=0.6))[:, 0]
    assert set(drawn.unique().tolist()) == set(nucleus_tokens.tolist())
    frequencies = torch.bincount(drawn, minlength=10).double() / len(drawn)
    expected = next_token_probabilities(logits[0], top_p=0.6)
    assert torch.allclose(frequencies, expected, atol=0.03)  # 4000 draws: sd below 0.008


VOCAB, BOS = 12, 11


def make_model(seed=0):
    torch.manual_seed(seed)
    model = Transformer(VOCAB, d_model=32, num_heads=4, num_layers=2, d_ff=64, max_len=40)
    return model.double().eval()


@pytest.mark.parametrize("seed", range(3))
def test_sample_decode_with_a_tiny_top_p_is_greedy(seed):
    model = make_model(seed)
    source = torch.randint(0, BOS, (4, 8), generator=torch.Generator().manual_seed(seed))
    generator = torch.Generator().manual_seed(seed)
    sampled = sample_decode(model, source, BOS, temperature=3.0, generator=generator, top_p=1e-9)
    assert torch.equal(sampled, greedy_decode(model, source, BOS))


def test_sample_decode_with_top_p_is_seeded_and_cached_like_without():
    model = make_model()
    source = torch.randint(0, BOS, (4, 8), generator=torch.Generator().manual_seed(1))

    def draw(seed, use_cache=True, top_p=0.8):
        generator = torch.Generator().manual_seed(seed)
        return sample_decode(
            model, source, BOS, 10, 2.0, None, generator, top_p=top_p, use_cache=use_cache
        )

    assert torch.equal(draw(5), draw(5))
    assert torch.equal(draw(5), draw(5, use_cache=False))
    assert not torch.equal(draw(5), draw(6))


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("top_p", [0, 0.0, -0.1, 1.0001, 2, math.nan, math.inf])
def test_a_top_p_outside_zero_to_one_is_refused(top_p):
    message = rf"top_p must be a probability in \(0, 1\], got {top_p!r}"
    with pytest.raises(ValueError, match=message):
        next_token_probabilities(torch.randn(5), top_p=top_p)
    with pytest.raises(ValueError, match=message):
        sampling_choice(top_p=top_p)  # at once, not at the first draw
    with pytest.raises(ValueError, match=message):
        sample_decode(make_model(), torch.zeros(1, 3, dtype=torch.long), BOS, top_p=top_p)
    with pytest.raises(ValueError, match=message):
        nucleus(torch.full((4,), 0.25), top_p)


@pytest.mark.parametrize(
    ("top_p", "kind"), [(True, "bool"), ("0.5", "str"), (torch.tensor(0.5), "Tensor")]
)
def test_a_top_p_that_is_not_a_number_is_refused(top_p, kind):
    with pytest.raises(TypeError, match=f"top_p must be a number, got {kind}"):
        next_token_probabilities(torch.randn(5), top_p=top_p)
    with pytest.raises(TypeError, match=f"top_p must be a number, got {kind}"):
        sampling_choice(top_p=top_p)


def test_numpy_and_int_top_p_are_numbers():
    logits = torch.randn(3, 5, dtype=torch.float64)
    plain = next_token_probabilities(logits)
    assert torch.allclose(next_token_probabilities(logits, top_p=1), plain)
    assert torch.equal(
        next_token_probabilities(logits, top_p=np.float64(0.5)),
        next_token_probabilities(logits, top_p=0.5),
    )


def test_nucleus_refuses_what_is_not_probabilities():
    with pytest.raises(TypeError, match="probabilities must be a floating-point tensor"):
        nucleus(torch.tensor([1, 0]), 0.5)
    with pytest.raises(ValueError, match="vocabulary dimension with at least one token"):
        nucleus(torch.zeros(2, 0), 0.5)
    with pytest.raises(TypeError, match="top_p must be a number, got NoneType"):
        nucleus(torch.tensor([0.5, 0.5]), None)
    with pytest.raises(TypeError, match=r"probabilities must be a torch\.Tensor, got list"):
        nucleus([0.5, 0.5], 0.5)
