"""Chapter "The whole ViT": where one query looks, layer by layer.

:func:`vit_attention_explorer`: one query's attention (a patch or the class
token) drawn over the image, in every layer.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.patches import Rectangle

from lessons_lib._validate import require_float
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
