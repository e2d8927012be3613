"""The "Cross-attention" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.widgets.cross_attention import (
    ALL_HEADS,
    cross_attention_explorer,
    source_reads,
)

pytestmark = pytest.mark.widgets
SOURCE, OUTPUT = list("314159"), list("951413")


@pytest.fixture
def weights():
    scores = torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(0)) * 2
    return torch.softmax(scores, dim=-1)  # (heads, L_q, L_k)


def test_source_reads_picks_a_row_of_a_head_or_the_mean(weights):
    matrix, row = source_reads(weights, 3, 1)
    assert torch.equal(matrix, weights[1]) and torch.equal(row, weights[1, 3])
    matrix, row = source_reads(weights, 0, ALL_HEADS)
    assert torch.allclose(row, (weights[0, 0] + weights[1, 0]) / 2)
    with pytest.raises(ValueError, match=r"head must lie in 0..1, or -1 for the mean, got 2"):
        source_reads(weights, 0, 2)
    with pytest.raises(ValueError, match=r"position must lie in 0..5, got 6"):
        source_reads(weights, 6, 0)
    with pytest.raises(ValueError, match=r"weights must have 3 dimensions"):
        source_reads(weights[0], 0, 0)


def test_static_form_holds_a_frame_for_every_setting(weights):
    explorer = cross_attention_explorer(weights, SOURCE, OUTPUT)
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 6 * 3  # positions x (two heads and their mean)
    assert len(set(data["frames"].values())) == 18
    assert html.count("<select") == 1 and html.count('type="range"') == 1


def test_bad_input(weights):
    with pytest.raises(ValueError, match=r"need 6 source tokens and 6 output tokens, got 3 and 6"):
        cross_attention_explorer(weights, SOURCE[:3], OUTPUT)
