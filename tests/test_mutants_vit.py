"""The ViT's recipe and edges: written to kill the mutants that the project's first mutation tool
(on vit; ``make mutate`` now runs mutmut) found surviving the module's own tests.

Expected values come from chapter 11's prose (D = 32, 2 layers, 4 heads, an MLP of 64, 8x8
grey digits in 2x2 patches, ten digit classes) and from counting parameters by hand.
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.vit import DIGITS_VIT, ViT


def test_the_digits_recipe_is_the_one_chapter_10_describes():
    model = ViT(**DIGITS_VIT)
    assert (model.image_size, model.grid_h, model.grid_w) == (8, 4, 4)  # 2x2 patches
    assert model.patch_embedding.channels == 1  # grey
    assert model.head.out_features == 10  # the digits 0..9
    assert (model.d_model, len(model.layers)) == (32, 2)
    assert model.layers[0].self_attention.num_heads == 4
    assert model.layers[0].feed_forward.linear1.out_features == 64
    assert model.codes().shape == (17, 32)  # 1-D codes: class token + 16 patches
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_the_digits_vit_parameter_count_by_hand():
    d, d_ff, patches, pixels, classes, depth = 32, 64, 16, 4, 10, 2
    attention = 4 * (d * d + d)  # W_Q, W_K, W_V, W_O with biases
    mlp = (d * d_ff + d_ff) + (d_ff * d + d)
    norms = 2 * 2 * d  # two LayerNorms per layer, gain and bias
    expected = (
        (pixels * d + d)  # patch embedding
        + d  # class token
        + (1 + patches) * d  # 1-D position codes
        + depth * (attention + mlp + norms)
        + 2 * d  # the final LayerNorm
        + (d * classes + classes)  # the head
    )
    model = ViT(**DIGITS_VIT)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_the_defaults_build_the_digits_recipe():
    default, recipe = ViT(), ViT(**DIGITS_VIT)
    assert default.positions == recipe.positions == "1d"
    shapes = {name: tuple(p.shape) for name, p in default.state_dict().items()}
    assert shapes == {name: tuple(p.shape) for name, p in recipe.state_dict().items()}


def test_the_class_token_and_learned_codes_start_at_their_documented_spread():
    """The class token starts as N(0, 0.02^2), learned codes as N(0, 0.1^2) (code_init_std)."""
    torch.manual_seed(0)
    one_d = ViT(image_size=32, patch_size=2, d_model=256, num_layers=1, num_heads=4, positions="1d")
    assert abs(one_d.class_token.std().item() - 0.02) < 0.004  # 256 draws
    assert abs(one_d.codes().std().item() - 0.1) < 0.005  # 257 x 256 draws
    two_d = ViT(image_size=8, patch_size=2, d_model=256, num_layers=1, num_heads=4, positions="2d")
    assert abs(two_d.class_position.std().item() - 0.1) < 0.02  # 256 draws


def test_a_relative_vit_of_one_layer_builds_and_runs():
    torch.manual_seed(0)
    model = ViT(num_layers=1, positions="relative")
    assert len(model.relative_biases) == 1
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_no_classes_is_refused_by_name():
    with pytest.raises(ValueError, match="num_classes"):
        ViT(num_classes=0)


@pytest.mark.parametrize("shape", [(8,), (8, 8), (1, 8, 8), (1, 1, 1, 8, 8)])
def test_images_of_another_rank_are_refused_by_name(shape):
    with pytest.raises(ValueError, match=r"images must have 4 dimensions"):
        ViT()(torch.zeros(shape))


def test_rollout_of_maps_with_no_layers_is_refused_by_name():
    """Depth 0 (the first axis) has nothing to roll out; a later empty axis is not depth."""
    from lessons_lib.vit import attention_rollout

    with pytest.raises(ValueError, match=r"maps hold no layers \(shape \(0, 1, 2, 2\)\)"):
        attention_rollout(torch.ones(0, 1, 2, 2))
    with pytest.raises(ValueError, match=r"maps hold no layers \(shape \(0, 3, 1, 2, 2\)\)"):
        attention_rollout(torch.ones(0, 3, 1, 2, 2))


def test_rollout_averages_the_heads_before_mixing_in_the_identity():
    """Two heads, a = 0.5: by hand, mean = [[.5, .5], [.5, .5]] and A' = .5 mean + .5 I."""
    from lessons_lib.vit import attention_rollout

    first = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # head 1: every token reads token 0
    second = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # head 2: every token reads token 1
    two_heads = torch.stack([first, second])[None]  # (depth 1, heads 2, 2, 2)
    expected = torch.tensor([[0.75, 0.25], [0.25, 0.75]])  # rows already sum to 1
    assert torch.allclose(attention_rollout(two_heads, residual_weight=0.5), expected)


def test_rollout_rescales_rows_that_do_not_sum_to_one():
    """Maps of all ones (rows sum to 2), a = 0.5: A' = .5 * ones + .5 I = [[1, .5], [.5, 1]],
    whose rows sum to 1.5; divided by 1.5 they are [[2/3, 1/3], [1/3, 2/3]]."""
    from lessons_lib.vit import attention_rollout

    rollout = attention_rollout(torch.ones(1, 1, 2, 2), residual_weight=0.5)
    assert torch.allclose(rollout, torch.tensor([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]))


def test_rollout_rescales_even_a_tiny_row_and_leaves_a_zero_row_at_zero():
    """Only an all-zero row meets the 1e-12 floor. A row summing to 1.5e-12 (float64) is
    rescaled to sum 1 like any other; a row of zeros stays 0 instead of becoming 0/0."""
    from lessons_lib.vit import attention_rollout

    tiny = torch.full((1, 1, 2, 2), 0.75e-12, dtype=torch.float64)  # rows sum to 1.5e-12
    rollout = attention_rollout(tiny, residual_weight=0.0)
    assert torch.allclose(rollout, torch.full((2, 2), 0.5, dtype=torch.float64))
    zeros = attention_rollout(torch.zeros(1, 1, 2, 2), residual_weight=0.0)
    assert torch.equal(zeros, torch.zeros(2, 2))
