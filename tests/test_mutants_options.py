"""Options that must reach the code that uses them: written to kill the mutants that mutmut
(``make mutate MUTATE="metrics vit decoding"``) found surviving, which drop an argument on its
way down (a padding mask, a temperature, ``d_ff``, ``dropout``) or move a boundary.

Each expected value is known by construction: a source padded under its mask decodes as the
same source unpadded; an option set on the ViT is read back from the layer it configures.
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.data import padding_mask
from lessons_lib.decoding import (
    beam_search,
    generate_text,
    greedy_choice,
    greedy_decode,
    one_hot_choice,
    sample_decode,
)
from lessons_lib.gpt import GPT
from lessons_lib.metrics import exact_match_accuracy, expected_calibration_error
from lessons_lib.transformer import Transformer
from lessons_lib.vit import ViT

VOCAB, PAD, BOS = 12, 0, 11
SOURCE = torch.tensor([[3, 1, 4]])  # (1, 3)
PADDED = torch.tensor([[3, 1, 4, PAD, PAD]])  # (1, 5): the same source, padded on the right
MASK = padding_mask([3], 5)  # (1, 1, 5)


@pytest.fixture(scope="module")
def model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(VOCAB, d_model=16, num_heads=2, num_layers=1, d_ff=32).eval()


def test_greedy_decode_of_a_padded_source_under_its_mask_is_that_of_the_source(model):
    alone = greedy_decode(model, SOURCE, BOS, 6)
    assert torch.equal(greedy_decode(model, PADDED, BOS, 6, source_mask=MASK), alone)
    # the mask matters: without it, the padding is read as tokens
    assert not torch.equal(greedy_decode(model, PADDED, BOS, 6), alone)


def test_sample_decode_reads_no_padding_under_the_mask_and_passes_its_temperature_on(model):
    lengths = [2, 3, 4, 5, 6, 3, 2, 4]
    sources = torch.randint(
        1, VOCAB - 1, (len(lengths), 6), generator=torch.Generator().manual_seed(0)
    )
    mask = padding_mask(lengths, 6)  # (8, 1, 6)
    other_padding = sources.clone()
    for row, length in enumerate(lengths):
        sources[row, length:] = PAD
        other_padding[row, length:] = 7  # the same sources, padded with another token

    def draw(source, **options):
        generator = torch.Generator().manual_seed(1)
        return sample_decode(model, source, BOS, 10, generator=generator, **options)

    masked = draw(sources, source_mask=mask, temperature=2.0)
    assert masked.shape == (len(lengths), 10)
    assert torch.equal(masked, draw(other_padding, source_mask=mask, temperature=2.0))
    # the check can fail: read without the mask, the padding changes the draws
    assert not torch.equal(draw(sources, temperature=2.0), draw(other_padding, temperature=2.0))
    # a temperature near 0 is greedy decoding: the temperature reaches the choice
    assert torch.equal(draw(SOURCE, temperature=1e-4), greedy_decode(model, SOURCE, BOS, 10))


def test_exact_match_accuracy_uses_the_source_mask(model):
    target = greedy_decode(model, SOURCE, BOS, 6)
    assert exact_match_accuracy(model, PADDED, target, BOS, source_mask=MASK) == 1.0
    with pytest.raises(
        ValueError, match=r"^sources \(1, 5\) and targets \(2, 6\) must match in their batch size$"
    ):
        exact_match_accuracy(model, PADDED, target.repeat(2, 1), BOS, source_mask=MASK)
    # without a mask, the shapes must match whole, and the message says no more
    with pytest.raises(ValueError, match=r"^sources \(1, 5\) and targets \(1, 6\) must match$"):
        exact_match_accuracy(model, PADDED, target, BOS)


def test_beam_search_refuses_an_eos_outside_the_vocabulary(model):
    with pytest.raises(ValueError, match="eos"):
        beam_search(model, SOURCE, BOS, 2, steps=3, eos=VOCAB)
    beam_search(model, SOURCE, BOS, 2, steps=3, eos=VOCAB - 1)  # the last id is allowed


def test_one_hot_choice_keeps_the_probabilities_dtype():
    probabilities = torch.tensor([[0.2, 0.8]], dtype=torch.float64)
    chosen = one_hot_choice(probabilities)
    assert chosen.dtype == torch.float64 and chosen.tolist() == [[0.0, 1.0]]


def test_generate_text_says_how_many_steps_fit():
    gpt = GPT(10, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=6)
    prompt = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match=r"generate at most 4 steps$"):
        generate_text(gpt, prompt, 5, greedy_choice)
    with pytest.raises(TypeError, match=r"^steps must be an int, got float$"):
        generate_text(gpt, prompt, 2.0, greedy_choice)


def test_calibration_error_defaults_to_ten_bins_and_allows_empty_top_bins():
    # 0.81 and 0.89 share a bin of ten but not of eleven; nothing lies in the top bin
    confidences = torch.tensor([0.05, 0.25, 0.42, 0.81, 0.89])
    correct = torch.tensor([True, False, True, True, False])
    assert expected_calibration_error(confidences, correct) == pytest.approx(
        expected_calibration_error(confidences, correct, bins=10)
    )
    assert expected_calibration_error(confidences, correct) != pytest.approx(
        expected_calibration_error(confidences, correct, bins=11)
    )
    with pytest.raises(TypeError, match=r"^correct "):
        expected_calibration_error(confidences, [1, 0, 1, 0, 1])


def test_the_vit_builds_its_layers_with_the_options_it_is_given():
    torch.manual_seed(0)
    vit = ViT(8, patch_size=2, d_model=16, num_heads=2, d_ff=24, dropout=0.25,
              patch_method="conv", positions="2d", code_init_std=0.0)  # fmt: skip
    layer = vit.layers[0]
    assert layer.feed_forward.linear1.out_features == 24
    assert layer.dropout.p == 0.25
    assert vit.patch_embedding.method == "conv"
    assert vit.position_codes.row_codes.abs().max() == 0  # drawn with std 0
    assert ViT(8, d_model=16, num_heads=2).layers[0].feed_forward.linear1.out_features == 32


def test_a_relative_vit_has_no_patch_codes_and_names_its_bad_input():
    vit = ViT(8, d_model=16, num_heads=2, positions="relative")
    assert vit.patch_codes() is None
    with pytest.raises(TypeError, match=r"^images must be a floating-point tensor"):
        vit(torch.ones(1, 1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^images must have 4 dimensions \(batch, channels, "):
        vit(torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match=r"^num_classes must be > 0, got 0$"):
        ViT(8, num_classes=0)
