"""The live/static widget mechanism, used by every chapter's explorer.

An :class:`Explorer` is a real ipywidgets widget: controls above a picture.
Moving a control calls the chapter's ``update(**values)``, which changes the
data of a matplotlib figure's artists (no new figure, no imports), and the
figure is shown again as a PNG in an ``ipywidgets.Image``. That works the same
under ipywidgets 7.7 (Colab) and 8.

The rendered book has no kernel. When the environment variable
``LESSONS_STATIC_WIDGETS=1`` is set (``make book`` sets it, and the kernel
that executes the notebooks inherits it), an explorer's display bundle also
carries a ``text/html`` form: every combination of control values rendered
in advance as a frame, plus a few lines of self-contained JavaScript that
show the frame matching the HTML controls. The book's ``_config.yml`` asks
myst-nb to prefer that ``text/html``; Jupyter and Colab keep showing the live
widget and pay nothing for the frames.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import ipywidgets
from IPython.display import display
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from lessons_lib._env import building_book

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"
MAX_STATIC_FRAMES = 160


def static_forms_enabled() -> bool:
    """True while the book is being built (``LESSONS_STATIC_WIDGETS=1``)."""
    return building_book()


def new_figure(width: float, height: float) -> Figure:
    """A figure that is not attached to pyplot, so it never pops up by itself."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(
    figure: Figure, dpi: int = 80, compress_level: int = 6, frames: FrameDrawer | None = None
) -> bytes:
    """Render ``figure`` with the Agg backend and return the PNG bytes.

    Drawing the canvas and encoding its pixels directly is faster than
    ``savefig``, which matters on a widget's update path; so does a low
    ``compress_level`` (1: fast, larger; 9: slow, smallest). With ``frames``,
    only what changes between frames is drawn again (see :class:`FrameDrawer`).
    """
    if figure.dpi != dpi:
        figure.set_dpi(dpi)
    canvas = figure.canvas
    if frames is None:
        canvas.draw()
    else:
        frames.draw()
    pixels = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    buffer = io.BytesIO()
    pixels.convert("RGB").save(buffer, format="png", compress_level=compress_level)
    return buffer.getvalue()


class FrameDrawer:
    """Redraws a figure whose axes decorations rarely change, fast.

    Most of a frame's drawing time goes into text: tick labels, axis labels.
    An explorer's update usually changes the data, the colours and the titles,
    not the axes. So the decorations (axes background, ticks, tick labels,
    axis labels, figure titles) are drawn once into a saved background, and
    each frame restores it and draws only the axes' other artists (images,
    bars, lines, titles, legends, spines) on top, in their usual order. If an
    update changes anything the background shows (limits, ticks, tick labels,
    axis labels, figure titles, sizes), the background is drawn again.
    """

    def __init__(self, figure: Figure) -> None:
        self.figure = figure
        self._key: tuple | None = None
        self._background = None

    def draw(self) -> None:
        canvas = self.figure.canvas
        key = _decorations_key(self.figure)
        if key != self._key:
            self._background = self._draw_background()
            self._key = key
        canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for ax in self.figure.axes:
            if ax.get_visible():
                for artist in _foreground(ax):
                    artist.draw(renderer)

    def _draw_background(self) -> object:
        hidden = [artist for ax in self.figure.axes for artist in _foreground(ax)]
        # A full draw re-places the axes titles, and with the titles hidden it places them
        # badly: keep the places they had (set by the first, complete draw).
        titles = [title for ax in self.figure.axes for title in _titles(ax)]
        places = [title.get_position() for title in titles]
        for artist in hidden:
            artist.set_visible(False)
        try:
            self.figure.canvas.draw()
        finally:
            for artist in hidden:
                artist.set_visible(True)
            for title, place in zip(titles, places):
                title.set_position(place)
        return self.figure.canvas.copy_from_bbox(self.figure.bbox)


def _foreground(ax: Axes) -> list[Artist]:
    """An axes' visible artists other than its background patch and its two axes."""
    children = [
        child
        for child in ax.get_children()
        if child.get_visible() and child is not ax.patch and not isinstance(child, Axis)
    ]
    return sorted(children, key=lambda child: child.get_zorder())


