"""The "ViT patching" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.patching import patchify
from lessons_lib.widgets.vit_patching import patch_sequence, patching_explorer

pytestmark = pytest.mark.widgets


@pytest.fixture
def images():
    return torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_patch_sequence_is_patchify_of_one_image(images):
    for p in (1, 2, 4, 8):
        patches, grid = patch_sequence(images[1], p)
        assert grid == (8 // p, 8 // p)
        assert torch.equal(patches, patchify(images, p)[1])
    with pytest.raises(ValueError, match=r"image must be \(channels, H, W\), got shape \(8, 8\)"):
        patch_sequence(images[0, 0], 2)
    with pytest.raises(ValueError, match=r"must be divisible by patch_size \(3\)"):
        patch_sequence(images[0], 3)


def test_static_form_holds_a_distinct_frame_for_every_setting(images):
    explorer = patching_explorer(images, ["a", "b"])
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 2 * 4  # two images, four patch sizes
    assert len(set(data["frames"].values())) == 8
    assert html.count("<select") == 2 and "http" not in html
    assert len(html) < 1_000_000


def test_bad_input(images):
    with pytest.raises(ValueError, match=r"one name each, got shape \(2, 1, 8, 8\) and 1 names"):
        patching_explorer(images, ["a"])
    with pytest.raises(ValueError, match=r"must be divisible by patch_size \(3\)"):
        patching_explorer(images, ["a", "b"], patch_sizes=(2, 3))


def test_a_colour_photograph_is_drawn_in_colour_with_its_grid():
    from lessons_lib.data import load_sample_photo

    photo = load_sample_photo(112)
    explorer = patching_explorer(photo[None], ["photo"], patch_sizes=(8, 16, 28), dpi=60)
    picture = explorer.figure.axes[0].images[0].get_array()
    assert picture.shape == (112, 112, 3)  # RGB, not a grey average
    explorer.update(image_index=0, patch_size=8)
    visible = [line for line in explorer.figure.axes[0].lines if line.get_visible()]
    assert len(visible) == 2 * 13  # 14 x 14 patches: 13 inner lines each way
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 3 and len(html) < 600_000
