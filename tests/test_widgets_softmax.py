"""The "Softmax" explorers: their computations and their static forms.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import math
import re

import pytest
import torch

from lessons_lib.softmax import softmax
from lessons_lib.widgets.softmax import (
    scaling_explorer,
    scaling_frame,
    softmax_explorer,
    softmax_steps,
)

pytestmark = pytest.mark.widgets
LOGITS, LABELS = [2.0, 1.0, 0.5, -1.0], ["the", "cat", "sat", "on"]


def frames_of(html):
    return json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))


@pytest.mark.parametrize("temperature", [0.25, 1.0, 4.0])
def test_softmax_steps_are_exp_then_normalise(temperature):
    logits = torch.tensor([1000.0, 999.0, 0.0, -3.0])
    exps, probabilities = softmax_steps(logits, temperature)
    assert exps.max() == 1.0 and torch.isfinite(exps).all()
    assert torch.allclose(probabilities, exps / exps.sum())
    assert torch.allclose(probabilities, softmax(logits, temperature=temperature))
    with pytest.raises(ValueError, match=r"logits must have 1 dimensions"):
        softmax_steps(torch.zeros(2, 3), 1.0)


def test_scaling_frame_keeps_scaled_scores_at_unit_spread():
    for d_k in (4, 256):
        scaled, scaled_weights = scaling_frame(d_k, True)
        unscaled, unscaled_weights = scaling_frame(d_k, False)
        assert torch.allclose(unscaled / math.sqrt(d_k), scaled, atol=1e-4)
        assert 0.9 < float(scaled.std()) < 1.1
        assert 0.9 < float(unscaled.std()) / math.sqrt(d_k) < 1.1
        assert torch.allclose(scaled_weights.sum(), torch.tensor(1.0))
    assert unscaled_weights.max() > scaled_weights.max()  # d_k = 256 saturates unscaled
    with pytest.raises(ValueError, match=r"d_k must be > 0, got 0"):
        scaling_frame(0, True)


def test_static_forms_hold_a_distinct_frame_for_every_setting():
    explorer = softmax_explorer(LOGITS, LABELS, edit_index=1)
    html = explorer.static_html()
    data = frames_of(html)
    assert len(data["frames"]) == 4 * 5  # logit values x temperatures
    assert len(set(data["frames"].values())) == 20
    assert html.count('type="range"') == 2 and len(html) < 700_000
    scaling_html = scaling_explorer().static_html()
    assert len(frames_of(scaling_html)["frames"]) == 6 * 2
    assert len(set(frames_of(scaling_html)["frames"].values())) == 12


def test_bad_input():
    with pytest.raises(ValueError, match=r"one label per logit: got 2 labels, 4 logits"):
        softmax_explorer(LOGITS, ["a", "b"])
    with pytest.raises(ValueError, match=r"edit_index must lie in 0..3, got 4"):
        softmax_explorer(LOGITS, LABELS, edit_index=4)
