"""The "Autoregressive decoding" explorers: their computations and their static forms.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch

from lessons_lib.data import DateTask
from lessons_lib.decoding import beam_search, greedy_decode, sample_decode
from lessons_lib.experiments.autoregressive_decoding import sequence_log_probabilities
from lessons_lib.transformer import Transformer
from lessons_lib.widgets.autoregressive_decoding import (
    TEMPERATURES,
    beam_explorer,
    beam_hypotheses,
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


# --- the beam explorer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def date_setup():
    task = DateTask()
    torch.manual_seed(0)
    model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with torch.no_grad():
        model.output.weight.mul_(4)  # varied choices from an untrained model
    batch = task.sample(3, torch.Generator().manual_seed(0))
    return model.eval(), task, batch


def test_hypotheses_are_the_beams_of_each_step(date_setup):
    model, task, batch = date_setup
    found = beam_search(model, batch.sources, task.bos, 3, steps=10, source_mask=batch.source_mask)
    for example in range(3):
        prefixes, log_p = beam_hypotheses(found, example, 10)
        # after the last step the beams are the final ones (none ranks them again without eos)
        assert torch.equal(prefixes, found.beams[example])
        assert torch.equal(log_p, found.beam_log_probabilities[example])
        for step in range(1, 11):
            prefixes, log_p = beam_hypotheses(found, example, step)
            assert prefixes.shape == (3, step)
            assert torch.all(log_p[:-1] >= log_p[1:])  # most probable first
            # each prefix's log-probability is the sum of its tokens' teacher-forced ones
            scored = sequence_log_probabilities(
                model,
                batch.sources[example : example + 1].expand(3, -1),
                prefixes,
                task.bos,
                batch.source_mask[example : example + 1].expand(3, -1, -1),
            )
            assert torch.allclose(scored.sum(-1), log_p, atol=1e-4)
    first, log_first = beam_hypotheses(found, 0, 1)
    with torch.no_grad():
        memory = model.encode(batch.sources[:1], batch.source_mask[:1])
        start = torch.tensor([[task.bos]])
        logits = model.decode(start, memory, batch.source_mask[:1])[0, -1]
    best = torch.log_softmax(logits, -1).topk(3)
    assert torch.equal(first[:, 0], best.indices)  # step 1: the three most probable tokens
    assert torch.allclose(log_first, best.values, atol=1e-5)
    with pytest.raises(ValueError, match=r"step in 1..10, got 0 and 11"):
        beam_hypotheses(found, 0, 11)
    with pytest.raises(TypeError, match="beams must be the Beams"):
        beam_hypotheses(found.history, 0, 1)


def test_beam_explorer_shows_each_steps_prefixes_and_has_a_frame_for_each(date_setup):
    model, task, batch = date_setup
    explorer = beam_explorer(model, task, batch, beam_size=3)
    found = beam_search(model, batch.sources, task.bos, 3, steps=10, source_mask=batch.source_mask)
    explorer.update(example=2, step=4)
    bar_ax = explorer.figure.axes[1]
    prefixes, log_p = beam_hypotheses(found, 2, 4)
    widths = [bar.get_width() for bar in bar_ax.patches]
    assert widths == pytest.approx(log_p.exp().tolist(), abs=1e-6)
    shown = [text.get_text().strip() for text in bar_ax.texts][:3]
    assert shown == [task.decode(row) for row in prefixes]
    html = explorer.static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 3 * 10  # every date at every step
    assert len(set(data["frames"].values())) == 3 * 10
    with pytest.raises(ValueError, match="the static page holds at most 160"):
        beam_explorer(model, task, task.sample(17, torch.Generator().manual_seed(1)))
    with pytest.raises(TypeError, match="batch must be a DateBatch"):
        beam_explorer(model, task, batch.sources)
