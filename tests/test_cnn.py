"""The small CNN of chapter 11: shapes, size, what convolution builds in, and bad input."""

import pytest
import torch

from lessons_lib.cnn import SmallCNN
from lessons_lib.metrics import parameter_count
from lessons_lib.training import seeded
from lessons_lib.vit import DIGITS_VIT, ViT


def test_shapes_and_a_parameter_count_close_to_the_vit():
    model = seeded(0, SmallCNN)
    assert model(torch.rand(5, 1, 8, 8)).shape == (5, 10)
    assert model(torch.rand(2, 1, 12, 6)).shape == (2, 10)  # the grid average fits any size
    assert parameter_count(model) == 19_162
    vit = ViT(**DIGITS_VIT)
    assert abs(parameter_count(model) - parameter_count(vit)) < 0.1 * parameter_count(vit)
    assert SmallCNN(channels=3, num_classes=4)(torch.rand(2, 3, 8, 8)).shape == (2, 4)


def test_features_are_translation_equivariant_away_from_the_border():
    """Shifting the image by two pixels shifts the feature map by one cell (after the pool)."""
    model = seeded(1, SmallCNN).eval()
    image = torch.zeros(1, 1, 16, 16)
    image[0, 0, 4:8, 4:8] = torch.rand(4, 4, generator=torch.Generator().manual_seed(0))
    shifted = torch.roll(image, shifts=(2, 2), dims=(2, 3))
    with torch.no_grad():
        features, moved = model.features(image), model.features(shifted)  # (1, 48, 8, 8)
    # Cells 2-4 of the 8x8 map (3-5 after the shift) see no zero padding at any layer.
    assert torch.allclose(moved[..., 3:6, 3:6], features[..., 2:5, 2:5], atol=1e-6)
    assert not torch.allclose(moved, features)


def test_bad_input_names_what_was_expected():
    model = SmallCNN()
    with pytest.raises(ValueError, match=r"images must be \(batch, 1, H, W\) with H, W >= 2, got"):
        model(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"widths must hold 3 channel counts"):
        SmallCNN(widths=(8, 8))
    with pytest.raises((TypeError, ValueError)):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.long))
