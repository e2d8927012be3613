"""Figures to PNG: a fast frame (blitting the artists an update changed) equals a full redraw.

Every chapter's explorer is checked the same way in ``test_widgets.py``; this
file covers the cases no chapter has: an update that changes an axes' limits
and ticks, the figure's title, or returns nothing.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import io

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image

from lessons_lib.plotting import heatmap
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import FrameDrawer, canvas_png, figure_png, new_figure

pytestmark = pytest.mark.widgets


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def busy_figure():
    """A figure and an update that changes data, titles, limits, tick labels and the suptitle."""
    figure = new_figure(6, 2.5)
    left, right = figure.subplots(1, 2)
    image = heatmap(left, torch.zeros(3, 3), list("abc"), list("xyz"), colorbar=True)
    (line,) = right.plot([0, 1], [0, 1], label="line")
    right.legend(loc="upper left")

    def update(size: int, flip: bool) -> list:
        image.set_data(np.arange(9).reshape(3, 3) * (-1 if flip else 1))
        image.set_clim(-8, 8)
        line.set_data(np.arange(size), np.arange(size) ** 2)
        right.set_xlim(0, size)  # this axes' limits and ticks change: it is drawn whole
        right.set_ylim(0, size**2 * (2 if flip else 1))
        right.set_xticks(range(size), [f"t{i}" for i in range(size)])
        left.set_title(f"flip={flip}")
        title = figure.suptitle(f"size {size}")
        return [image, left.title, right, title]

    return figure, update


SETTINGS = [{"size": size, "flip": flip} for size in (2, 3, 4, 5) for flip in (False, True)]


def test_fast_frames_of_a_busy_figure_equal_full_redraws():
    figure, update = busy_figure()
    update(**SETTINGS[0])
    figure_png(figure)  # lay the figure out once, as an explorer does
    figure.set_layout_engine("none")
    frames = FrameDrawer(figure)
    fast = []
    for values in SETTINGS:
        frames.draw(update(**values))
        fast.append(pixels(canvas_png(figure)))
    frames.reset()
    for values, frame in zip(SETTINGS, fast):
        update(**values)
        full = pixels(figure_png(figure))
        difference = np.abs(frame.astype(int) - full.astype(int)).max(axis=2)
        assert difference.max() <= 32, f"the fast frame for {values} differs visibly"
        assert (difference > 0).mean() < 1e-3, f"the fast frame for {values} differs"
    assert len({frame.tobytes() for frame in fast}) == len(SETTINGS)


def test_only_the_changed_artists_and_those_above_them_are_animated():
    figure, update = busy_figure()
    left, right, colorbar = figure.axes
    figure_png(figure)
    frames = FrameDrawer(figure)
    frames.draw(update(size=3, flip=False))
    animated = {artist for artist in figure.findobj() if artist.get_animated()}
    assert right in animated and left.title in animated and left.images[0] in animated
    assert set(left.spines.values()) <= animated  # spines lie over the image: drawn after it
    assert left.xaxis not in animated and colorbar not in animated
    assert not any(child.get_animated() for child in right.get_children())  # drawn with right
    frames.reset()
    assert not any(artist.get_animated() for artist in figure.findobj())


def test_an_update_that_returns_nothing_gets_a_full_draw():
    figure = new_figure(3, 2)
    ax = figure.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    figure_png(figure)
    frames = FrameDrawer(figure)
    line.set_ydata([1, 0])
    frames.draw(None)
    assert np.array_equal(pixels(canvas_png(figure)), pixels(figure_png(figure)))


def test_an_explorer_redraws_through_its_frame_drawer():
    figure, update = busy_figure()
    controls = {
        "size": ipywidgets.IntSlider(value=3, min=2, max=5),
        "flip": ipywidgets.Checkbox(value=False),
    }
    explorer = Explorer(figure, controls, update, caption="busy")
    before = bytes(explorer.image.value)
    explorer.controls["size"].value = 5
    assert bytes(explorer.image.value) != before
    assert explorer.figure.axes[1].get_animated()  # the right axes, drawn whole each frame


def test_an_artist_inside_another_is_a_clear_error():
    figure = new_figure(3, 2)
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], label="line")
    legend = ax.legend()
    figure_png(figure)
    with pytest.raises(ValueError, match=r"artists of the figure or of its axes .* got Text"):
        FrameDrawer(figure).draw([legend.get_texts()[0]])


def test_grid_lines_over_a_changed_artist_are_drawn_again_after_it():
    figure = new_figure(3, 2)
    ax = figure.subplots()
    ax.grid(True)  # grid lines (zorder 1.5) lie over bars (zorder 1) and inside the data area
    bars = list(ax.bar([0, 1, 2], [0.2, 0.5, 0.9], alpha=0.5))
    figure_png(figure)
    frames = FrameDrawer(figure)
    fast = []
    for height in (0.3, 0.7):
        for bar in bars:
            bar.set_height(height)
        frames.draw(bars)
        fast.append(pixels(canvas_png(figure)))
    assert ax.xaxis.get_animated() and ax.yaxis.get_animated()
    frames.reset()
    for height, frame in zip((0.3, 0.7), fast):
        for bar in bars:
            bar.set_height(height)
        assert np.array_equal(frame, pixels(figure_png(figure)))
