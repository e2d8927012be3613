"""The static form of an explorer, for the rendered book: every frame precomputed.

The book has no kernel behind its pages. While it is built
(``LESSONS_STATIC_WIDGETS=1``), an explorer's display bundle also carries
``text/html``: HTML controls that mirror the widget's, every combination of
their values rendered in advance as a PNG frame, and a small player script
(``static_player.js``, shipped beside this module) that shows the frame
matching the controls. The book's ``_config.yml`` asks myst-nb to prefer that
``text/html``; Jupyter and Colab keep showing the live widget.

Each frame is stored as a URL string (a ``data:`` URI here) that the player
assigns to ``img.src`` unchanged, so a later build step may swap a URI for
the address of an image file without touching the script.

Layer: presentation (matplotlib, ipywidgets).

    >>> from lessons_lib.widgets.explorer import Explorer
    >>> from lessons_lib.widgets.rendering import new_figure
    >>> figure = new_figure(3, 2)
    >>> (line,) = figure.subplots().plot([0, 1], [0, 0])
    >>> def update(height):
    ...     line.set_ydata([0, height])
    ...     return [line]
    >>> slider = ipywidgets.IntSlider(value=1, min=0, max=2, description="height")
    >>> html = static_html(Explorer(figure, {"height": slider}, update, caption="a line"))
    >>> html.startswith('<div class="lessons-explorer">')
    True
    >>> '"frames": {"0": 0, "1": 1, "2": 2}' in html  # one frame per slider value
    True
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import importlib.resources
import itertools
import json
import math
from collections.abc import Mapping
from typing import Any, Protocol

import ipywidgets

from lessons_lib._env import building_book

MAX_STATIC_FRAMES = 160
SELECTIONS = (
    ipywidgets.Dropdown,
    ipywidgets.RadioButtons,
    ipywidgets.Select,
    ipywidgets.SelectionSlider,
    ipywidgets.ToggleButtons,
)


class Explorable(Protocol):
    """What the static form needs from an explorer.

    :class:`~lessons_lib.widgets.explorer.Explorer` has all of it; naming it
    here, rather than importing ``Explorer``, keeps this module below the live
    explorer (which imports this one), with no import circle between them.
    """

    @property
    def controls(self) -> Mapping[str, ipywidgets.Widget]:
        """The controls, by the name ``update`` receives their values under."""

    @property
    def caption(self) -> str:
        """The explorer's caption, shown under the picture."""

    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""

    def update(self, **values: Any) -> Any:
        """Change the figure for ``values`` (one keyword per control)."""

    def render_png(self, compress_level: int = 6, **values: Any) -> bytes:
        """Update the figure for ``values`` and return it as PNG bytes."""


def static_forms_enabled() -> bool:
    """True while the book is being built (``LESSONS_STATIC_WIDGETS=1``)."""
    return building_book()


def control_options(control: ipywidgets.Widget) -> list[tuple[str, Any]]:
    """The (label, value) pairs a control can take, one static frame apart.

    Controls must be discrete: Checkbox, ToggleButton, IntSlider, or a
    selection widget (Dropdown, SelectionSlider, ToggleButtons, RadioButtons,
    Select), whose ``options`` are read as ipywidgets documents them: values,
    (label, value) pairs, or a dict from label to value.

    >>> control_options(ipywidgets.Dropdown(options=[("one", 1), ("two", 2)]))
    [('one', 1), ('two', 2)]
    >>> control_options(ipywidgets.IntSlider(min=0, max=4, step=2))
    [('0', 0), ('2', 2), ('4', 4)]
    """
    if isinstance(control, (ipywidgets.Checkbox, ipywidgets.ToggleButton)):
        return [("off", False), ("on", True)]
    if isinstance(control, ipywidgets.IntSlider):
        return [(str(value), value) for value in range(control.min, control.max + 1, control.step)]
    if isinstance(control, SELECTIONS):
        return _labelled(control.options)
    raise TypeError(
        "an explorer's controls must be Checkbox, IntSlider or a selection widget "
        f"(Dropdown, SelectionSlider, ToggleButtons), got {type(control).__name__}"
    )


def _labelled(options: Any) -> list[tuple[str, Any]]:
    """A selection widget's options as (label, value) pairs."""
    items = list(options.items()) if isinstance(options, Mapping) else list(options)
    if items and all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
        return [(str(label), value) for label, value in items]
    return [(str(value), value) for value in items]


