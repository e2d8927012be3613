"""The "Autoregressive decoding" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.decoding import greedy_decode, sample_decode
from lessons_lib.transformer import Transformer
from lessons_lib.widgets.autoregressive_decoding import (
    TEMPERATURES,
    decoding_explorer,
    decoding_trace,
)

pytestmark = pytest.mark.widgets
BOS = 10


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=16)
    with torch.no_grad():
        model.output.weight.mul_(4)  # an untrained model with varied choices
    return model.eval()


SOURCE = torch.tensor([3, 1, 4, 1, 5, 9])


def test_trace_is_greedy_or_seeded_sampling(model):
    greedy = decoding_trace(model, SOURCE, BOS, None)
    assert torch.equal(greedy.tokens, greedy_decode(model, SOURCE[None], BOS))
    sampled = decoding_trace(model, SOURCE, BOS, 2.0, seed=3)
    expected = sample_decode(
        model, SOURCE[None], BOS, temperature=2.0, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(sampled.tokens, expected)
    assert torch.allclose(sampled.probabilities.sum(-1), torch.ones(1, 6))
    with pytest.raises(ValueError, match=r"source must be one sequence \(length,\)"):
        decoding_trace(model, SOURCE[None], BOS, None)


def test_static_form_holds_a_frame_for_every_setting(model):
    html = decoding_explorer(model, SOURCE, BOS).static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == len(SOURCE) * len(TEMPERATURES)
    assert len(set(data["frames"].values())) > len(SOURCE) * 2  # steps and temperatures show
    assert html.count('type="range"') == 1 and html.count("<select") == 1
    assert "http" not in html and len(html) < 1_000_000
