"""Errors that name the argument at fault, exactly: written to kill the mutants that mutmut
(``make mutate MUTATE="softmax masking"``, then the other concept modules) found surviving,
which change the name a check reports ("x" -> "X", "max_len" -> None) or the text of its
message.

Each test gives one bad argument and reads the message's first words, which must be the
argument's own name; a meta tensor (shapes, no values) checks that ``padding_mask`` keeps the
lengths' device and does not read their values.
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.decoding import greedy_choice, next_token_probabilities, nucleus, one_hot_choice
from lessons_lib.masking import padding_mask
from lessons_lib.metrics import expected_calibration_error, token_accuracy
from lessons_lib.patching import PatchEmbedding, linear_weight_from_conv, patch_grid, unpatchify
from lessons_lib.residual import AddNorm, FeedForward, LayerNorm, layer_norm
from lessons_lib.softmax import naive_softmax, softmax
from lessons_lib.vit import ViT, attention_rollout, stretch_positions

WHOLE_NUMBERS = torch.arange(6).reshape(2, 3)  # int64: not a floating-point tensor
ROWS = torch.randn(2, 3)


@pytest.mark.parametrize("function", [softmax, naive_softmax])
def test_a_tensor_of_integers_is_refused_by_the_name_x(function):
    with pytest.raises(TypeError, match=r"^x must be a floating-point tensor"):
        function(WHOLE_NUMBERS)


@pytest.mark.parametrize("function", [softmax, naive_softmax])
def test_a_dim_that_is_not_an_int_is_refused_by_its_name(function):
    with pytest.raises(TypeError, match=r"^dim must be an int, got float$"):
        function(ROWS, dim=1.5)


def test_a_temperature_that_is_not_a_number_is_refused_by_its_name():
    with pytest.raises(TypeError, match=r"^temperature must be a number, got str$"):
        softmax(ROWS, temperature="hot")


def test_padding_mask_names_max_len():
    with pytest.raises(ValueError, match=r"^max_len must be > 0, got 0$"):
        padding_mask([1, 2], max_len=0)


def test_padding_mask_says_what_lengths_must_be():
    with pytest.raises(
        TypeError, match=r"^lengths must be a 1-D LongTensor or a list of ints, got"
    ):
        padding_mask(torch.tensor([1.0, 2.0]), max_len=3)
    with pytest.raises(ValueError, match=r"^lengths must name at least one sequence, got an empty"):
        padding_mask([], max_len=3)


def test_padding_mask_of_meta_lengths_stays_on_the_meta_device_without_reading_values():
    lengths = torch.tensor([2, 3], device="meta")  # shapes only: reading a value would raise
    mask = padding_mask(lengths, max_len=4)
    assert mask.device.type == "meta"
    assert mask.shape == (2, 1, 4) and mask.dtype == torch.bool


# The residual and patching modules (make mutate MUTATE="residual patching"): one bad argument
# per row, and the message that must begin the error, naming that argument and its layout.
INTS = torch.ones(2, 4, dtype=torch.long)
FLOATS = torch.ones(2, 4)
MESSAGES = [
    (lambda: layer_norm(INTS), TypeError, r"^x must be a floating-point tensor"),
    (
        lambda: layer_norm(torch.tensor(1.0)),
        ValueError,
        r"^x must have at least 1 dimensions \(\.\.\., d_model\), got shape \(\)$",
    ),
    (lambda: LayerNorm(4, eps="small"), TypeError, r"^eps must be a number, got str$"),
    (lambda: LayerNorm(4)(INTS), TypeError, r"^x must be a floating-point tensor"),
    (lambda: AddNorm(4)(INTS, FLOATS), TypeError, r"^x must be a floating-point tensor"),
    (lambda: AddNorm(4)(FLOATS, INTS), TypeError, r"^sublayer_out must be a floating-point"),
    (lambda: FeedForward(0, 8), ValueError, r"^d_model must be > 0, got 0$"),
    (lambda: FeedForward(4, 8, dropout="x"), TypeError, r"^dropout must be a number, got str$"),
    (
        lambda: FeedForward(4, 8, dropout=1),
        ValueError,
        r"^dropout must be a probability in \[0, 1\), got 1$",
    ),
    (lambda: FeedForward(4, 8, dropout=1.5), ValueError, r"^dropout must be a probability"),
    (lambda: FeedForward(4, 8)(INTS), TypeError, r"^x must be a floating-point tensor"),
    (
        lambda: FeedForward(4, 8)(FLOATS.double()),
        TypeError,
        r"^x has dtype torch.float64 but this FeedForward's weights are torch.float32; "
        r"call x.float\(\)",
    ),
    (lambda: patch_grid(0, 4, 2), ValueError, r"^image height must be > 0, got 0$"),
    (lambda: PatchEmbedding(0, 1, 8), ValueError, r"^patch_size must be > 0, got 0$"),
    (lambda: PatchEmbedding(2, 0, 8), ValueError, r"^channels must be > 0, got 0$"),
    (lambda: PatchEmbedding(2, 1, 0), ValueError, r"^d_model must be > 0, got 0$"),
    (
        lambda: PatchEmbedding(2, 1, 8)(torch.ones(1, 4, 4)),
        ValueError,
        r"^images must have 4 dimensions \(batch, channels, height, width\), got 3",
    ),
    (
        lambda: PatchEmbedding(2, 1, 8)(torch.ones(1, 1, 4, 4, dtype=torch.float64)),
        TypeError,
        r"^images has dtype torch.float64 but this PatchEmbedding's weights",
    ),
    (lambda: unpatchify(torch.ones(1, 4, 4, dtype=torch.long), 2, 4, 4), TypeError, r"^patches "),
    (
        lambda: unpatchify(torch.ones(4, 4), 2, 4, 4),
        ValueError,
        r"^patches must have 3 dimensions \(batch, n_patches, channels \* p \* p\), got 2",
    ),
    (lambda: unpatchify(torch.ones(1, 4, 4), 2, 4, 4, channels=0), ValueError, r"^channels must"),
    (
        lambda: unpatchify(torch.ones(1, 8, 8), 2, 4, 8),  # 8 patches of 4 values, not 8 of 8
        ValueError,
        r"^a 4x8 image with 1 channel\(s\) and patch_size 2 has 8 patches of 4 values, got",
    ),
    (
        lambda: linear_weight_from_conv(torch.ones(8, 1, 2, 2, dtype=torch.long)),
        TypeError,
        r"^conv_weight must be a floating-point tensor",
    ),
    (
        lambda: linear_weight_from_conv(torch.ones(8, 1, 2)),
        ValueError,
        r"^conv_weight must have 4 dimensions \(d_model, C, p, p\), got 3",
    ),
    (
        lambda: linear_weight_from_conv(torch.ones(8, 1, 2, 3)),
        ValueError,
        r"^conv_weight must have a square p x p kernel, like the square patches, got 2x3 ",
    ),
    # decoding, metrics and the ViT (make mutate MUTATE="metrics vit decoding")
    (
        lambda: next_token_probabilities(torch.ones(2, 0)),
        ValueError,
        r"^logits must have a vocabulary dimension with at least one token \(\.\.\., vocab\)",
    ),
    (lambda: next_token_probabilities(FLOATS, top_p=1.5), ValueError, r"^top_p must be a prob"),
    (lambda: nucleus(torch.ones(2, 0), 0.5), ValueError, r"^probabilities must have a vocab"),
    (lambda: greedy_choice(torch.ones(2, 0)), ValueError, r"^logits must have a vocabulary"),
    (lambda: one_hot_choice(INTS), TypeError, r"^probabilities must be a floating-point"),
    (
        lambda: token_accuracy(torch.nn.Identity(), torch.ones(4, dtype=torch.long), INTS),
        ValueError,
        r"^sources must have 2 dimensions \(batch, length\), got 1",
    ),
    (
        lambda: token_accuracy(torch.nn.Identity(), INTS[:0], INTS),
        ValueError,
        r"^sources holds no sequences \(shape \(0, 4\)\): an accuracy needs at least one$",
    ),
    (
        lambda: expected_calibration_error(torch.tensor([0.5]), torch.tensor([2])),
        ValueError,
        r"^correct must be a bool tensor, or hold only 0 and 1$",
    ),
    (
        lambda: expected_calibration_error(torch.ones(0), torch.ones(0, dtype=torch.bool)),
        ValueError,
        r"^confidences holds no predictions: a calibration error needs one$",
    ),
    (
        lambda: attention_rollout(torch.ones(1, 1, 1, 2, 2, dtype=torch.long)),
        TypeError,
        r"^maps must be a floating-point tensor",
    ),
    (
        lambda: stretch_positions(ViT(8, d_model=16, num_heads=2, positions="relative"), 16),
        ValueError,
        r"^stretch_positions handles absolute codes only, got a 'relative' ViT$",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), MESSAGES)
def test_each_check_names_the_argument_and_what_it_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_add_norm_and_layer_norm_pass_their_own_eps_on():
    eps = 0.5  # large enough to change every output
    x = torch.randn(3, 4)
    assert AddNorm(4, eps=eps).norm.eps == eps
    norm = LayerNorm(4, eps=eps)
    expected = torch.nn.functional.layer_norm(x, (4,), norm.weight, norm.bias, eps)
    torch.testing.assert_close(norm(x), expected)
