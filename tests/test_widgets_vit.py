"""The "Whole ViT" explorer: attention drawn over the image, layer by layer.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.training import seeded_vit
from lessons_lib.widgets.vit import (
    attention_overlay,
    query_options,
    red_overlay,
    vit_attention_explorer,
)

pytestmark = pytest.mark.widgets


@pytest.fixture
def model():
    return seeded_vit(0, image_size=8, patch_size=4, d_model=16, num_layers=2, num_heads=2)


@pytest.fixture
def images():
    return torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_overlay_is_the_head_averaged_row_of_the_weights(model, images):
    _, maps = model(images, need_weights=True)  # (depth, 2, heads, 5, 5)
    maps = maps[:, 1]  # (depth, heads, 5, 5) for image 1
    for query in range(5):
        overlay = attention_overlay(maps, query, 2, 2)
        assert overlay.shape == (2, 2, 2)
        expected = maps[:, :, query].mean(dim=1)[:, 1:]  # (depth, 4)
        assert torch.allclose(overlay.reshape(2, 4), expected)
        assert bool((overlay.sum(dim=(1, 2)) <= 1 + 1e-6).all())
    with pytest.raises(ValueError, match=r"query_index must lie in 0..4, got 5"):
        attention_overlay(maps, 5, 2, 2)
    with pytest.raises(ValueError, match=r"maps must be \(depth, heads, 1 \+ N, 1 \+ N\)"):
        attention_overlay(maps, 0, 3, 3)


def test_query_options_put_the_class_token_first():
    options = query_options(2, 3)
    assert options[0] == ("class token", 0)
    assert options[4] == ("patch 3 (row 1, col 0)", 4)
    assert len(options) == 7


def test_static_form_holds_a_distinct_frame_for_every_setting(model, images):
    html = vit_attention_explorer(model, images, ["a", "b"]).static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 2 * 5  # two images, class token + four patches
    assert len(set(data["frames"].values())) == 10


def test_bad_input(model, images):
    with pytest.raises(ValueError, match=r"one name each"):
        vit_attention_explorer(model, images, ["a"])


def test_red_overlay_is_opaque_in_proportion_to_the_weight():
    rgba = red_overlay(torch.tensor([[0.1, 0.4], [0.0, 0.2]]))
    assert rgba.shape == (2, 2, 4)
    assert rgba[..., 3].max() == pytest.approx(0.8)
    assert rgba[0, 0, 3] == pytest.approx(0.2) and rgba[1, 0, 3] == 0.0
