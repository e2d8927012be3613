"""Chapter "Queries, keys and values": one query's weights over the keys.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets
import torch
from matplotlib.artist import Artist

from lessons_lib._validate import require_float, require_int, require_rank
from lessons_lib.attention import attention_scores
from lessons_lib.plotting import bars, set_bar_heights
from lessons_lib.softmax import softmax
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import drawable, require_finite


def _check_head(inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor) -> None:
    """Raise unless inputs are ``(seq, d_model)`` and w_q, w_k one shape ``(d_model, d_k)``."""
    require_rank("inputs", require_float("inputs", inputs), 2, "(seq, d_model)")
    for name, weight in (("w_q", w_q), ("w_k", w_k)):
        require_rank(name, require_float(name, weight), 2, "(d_model, d_k)")
    if w_q.shape != w_k.shape:
        raise ValueError(
            f"w_q and w_k must have one shape (d_model, d_k), got w_q {tuple(w_q.shape)} "
            f"and w_k {tuple(w_k.shape)}"
        )
    if w_q.shape[0] != inputs.shape[1]:
        raise ValueError(
            f"inputs have d_model={inputs.shape[1]} but w_q and w_k have {w_q.shape[0]} rows"
        )


def query_weights(
    inputs: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    query_index: int,
    scaled: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and weights of one query over all keys: the explorer's computation.

    inputs ``(seq, d_model)``, weights ``(d_model, d_k)`` -> scores ``(seq,)``,
    weights ``(seq,)``, with weights = softmax(scores).
    """
    _check_head(inputs, w_q, w_k)
    query_index = require_int("query_index", query_index)
    if not 0 <= query_index < inputs.shape[0]:
        raise ValueError(f"query_index must lie in 0..{inputs.shape[0] - 1}, got {query_index}")
    queries = inputs @ w_q  # (seq, d_k)
    keys = inputs @ w_k  # (seq, d_k)
    scores = attention_scores(queries[query_index : query_index + 1], keys, scaled=scaled)[
        0
    ]  # (seq,)
    return scores, softmax(scores)


def qkv_explorer(
    tokens: Sequence[str], inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor
) -> Explorer:
    """Pick a query token and toggle the 1/sqrt(d_k) scaling; see its scores and weights.

    tokens: ``seq`` names; inputs ``(seq, d_model)``; w_q, w_k ``(d_model, d_k)``.

    >>> explorer = qkv_explorer(["the", "cat"], torch.randn(2, 4), torch.eye(4), torch.eye(4))
    >>> explorer.controls["query_index"].value = 1  # the picture follows
    """
    # Drawn in float32, detached; NaN or inf would make every score of its row NaN.
    inputs = require_finite("inputs", drawable("inputs", inputs))
    w_q = require_finite("w_q", drawable("w_q", w_q))
    w_k = require_finite("w_k", drawable("w_k", w_k))
    _check_head(inputs, w_q, w_k)
    if not len(tokens) == inputs.shape[0] >= 1:
        raise ValueError(
            f"need one token name per input row (at least one), got {len(tokens)} names, "
            f"inputs {tuple(inputs.shape)}"
        )
    d_k = w_q.shape[1]
    figure = new_figure(8, 2.8)
    score_ax, weight_ax = figure.subplots(1, 2)
    labels = [f"{i}:{token}" for i, token in enumerate(tokens)]
    score_bars = bars(score_ax, torch.zeros(len(tokens)), labels, ylim=None, color="tab:gray")
    weight_bars = bars(weight_ax, torch.zeros(len(tokens)), labels)
    weight_ax.set_ylabel("weight")
    score_ax.set_ylabel("score")
    score_ax.axhline(0, color="black", linewidth=0.5)
    controls = {
        "query_index": ipywidgets.Dropdown(
            options=[(label, i) for i, label in enumerate(labels)], description="query"
        ),
        "scaled": ipywidgets.Checkbox(value=True, description=f"divide by √d_k = √{d_k}"),
    }
    # Every (query, scaling) setting computed once, so an update only redraws.
    table = {
        (index, scaled): query_weights(inputs, w_q, w_k, index, scaled)
        for index in range(len(tokens))
        for scaled in (False, True)
    }
    # One fixed score axis for every setting: the scaling's effect shows as the bars' size.
    bound = 1.1 * max(float(scores.abs().max()) for scores, _ in table.values())
    if not math.isfinite(bound):
        raise ValueError(
            "inputs, w_q and w_k give scores beyond float32's range, which cannot be drawn; "
            f"scale them down (largest |input| {float(inputs.abs().max()):.3g})"
        )
    score_ax.set_ylim(-max(bound, 1e-6), max(bound, 1e-6))  # all-zero scores: a tiny range

    def update(query_index: int, scaled: bool) -> list[Artist]:
        scores, weights = table[query_index, scaled]
        changed = [*set_bar_heights(score_bars, scores), *set_bar_heights(weight_bars, weights)]
        for i, (score_bar, weight_bar) in enumerate(zip(score_bars, weight_bars)):
            colour = "tab:orange" if i == query_index else "tab:blue"
            weight_bar.set_color(colour)
            score_bar.set_color("tab:orange" if i == query_index else "tab:gray")
        how = "q·k / √d_k" if scaled else "q·k (unscaled)"
        score_ax.set_title(f"scores of query '{tokens[query_index]}': {how}", fontsize=10)
        weight_ax.set_title(
            f"weights = softmax(scores); largest {float(weights.max()):.2f}", fontsize=10
        )
        return [*changed, score_ax.title, weight_ax.title]

    caption = (
        f"One query's scores (left) and softmax weights (right) over every key, with d_k = {d_k}. "
        "Without the 1/√d_k scaling the scores spread much wider "
        "and the weights collapse onto one key."
    )
    return Explorer(figure, controls, update, caption=caption)