def png_data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URL, which an ``<img src>`` shows without a file.

    >>> png_data_uri(b"\\x89PNG")
    'data:image/png;base64,iVBORw=='
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@functools.cache
def player_script() -> str:
    """The static player's JavaScript, read from the package's ``static_player.js``."""
    source = importlib.resources.files("lessons_lib.widgets").joinpath("static_player.js")
    return source.read_text(encoding="utf-8")


def static_html(explorer: Explorable) -> str:
    """Self-contained HTML + JS: the explorer's controls and every frame, precomputed.

    The frames are keyed by the chosen option of each control, ``"i|j|k"``;
    identical pictures are stored once.
    """
    names = list(explorer.controls)
    options = [control_options(explorer.controls[name]) for name in names]
    n_frames = math.prod(len(choices) for choices in options)
    if n_frames > MAX_STATIC_FRAMES:
        raise ValueError(
            f"this explorer would need {n_frames} static frames, more than "
            f"MAX_STATIC_FRAMES={MAX_STATIC_FRAMES}; give its controls fewer values"
        )
    current = explorer.values()
    images: list[str] = []  # distinct frames, as URLs
    image_of_digest: dict[str, int] = {}
    frames: dict[str, int] = {}  # "i|j|k" -> index into images
    for indices in itertools.product(*(range(len(choices)) for choices in options)):
        values = {name: options[i][j][1] for i, (name, j) in enumerate(zip(names, indices))}
        png = explorer.render_png(**values)
        digest = hashlib.sha1(png).hexdigest()
        if digest not in image_of_digest:
            image_of_digest[digest] = len(images)
            images.append(png_data_uri(png))
        frames["|".join(map(str, indices))] = image_of_digest[digest]
    explorer.update(**current)  # leave the figure as the live widget shows it
    start = [
        next(j for j, (_, value) in enumerate(choices) if value == current[name])
        for name, choices in zip(names, options)
    ]
    controls_html = "".join(
        _static_control(explorer.controls[name], choices, position, start[position])
        for position, (name, choices) in enumerate(zip(names, options))
    )
    data = json.dumps({"images": images, "frames": frames})
    first = images[frames["|".join(map(str, start))]]
    caption = html.escape(explorer.caption)
    return (
        '<div class="lessons-explorer">'
        f'<div class="lessons-explorer-controls">{controls_html}</div>'
        f'<img class="lessons-explorer-frame" alt="{html.escape(explorer.caption, quote=True)}" '
        f'src="{first}" style="max-width:100%;height:auto">'
        f'<p class="lessons-explorer-caption"><em>{caption}</em></p>'
        f'<script type="application/json" class="lessons-explorer-data">{data}</script>'
        f"<script>{player_script()}</script>"
        "</div>"
    )


# Each control on its own, with room before the next one's label.
_LABEL_OPEN = (
    '<label class="lessons-explorer-control" style="display:inline-block;margin-right:1.5em">'
)


def _static_control(
    control: ipywidgets.Widget, choices: list[tuple[str, Any]], position: int, start: int
) -> str:
    """One HTML control; its value is the index of the chosen option."""
    label = html.escape(control.description or "")
    if isinstance(control, (ipywidgets.Checkbox, ipywidgets.ToggleButton)):
        checked = " checked" if start == 1 else ""
        return (
            f"{_LABEL_OPEN}"
            f'<input type="checkbox" data-position="{position}"{checked}> {label}</label>'
        )
    if isinstance(control, (ipywidgets.IntSlider, ipywidgets.SelectionSlider)):
        labels = html.escape(json.dumps([text for text, _ in choices]), quote=True)
        return (
            f"{_LABEL_OPEN}{label} "
            f'<input type="range" min="0" max="{len(choices) - 1}" step="1" value="{start}" '
            f'data-position="{position}" data-labels="{labels}" aria-label="{label}"> '
            f"<output>{html.escape(choices[start][0])}</output></label>"
        )
    options = "".join(
        f'<option value="{j}"{" selected" if j == start else ""}>{html.escape(text)}</option>'
        for j, (text, _) in enumerate(choices)
    )
    return f'{_LABEL_OPEN}{label} <select data-position="{position}">{options}</select></label>'
