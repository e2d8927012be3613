"""Matplotlib helpers shared by the chapters: heatmaps, bars, one head drawn.

Every helper draws on an ``Axes`` it is given and returns the artist, so a
widget can later change the artist's data instead of drawing a new figure.

Layer: presentation (matplotlib).
"""

from __future__ import annotations

import base64
import functools
import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

# The CJK characters of the date task's Chinese format (年, 月, 日), which matplotlib's own font
# lacks: a subset of Noto Sans CJK SC (SIL Open Font License) that ships with the package, made
# by tools/make_cjk_font.py, so that figures draw them on any machine, Colab included.
DATE_GLYPHS_FONT = Path(__file__).resolve().parent / "fonts" / "date-glyphs.otf"
DATE_GLYPHS_FAMILY = "Lessons Date Glyphs"


@functools.cache
def _add_date_glyphs() -> None:
    """Tell matplotlib about the shipped date glyphs (once per process)."""
    font_manager.fontManager.addfont(DATE_GLYPHS_FONT)


def font_family(base: str | None = None) -> list[str]:
    """The font families a label that may hold a date's characters is drawn with.

    ``base`` first (matplotlib's own families when None, read at each call; ``"monospace"``
    for aligned text), so every other character looks as before, then the shipped date
    glyphs, which matplotlib falls back to for 年, 月 and 日 only. Each call returns a new
    list.

    >>> font_family()[-1], font_family("monospace")
    ('Lessons Date Glyphs', ['monospace', 'Lessons Date Glyphs'])
    """
    if base is not None and not isinstance(base, str):
        raise TypeError(f"base must be a font family name (str) or None, got {type(base).__name__}")
    _add_date_glyphs()
    bases = plt.rcParams["font.family"] if base is None else [base]
    return [*bases, DATE_GLYPHS_FAMILY]


