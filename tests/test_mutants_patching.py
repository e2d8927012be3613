"""Patching at the ends of its ranges: written to kill the mutants that the project's first
mutation tool (on patching; ``make mutate`` now runs mutmut) found surviving the module's own
tests.

Expected values are known by construction: the divisors of a small number, a kernel
flattened row by row by hand, the documented shapes.
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.patching import (
    PatchEmbedding,
    linear_weight_from_conv,
    patch_grid,
    unpatchify,
)


def test_the_size_error_lists_every_divisor_starting_at_one():
    with pytest.raises(ValueError, match=r"patch sizes that divide 6: \[1, 2, 3, 6\]"):
        patch_grid(6, 8, 4)
    with pytest.raises(ValueError, match=r"patch sizes that divide 9: \[1, 3, 9\]"):
        patch_grid(8, 9, 2)


def test_unpatchify_refuses_patches_of_the_wrong_rank_by_naming_the_layout():
    with pytest.raises(ValueError, match=r"patches must have 3 dimensions"):
        unpatchify(torch.zeros(4, 4), 2, 4, 4)


def test_linear_weight_from_conv_flattens_each_kernel_in_channel_row_col_order():
    d_model, channels, p = 5, 2, 3  # d_model != channels, so the first axis is told apart
    weight = torch.arange(d_model * channels * p * p, dtype=torch.float32)
    weight = weight.reshape(d_model, channels, p, p)
    linear = linear_weight_from_conv(weight)
    assert linear.shape == (d_model, channels * p * p)
    for out in range(d_model):
        by_hand = [
            weight[out, c, r, k].item() for c in range(channels) for r in range(p) for k in range(p)
        ]
        assert linear[out].tolist() == by_hand


@pytest.mark.parametrize("shape", [(4, 1, 2, 3), (4, 1, 3, 2)])
def test_linear_weight_from_conv_refuses_a_kernel_that_is_not_square(shape):
    with pytest.raises(ValueError, match="square"):
        linear_weight_from_conv(torch.zeros(shape))


@pytest.mark.parametrize("shape", [(4, 2, 2), (4, 1, 2, 2, 1)])
def test_linear_weight_from_conv_refuses_a_weight_that_is_not_4d(shape):
    with pytest.raises(ValueError, match="conv_weight must have 4 dimensions"):
        linear_weight_from_conv(torch.zeros(shape))


def test_linear_weight_from_conv_refuses_integers():
    with pytest.raises(TypeError, match="conv_weight"):
        linear_weight_from_conv(torch.zeros(4, 1, 2, 2, dtype=torch.int64))


def test_copy_from_refuses_a_module_that_is_not_a_patch_embedding():
    embedding = PatchEmbedding(patch_size=2, channels=1, d_model=4)
    with pytest.raises(TypeError, match="other must be a PatchEmbedding, got Linear"):
        embedding.copy_from(torch.nn.Linear(4, 4))
