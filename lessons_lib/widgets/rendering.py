"""Figures to PNG bytes: a full draw, or a fast frame that redraws only what changed.

An explorer's figure is drawn many times with a few artists changed each time
(bar heights, an image's data, a title). :class:`FrameDrawer` uses matplotlib's
documented blitting for that: the artists that change are marked animated, so
a normal draw leaves them out; that draw is saved once as the background; each
frame restores it and draws the animated artists on top, in the order a full
draw would use. The result equals a full redraw.

Layer: presentation (matplotlib, ipywidgets).

    >>> figure = new_figure(4, 3)
    >>> png = figure_png(figure)  # everything drawn
    >>> png.startswith(b"\\x89PNG")
    True
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from PIL import Image


def new_figure(width: float, height: float) -> Figure:
    """A figure that is not attached to pyplot, so it never pops up by itself.

    >>> new_figure(6, 2.5).get_size_inches().tolist()
    [6.0, 2.5]
    """
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def canvas_png(figure: Figure, compress_level: int = 6) -> bytes:
    """The pixels the figure's canvas holds now, as PNG bytes (nothing is drawn).

    Encoding the canvas buffer directly is faster than ``savefig``; so is a low
    ``compress_level`` (1: fast, larger; 9: slow, smallest).
    """
    canvas = figure.canvas
    pixels = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    buffer = io.BytesIO()
    pixels.convert("RGB").save(buffer, format="png", compress_level=compress_level)
    return buffer.getvalue()


def figure_png(figure: Figure, dpi: int = 80, compress_level: int = 6) -> bytes:
    """Draw all of ``figure`` with the Agg backend at ``dpi`` and return the PNG bytes.

    >>> figure_png(new_figure(2, 2), dpi=50)[:4]
    b'\\x89PNG'
    """
    if figure.dpi != dpi:
        figure.set_dpi(dpi)
    figure.canvas.draw()
    return canvas_png(figure, compress_level)


class FrameDrawer:
    """Draws a figure again after an update changed ``changed`` artists, by blitting.

    ``draw(changed)`` takes the artists an update returned:

    - an artist (a bar, an image, a line, an axes title from ``ax.title``, a
      text, a legend) is drawn again on the saved background;
    - an ``Axes`` means that axes changed as a whole (limits, ticks, tick
      labels): it is drawn again entirely, with everything on it;
    - ``None`` means "anything may have changed": a full draw.

    Artists that lie over a changed one in the data area of its axes (a spine,
    a reference line, grid lines) are drawn again too, after it, as a full
    draw would; without a grid, an axis (ticks and their labels, the costly
    part of a draw) lies outside the data area and stays in the background.
    When the set of changed artists differs from the last frame's, or the
    figure's size in pixels changed, the background is drawn again. The
    artists not named must not have changed since the background was saved.

    >>> figure = new_figure(3, 2)
    >>> ax = figure.subplots()
    >>> (line,) = ax.plot([0, 1], [0, 1])
    >>> png = figure_png(figure)  # the first frame is drawn whole
    >>> frames = FrameDrawer(figure)
    >>> line.set_ydata([1, 0])
    >>> title = ax.set_title("falling")
    >>> frames.draw([line, title])  # the line and the title, over the saved background
    """

    def __init__(self, figure: Figure) -> None:
        self.figure = figure
        self._changed: frozenset[Artist] | None = None  # as last named by an update
        self._animated: tuple[Artist, ...] = ()  # those and the artists above them
        self._background: object = None
        self._size: tuple[int, int] = (0, 0)

    def draw(self, changed: Sequence[Artist] | None) -> None:
        """Bring the canvas in line with the figure, drawing again only ``changed``."""
        canvas = self.figure.canvas
        if changed is None:
            self.reset()
            canvas.draw()
            return
        named = frozenset(changed)
        if named != self._changed or canvas.get_width_height() != self._size:
            self._save_background(self._in_drawing_order(self._with_artists_above(named)))
            self._changed = named
        canvas.restore_region(self._background)
        for artist in self._animated:
            (artist.axes or self.figure).draw_artist(artist)

    def reset(self) -> None:
        """Draw every artist normally again (none animated) and forget the background."""
        for artist in self._animated:
            artist.set_animated(False)
        self._changed, self._animated, self._background = None, (), None

    def _save_background(self, animated: tuple[Artist, ...]) -> None:
        """Mark ``animated``, draw everything else and keep that picture."""
        self.reset()
        for artist in animated:
            artist.set_animated(True)  # a normal draw now leaves these out
        self._animated = animated
        canvas = self.figure.canvas
        canvas.draw()
        self._background = canvas.copy_from_bbox(self.figure.bbox)
        self._size = canvas.get_width_height()

    def _with_artists_above(self, changed: Iterable[Artist]) -> set[Artist]:
        """``changed``, plus the artists a full draw paints over them inside their axes."""
        whole = {artist for artist in changed if isinstance(artist, Axes)}
        chosen = {artist for artist in changed if artist.axes not in whole or artist in whole}
        renderer = self.figure.canvas.get_renderer()
        for ax in {artist.axes for artist in chosen} - {None} - whole:
            lowest = min(artist.get_zorder() for artist in chosen if artist.axes is ax)
            area = ax.bbox.padded(1)  # the data area, and the spines on its edges
            for child in ax.get_children():
                above = child.get_zorder() >= lowest and child is not ax.patch
                if above and child not in chosen and self._inside(child, area, renderer):
                    chosen.add(child)
        return chosen

    @staticmethod
    def _inside(child: Artist, area: Bbox, renderer: RendererBase) -> bool:
        """Whether ``child`` paints inside ``area``: an axis only through its grid lines."""
        if isinstance(child, Axis):
            return any(line.get_visible() for line in child.get_gridlines())
        return child.get_window_extent(renderer).overlaps(area)

    def _in_drawing_order(self, artists: set[Artist]) -> tuple[Artist, ...]:
        """``artists`` in the order a full draw paints them: by zorder, figure then axes."""
        ordered: list[Artist] = []
        for item in sorted(self.figure.get_children(), key=lambda child: child.get_zorder()):
            if item in artists:
                ordered.append(item)
            elif isinstance(item, Axes):
                children = sorted(item.get_children(), key=lambda child: child.get_zorder())
                ordered += [child for child in children if child in artists]
        if len(ordered) != len(artists):
            strays = ", ".join(sorted(str(artist) for artist in artists - set(ordered)))
            raise ValueError(
                "an update must return artists of the figure or of its axes (their direct "
                f"children), got {strays}"
            )
        return tuple(ordered)
