"""The explorer mechanism: fast frames equal full redraws; discrete controls only.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import io
import itertools

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image

from lessons_lib.plotting import heatmap
from lessons_lib.widgets.add_norm import add_norm_explorer
from lessons_lib.widgets.core import Explorer, control_options, figure_png, new_figure
from lessons_lib.widgets.masking import masking_explorer

pytestmark = pytest.mark.widgets


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def busy_explorer() -> Explorer:
    """An explorer whose update changes data, titles, limits, tick labels and the figure title."""
    figure = new_figure(6, 2.5)
    left, right = figure.subplots(1, 2)
    image = heatmap(left, torch.zeros(3, 3), list("abc"), list("xyz"), colorbar=True)
    (line,) = right.plot([0, 1], [0, 1], label="line")
    right.legend(loc="upper left")

    def update(size: int, flip: bool) -> None:
        image.set_data(np.arange(9).reshape(3, 3) * (-1 if flip else 1))
        image.set_clim(-8, 8)
        line.set_data(np.arange(size), np.arange(size) ** 2)
        right.set_xlim(0, size)  # the axes change: the saved background must follow
        right.set_ylim(0, size**2 * (2 if flip else 1))  # flip moves only the y limits
        right.set_xticks(range(size), [f"t{i}" for i in range(size)])
        left.set_title(f"flip={flip}")
        figure.suptitle(f"size {size}")

    controls = {
        "size": ipywidgets.IntSlider(value=3, min=2, max=5),
        "flip": ipywidgets.Checkbox(value=False),
    }
    return Explorer(figure, controls, update, caption="busy")


EXPLORERS = {
    "busy": busy_explorer,
    "add_norm": add_norm_explorer,
    "masking": lambda: masking_explorer(
        torch.randn(6, 6, generator=torch.Generator().manual_seed(0)), list("abcdef")
    ),
}


@pytest.mark.parametrize("make", EXPLORERS.values(), ids=EXPLORERS.keys())
def test_fast_frames_equal_full_redraws(make):
    explorer = make()
    names = list(explorer.controls)
    options = [control_options(explorer.controls[name]) for name in names]
    settings = [
        {name: value for name, (_, value) in zip(names, combo)}
        for combo in itertools.product(*options)
    ]
    fast = [pixels(explorer.render_png(**values)) for values in settings]  # one after another
    for values, frame in zip(settings, fast):
        explorer.update(**values)
        full = pixels(figure_png(explorer.figure, explorer.dpi))  # everything drawn afresh
        difference = np.abs(frame.astype(int) - full.astype(int)).max(axis=2)
        # Only antialiased edges may differ (an image edge under or over a spine), faintly.
        assert difference.max() <= 32, f"the fast frame for {values} differs visibly"
        assert (difference > 0).mean() < 1e-3, f"the fast frame for {values} differs"
    assert len({frame.tobytes() for frame in fast}) > 1


def test_continuous_controls_are_refused():
    figure = new_figure(2, 2)
    with pytest.raises(TypeError, match=r"must be Checkbox, IntSlider or a selection widget"):
        Explorer(figure, {"x": ipywidgets.FloatSlider()}, lambda x: None, caption="")


def test_too_many_static_frames_is_a_clear_error():
    figure = new_figure(2, 2)
    controls = {name: ipywidgets.IntSlider(min=0, max=20) for name in ("a", "b")}
    explorer = Explorer(figure, controls, lambda a, b: None, caption="")
    with pytest.raises(ValueError, match=r"441 static frames, more than MAX_STATIC_FRAMES=160"):
        explorer.static_html()
