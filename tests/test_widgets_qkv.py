"""The chapter-1 explorer: its computation, the live widget, and the static form.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib import scaled_dot_product_attention
from lessons_lib.widgets import qkv_explorer, query_weights
from lessons_lib.widgets.core import WIDGET_VIEW_MIMETYPE

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
    _, unscaled = query_weights(inputs, w_q, w_k, 0, scaled=False)
    assert unscaled.max() > weights.max() or not torch.allclose(unscaled, weights)
    with pytest.raises(ValueError, match=r"query_index must lie in 0..5, got 6"):
        query_weights(inputs, w_q, w_k, 6)


def test_live_widget_redraws_when_a_control_moves(parts):
    explorer = qkv_explorer(TOKENS, *parts)
    first = bytes(explorer.image.value)  # memoryview under ipywidgets 8
    assert first.startswith(b"\x89PNG")
    explorer.controls["query_index"].value = 3
    after_query = bytes(explorer.image.value)
    assert after_query != first
    explorer.controls["scaled"].value = False
    assert bytes(explorer.image.value) not in (first, after_query)


def test_display_bundle_has_static_html_only_when_building(parts, monkeypatch):
    explorer = qkv_explorer(TOKENS, *parts)
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle and "text/html" not in bundle
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle and "text/html" in bundle


def test_static_form_holds_a_distinct_frame_for_every_setting(parts):
    explorer = qkv_explorer(TOKENS, *parts)
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 6 * 2  # six queries, scaling on or off
    assert len(set(data["frames"].values())) == 12  # every setting draws a different picture
    assert html.count("<select") == 1 and html.count('type="checkbox"') == 1
    assert "document.currentScript" in html and "http" not in html
    assert len(html) < 1_000_000
