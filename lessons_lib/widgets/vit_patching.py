"""Chapter "ViT patching": an image cut into patches, and the sequence they become.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import MaxNLocator

from lessons_lib.patching import patch_grid, patchify
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import drawable

GRID_COLOUR = "tab:orange"


def patch_sequence(image: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """One image's patches and grid: the explorer's computation.

    image ``(channels, H, W)`` -> patches ``(n_patches, channels * p * p)`` in
    row-major order, and ``(grid_h, grid_w)``.
    """
    if image.dim() != 3:
        raise ValueError(f"image must be (channels, H, W), got shape {tuple(image.shape)}")
    grid = patch_grid(image.shape[1], image.shape[2], patch_size)
    return patchify(image[None], patch_size)[0], grid  # (N, C*p*p)


def _picture(image: torch.Tensor) -> np.ndarray:
    """What to show: a colour image as RGB ``(H, W, 3)``, any other as grey ``(H, W)``.

    A pixel holding NaN or inf is left blank: white in colour, the colour map's "bad"
    colour (none: the white background) in grey.
    """
    image = image.detach().cpu().float()  # numpy has no bfloat16
    if image.shape[0] == 3:
        rgb = image.permute(1, 2, 0)  # (H, W, 3)
        known = rgb.isfinite().all(dim=-1, keepdim=True)  # (H, W, 1)
        return torch.where(known, rgb.clamp(0, 1), 1.0).numpy()  # (H, W, 3)
    return image.mean(dim=0).numpy()  # (H, W): channels averaged


class PatchGrid:
    """An image with its patch grid and patch numbers drawn on ``ax``, redrawable in place.

    ``show(patch_size)`` moves the lines and numbers; at most ``max_lines``
    lines per direction and ``max_labels`` numbers are kept ready.

    >>> from lessons_lib.widgets.rendering import new_figure
    >>> grid = PatchGrid(new_figure(3, 3).subplots(), torch.zeros(1, 8, 8))
    >>> grid.show(4)  # 8 x 8 pixels in 4 x 4 patches: a 2 x 2 grid
    >>> [label.get_text() for label in grid.labels if label.get_visible()]
    ['0', '1', '2', '3']
    """

    def __init__(self, ax: Axes, image: torch.Tensor, max_lines: int = 16, max_labels: int = 64):
        self.ax = ax
        self.height, self.width = image.shape[1], image.shape[2]
        self.picture = ax.imshow(_picture(image), cmap="gray_r", vmin=0, vmax=1)
        style = dict(color=GRID_COLOUR, linewidth=1.5)
        self.row_lines = [ax.axhline(0, **style) for _ in range(max_lines)]
        self.col_lines = [ax.axvline(0, **style) for _ in range(max_lines)]
        label_style = dict(
            ha="center",
            va="center",
            fontsize=8,
            color="tab:red",
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.8, linewidth=0),
        )
        self.labels = [ax.text(0, 0, "", **label_style) for _ in range(max_labels)]
        ax.set_xticks([])
        ax.set_yticks([])

    def artists(self) -> list[Artist]:
        """Everything this grid draws: the image, the lines and the numbers."""
        return [self.picture, *self.row_lines, *self.col_lines, *self.labels]

    def set_image(self, image: torch.Tensor) -> None:
        self.picture.set_data(_picture(image))

    def show(self, patch_size: int, numbers: bool = True) -> None:
        grid_h, grid_w = patch_grid(self.height, self.width, patch_size)
        for lines, count in ((self.row_lines, grid_h), (self.col_lines, grid_w)):
            for index, line in enumerate(lines):
                line.set_visible(1 <= index < count)
                edge = index * patch_size - 0.5
                (line.set_ydata if lines is self.row_lines else line.set_xdata)([edge, edge])
        for index, label in enumerate(self.labels):
            visible = numbers and index < grid_h * grid_w
            label.set_visible(visible)
            if visible:
                row, col = divmod(index, grid_w)
                middle = (patch_size - 1) / 2
                label.set_position((col * patch_size + middle, row * patch_size + middle))
                label.set_text(str(index))


def draw_patch_sequence(ax: Axes, patches: torch.Tensor) -> AxesImage:
    """The flattened patches as rows of a matrix: row i is patch i, ``C*p*p`` columns."""
    image = ax.imshow(
        patches.detach().cpu().float().numpy(),
        cmap="gray_r",
        vmin=0,
        vmax=1,
        aspect="auto",
        interpolation="nearest",  # one block per value; a photo's rows also compress better
    )
    ax.set_ylabel("patch (sequence position)")
    ax.set_xlabel("value inside the patch")
    # About five numbered ticks per axis: enough to read positions, and each tick label is a
    # text to lay out and draw again whenever the sequence's shape changes.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=1))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=1))
    return image


def patching_explorer(
    images: torch.Tensor,
    names: Sequence[str],
    patch_sizes: Sequence[int] = (1, 2, 4, 8),
    dpi: int = 80,
) -> Explorer:
    """Pick an image and a patch size; see the grid, the sequence and its length.

    images ``(k, channels, H, W)``, one name each, any float dtype (drawn in float32; a NaN
    or inf pixel is left blank); every patch size must divide H and W.
    Grey digits, or a colour photograph (3 channels, drawn in colour), e.g. a
    112-pixel copy with ``patch_sizes=(8, 14, 16, 28)`` and a low ``dpi`` to
    keep the static page light.

    >>> explorer = patching_explorer(torch.rand(2, 1, 8, 8), ["a", "b"], patch_sizes=(2, 4))
    >>> explorer.controls["patch_size"].value = 4  # the picture follows
    """
    images = drawable("images", images)  # float32, detached; NaN and inf pixels drawn blank
    if images.dim() != 4 or len(names) != images.shape[0] or images.shape[0] == 0:
        raise ValueError(
            f"images must be (k, channels, H, W), k >= 1, with one name each, got shape "
            f"{tuple(images.shape)} and {len(names)} names"
        )
    if len(patch_sizes) == 0:
        raise ValueError("patch_sizes must list at least one patch size, got none")
    for size in patch_sizes:
        patch_grid(images.shape[2], images.shape[3], size)  # refuse sizes that do not divide
    figure: Figure = new_figure(8, 3.4)
    grid_ax, sequence_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    most_lines = max(max(patch_grid(images.shape[2], images.shape[3], p)) for p in patch_sizes)
    grid = PatchGrid(grid_ax, images[0], max_lines=max(16, most_lines))
    sequence = draw_patch_sequence(sequence_ax, patch_sequence(images[0], patch_sizes[0])[0])
    controls: dict[str, ipywidgets.Widget] = {}
    if len(names) > 1:  # one image needs no image control
        controls["image_index"] = ipywidgets.Dropdown(
            options=[(name, i) for i, name in enumerate(names)], description="image"
        )
    controls["patch_size"] = ipywidgets.ToggleButtons(
        options=[(f"p = {size}", size) for size in patch_sizes], description="patch size"
    )
    channels = images.shape[1]

    def update(patch_size: int, image_index: int = 0) -> list[Artist]:
        patches, (grid_h, grid_w) = patch_sequence(images[image_index], patch_size)
        grid.set_image(images[image_index])
        grid.show(patch_size, numbers=grid_h * grid_w <= 16)
        sequence.set_data(patches.numpy())
        n_patches, length = patches.shape
        sequence.set_extent((-0.5, length - 0.5, n_patches - 0.5, -0.5))
        # y=1.0 places each title just above its axes, where matplotlib would put it anyway
        # (no ticks on top), and spares it measuring every tick label to find that place.
        grid_ax.set_title(f"{grid_h} x {grid_w} grid of {patch_size}x{patch_size} patches", y=1.0)
        values = f"{channels}·{patch_size}·{patch_size} = {length}"
        patches_word = "patch" if n_patches == 1 else "patches"
        sequence_ax.set_title(f"sequence: {n_patches} {patches_word} x ({values}) values", y=1.0)
        # The sequence's extent sets its axes' limits and ticks: that axes is drawn whole.
        return [*grid.artists(), grid_ax.title, sequence_ax]

    caption = (
        "Left: the image cut into p x p patches, numbered in reading order. Right: the "
        "sequence the Transformer reads, one flattened patch per row. Smaller patches give a "
        "longer sequence of shorter vectors; the number of values stays H·W·C."
    )
    return Explorer(figure, controls, update, caption=caption, dpi=dpi)
