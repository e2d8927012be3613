"""The "Masking" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib import causal_mask, scaled_dot_product_attention
from lessons_lib.widgets.masking import masking_explorer, masking_frame

pytestmark = pytest.mark.widgets
TOKENS = ["I", "like", "green", "tea", "with", "milk"]


@pytest.fixture
def scores():
    return torch.randn(6, 6, generator=torch.Generator().manual_seed(0)) * 2


@pytest.mark.parametrize("length", [1, 4, 6])
def test_masking_frame_matches_attention_with_a_causal_mask(scores, length):
    shown, weights = masking_frame(scores, length, causal=True)
    assert shown.shape == weights.shape == (length, length)
    assert torch.isneginf(shown[~causal_mask(length)]).all()
    assert (weights[~causal_mask(length)] == 0).all()
    # the same weights as attention whose scores are these (q = scores, k = identity)
    eye = torch.eye(length) * length**0.5
    _, reference = scaled_dot_product_attention(
        scores[:length, :length], eye, eye, mask=causal_mask(length)
    )
    assert torch.allclose(weights, reference, atol=1e-6)
    _, unmasked = masking_frame(scores, length, causal=False)
    assert torch.allclose(unmasked.sum(-1), torch.ones(length))


def test_masking_frame_bad_input(scores):
    with pytest.raises(ValueError, match=r"length must be at most 6, got 7"):
        masking_frame(scores, 7, True)
    with pytest.raises(ValueError, match=r"scores must have 2 dimensions"):
        masking_frame(scores[0], 2, True)
    with pytest.raises(ValueError, match=r"need at least 6 tokens"):
        masking_explorer(scores, TOKENS[:3])


def test_static_form_holds_a_frame_for_every_setting(scores):
    explorer = masking_explorer(scores, TOKENS)
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 2 * 2 * 6  # lengths x mask x rows
    # rows past a short sequence show its last row: 2 * (4 + 6) distinct pictures
    assert len(set(data["frames"].values())) == 20
    assert html.count('type="range"') == 2 and html.count('type="checkbox"') == 1
    assert len(html) < 800_000
