"""Appendix "The ViT at other scales": stretched codes; the ViT against a CNN.

- :func:`stretched_codes_explorer`: trained codes stretched to a larger grid in
  several ways, one patch's similarity to every patch, side by side;
- :func:`vit_cnn_explorer`: test accuracy against training-set size, the ViT
  beside the small CNN, with the spread over seeds.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.patches import Rectangle

from lessons_lib._validate import require_number
from lessons_lib.experiments.vit_scale import summarise_runs
from lessons_lib.plotting import heatmap
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.position_codes import code_tables, patch_similarity
from lessons_lib.widgets.rendering import new_figure


def stretched_codes_explorer(
    codes_by_method: Mapping[str, torch.Tensor], grid_h: int, grid_w: int
) -> Explorer:
    """Codes stretched to a larger grid, side by side: one patch's similarity to every patch.

    ``codes_by_method`` maps a name (how the codes were stretched) to a table
    ``(grid_h * grid_w, d)`` in row-major patch order; each gets one panel. Pick
    a patch: every panel shows the cosine similarity of that patch's code with
    all the codes of the same table, laid out as the grid.

    >>> codes = {"a": torch.randn(16, 8), "b": torch.randn(16, 8)}
    >>> explorer = stretched_codes_explorer(codes, grid_h=4, grid_w=4)
    >>> explorer.controls["patch_index"].value = 5  # every panel follows
    """
    codes_by_method = code_tables("codes_by_method", codes_by_method, grid_h, grid_w)
    names = list(codes_by_method)
    figure = new_figure(2.6 * len(names) + 0.8, 3.0)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    images, markers = [], []
    for ax, name in zip(axes, names):
        images.append(heatmap(ax, torch.zeros(grid_h, grid_w), cmap="viridis", vmin=-1, vmax=1))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        markers.append(
            ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
        )
    figure.colorbar(images[0], ax=list(axes), shrink=0.8, label="cosine similarity")
    controls = {
        "patch_index": ipywidgets.Dropdown(
            options=[
                (f"{i} (row {i // grid_w}, col {i % grid_w})", i) for i in range(grid_h * grid_w)
            ],
            description="patch",
        ),
    }

    def update(patch_index: int) -> list[Artist]:
        row, col = divmod(patch_index, grid_w)
        for image, marker, name in zip(images, markers, names):
            similarity = patch_similarity(codes_by_method[name], patch_index, grid_h, grid_w)
            image.set_data(similarity.numpy())  # (grid_h, grid_w)
            marker.set_xy((col - 0.5, row - 0.5))
        return [*images, *markers]

    caption = (
        "Each panel: the same trained codes stretched to a larger grid in one way. Bright "
        "cells are patches whose codes point the same way as the chosen patch's (red box)."
    )
    return Explorer(figure, controls, update, caption=caption)


MODEL_COLOURS = {"ViT": "tab:blue", "CNN": "tab:orange"}
SHOWN = {"both": ("ViT", "CNN"), "ViT": ("ViT",), "CNN": ("CNN",)}


def seed_readout(
    scores: dict[str, dict[int, list[float]]], models: Sequence[str], size: int
) -> str:
    """One line per model: each seed's accuracy at ``size`` training images, and their mean.

    >>> seed_readout({"ViT": {50: [0.5, 0.7]}}, ["ViT"], 50)
    'ViT: 0.50, 0.70 (mean 0.60)'
    """
    lines = []
    for model in models:
        values = scores[model][size]
        each = ", ".join(f"{value:.2f}" for value in values)
        lines.append(f"{model}: {each} (mean {sum(values) / len(values):.2f})")
    return "\n".join(lines)


def _size(model: str, key: object) -> int:
    """A training-set size: an int, or its digits (a JSON object's keys are strings)."""
    size = key
    if isinstance(key, str) and key.strip().isdigit():
        size = int(key.strip())
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(
            f"scores[{model!r}] must be keyed by training-set sizes, whole numbers >= 1 (or "
            f"their digits, as JSON keys give them), got the key {key!r}"
        )
    return int(size)


def _accuracies(model: str, size: int, values: object) -> list[float]:
    """One size's accuracies (one per seed) as floats in 0..1: a list, or a tensor of any dtype."""
    if isinstance(values, torch.Tensor):
        values = values.detach().float().reshape(-1).tolist()  # (seeds,)
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(
            f"scores[{model!r}][{size}] must be a list of accuracies (one per seed), "
            f"got {type(values).__name__}"
        )
    values = [
        float(v.detach()) if isinstance(v, torch.Tensor) and v.numel() == 1 else v for v in values
    ]
    accuracies = [require_number(f"every accuracy in scores[{model!r}][{size}]", v) for v in values]
    if not accuracies or not all(0.0 <= value <= 1.0 for value in accuracies):
        raise ValueError(
            f"scores[{model!r}][{size}] must hold one or more accuracies in 0..1 (NaN and inf "
            f"are not accuracies), got {[float(value) for value in accuracies]}"
        )
    return [float(value) for value in accuracies]


def accuracy_table(
    scores: Mapping[str, Mapping[object, object]],
) -> dict[str, dict[int, list[float]]]:
    """``scores`` checked, with sizes as ints in ascending order and accuracies as floats.

    A result written to JSON and read back has string sizes ("1000" sorts before "200");
    this reads them back as numbers.

    >>> accuracy_table({"ViT": {"200": [0.5], "50": [0.25]}, "CNN": {"50": [1], "200": [1]}})
    {'ViT': {50: [0.25], 200: [0.5]}, 'CNN': {50: [1.0], 200: [1.0]}}
    """
    if not isinstance(scores, Mapping) or set(scores) != set(MODEL_COLOURS):
        got = sorted(scores, key=str) if isinstance(scores, Mapping) else type(scores).__name__
        raise ValueError(
            "scores must be {'ViT': {size: [...]}, 'CNN': {size: [...]}} with the same sizes, "
            f"got models {got}"
        )
    table: dict[str, dict[int, list[float]]] = {}
    for model in MODEL_COLOURS:
        if not isinstance(scores[model], Mapping) or not scores[model]:
            raise ValueError(
                f"scores[{model!r}] must map each training-set size to its accuracies, "
                f"got {scores[model]!r}"
            )
        by_size: dict[int, list[float]] = {}
        for key, values in scores[model].items():
            size = _size(model, key)
            if size in by_size:
                raise ValueError(f"scores[{model!r}] names the size {size} twice, got {key!r}")
            by_size[size] = _accuracies(model, size, values)
        table[model] = dict(sorted(by_size.items()))
    if table["ViT"].keys() != table["CNN"].keys():
        raise ValueError(
            "scores must be {'ViT': {size: [...]}, 'CNN': {size: [...]}} with the same sizes, "
            f"got ViT sizes {list(table['ViT'])} and CNN sizes {list(table['CNN'])}"
        )
    return table


def vit_cnn_explorer(scores: dict[str, dict[int, list[float]]]) -> Explorer:
    """Test accuracy against training-set size: the ViT, the CNN, their spread over seeds.

    ``scores`` is :func:`~lessons_lib.experiments.vit_scale.compare_vit_and_cnn`'s
    result, ``{"ViT": {size: [accuracy per seed]}, "CNN": {...}}``, the same
    sizes for both, or the same after a JSON round trip (sizes as strings: they are read
    back as numbers and drawn in ascending order). Controls: which models, the spread
    drawn as a band (lowest to highest seed) or as every seed's point, and a size whose
    accuracies the title lists.

    >>> explorer = vit_cnn_explorer({"ViT": {50: [0.3, 0.4]}, "CNN": {50: [0.6, 0.7]}})
    >>> list(explorer.controls)
    ['models', 'spread', 'size']
    """
    scores = accuracy_table(scores)
    summaries = {model: summarise_runs(scores[model]) for model in MODEL_COLOURS}
    sizes = summaries["ViT"]["sizes"]
    figure = new_figure(6.4, 3.8)
    ax = figure.subplots()
    drawn: dict[str, dict[str, Artist]] = {}
    for model, summary in summaries.items():
        colour = MODEL_COLOURS[model]
        (mean,) = ax.plot(sizes, summary["mean"], marker="o", color=colour, label=f"{model}, mean")
        band = ax.fill_between(sizes, summary["low"], summary["high"], color=colour, alpha=0.2)
        xs = [size for size in sizes for _ in scores[model][size]]
        ys = [value for size in sizes for value in scores[model][size]]
        points = ax.scatter(xs, ys, s=14, color=colour, alpha=0.7, linewidths=0)
        drawn[model] = {"mean": mean, "band": band, "points": points}
    marker = ax.axvline(sizes[0], color="tab:gray", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.minorticks_off()
    ax.set_ylim(0, 1)
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    # The grid under the curves: it is then part of the background that each frame keeps,
    # and the axes' ticks and labels are not drawn again on every change.
    ax.set_axisbelow(True)
    title = ax.set_title("", fontsize=9)
    controls = {
        "models": ipywidgets.Dropdown(
            options=[("ViT and CNN", "both"), ("ViT only", "ViT"), ("CNN only", "CNN")],
            description="models",
        ),
        "spread": ipywidgets.ToggleButtons(
            options=[("lowest-highest band", "band"), ("every seed", "seeds")],
            description="spread",
        ),
        "size": ipywidgets.SelectionSlider(options=sizes, description="size"),
    }

    def update(models: str, spread: str, size: int) -> list[Artist]:
        shown = SHOWN[models]
        for model, artists in drawn.items():
            artists["mean"].set_visible(model in shown)
            artists["band"].set_visible(model in shown and spread == "band")
            artists["points"].set_visible(model in shown and spread == "seeds")
        marker.set_xdata([size, size])
        title.set_text(f"{size} training images\n" + seed_readout(scores, shown, size))
        changed = [artist for artists in drawn.values() for artist in artists.values()]
        return [*changed, marker, title]

    caption = (
        "Test accuracy of the small ViT (blue) and the small CNN (orange) against the number "
        "of training images, log scale: the line is the mean over seeds, the band or the "
        "points the seeds' spread. The title lists each seed's accuracy at the chosen size."
    )
    return Explorer(figure, controls, update, caption=caption, dpi=72)
