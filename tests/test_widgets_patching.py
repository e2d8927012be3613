"""The chapter-8 explorer: its computation, the live widget, and the static form.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.patching import patchify
from lessons_lib.widgets.core import WIDGET_VIEW_MIMETYPE
from lessons_lib.widgets.patching import patch_sequence, patching_explorer

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


def test_live_widget_redraws_when_a_control_moves(images):
    explorer = patching_explorer(images, ["a", "b"])
    first = bytes(explorer.image.value)  # memoryview under ipywidgets 8
    assert first.startswith(b"\x89PNG")
    explorer.controls["patch_size"].value = 4
    after_size = bytes(explorer.image.value)
    assert after_size != first
    explorer.controls["image_index"].value = 1
    assert bytes(explorer.image.value) not in (first, after_size)


def test_display_bundle_has_static_html_only_when_building(images, monkeypatch):
    explorer = patching_explorer(images, ["a", "b"])
    assert "text/html" not in explorer._repr_mimebundle_()
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle and "text/html" in bundle


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
