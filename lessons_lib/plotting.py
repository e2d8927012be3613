"""Matplotlib helpers shared by the chapters: heatmaps, bars, one head drawn.

Every helper draws on an ``Axes`` it is given and returns the artist, so a
widget can later change the artist's data instead of drawing a new figure.

Layer: presentation (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle


def _as_array(values: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
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

    >>> fig, ax = plt.subplots()
    >>> image = heatmap(ax, torch.eye(3), title="identity")
    """
    values = _as_array(matrix)
    if values.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {values.shape}")
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_title(title, fontsize=10)
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
    set_labels(labels, fontsize=8)


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
    """
    heights = _as_array(values)
    if heights.ndim != 1 or len(heights) != len(labels):
        raise ValueError(
            f"bars needs one value per label: got values of shape {heights.shape} "
            f"and {len(labels)} labels"
        )
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

    >>> fig, ax = plt.subplots(); group = bars(ax, [0.5, 0.5], ["a", "b"])
    >>> len(set_bar_heights(group, [0.2, 0.8]))
    2
    """
    for bar, height in zip(container, _as_array(values)):
        bar.set_height(float(height))
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
