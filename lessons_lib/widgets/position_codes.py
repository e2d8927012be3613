"""Chapter "1-D vs 2-D position codes": how similar each patch's code is to all the others.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets
import matplotlib.pyplot as plt
import torch
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.plotting import heatmap
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import drawable, require_finite


def cosine_similarity_map(codes: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every code with every other, ``(n, n)``.

        sim[i, j] = codes[i] · codes[j] / (|codes[i]| |codes[j]|)

    codes ``(n, d)``; 1 on the diagonal, between -1 and 1 elsewhere.
    """
    if codes.dim() != 2:
        raise ValueError(f"codes must be (n_positions, d), got shape {tuple(codes.shape)}")
    unit = codes.detach() / codes.detach().norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (n, d)
    return unit @ unit.T  # (n, n)


def patch_similarity(
    codes: torch.Tensor, patch_index: int, grid_h: int, grid_w: int
) -> torch.Tensor:
    """One patch's code against every patch's code, laid out as the grid ``(grid_h, grid_w)``."""
    grid_h, grid_w = require_positive_int("grid_h", grid_h), require_positive_int("grid_w", grid_w)
    patch_index = require_int("patch_index", patch_index)
    if codes.dim() != 2:
        raise ValueError(f"codes must be (n_positions, d), got shape {tuple(codes.shape)}")
    if codes.shape[0] != grid_h * grid_w:
        raise ValueError(
            f"a {grid_h}x{grid_w} grid has {grid_h * grid_w} patches, got {codes.shape[0]} codes"
        )
    if not 0 <= patch_index < grid_h * grid_w:
        raise ValueError(f"patch_index must lie in 0..{grid_h * grid_w - 1}, got {patch_index}")
    return cosine_similarity_map(codes)[patch_index].reshape(grid_h, grid_w)  # (gh, gw)


def plot_similarity_grid(codes: torch.Tensor, grid_h: int, grid_w: int, title: str = "") -> Figure:
    """The ViT paper's Figure 7 (centre) for ``codes`` ``(grid_h * grid_w, d)``, a pyplot figure.

    Tile (r, c) shows the cosine similarity between the code of the patch in
    row r, column c and the codes of all patches.
    """
    similarity = cosine_similarity_map(codes)  # (N, N)
    size = (0.62 * grid_w + 1.0, 0.62 * grid_h + 0.6)
    figure, axes = plt.subplots(grid_h, grid_w, figsize=size, squeeze=False, layout="constrained")
    for index, ax in enumerate(axes.flat):
        image = heatmap(
            ax, similarity[index].reshape(grid_h, grid_w), cmap="viridis", vmin=-1, vmax=1
        )
        row, col = divmod(index, grid_w)
        if col == 0:
            ax.set_ylabel(str(row), fontsize=8, rotation=0, labelpad=8)
        if row == grid_h - 1:
            ax.set_xlabel(str(col), fontsize=8)
    figure.colorbar(image, ax=axes, shrink=0.8, label="cosine similarity")
    figure.suptitle(title, fontsize=10)
    return figure


def code_tables(
    name: str, tables: Mapping[str, torch.Tensor], grid_h: int, grid_w: int
) -> dict[str, torch.Tensor]:
    """Every table of codes checked up front, as float32 (detached): NaN or inf are refused.

    A NaN in one code would make its whole row and column of similarities NaN.
    """
    if not isinstance(tables, Mapping):
        raise TypeError(f"{name} must map names to tables of codes, got {type(tables).__name__}")
    if not tables:
        raise ValueError(f"{name} must hold at least one table of codes, got none")
    checked = {}
    for key, codes in tables.items():
        label = f"{name}[{key!r}]"
        checked[key] = require_finite(label, drawable(label, codes))  # (grid_h * grid_w, d)
        patch_similarity(checked[key], 0, grid_h, grid_w)  # the shape, for this grid
    return checked


def position_explorer(
    codes_by_kind: Mapping[str, torch.Tensor], grid_h: int, grid_w: int
) -> Explorer:
    """Pick a patch and a kind of code; see that patch's similarity to every other patch.

    Each table of codes is ``(grid_h * grid_w, d)``, in row-major patch order.

    >>> explorer = position_explorer({"random": torch.randn(4, 8)}, grid_h=2, grid_w=2)
    >>> explorer.controls["patch_index"].value = 3  # the picture follows
    """
    codes_by_kind = code_tables("codes_by_kind", codes_by_kind, grid_h, grid_w)
    kinds = list(codes_by_kind)
    figure = new_figure(4.2, 3.4)
    ax = figure.subplots()
    image = heatmap(ax, torch.zeros(grid_h, grid_w), cmap="viridis", vmin=-1, vmax=1, colorbar=True)
    ax.set_xticks(range(grid_w), [str(c) for c in range(grid_w)])
    ax.set_yticks(range(grid_h), [str(r) for r in range(grid_h)])
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    marker = ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    controls = {
        "patch_index": ipywidgets.Dropdown(
            options=[
                (f"{i} (row {i // grid_w}, col {i % grid_w})", i) for i in range(grid_h * grid_w)
            ],
            description="patch",
        ),
        "kind": ipywidgets.ToggleButtons(options=kinds, description="codes"),
    }

    def update(patch_index: int, kind: str) -> list[Artist]:
        similarity = patch_similarity(codes_by_kind[kind], patch_index, grid_h, grid_w)
        image.set_data(similarity.numpy())
        row, col = divmod(patch_index, grid_w)
        marker.set_xy((col - 0.5, row - 0.5))
        ax.set_title(f"{kind}: similarity to patch {patch_index}", fontsize=10)
        return [image, marker, ax.title]

    caption = (
        "Cosine similarity between the chosen patch's position code (red box) and the code "
        "of every patch: bright cells are patches whose codes point the same way."
    )
    return Explorer(figure, controls, update, caption=caption)
