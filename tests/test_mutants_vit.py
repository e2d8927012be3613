"""The ViT's recipe and edges: written to kill the mutants that ``tools/mutate.py vit`` found
surviving the module's own tests.

Expected values come from chapter 10's prose (D = 32, 2 layers, 4 heads, an MLP of 64, 8x8
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
    one_d = ViT(image_size=32, patch_size=2, d_model=256, depth=1, num_heads=4, positions="1d")
    assert abs(one_d.class_token.std().item() - 0.02) < 0.004  # 256 draws
    assert abs(one_d.codes().std().item() - 0.1) < 0.005  # 257 x 256 draws
    two_d = ViT(image_size=8, patch_size=2, d_model=256, depth=1, num_heads=4, positions="2d")
    assert abs(two_d.class_position.std().item() - 0.1) < 0.02  # 256 draws


def test_a_relative_vit_of_one_layer_builds_and_runs():
    torch.manual_seed(0)
    model = ViT(depth=1, positions="relative")
    assert len(model.relative_biases) == 1
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_no_classes_is_refused_by_name():
    with pytest.raises(ValueError, match="num_classes"):
        ViT(num_classes=0)


@pytest.mark.parametrize("shape", [(8,), (8, 8), (1, 8, 8), (1, 1, 1, 8, 8)])
def test_images_of_another_rank_are_refused_by_name(shape):
    with pytest.raises(ValueError, match=r"images must have 4 dimensions"):
        ViT()(torch.zeros(shape))
