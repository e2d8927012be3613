"""The appendix "The ViT at other scales": the stretched-codes and ViT-against-CNN explorers.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.widgets.position_codes import patch_similarity
from lessons_lib.widgets.vit_scale import seed_readout, stretched_codes_explorer, vit_cnn_explorer

pytestmark = pytest.mark.widgets


def test_stretched_codes_explorer_shows_each_table_for_the_chosen_patch():
    tables = dict(zip(("naive", "on the grid"), torch.randn(2, 12, 6)))
    explorer = stretched_codes_explorer(tables, 3, 4)
    explorer.controls["patch_index"].value = 7
    panels = [ax.images[0].get_array() for ax in explorer.figure.axes if ax.images]
    assert len(panels) == 2
    for panel, codes in zip(panels, tables.values()):
        assert torch.allclose(torch.as_tensor(panel), patch_similarity(codes, 7, 3, 4), atol=1e-6)
    with pytest.raises(ValueError, match="a 3x4 grid has 12 patches, got 11 codes"):
        stretched_codes_explorer({"bad": torch.randn(11, 6)}, 3, 4)
    with pytest.raises(ValueError, match="at least one table"):
        stretched_codes_explorer({}, 3, 4)


SCORES = {
    "ViT": {50: [0.3, 0.4, 0.5], 200: [0.6, 0.7, 0.8]},
    "CNN": {50: [0.5, 0.6, 0.7], 200: [0.8, 0.85, 0.9]},
}


def test_vit_cnn_explorer_shows_the_chosen_models_and_spread():
    explorer = vit_cnn_explorer(SCORES)
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 3 * 2 * 2  # models, spread, sizes
    assert len(set(data["frames"].values())) == 12
    assert len(html) < 1_000_000
    explorer.update(models="CNN", spread="seeds", size=200)
    ax = explorer.figure.axes[0]
    title = ax.title.get_text()
    assert title == "200 training images\nCNN: 0.80, 0.85, 0.90 (mean 0.85)"
    lines = [line for line in ax.get_lines() if line.get_visible() and line.get_marker() == "o"]
    assert len(lines) == 1 and list(lines[0].get_ydata()) == pytest.approx([0.6, 0.85])


def test_seed_readout_lists_every_seed_and_the_mean():
    assert seed_readout(SCORES, ["ViT", "CNN"], 50) == (
        "ViT: 0.30, 0.40, 0.50 (mean 0.40)\nCNN: 0.50, 0.60, 0.70 (mean 0.60)"
    )


def test_vit_cnn_explorer_refuses_mismatched_scores():
    with pytest.raises(ValueError, match=r"the same sizes, got models \['ViT'\]"):
        vit_cnn_explorer({"ViT": SCORES["ViT"]})
    with pytest.raises(ValueError, match=r"the same sizes"):
        vit_cnn_explorer({"ViT": SCORES["ViT"], "CNN": {50: [0.5]}})
