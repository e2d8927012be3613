"""Chapter "The whole ViT": where one query looks, layer by layer; the ViT against a CNN.

- :func:`vit_attention_explorer`: one query's attention (a patch or the class
  token) drawn over the image, in every layer;
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

from lessons_lib._validate import require_float, require_number
from lessons_lib.experiments.vit import summarise_runs
from lessons_lib.vit import ViT
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import require_finite, require_finite_model

OVERLAY_RGB = (0.9, 0.1, 0.0)  # attention is drawn as red, more opaque where the weight is larger
OVERLAY_MAX_ALPHA = 0.8


def attention_overlay(
    maps: torch.Tensor, query_index: int, grid_h: int, grid_w: int
) -> torch.Tensor:
    """One query's attention to the patches, averaged over heads, per layer.

    maps ``(depth, heads, 1 + N, 1 + N)`` for one image (index 0 = class
    token) -> ``(depth, grid_h, grid_w)``: for each layer, the head-averaged
    weight that ``query_index`` puts on every patch. The weight on the class
    token itself is left out, so a layer's map sums to at most 1.
    """
    if maps.dim() != 4 or maps.shape[-1] != 1 + grid_h * grid_w:
        raise ValueError(
            f"maps must be (depth, heads, 1 + N, 1 + N) with N = {grid_h * grid_w}, "
            f"got shape {tuple(maps.shape)}"
        )
    if not 0 <= query_index < maps.shape[-1]:
        raise ValueError(f"query_index must lie in 0..{maps.shape[-1] - 1}, got {query_index}")
    weights = maps[:, :, query_index, 1:].mean(dim=1)  # (depth, N): heads averaged
    return weights.reshape(-1, grid_h, grid_w)  # (depth, gh, gw)


def red_overlay(weights: torch.Tensor) -> np.ndarray:
    """RGBA ``(grid_h, grid_w, 4)``: red, opaque in proportion to the weight (largest = 0.8)."""
    rgba = np.zeros((*weights.shape, 4))
    rgba[..., :3] = OVERLAY_RGB
    rgba[..., 3] = OVERLAY_MAX_ALPHA * (weights / weights.max().clamp_min(1e-12)).numpy()
    return rgba


def query_options(grid_h: int, grid_w: int) -> list[tuple[str, int]]:
    """Dropdown options: the class token (token 0), then each patch (token 1 + i)."""
    patches = [
        (f"patch {i} (row {i // grid_w}, col {i % grid_w})", 1 + i) for i in range(grid_h * grid_w)
    ]
    return [("class token", 0), *patches]


@torch.no_grad()
def vit_attention_explorer(model: ViT, images: torch.Tensor, names: Sequence[str]) -> Explorer:
    """Pick an image and a query; see its attention over the image in every layer.

    images ``(k, channels, H, W)``, one name each, finite; they run in the model's dtype
    (a bfloat16 model too) and are drawn in float32.

    >>> _ = torch.manual_seed(0)
    >>> model = ViT(image_size=8, patch_size=4, d_model=16, num_layers=2, num_heads=2).eval()
    >>> explorer = vit_attention_explorer(model, torch.rand(2, 1, 8, 8), ["a", "b"])
    >>> list(explorer.controls)
    ['image_index', 'query_index']
    >>> len(explorer.controls["query_index"].options)  # the class token and 2 x 2 patches
    5
    """
    if not isinstance(model, ViT):
        raise TypeError(f"model must be a ViT, got {type(model).__name__}")
    require_finite_model("model", model)
    images = require_finite("images", require_float("images", images).detach())
    if images.dim() != 4 or len(names) != images.shape[0] or images.shape[0] == 0:
        raise ValueError(
            f"images must be (k, channels, H, W), k >= 1, with one name each, got shape "
            f"{tuple(images.shape)} and {len(names)} names"
        )
    weight = next(p for p in model.parameters() if p.is_floating_point())
    images = images.to(weight.device, weight.dtype)  # the model's dtype: bfloat16 runs as it is
    model.eval()
    logits, maps = model(images, need_weights=True)  # (k, classes), (depth, k, heads, 1+N, 1+N)
    maps, images = maps.float().cpu(), images.float().cpu()  # drawn in float32
    predictions = logits.argmax(-1).tolist()
    grid_h, grid_w, size = model.grid_h, model.grid_w, model.image_size
    p = size // grid_h
    depth = maps.shape[0]
    figure = new_figure(2.3 * (depth + 1), 2.7)
    axes = figure.subplots(1, depth + 1)
    grey = images.mean(dim=1).numpy()  # (k, H, W)
    pictures, overlays = [], []
    for column, ax in enumerate(axes):
        pictures.append(ax.imshow(grey[0], cmap="gray_r", vmin=0, vmax=1))
        if column > 0:
            overlay = ax.imshow(
                np.zeros((grid_h, grid_w, 4)), extent=(-0.5, size - 0.5, size - 0.5, -0.5)
            )
            overlays.append(overlay)
        ax.set_xticks([])
        ax.set_yticks([])
    box_style = dict(fill=False, edgecolor="tab:cyan", linewidth=2)
    boxes = [ax.add_patch(Rectangle((-0.5, -0.5), p, p, **box_style)) for ax in axes]
    controls = {
        "image_index": ipywidgets.Dropdown(
            options=[(name, i) for i, name in enumerate(names)], description="image"
        ),
        "query_index": ipywidgets.Dropdown(
            options=query_options(grid_h, grid_w), description="query"
        ),
    }

    def update(image_index: int, query_index: int) -> list[Artist]:
        layers = attention_overlay(maps[:, image_index], query_index, grid_h, grid_w)
        for picture in pictures:
            picture.set_data(grey[image_index])
        for number, (overlay, weights) in enumerate(zip(overlays, layers), start=1):
            overlay.set_data(red_overlay(weights))
            axes[number].set_title(
                f"layer {number}: largest weight {weights.max():.2f}", fontsize=9
            )
        for box in boxes:
            box.set_visible(query_index > 0)
            if query_index > 0:
                row, col = divmod(query_index - 1, grid_w)
                box.set_xy((col * p - 0.5, row * p - 0.5))
        who = "class token" if query_index == 0 else f"patch {query_index - 1}"
        axes[0].set_title(
            f"{names[image_index]}, predicted {predictions[image_index]}\nquery: {who}",
            fontsize=9,
        )
        return [*pictures, *overlays, *boxes, *(ax.title for ax in axes)]

    caption = (
        "The chosen query's attention weights over the patches, heads averaged, drawn over the "
        "image in red: the more weight, the stronger the red (each layer scaled to its own "
        "largest weight). The blue box marks the query patch; the class token has no place "
        "in the image."
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

    ``scores`` is :func:`~lessons_lib.experiments.vit.compare_vit_and_cnn`'s
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