def _titles(ax: Axes) -> list[Artist]:
    """The three title slots of an axes (left, centre, right)."""
    return [ax.title, ax._left_title, ax._right_title]


def _decorations_key(figure: Figure) -> tuple:
    """Everything the saved background shows; when it changes, redraw the background."""
    parts: list[object] = [figure.dpi, tuple(figure.get_size_inches())]
    parts += [text.get_text() for text in figure.texts]
    for title in (figure._suptitle, figure._supxlabel, figure._supylabel):
        parts.append(None if title is None else title.get_text())
    for ax in figure.axes:
        parts += [ax.get_visible(), ax.get_position().bounds, ax.get_xlim(), ax.get_ylim()]
        parts += [ax.get_xscale(), ax.get_yscale(), ax.patch.get_facecolor()]
        for axis in (ax.xaxis, ax.yaxis):
            locator, formatter = axis.get_major_locator(), axis.get_major_formatter()
            parts += [axis.get_visible(), axis.label.get_text(), type(locator), type(formatter)]
            parts.append(tuple(getattr(locator, "locs", ())))
            parts.append(tuple(getattr(formatter, "seq", ())))
    return tuple(parts)


def control_options(control: ipywidgets.Widget) -> list[tuple[str, Any]]:
    """The (label, value) pairs a control can take, for the static frames.

    Controls must be discrete: Checkbox, IntSlider, or a selection widget
    (Dropdown, SelectionSlider, ToggleButtons, RadioButtons).
    """
    if isinstance(control, (ipywidgets.Checkbox, ipywidgets.ToggleButton)):
        return [("off", False), ("on", True)]
    if isinstance(control, ipywidgets.IntSlider):
        values = range(control.min, control.max + 1, control.step)
        return [(str(value), value) for value in values]
    if hasattr(control, "_options_labels") and hasattr(control, "_options_values"):
        return list(zip(control._options_labels, control._options_values))
    raise TypeError(
        "an explorer's controls must be Checkbox, IntSlider or a selection widget "
        f"(Dropdown, SelectionSlider, ToggleButtons), got {type(control).__name__}"
    )


