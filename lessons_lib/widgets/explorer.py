"""The live explorer: controls above a picture, an ipywidgets widget.

Each chapter's explorer is an :class:`Explorer`: a figure, discrete controls,
and an ``update(**values)`` function that changes the figure's artists in
place (no new figure) and returns the artists it changed. Moving a control
calls ``update`` through ipywidgets' ``observe``, draws the changed artists
again (:class:`~lessons_lib.widgets.rendering.FrameDrawer`) and shows the
figure as a PNG in an ``ipywidgets.Image``. That works the same under
ipywidgets 7.7 (Colab) and 8.

While the book is built, the display bundle also carries the static form
(:mod:`lessons_lib.widgets.static`), which the rendered page shows instead.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import ipywidgets
from IPython.display import display
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from lessons_lib._validate import require_positive_int
from lessons_lib.language import translate
from lessons_lib.widgets.rendering import FrameDrawer, canvas_png
from lessons_lib.widgets.static import control_options, static_forms_enabled, static_html

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"

# What an explorer's update returns: the artists it changed (see FrameDrawer.draw).
Update = Callable[..., Sequence[Artist] | None]


class BookDisplay:
    """Display as the live widget, plus the static form while the book is built.

    For an ipywidgets container (put this class first among the bases) that defines
    ``static_html()`` (its kernel-free form for the rendered page) and ``summary()``.
    """

    def summary(self) -> str:
        """What the widget is, in a few words (its plain-text form)."""
        raise NotImplementedError

    def static_html(self) -> str:
        """The widget's form for the static page."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
        bundle: dict[str, Any] = {
            "text/plain": f"{type(self).__name__}({self.summary()})",
            WIDGET_VIEW_MIMETYPE: view,
        }
        if static_forms_enabled():
            bundle["text/html"] = self.static_html()
        return bundle

    if hasattr(ipywidgets.Widget, "_ipython_display_"):  # ipywidgets 7 displays this way

        def _ipython_display_(self, **kwargs: Any) -> None:
            display(self._repr_mimebundle_(**kwargs), raw=True)


class Explorer(BookDisplay, ipywidgets.VBox):
    """Controls above a figure; moving a control redraws the figure.

    ``update(**values)`` receives one keyword per control (the control's name
    in ``controls``), changes the figure's artists in place and returns the
    artists it changed (an ``Axes`` for one whose ticks or limits changed).

    >>> from lessons_lib.widgets.rendering import new_figure
    >>> figure = new_figure(3, 2)
    >>> (line,) = figure.subplots().plot([0, 1], [0, 0])
    >>> def update(height):  # one keyword per control; returns the artists it changed
    ...     line.set_ydata([0, height])
    ...     return [line]
    >>> slider = ipywidgets.IntSlider(value=1, min=0, max=3, description="height")
    >>> explorer = Explorer(figure, {"height": slider}, update, caption="a line")
    >>> explorer.controls["height"].value = 3  # the picture follows
    >>> list(line.get_ydata())
    [0, 3]
    """

    # Every explorer alive in this kernel, so tests and `make bench` can move their controls.
    instances: ClassVar[weakref.WeakSet[Explorer]] = weakref.WeakSet()

    def __init__(
        self,
        figure: Figure,
        controls: Mapping[str, ipywidgets.Widget],
        update: Update,
        caption: str,
        dpi: int = 80,
    ) -> None:
        self.figure = figure
        self.controls = dict(controls)
        self.update = update
        self.caption = caption
        self.dpi = require_positive_int("dpi", dpi)
        for control in self.controls.values():
            control_options(control)  # refuse continuous controls early
            control.description = translate(control.description)  # set_language's language
        # Natural size: a VBox stretches its children to its width by default, which would
        # blow the picture up (and blur it) in a wide JupyterLab output area.
        self.image = ipywidgets.Image(
            format="png", layout=ipywidgets.Layout(max_width="100%", align_self="flex-start")
        )
        # Lay the figure out once, then keep that layout: the axes stay put between frames,
        # and each update skips the layout solver (about half of a redraw's time).
        self.update(**self.values())
        self.figure.set_dpi(dpi)
        self.figure.canvas.draw()
        self.figure.set_layout_engine("none")
        self.frames = FrameDrawer(self.figure)
        self.redraw()
        caption_label = ipywidgets.HTML(f"<em>{html.escape(translate(caption))}</em>")
        super().__init__([ipywidgets.HBox(list(self.controls.values())), self.image, caption_label])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        Explorer.instances.add(self)

    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def render_png(self, compress_level: int = 6, **values: Any) -> bytes:
        """Update the figure for ``values``, draw what changed, and return the PNG bytes."""
        self.frames.draw(self.update(**values))
        return canvas_png(self.figure, compress_level)

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

    def static_html(self) -> str:
        """The static form: HTML controls and every frame, precomputed (see ``static``)."""
        return static_html(self)

    def summary(self) -> str:
        """What the widget is, in a few words (its plain-text form)."""
        return self.caption
