"""The "Queries, keys and values" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib import scaled_dot_product_attention
from lessons_lib.widgets import qkv_explorer, query_weights

pytestmark = pytest.mark.widgets
TOKENS = ["the", "cat", "sat", "on", "the", "mat"]


@pytest.fixture
def parts():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(6, 32, generator=generator)
    w_q, w_k = (torch.randn(32, 32, generator=generator) / 32**0.5 for _ in range(2))
    return inputs, w_q, w_k


def test_query_weights_is_one_row_of_attention(parts):
    inputs, w_q, w_k = parts
    _, all_weights = scaled_dot_product_attention(inputs @ w_q, inputs @ w_k, inputs @ w_k)
    for index in range(6):
        _, weights = query_weights(inputs, w_q, w_k, index)
        assert torch.allclose(weights, all_weights[index], atol=1e-6)
    scores, weights = query_weights(inputs, w_q, w_k, 0)
    unscaled_scores, unscaled = query_weights(inputs, w_q, w_k, 0, scaled=False)
    assert torch.allclose(unscaled_scores, scores * 32**0.5, atol=1e-5)  # d_k = 32
    assert unscaled.max() > weights.max()  # wider scores: the weights concentrate
    with pytest.raises(ValueError, match=r"query_index must lie in 0..5, got 6"):
        query_weights(inputs, w_q, w_k, 6)


def test_static_form_holds_a_distinct_frame_for_every_setting(parts):
    explorer = qkv_explorer(TOKENS, *parts)
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 6 * 2  # six queries, scaling on or off
    assert len(set(data["frames"].values())) == 12  # every setting draws a different picture
    assert html.count("<select") == 1 and html.count('type="checkbox"') == 1
    assert "document.currentScript" in html and "http" not in html
    assert len(html) < 1_000_000
