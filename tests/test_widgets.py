"""Every chapter's explorer, through one registry: live redraws, fast frames, static forms.

Each test runs once per explorer in ``lessons_lib.widgets.EXPLORERS``, built
from the small example inputs in :data:`EXAMPLES`. What one chapter's explorer
computes is tested in that chapter's ``test_widgets_<chapter>.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

from __future__ import annotations

import datetime
import functools
import importlib
import inspect
import io
import itertools
import json
import math
import pkgutil
import re
from collections.abc import Callable

import numpy as np
import pytest
import torch
from PIL import Image

import lessons_lib.widgets
from lessons_lib.corpus import CharTokenizer
from lessons_lib.data import DateTask
from lessons_lib.gpt import GPT
from lessons_lib.positions import PositionCodes2D, sinusoidal_positions
from lessons_lib.transformer import Transformer
from lessons_lib.widgets import EXPLORERS, WIDGET_VIEW_MIMETYPE, Explorer, control_options
from lessons_lib.widgets.rendering import figure_png

try:  # the model module keeps the architecture; the seeded builder moved to training
    from lessons_lib.training import seeded_vit
except ImportError:
    from lessons_lib.vit import seeded_vit

pytestmark = pytest.mark.widgets
TOKENS = ["the", "cat", "sat", "on", "the", "mat"]
SOURCE = torch.tensor([3, 1, 4, 1, 5, 9])
DIGIT_NAMES = [str(i) for i in range(10)] + ["<bos>"]
BOS = 10
Arguments = tuple[tuple, dict]  # an explorer's positional and keyword arguments


def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@functools.cache
def transformer(num_layers: int) -> Transformer:
    """An untrained toy Transformer; its output layer scaled so that its choices vary."""
    torch.manual_seed(0)
    model = Transformer(11, d_model=16, num_heads=2, num_layers=num_layers, d_ff=32, max_len=16)
    with torch.no_grad():
        model.output.weight.mul_(4)
    return model.eval()


def images() -> torch.Tensor:
    return torch.rand(2, 1, 8, 8, generator=generator())  # (k, channels, H, W)


def qkv_arguments() -> Arguments:
    g = generator()
    inputs = torch.randn(6, 32, generator=g)  # (seq, d_model)
    w_q, w_k = (torch.randn(32, 32, generator=g) / 32**0.5 for _ in range(2))
    return (TOKENS, inputs, w_q, w_k), {}


def cross_attention_arguments() -> Arguments:
    weights = torch.softmax(torch.randn(2, 6, 6, generator=generator()) * 2, dim=-1)
    return (weights, list("314159"), list("951413")), {}


def position_arguments() -> Arguments:
    torch.manual_seed(0)
    codes = {"2-D": PositionCodes2D(3, 4, 8)().detach(), "sinusoidal": sinusoidal_positions(12, 8)}
    return (codes, 3, 4), {}


def date_arguments() -> Arguments:
    task = DateTask()
    torch.manual_seed(0)
    model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=2, d_ff=32)
    batch = task.make_batch([datetime.date(2026, 11, 27)] * 2, ["Nov 27, 2026", "27/11/26"])
    return (model.eval(), task, batch), {}


def next_token_arguments() -> Arguments:
    """A tiny untrained GPT on 8 characters; its output layer scaled so that it prefers some."""
    tokenizer = CharTokenizer.from_text("the cat sat")
    torch.manual_seed(0)
    model = GPT(tokenizer.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=8)
    with torch.no_grad():
        model.output.weight.mul_(3)
    return (model.eval(), tokenizer, ["the cat", "a cat sat on"]), {"show": 5}


def vit_arguments() -> Arguments:
    model = seeded_vit(0, image_size=8, patch_size=4, d_model=16, num_layers=2, num_heads=2)
    return (model, images(), ["a", "b"]), {}


# One small example per registered explorer, by the explorer's name: a function that makes
# fresh arguments for it (test_widgets_hostile.py changes them: gradients, bfloat16, NaN).
ARGUMENTS: dict[str, Callable[[], Arguments]] = {
    "qkv_explorer": qkv_arguments,
    "softmax_explorer": lambda: (([2.0, 1.0, 0.5, -1.0], TOKENS[:4]), {"edit_index": 1}),
    "scaling_explorer": lambda: ((), {}),
    "masking_explorer": lambda: ((torch.randn(6, 6, generator=generator()), TOKENS), {}),
    "cross_attention_explorer": cross_attention_arguments,
    "add_norm_explorer": lambda: ((), {}),
    "decoding_explorer": lambda: ((transformer(1), SOURCE, BOS), {}),
    "beam_explorer": lambda: (date_arguments()[0], {"beam_size": 3}),
    "next_token_explorer": next_token_arguments,
    "transformer_attention_explorer": lambda: ((transformer(2), SOURCE, BOS, DIGIT_NAMES), {}),
    "date_attention_explorer": date_arguments,
    "patching_explorer": lambda: ((images(), ["a", "b"]), {}),
    "position_explorer": position_arguments,
    "vit_attention_explorer": vit_arguments,
    "stretched_codes_explorer": lambda: (
        (dict(zip(("1-D", "2-D"), torch.randn(2, 16, 8, generator=generator()))), 4, 4),
        {},
    ),
    "vit_cnn_explorer": lambda: (
        ({"ViT": {50: [0.3, 0.4], 200: [0.6, 0.7]}, "CNN": {50: [0.5, 0.6], 200: [0.8, 0.9]}},),
        {},
    ),
}


def build(name: str) -> Explorer:
    """The registered explorer ``name``, built from its example arguments."""
    args, kwargs = ARGUMENTS[name]()
    return EXPLORERS[name](*args, **kwargs)


EXAMPLES: dict[str, Callable[[], Explorer]] = {
    name: functools.partial(build, name) for name in ARGUMENTS
}
NAMES = list(EXAMPLES)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def settings(explorer: Explorer) -> list[dict]:
    """Every combination of control values, as keyword arguments of ``update``."""
    names = list(explorer.controls)
    options = [control_options(explorer.controls[name]) for name in names]
    return [
        {name: value for name, (_, value) in zip(names, combination)}
        for combination in itertools.product(*options)
    ]


def test_every_explorer_is_registered_once_with_an_example():
    defined = {}
    for module in pkgutil.iter_modules(lessons_lib.widgets.__path__):
        chapter = importlib.import_module(f"lessons_lib.widgets.{module.name}")
        for name, function in inspect.getmembers(chapter, inspect.isfunction):
            if name.endswith("_explorer") and function.__module__ == chapter.__name__:
                assert name not in defined, f"two explorers named {name}"
                defined[name] = function
    assert defined == EXPLORERS
    assert set(EXAMPLES) == set(EXPLORERS)


@pytest.mark.parametrize("name", NAMES)
def test_moving_each_control_changes_the_live_picture(name):
    explorer = EXAMPLES[name]()
    assert bytes(explorer.image.value).startswith(b"\x89PNG")  # memoryview under ipywidgets 8
    for control_name, control in explorer.controls.items():
        before = bytes(explorer.image.value)
        pictures = set()
        for _, value in control_options(control):
            control.value = value  # the explorer observes its controls
            pictures.add(bytes(explorer.image.value))
        assert pictures - {before}, f"moving {control_name!r} never changed the picture"


@pytest.mark.parametrize("name", NAMES)
def test_fast_frames_equal_full_redraws(name):
    explorer = EXAMPLES[name]()
    every = settings(explorer)
    fast = [pixels(explorer.render_png(**values)) for values in every]  # one after another
    explorer.frames.reset()  # no artist animated: a draw paints everything
    for values, frame in zip(every, fast):
        explorer.update(**values)
        full = pixels(figure_png(explorer.figure, explorer.dpi))
        difference = np.abs(frame.astype(int) - full.astype(int)).max(axis=2)
        # Only antialiased edges may differ, faintly: a tick mark's end, which a full draw
        # paints over an image and a fast frame under it.
        assert difference.max() <= 32, f"the fast frame for {values} differs visibly"
        assert (difference > 0).mean() < 1e-3, f"the fast frame for {values} differs"
    assert len({frame.tobytes() for frame in fast}) > 1


@pytest.mark.parametrize("name", NAMES)
def test_static_form_only_while_building_with_a_frame_for_every_setting(name, monkeypatch):
    explorer = EXAMPLES[name]()
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle and "text/html" not in bundle
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle
    html = bundle["text/html"]
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    sizes = [len(control_options(control)) for control in explorer.controls.values()]
    keys = {"|".join(map(str, key)) for key in itertools.product(*map(range, sizes))}
    assert set(data["frames"]) == keys and len(keys) == math.prod(sizes)
    assert sorted(set(data["frames"].values())) == list(range(len(data["images"])))
    assert all(url.startswith("data:image/png;base64,") for url in data["images"])
    assert html.count("data-position=") == len(explorer.controls)
    assert "http" not in html and len(html) < 1_000_000