def _as_array(values: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """Values numpy can hold: detached, on the CPU, bfloat16 and float16 as float32."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        if values.dtype in (torch.bfloat16, torch.float16):
            values = values.float()  # numpy has no bfloat16, matplotlib no float16 images
        return values.numpy()
    return np.asarray(values)


def heatmap(
    ax: Axes,
    matrix: torch.Tensor | np.ndarray,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str = "",
    cmap: str = "viridis",
    annotate: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = False,
) -> AxesImage:
    """Draw a 2-D matrix as coloured cells; rows top to bottom, columns left to right.

    ``annotate=True`` writes each value in its cell (for small matrices).
    NaN and inf cells are left blank (the colour map's "bad" colour), and the
    colour limits that ``vmin``/``vmax`` leave open come from the finite values.

    >>> fig, ax = plt.subplots()
    >>> image = heatmap(ax, torch.eye(3), title="identity")
    """
    values = _as_array(matrix)
    if values.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {values.shape}")
    if not np.isfinite(values).any():  # nothing to scale the colours by
        vmin, vmax = (0.0 if vmin is None else vmin), (1.0 if vmax is None else vmax)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_title(title, fontsize=10, fontfamily=font_family())
    _label_axis(ax.set_yticks, ax.set_yticklabels, row_labels, values.shape[0])
    _label_axis(ax.set_xticks, ax.set_xticklabels, col_labels, values.shape[1])
    if col_labels is not None:
        ax.tick_params(axis="x", labelrotation=45)
    if annotate:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for (row, col), value in np.ndenumerate(values):
            colour = "black" if value > middle else "white"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return image


def _label_axis(set_ticks, set_labels, labels: Sequence[str] | None, size: int) -> None:
    if labels is None:
        set_ticks([])
        return
    if len(labels) != size:
        raise ValueError(f"got {len(labels)} labels for an axis of size {size}")
    set_ticks(range(size))
    set_labels(labels, fontsize=8, fontfamily=font_family())


def bars(
    ax: Axes,
    values: torch.Tensor | np.ndarray | Sequence[float],
    labels: Sequence[str],
    title: str = "",
    ylim: tuple[float, float] | None = (0.0, 1.0),
    color: str = "tab:blue",
    highlight: int | None = None,
) -> BarContainer:
    """Bar chart of one value per label, e.g. a query's weights over the keys.

    ``highlight`` colours one bar orange (the chosen token, the query, ...).
    A NaN or infinite value has no bar.
    """
    heights = _as_array(values)
    if heights.ndim != 1 or len(heights) != len(labels):
        raise ValueError(
            f"bars needs one value per label: got values of shape {heights.shape} "
            f"and {len(labels)} labels"
        )
    heights = np.where(np.isfinite(heights), heights, 0.0)  # no bar for NaN or inf
    container = ax.bar(range(len(labels)), heights, color=color)
    if highlight is not None:
        container[highlight].set_color("tab:orange")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=10)
    return container


def set_bar_heights(container: BarContainer, values: torch.Tensor | np.ndarray) -> list[Rectangle]:
    """Change the heights of existing bars (a widget's fast update path); return the bars.

    A NaN or infinite value has no bar (height 0): it has no height to draw.

    >>> fig, ax = plt.subplots(); group = bars(ax, [0.5, 0.5], ["a", "b"])
    >>> len(set_bar_heights(group, [0.2, 0.8]))
    2
    """
    for bar, height in zip(container, _as_array(values)):
        bar.set_height(float(height) if np.isfinite(height) else 0.0)
    return list(container)


def plot_head_computation(
    inputs: torch.Tensor,
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    weights: torch.Tensor,
    outputs: torch.Tensor,
    tokens: Sequence[str],
) -> Figure:
    """One attention head as six panels, left to right, following the data.

    X -> (Q, K, V) -> weights = softmax(Q K^T / sqrt(d_k)) -> output = weights V.
    """
    fig, axes = plt.subplots(
        1,
        6,
        figsize=(13, 3.2),
        layout="constrained",
        gridspec_kw={"width_ratios": [8, 4, 4, 4, 6, 4]},
    )
    d_model, d_k = inputs.shape[1], queries.shape[1]
    panels = [
        (inputs, f"X (inputs)\n{len(tokens)}×{d_model}", "coolwarm", tokens),
        (queries, f"Q = X·W_Q\n{len(tokens)}×{d_k}", "coolwarm", tokens),
        (keys, f"K = X·W_K\n{len(tokens)}×{d_k}", "coolwarm", tokens),
        (values, f"V = X·W_V\n{len(tokens)}×{values.shape[1]}", "coolwarm", tokens),
        (weights, "weights = softmax(QKᵀ/√d_k)\nrow = query, column = key", "viridis", tokens),
        (outputs, f"output = weights·V\n{len(tokens)}×{outputs.shape[1]}", "coolwarm", tokens),
    ]
    for ax, (matrix, title, cmap, rows) in zip(axes, panels):
        cols = tokens if matrix is weights else None
        heatmap(ax, matrix, row_labels=rows, col_labels=cols, title=title, cmap=cmap)
    return fig


# --- Figures for a phone ---------------------------------------------------------------
# A row of panels drawn 10 inches wide shrinks to a third of its size on a phone, where its
# tick labels can no longer be read. While the book is built, every figure that is a single
# row of panels also gets a narrow copy with the panels stacked, which the rendered page
# shows on narrow screens (see _ext/lessons_book/phone_figures.py). The build's kernels load
# the extension lessons_lib.book_kernel, which registers it; Jupyter and Colab never see it.

NARROW_FIGURE_MIME = "application/vnd.lessons-book.narrow-figure+png"
NARROW_WIDTH = 4.5  # inches: 450 px at 100 dpi, shown at about 340 px on a phone


def _single_row_panels(fig: Figure) -> list[Axes] | None:
    """The figure's panels, left to right, if they fill one row of one grid; else None."""
    panels = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    if len(panels) < 2:
        return None
    grid = panels[0].get_subplotspec().get_gridspec()
    if type(grid) is not GridSpec or grid.nrows != 1 or grid.ncols != len(panels):
        return None
    columns = []
    for ax in panels:
        spec = ax.get_subplotspec()
        if spec.get_gridspec() is not grid or spec.num1 != spec.num2:
            return None  # another grid, or a panel spanning two columns
        columns.append(spec.num1)
    if sorted(columns) != list(range(len(panels))):
        return None
    return [ax for _, ax in sorted(zip(columns, panels), key=lambda pair: pair[0])]


def narrow_layout(fig: Figure, width: float = NARROW_WIDTH) -> Figure | None:
    """A copy of ``fig`` whose single row of panels is stacked into a grid ``width`` inches wide.

    Each panel keeps its height; as many panels share a row as fit in ``width`` at their
    width in ``fig`` (panels wider than ``width`` are narrowed to it). Returns None when
    ``fig`` is not one row of two or more panels, or when its panels already fit. ``fig``
    itself is not changed.

    >>> fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), layout="constrained")
    >>> narrow_layout(fig).get_size_inches().round(2).tolist()  # three panels, stacked
    [3.67, 8.4]
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not width > 0:
        raise ValueError(f"width must be a positive number of inches, got {width!r}")
    panels = _single_row_panels(fig)
    if panels is None:
        return None
    fig_width, fig_height = fig.get_size_inches()
    panel_width = min(fig_width / len(panels), width)
    per_row = max(1, int(width // panel_width))
    if per_row >= len(panels):
        return None
    rows = -(-len(panels) // per_row)  # ceil
    copy = pickle.loads(pickle.dumps(fig))
    plt.close(copy)  # unpickling hands a pyplot figure to pyplot; the copy is ours alone
    grid = copy.add_gridspec(rows, per_row)
    for index, ax in enumerate(_single_row_panels(copy) or []):
        ax.set_subplotspec(grid[index // per_row, index % per_row])
        ax.tick_params(labelleft=True, labelbottom=True)  # a shared axis hid inner labels
    copy.set_size_inches(panel_width * per_row, fig_height * rows)
    return copy


def narrow_figure_png(fig: Figure) -> str | None:
    """The narrow copy of ``fig`` as base64 PNG text (what a display bundle holds), or None."""
    narrow = narrow_layout(fig)
    if narrow is None:
        return None
    buffer = io.BytesIO()
    narrow.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def show_narrow_figures_in_book(shell: Any = None) -> bool:
    """Add a narrow copy to the display of every single-row figure in this kernel.

    Registers an IPython formatter for :data:`NARROW_FIGURE_MIME` with ``shell`` (by
    default the running IPython shell); the book's build calls it through the kernel
    extension :mod:`lessons_lib.book_kernel`. Returns False outside IPython.

    >>> from types import SimpleNamespace
    >>> from IPython.core.formatters import DisplayFormatter
    >>> shell = SimpleNamespace(display_formatter=DisplayFormatter())
    >>> show_narrow_figures_in_book(shell)
    True
    >>> fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
    >>> stacked = shell.display_formatter.formatters[NARROW_FIGURE_MIME](fig)
    >>> base64.b64decode(stacked)[:4]  # base64 PNG text, as a display bundle holds it
    b'\x89PNG'
    """
    try:
        from IPython import get_ipython
        from IPython.core.formatters import BaseFormatter
    except ImportError:
        return False
    if shell is None:
        shell = get_ipython()
    if shell is None:
        return False
    if not hasattr(getattr(shell, "display_formatter", None), "formatters"):
        raise TypeError(
            f"shell must be an IPython shell (with a display_formatter), got {type(shell).__name__}"
        )

    class NarrowFigureFormatter(BaseFormatter):
        # Decides by type itself: the inline backend clears every formatter's table of
        # Figure printers when it starts (IPython's select_figure_formats), which may come
        # after this call. An error here fails the cell, and so the build.
        format_type = NARROW_FIGURE_MIME
        _return_type = str

        def __call__(self, obj: object) -> str | None:
            return narrow_figure_png(obj) if isinstance(obj, Figure) else None

    formatter = NarrowFigureFormatter(parent=shell.display_formatter)
    shell.display_formatter.formatters[NARROW_FIGURE_MIME] = formatter  # replaces an earlier one
    return True
