"""Chapter "Masking": the causal mask on a score matrix, one query row at a time.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import matplotlib
import torch
from matplotlib.artist import Artist
from matplotlib.patches import Rectangle

from lessons_lib._validate import require_float, require_positive_int, require_rank
from lessons_lib.masking import apply_mask, causal_mask
from lessons_lib.plotting import bars, heatmap, set_bar_heights
from lessons_lib.softmax import softmax
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import drawable, require_finite


def masking_frame(
    scores: torch.Tensor, length: int, causal: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``length`` tokens' scores, masked or not, and their weights.

    scores ``(max_len, max_len)`` -> masked scores ``(length, length)``
    (``-inf`` above the diagonal when ``causal``) and weights
    ``(length, length)`` = softmax over each row.
    """
    require_rank("scores", require_float("scores", scores), 2, "(max_len, max_len)")
    require_positive_int("length", length)
    if length > min(scores.shape):
        raise ValueError(f"length must be at most {min(scores.shape)}, got {length}")
    shown = scores[:length, :length]  # (length, length)
    if causal:
        shown = apply_mask(shown, causal_mask(length))
    return shown, softmax(shown, dim=-1)


def _padded(matrix: torch.Tensor, size: int, below: float = -1.0) -> torch.Tensor:
    """``matrix`` in the top-left of a ``(size, size)`` grid of NaN, which is drawn blank.

    -inf becomes ``below``, a value under the colour scale, drawn in the "under" colour (a
    value just under the scale, not a huge one: matplotlib resamples over the data's range).
    """
    grid = torch.full((size, size), float("nan"))
    grid[: matrix.shape[0], : matrix.shape[1]] = matrix.nan_to_num(neginf=below)
    return grid


def masking_explorer(
    scores: torch.Tensor, tokens: Sequence[str], lengths: Sequence[int] = (4, 6)
) -> Explorer:
    """Choose the sequence length, the causal mask on or off, and a query row to read.

    scores ``(max_len, max_len)`` with max_len = max(lengths); one token name per row.
    A score may be -inf (masked already: drawn black, weight 0), never NaN or +inf.

    >>> explorer = masking_explorer(torch.randn(6, 6), list("abcdef"))
    >>> explorer.controls["causal"].value = False  # the picture follows
    """
    # Drawn in float32, detached; -inf is a score already masked, NaN and +inf mean nothing.
    scores = require_finite("scores", drawable("scores", scores), allow_neginf=True)
    require_rank("scores", scores, 2, "(max_len, max_len)")
    if len(lengths) == 0:
        raise ValueError("lengths must list at least one sequence length, got none")
    lengths = [require_positive_int("every length", length) for length in lengths]
    max_len = max(lengths)
    if len(tokens) < max_len or min(scores.shape) < max_len:
        raise ValueError(
            f"need at least {max_len} tokens and a {max_len}x{max_len} score matrix, "
            f"got {len(tokens)} tokens and scores of shape {tuple(scores.shape)}"
        )
    labels = [f"{i}:{token}" for i, token in enumerate(tokens[:max_len])]
    figure = new_figure(9.5, 2.9)
    score_ax, weight_ax, row_ax = figure.subplots(1, 3)
    blank = torch.full((max_len, max_len), float("nan"))
    drawn = scores[:max_len, :max_len]  # (max_len, max_len)
    finite = drawn[drawn.isfinite()]  # the colour scale spans the finite scores only
    limit = max(float(finite.abs().max()), 1e-6) if finite.numel() else 1.0
    cmap = matplotlib.colormaps["coolwarm"].with_extremes(bad="white", under="0.15")
    score_image = heatmap(score_ax, blank, labels, labels, cmap=cmap, vmin=-limit, vmax=limit)
    weight_cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white")
    weight_image = heatmap(weight_ax, blank, labels, labels, cmap=weight_cmap, vmin=0, vmax=1)
    weight_ax.set_title("weights = softmax(row)", fontsize=10)
    weight_ax.set_yticklabels([])  # the same rows as the scores beside it
    frames = [Rectangle((-0.5, -0.5), max_len, 1, fill=False, lw=2, ec="tab:orange")]
    frames.append(Rectangle((-0.5, -0.5), max_len, 1, fill=False, lw=2, ec="tab:orange"))
    score_ax.add_patch(frames[0])
    weight_ax.add_patch(frames[1])
    row_bars = bars(row_ax, torch.zeros(max_len), labels)
    row_ax.tick_params(axis="x", labelrotation=45)
    controls = {
        "length": ipywidgets.SelectionSlider(
            options=[(str(n), n) for n in lengths], value=max_len, description="length"
        ),
        "causal": ipywidgets.Checkbox(value=True, description="causal mask"),
        "row": ipywidgets.IntSlider(value=2, min=0, max=max_len - 1, description="query row"),
    }

    def update(length: int, causal: bool, row: int) -> list[Artist]:
        row = min(row, length - 1)  # a shorter sequence has fewer rows
        shown, weights = masking_frame(scores, length, causal)
        score_image.set_data(_padded(shown, max_len, below=-2 * limit).numpy())
        weight_image.set_data(_padded(weights, max_len).numpy())
        for frame in frames:
            frame.set_y(row - 0.5)
            frame.set_width(length)
        heights = torch.zeros(max_len)
        heights[:length] = weights[row]
        changed = set_bar_heights(row_bars, heights)
        for i, bar in enumerate(row_bars):
            bar.set_color("tab:blue" if i <= row or not causal else "tab:red")
        score_ax.set_title(
            "scores, masked = −∞ (black)" if causal else "scores, no mask", fontsize=10
        )
        future = float(weights[row, row + 1 :].sum())
        # two lines, so that the longest token label still fits above the panel
        row_ax.set_title(f"query {labels[row]}\nweight on the future: {future:.2f}", fontsize=10)
        return [score_image, weight_image, *frames, *changed, score_ax.title, row_ax.title]

    caption = (
        "Scores (left, future scores set to −∞ and drawn black), their softmax weights (middle), "
        "and the chosen query's row (right). With the causal mask, every future token gets "
        "weight exactly 0, so its bar has no height; without the mask it gets a blue bar."
    )
    return Explorer(figure, controls, update, caption=caption)
