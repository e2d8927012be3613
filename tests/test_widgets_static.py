"""The static form: discrete controls only, frames as URLs, and the player shipped as package data.

The player itself is driven in a browser by ``test_browser.py`` on the built book.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import importlib.resources
import json
import re

import ipywidgets
import pytest

from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.static import control_options, player_script, png_data_uri, static_html

pytestmark = pytest.mark.widgets


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        (ipywidgets.Checkbox(), [("off", False), ("on", True)]),
        (ipywidgets.IntSlider(min=1, max=7, step=3), [("1", 1), ("4", 4), ("7", 7)]),
        (
            ipywidgets.Dropdown(options=[("greedy", None), ("T = 2", 2.0)]),
            [("greedy", None), ("T = 2", 2.0)],
        ),
        (ipywidgets.SelectionSlider(options=[4, 8]), [("4", 4), ("8", 8)]),
        (ipywidgets.ToggleButtons(options=["2-D", "1-D"]), [("2-D", "2-D"), ("1-D", "1-D")]),
        (ipywidgets.RadioButtons(options=(("a", 0), ("b", 1))), [("a", 0), ("b", 1)]),
    ],
)
def test_control_options_are_the_labels_and_values_ipywidgets_shows(control, expected):
    assert control_options(control) == expected
    if expected[0][0] != "off":  # a selection: its own labels agree with ours
        control.value = expected[-1][1]
        assert getattr(control, "label", expected[-1][0]) == expected[-1][0]


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


def test_the_player_is_package_data_embedded_in_every_static_form():
    shipped = importlib.resources.files("lessons_lib.widgets").joinpath("static_player.js")
    assert shipped.read_text(encoding="utf-8") == player_script()
    assert "document.currentScript" in player_script()
    # A frame URL goes into img.src exactly as stored, so the build may swap it for a file's.
    assert "image.src = data.images[data.frames[key]];" in player_script()
    figure = new_figure(2, 2)
    ax = figure.subplots()
    (line,) = ax.plot([0, 1], [0, 0])
    ax.set_ylim(-1, 3)

    def update(level: int) -> list:
        line.set_ydata([level, level])
        return [line]

    controls = {"level": ipywidgets.IntSlider(value=1, min=0, max=2, description="level")}
    html = Explorer(figure, controls, update, caption="a <line>").static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert data["frames"] == {"0": 0, "1": 1, "2": 2}
    assert all(url.startswith("data:image/png;base64,") for url in data["images"])
    assert f'src="{data["images"][1]}"' in html  # the frame of the starting value
    assert f"<script>{player_script()}</script>" in html
    assert "a &lt;line&gt;" in html and 'type="range"' in html


def test_png_data_uri():
    assert png_data_uri(b"\x89PNG") == "data:image/png;base64,iVBORw=="


class TwoPictures:
    """Not an Explorer: only what static.Explorable names (static.py never imports explorer)."""

    def __init__(self) -> None:
        self.controls = {"on": ipywidgets.Checkbox(value=True, description="switch")}
        self.caption = "two pictures"
        self.updates: list[dict] = []

    def values(self) -> dict:
        return {"on": self.controls["on"].value}

    def update(self, **values) -> None:
        self.updates.append(values)

    def render_png(self, compress_level: int = 6, **values) -> bytes:
        self.update(**values)
        return b"picture on" if values["on"] else b"picture off"


def test_the_static_form_needs_only_what_explorable_names():
    explorer = TwoPictures()
    html = static_html(explorer)
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    off, on = png_data_uri(b"picture off"), png_data_uri(b"picture on")
    assert data == {"images": [off, on], "frames": {"0": 0, "1": 1}}  # options: off, then on
    assert f'src="{on}"' in html and "checked" in html  # the control's value when exported
    assert explorer.updates == [{"on": False}, {"on": True}, {"on": True}]  # left as it was
