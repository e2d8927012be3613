"""The "Putting it together" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.data import DATE_FORMATS, DateTask
from lessons_lib.decoding import greedy_decode
from lessons_lib.experiments.transformer import date_cross_attention
from lessons_lib.transformer import Transformer
from lessons_lib.widgets.transformer import (
    KINDS,
    attention_maps,
    date_attention_explorer,
    date_reading,
    transformer_attention_explorer,
)

pytestmark = pytest.mark.widgets
SOURCE = torch.tensor([3, 1, 4, 1, 5, 9])
NAMES = [str(i) for i in range(10)] + ["<bos>"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(11, d_model=16, num_heads=2, num_layers=2, d_ff=32, max_len=16).eval()


def test_attention_maps_are_the_last_layers_weights(model):
    maps, output = attention_maps(model, SOURCE, 10)
    assert torch.equal(output, greedy_decode(model, SOURCE[None], 10)[0])
    assert maps[KINDS[0]].shape == maps[KINDS[1]].shape == maps[KINDS[2]].shape == (2, 6, 6)
    for weights in maps.values():
        assert torch.allclose(weights.sum(-1), torch.ones(2, 6), atol=1e-5)
    assert (maps[KINDS[1]].triu(1) == 0).all()  # the decoder cannot look ahead
    with pytest.raises(ValueError, match="source must be one sequence"):
        attention_maps(model, SOURCE[None], 10)


def test_static_form_holds_a_distinct_frame_for_every_setting(model):
    explorer = transformer_attention_explorer(model, SOURCE, 10, NAMES)
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 3 * 3  # three attentions, mean + two heads
    assert len(set(data["frames"].values())) == 9
    assert "http" not in html and len(html) < 600_000


@pytest.fixture(scope="module")
def date_model():
    torch.manual_seed(0)
    task = DateTask()
    return task, Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=2, d_ff=32).eval()


def test_date_reading_is_the_mean_of_the_heads_and_its_row(date_model):
    task, model = date_model
    batch = task.sample(3, torch.Generator().manual_seed(0), "test")
    cross = date_cross_attention(model, batch, task.bos).cross[1]  # (layers, heads, 10, L_src)
    matrix, row = date_reading(cross, position=4, layer=1)
    assert torch.allclose(matrix, (cross[1, 0] + cross[1, 1]) / 2)
    assert torch.equal(row, matrix[4])
    assert torch.allclose(matrix.sum(-1), torch.ones(10), atol=1e-5)
    assert (matrix[:, int(batch.lengths[1]) :] == 0).all()  # padding is never read
    with pytest.raises(ValueError, match=r"layer must lie in 0..1, got 2"):
        date_reading(cross, 0, 2)
    with pytest.raises(ValueError, match=r"position must lie in 0..9, got 10"):
        date_reading(cross, 10, 0)


def test_date_explorer_has_a_frame_per_date_character_and_layer_and_refuses_too_many(date_model):
    task, model = date_model
    batch = task.sample(len(DATE_FORMATS), torch.Generator().manual_seed(0), "test")
    html = date_attention_explorer(model, task, batch).static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == len(DATE_FORMATS) * 10 * 2
    assert len(set(data["frames"].values())) == len(DATE_FORMATS) * 10 * 2
    assert len(html) < 2_000_000
    with pytest.raises(ValueError, match=r"9 dates x 10 characters x 2 layers make 180 frames"):
        date_attention_explorer(model, task, task.sample(9, torch.Generator(), "test"))
    with pytest.raises(TypeError, match=r"batch must be a DateBatch, got tuple"):
        date_attention_explorer(model, task, (batch.sources, batch.targets))
    with pytest.raises(TypeError, match=r"model must be a Transformer, got Linear"):
        date_attention_explorer(torch.nn.Linear(2, 2), task, batch)
