"""Patching: patchify against a plain loop, its inverse, and the two patch embeddings."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.patching import (
    PatchEmbedding,
    linear_weight_from_conv,
    patch_grid,
    patchify,
    unpatchify,
)


def patchify_by_loop(images, p):
    """The definition, one patch at a time: row-major patches, (channel, row, col) inside."""
    batch, _, height, width = images.shape
    rows = []
    for r in range(height // p):
        for c in range(width // p):
            rows.append(images[:, :, r * p : (r + 1) * p, c * p : (c + 1) * p].reshape(batch, -1))
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize(
    ("shape", "p"), [((2, 1, 8, 8), 2), ((3, 3, 12, 8), 4), ((1, 2, 6, 9), 3), ((2, 1, 4, 4), 4)]
)
def test_patchify_matches_the_loop(shape, p):
    images = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    patches = patchify(images, p)
    assert patches.shape == (shape[0], (shape[2] // p) * (shape[3] // p), shape[1] * p * p)
    assert torch.equal(patches, patchify_by_loop(images, p))


def test_patch_order_is_row_major():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    patches = patchify(image, 2)
    assert patches[0, 0].tolist() == [0, 1, 4, 5]  # top-left
    assert patches[0, 1].tolist() == [2, 3, 6, 7]  # top-right comes second
    assert patches[0, 2].tolist() == [8, 9, 12, 13]  # then the next row


@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 3),
    grid_h=st.integers(1, 4),
    grid_w=st.integers(1, 4),
    p=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_unpatchify_inverts_patchify(batch, channels, grid_h, grid_w, p, seed):
    height, width = grid_h * p, grid_w * p
    images = torch.randn(
        batch, channels, height, width, generator=torch.Generator().manual_seed(seed)
    )
    back = unpatchify(patchify(images, p), p, height, width, channels)
    assert torch.equal(back, images)


@pytest.mark.parametrize(
    ("shape", "p", "d_model"),
    [((2, 1, 8, 8), 2, 16), ((3, 3, 16, 16), 4, 32), ((1, 2, 6, 9), 3, 8), ((4, 3, 8, 8), 8, 5)],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_and_conv_embeddings_agree_with_copied_weights(shape, p, d_model, seed):
    torch.manual_seed(seed)
    linear = PatchEmbedding(p, shape[1], d_model, method="linear")
    conv = PatchEmbedding(p, shape[1], d_model, method="conv")
    images = torch.randn(*shape)
    conv.copy_from(linear)
    assert torch.allclose(conv(images), linear(images), atol=1e-6)
    linear.copy_from(PatchEmbedding(p, shape[1], d_model, method="conv"))  # and the other way
    source = PatchEmbedding(p, shape[1], d_model, method="conv")
    assert torch.allclose(linear.copy_from(source)(images), source(images), atol=1e-6)


def test_conv_embedding_matches_torch_conv2d():
    torch.manual_seed(0)
    embed = PatchEmbedding(4, 3, 12, method="conv")
    images = torch.randn(2, 3, 16, 8)
    weight, bias = embed.linear_parameters()
    reference = torch.nn.functional.conv2d(images, embed.projection.weight, bias, stride=4)
    assert torch.allclose(embed(images), reference.flatten(2).transpose(1, 2), atol=1e-6)
    assert torch.equal(linear_weight_from_conv(embed.projection.weight), weight)


def test_patch_grid():
    assert patch_grid(8, 8, 2) == (4, 4)
    assert patch_grid(12, 8, 4) == (3, 2)


def test_indivisible_image_size_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"image height \(8\) must be divisible by patch_size \(3\)"
    ):
        patchify(torch.zeros(1, 1, 8, 9), 3)
    with pytest.raises(
        ValueError, match=r"image width \(10\) must be divisible by patch_size \(4\)"
    ):
        PatchEmbedding(4, 1, 8, method="conv")(torch.zeros(1, 1, 8, 10))
    with pytest.raises(ValueError, match=r"patch sizes that divide 10: \[1, 2, 5, 10\]"):
        patch_grid(10, 10, 4)


def test_bad_input():
    with pytest.raises(ValueError, match=r"images must have 4 dimensions"):
        patchify(torch.zeros(8, 8), 2)
    with pytest.raises(TypeError, match=r"images must be a floating-point tensor"):
        patchify(torch.zeros(1, 1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(TypeError, match=r"patch_size must be an int, got float"):
        patchify(torch.zeros(1, 1, 4, 4), 2.0)
    with pytest.raises(ValueError, match=r"method must be one of \('linear', 'conv'\), got 'pool'"):
        PatchEmbedding(2, 1, 8, method="pool")
    with pytest.raises(ValueError, match=r"images have 3 channel\(s\) but this embedding"):
        PatchEmbedding(2, 1, 8)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"has 4 patches of 4 values, got patches of shape"):
        unpatchify(torch.zeros(1, 4, 8), 2, 4, 4)
    with pytest.raises(ValueError, match=r"need the same \(patch_size, channels, d_model\)"):
        PatchEmbedding(2, 1, 8).copy_from(PatchEmbedding(2, 1, 16))
