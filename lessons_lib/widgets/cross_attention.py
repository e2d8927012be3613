"""Chapter "Cross-attention and multiple heads": which source tokens a decoder position reads.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import torch
from matplotlib.artist import Artist
from matplotlib.patches import Rectangle

from lessons_lib._validate import require_float, require_int, require_rank
from lessons_lib.plotting import bars, heatmap, set_bar_heights
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import drawable, require_finite

ALL_HEADS = -1  # the head control's value for "mean over the heads"


def source_reads(
    weights: torch.Tensor, position: int, head: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoder position's cross-attention over the source tokens.

    weights ``(heads, L_q, L_k)`` -> the head's matrix ``(L_q, L_k)`` and the
    row of ``position``, ``(L_k,)``. ``head = -1`` (:data:`ALL_HEADS`) takes
    the mean over the heads.
    """
    require_rank("weights", require_float("weights", weights), 3, "(heads, L_q, L_k)")
    head, position = require_int("head", head), require_int("position", position)
    heads, l_q, _ = weights.shape
    if not -1 <= head < heads:
        raise ValueError(f"head must lie in 0..{heads - 1}, or -1 for the mean, got {head}")
    if not 0 <= position < l_q:
        raise ValueError(f"position must lie in 0..{l_q - 1}, got {position}")
    matrix = weights.mean(0) if head == ALL_HEADS else weights[head]  # (L_q, L_k)
    return matrix, matrix[position]


def cross_attention_explorer(
    weights: torch.Tensor, source_tokens: Sequence[str], output_tokens: Sequence[str]
) -> Explorer:
    """Pick a decoder position and a head; see which source tokens that position reads.

    weights ``(heads, L_q, L_k)``: one decoder layer's cross-attention for one example,
    finite (any float dtype; drawn in float32).

    >>> weights = torch.softmax(torch.randn(2, 3, 4), dim=-1)
    >>> explorer = cross_attention_explorer(weights, list("1234"), list("432"))
    """
    weights = require_finite("weights", drawable("weights", weights))  # float32, detached
    require_rank("weights", weights, 3, "(heads, L_q, L_k)")
    heads, l_q, l_k = weights.shape
    if 0 in weights.shape:
        raise ValueError(f"weights need a head, a query and a key, got shape {(heads, l_q, l_k)}")
    if len(source_tokens) != l_k or len(output_tokens) != l_q:
        raise ValueError(
            f"weights {tuple(weights.shape)} need {l_k} source tokens and {l_q} output tokens, "
            f"got {len(source_tokens)} and {len(output_tokens)}"
        )
    sources = [f"{j}:{token}" for j, token in enumerate(source_tokens)]
    outputs = [f"{t}:{token}" for t, token in enumerate(output_tokens)]
    figure = new_figure(7.5, 2.8)
    matrix_ax, row_ax = figure.subplots(1, 2)
    image = heatmap(matrix_ax, torch.zeros(l_q, l_k), outputs, sources, vmin=0, vmax=1)
    matrix_ax.set_xlabel("source position (keys, values: encoder)")
    matrix_ax.set_ylabel("output position (queries: decoder)")
    highlight = Rectangle((-0.5, -0.5), l_k, 1, fill=False, lw=2, ec="tab:orange")
    matrix_ax.add_patch(highlight)
    row_bars = bars(row_ax, torch.zeros(l_k), sources)
    row_ax.set_xlabel("source token")
    controls = {
        "position": ipywidgets.IntSlider(value=0, min=0, max=l_q - 1, description="output pos."),
        "head": ipywidgets.Dropdown(
            options=[(f"head {h}", h) for h in range(heads)] + [("mean of heads", ALL_HEADS)],
            value=0,
            description="head",
        ),
    }

    def update(position: int, head: int) -> list[Artist]:
        matrix, row = source_reads(weights, position, head)
        image.set_data(matrix.numpy())
        highlight.set_y(position - 0.5)
        changed = [image, highlight, *set_bar_heights(row_bars, row)]
        most = int(row.argmax())
        for j, bar in enumerate(row_bars):
            bar.set_color("tab:orange" if j == most else "tab:blue")
        name = "mean of heads" if head == ALL_HEADS else f"head {head}"
        matrix_ax.set_title(f"cross-attention, {name}", fontsize=10)
        row_ax.set_title(
            f"output {outputs[position]} reads source {sources[most]} ({float(row[most]):.2f})",
            fontsize=10,
        )
        return [*changed, matrix_ax.title, row_ax.title]

    caption = (
        "Left: the trained model's cross-attention weights (rows: output positions, columns: "
        "source positions). Right: the chosen output position's row. To reverse the sequence, "
        "output t reads source L − 1 − t: the anti-diagonal."
    )
    return Explorer(figure, controls, update, caption=caption, dpi=72)