class Explorer(ipywidgets.VBox):
    """Controls above a figure; moving a control redraws the figure.

    ``update(**values)`` receives one keyword per control (the control's
    name in ``controls``) and changes the figure's artists in place.

    >>> explorer = Explorer(figure, {"query": slider}, update, caption="...")
    >>> explorer.controls["query"].value = 3   # the picture follows
    """

    # Every explorer alive in this kernel, so `make bench` can time their updates.
    instances: ClassVar[weakref.WeakSet[Explorer]] = weakref.WeakSet()

    def __init__(
        self,
        figure: Figure,
        controls: Mapping[str, ipywidgets.Widget],
        update: Callable[..., None],
        caption: str,
        dpi: int = 80,
    ) -> None:
        self.figure = figure
        self.controls = dict(controls)
        self.update = update
        self.caption = caption
        self.dpi = dpi
        for control in self.controls.values():
            control_options(control)  # refuse continuous controls early
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width="100%"))
        # Lay the figure out once, then keep that layout: the axes stay put between frames,
        # and each update skips the layout solver (about half of a redraw's time).
        self.update(**self.values())
        self.figure.set_dpi(dpi)
        self.figure.canvas.draw()
        self.figure.set_layout_engine("none")
        self.frames = FrameDrawer(self.figure)
        self.redraw()
        caption_label = ipywidgets.HTML(f"<em>{html.escape(caption)}</em>")
        super().__init__([ipywidgets.HBox(list(self.controls.values())), self.image, caption_label])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        Explorer.instances.add(self)

    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def render_png(self, compress_level: int = 6, **values: Any) -> bytes:
        """Draw the figure for ``values`` and return it as PNG bytes."""
        self.update(**values)
        return figure_png(self.figure, self.dpi, compress_level, frames=self.frames)

    def redraw(self) -> None:
        """Bring the picture in line with the controls.

        While the book is built the static form is what readers see, so the
        live image stays empty: its PNG would only bloat the page's stored
        widget state.
        """
        if static_forms_enabled():
            return
        # Fast compression: a live frame is sent once, a static frame is stored in the page.
        self.image.value = self.render_png(compress_level=1, **self.values())

    def _on_change(self, _change: dict) -> None:
        self.redraw()

    # --- the static form, for the rendered book -------------------------------

    def static_html(self) -> str:
        """Self-contained HTML + JS: the controls and every frame, precomputed."""
        names = list(self.controls)
        options = [control_options(self.controls[name]) for name in names]
        n_frames = 1
        for choices in options:
            n_frames *= len(choices)
        if n_frames > MAX_STATIC_FRAMES:
            raise ValueError(
                f"this explorer would need {n_frames} static frames, more than "
                f"MAX_STATIC_FRAMES={MAX_STATIC_FRAMES}; give its controls fewer values"
            )
        current = self.values()
        images: list[str] = []  # unique frames, base64 PNG
        index_of_digest: dict[str, int] = {}
        frame_of_key: dict[str, int] = {}
        for indices in itertools.product(*(range(len(choices)) for choices in options)):
            values = {name: options[i][j][1] for i, (name, j) in enumerate(zip(names, indices))}
            png = self.render_png(**values)
            digest = hashlib.sha1(png).hexdigest()
            if digest not in index_of_digest:
                index_of_digest[digest] = len(images)
                images.append(base64.b64encode(png).decode("ascii"))
            frame_of_key["|".join(map(str, indices))] = index_of_digest[digest]
        self.update(**current)  # leave the figure as the live widget shows it
        start = [
            next(j for j, (_, value) in enumerate(choices) if value == current[name])
            for name, choices in zip(names, options)
        ]
        controls_html = "".join(
            _static_control(self.controls[name], choices, position, start[position])
            for position, (name, choices) in enumerate(zip(names, options))
        )
        data = json.dumps({"images": images, "frames": frame_of_key})
        first = images[frame_of_key["|".join(map(str, start))]]
        alt = html.escape(self.caption, quote=True)
        return (
            '<div class="lessons-explorer">'
            f'<div class="lessons-explorer-controls">{controls_html}</div>'
            f'<img class="lessons-explorer-frame" alt="{alt}" '
            f'src="data:image/png;base64,{first}" style="max-width:100%;height:auto">'
            f'<p class="lessons-explorer-caption"><em>{html.escape(self.caption)}</em></p>'
            f'<script type="application/json" class="lessons-explorer-data">{data}</script>'
            f"<script>{_STATIC_SCRIPT}</script>"
            "</div>"
        )

    # --- display: the live widget, plus the static form while building the book --

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": f"{type(self).__name__}({self.caption})"}
        if self._view_name is not None:
            bundle[WIDGET_VIEW_MIMETYPE] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._model_id,
            }
        if static_forms_enabled():
            bundle["text/html"] = self.static_html()
        return bundle

    if hasattr(ipywidgets.Widget, "_ipython_display_"):  # ipywidgets 7 displays this way

        def _ipython_display_(self, **kwargs: Any) -> None:
            display(self._repr_mimebundle_(**kwargs), raw=True)
            self._handle_displayed(**kwargs)


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


# Finds its own explorer through document.currentScript, so several explorers
# on one page never clash, and needs nothing from the network.
_STATIC_SCRIPT = """
(function () {
  var root = document.currentScript.parentElement;
  var data = JSON.parse(root.querySelector('.lessons-explorer-data').textContent);
  var image = root.querySelector('.lessons-explorer-frame');
  var inputs = Array.prototype.slice.call(root.querySelectorAll('[data-position]'));
  inputs.sort(function (a, b) { return a.dataset.position - b.dataset.position; });
  function show() {
    var key = inputs.map(function (input) {
      if (input.type === 'checkbox') { return input.checked ? 1 : 0; }
      if (input.type === 'range') {
        var labels = JSON.parse(input.dataset.labels);
        input.parentElement.querySelector('output').textContent = labels[input.value];
      }
      return input.value;
    }).join('|');
    image.src = 'data:image/png;base64,' + data.images[data.frames[key]];
  }
  inputs.forEach(function (input) {
    input.addEventListener('input', show);
    input.addEventListener('change', show);
  });
})();
"""
