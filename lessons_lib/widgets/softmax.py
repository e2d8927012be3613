"""Chapter "Softmax": edit logits and temperature; watch softmax saturate as d_k grows.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets
import numpy as np
import torch
from matplotlib.artist import Artist

from lessons_lib._validate import (
    require_float,
    require_int,
    require_number,
    require_positive_int,
    require_rank,
)
from lessons_lib.plotting import bars, set_bar_heights
from lessons_lib.softmax import entropy, softmax
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import drawable, require_finite

TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0)
D_KS = (1, 4, 16, 64, 256, 1024)
MAX_D_K = 4096  # 2000 samples x 4096 x 2 float32 values: 64 MB
MAX_KEYS = 64  # one bar each


def softmax_steps(logits: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The two steps of a stable softmax, for one row of logits ``(n,)``.

    Returns ``exps = exp((x - max x) / T)`` (the largest is exactly 1) and
    ``probabilities = exps / sum(exps)``, which equals ``softmax(x, temperature=T)``.
    """
    require_rank("logits", require_float("logits", logits), 1, "(n,)")
    probabilities = softmax(logits, temperature=temperature)
    exps = torch.exp((logits - logits.max()) / temperature)  # (n,), max entry 1
    return exps, probabilities


def _as_logits(logits: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """Logits as a float32 tensor ``(n,)``: a tensor (any float dtype, detached) or numbers."""
    if isinstance(logits, torch.Tensor):
        tensor = drawable("logits", logits)
    else:
        numbers = [require_number("every logit", value) for value in logits]
        tensor = torch.tensor(numbers, dtype=torch.float32)
    require_rank("logits", tensor, 1, "(n,)")
    return tensor


def softmax_explorer(
    logits: Sequence[float],
    labels: Sequence[str],
    edit_index: int = 0,
    edit_values: Sequence[int] = (-2, 2, 6, 10),
) -> Explorer:
    """Set one logit and the temperature; see exp((x - max)/T) and the probabilities.

    ``logits``: numbers, or a tensor ``(n,)`` of any float dtype; they must be finite.

    >>> explorer = softmax_explorer([2.0, 1.0, 0.5], ["the", "cat", "sat"], edit_index=1)
    >>> explorer.controls["temperature"].value = 4.0  # the picture follows
    """
    base = require_finite("logits", _as_logits(logits))  # (n,), float32
    edit_values = [require_number("every edit value", value) for value in edit_values]
    if not all(math.isfinite(value) for value in edit_values):
        raise ValueError(f"edit_values must be finite numbers, got {tuple(edit_values)}")
    if len(base) == 0 or len(edit_values) == 0:
        raise ValueError(
            f"need at least one logit and one value to set it to, got {len(base)} logits "
            f"and edit_values={tuple(edit_values)}"
        )
    edit_index = require_int("edit_index", edit_index)
    if len(labels) != len(base):
        raise ValueError(f"need one label per logit: got {len(labels)} labels, {len(base)} logits")
    if not 0 <= edit_index < len(base):
        raise ValueError(f"edit_index must lie in 0..{len(base) - 1}, got {edit_index}")
    figure = new_figure(8.5, 2.4)
    logit_ax, exp_ax, prob_ax = figure.subplots(1, 3)
    zeros = torch.zeros(len(base))
    low, high = min(min(edit_values), float(base.min())), max(max(edit_values), float(base.max()))
    logit_bars = bars(logit_ax, zeros, labels, ylim=(low - 1, high + 1), color="tab:gray")
    exp_bars = bars(exp_ax, zeros, labels, title="exp((x − max x) / T)")
    prob_bars = bars(prob_ax, zeros, labels)
    for bar_group in (logit_bars, exp_bars, prob_bars):
        bar_group[edit_index].set_color("tab:orange")
    logit_ax.axhline(0, color="black", linewidth=0.5)
    start = min(edit_values, key=lambda value: abs(value - float(base[edit_index])))
    controls = {
        "value": ipywidgets.SelectionSlider(
            options=[(str(value), value) for value in edit_values],
            value=start,
            description=f"logit '{labels[edit_index]}'",
        ),
        "temperature": ipywidgets.SelectionSlider(
            options=[(str(t), t) for t in TEMPERATURES], value=1.0, description="T"
        ),
    }

    def update(value: int, temperature: float) -> list[Artist]:
        edited = base.clone()
        edited[edit_index] = float(value)
        exps, probabilities = softmax_steps(edited, temperature)
        changed = set_bar_heights(logit_bars, edited) + set_bar_heights(exp_bars, exps)
        changed += set_bar_heights(prob_bars, probabilities)
        logit_ax.set_title(f"logits x (T = {temperature})", fontsize=10)
        prob_ax.set_title(f"normalised: entropy {float(entropy(probabilities)):.2f}", fontsize=10)
        return [*changed, logit_ax.title, prob_ax.title]

    caption = (
        "Softmax in two steps: the logits (left), each exponentiated after subtracting the "
        "largest (middle), then divided by their sum (right). Raise the orange logit or lower "
        "the temperature T and the probabilities concentrate on the largest logit."
    )
    return Explorer(figure, controls, update, caption=caption)


def _check_d_k(name: str, d_k: object) -> int:
    """``d_k`` as an int in 1..MAX_D_K (larger ones would fill the memory with samples)."""
    d_k = require_positive_int(name, d_k)
    if d_k > MAX_D_K:
        raise ValueError(f"{name} must lie in 1..{MAX_D_K}, got {d_k}")
    return d_k


def scaling_frame(
    d_k: int, scaled: bool, n_keys: int = 8, n_samples: int = 2000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random q·k scores at one ``d_k``, and one query's weights over ``n_keys`` keys.

    Queries and keys have independent N(0, 1) entries, so a raw score has
    variance d_k; ``scaled=True`` divides by sqrt(d_k). Returns ``samples``
    ``(n_samples,)`` (scores of many random pairs, for a histogram) and
    ``weights`` ``(n_keys,)`` = softmax of one query's scores. The same seed
    gives the same vectors with or without the scaling.
    """
    d_k = _check_d_k("d_k", d_k)
    n_keys = require_positive_int("n_keys", n_keys)
    n_samples = require_positive_int("n_samples", n_samples)
    if n_keys > n_samples:
        raise ValueError(
            f"n_keys must be at most n_samples ({n_samples}): the keys are drawn among the "
            f"samples, got n_keys={n_keys}"
        )
    seed = require_int("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    queries = torch.randn(n_samples, d_k, generator=generator)  # (n_samples, d_k)
    keys = torch.randn(n_samples, d_k, generator=generator)  # (n_samples, d_k)
    divisor = d_k**0.5 if scaled else 1.0
    samples = (queries * keys).sum(-1) / divisor  # (n_samples,): one score per pair
    row_scores = queries[0] @ keys[:n_keys].T / divisor  # (n_keys,): query 0 against n keys
    return samples, softmax(row_scores)


def scaling_explorer(d_ks: Sequence[int] = D_KS, n_keys: int = 8) -> Explorer:
    """Pick d_k and toggle 1/sqrt(d_k): the spread of the scores, and one row of weights.

    >>> scaling_explorer(d_ks=(4, 64)).controls["scaled"].value = True
    """
    d_ks = [_check_d_k("every d_k", d_k) for d_k in d_ks]
    if not d_ks:
        raise ValueError("d_ks must list at least one d_k, got none")
    n_keys = require_positive_int("n_keys", n_keys)
    if n_keys > MAX_KEYS:
        raise ValueError(f"n_keys must lie in 1..{MAX_KEYS} (one bar each), got {n_keys}")
    figure = new_figure(8.5, 2.4)
    hist_ax, weight_ax = figure.subplots(1, 2)
    edges = np.linspace(-60, 60, 61)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    histogram = hist_ax.bar(centres, np.zeros(len(centres)), width=width, color="tab:gray")
    hist_ax.set_xlabel("score")
    hist_ax.set_ylim(0, 0.5)
    hist_ax.set_ylabel("fraction of pairs")
    weight_bars = bars(weight_ax, torch.zeros(n_keys), [f"k{j}" for j in range(n_keys)])
    controls = {
        "d_k": ipywidgets.SelectionSlider(
            options=[(str(d), d) for d in d_ks], value=d_ks[len(d_ks) // 2], description="d_k"
        ),
        "scaled": ipywidgets.Checkbox(value=False, description="divide by √d_k"),
    }

    def update(d_k: int, scaled: bool) -> list[Artist]:
        samples, weights = scaling_frame(d_k, scaled, n_keys=n_keys)
        clipped = samples.clamp(edges[0], edges[-1] - 1e-6).numpy()
        counts, _ = np.histogram(clipped, bins=edges)
        changed = set_bar_heights(histogram, counts / len(clipped))
        changed += set_bar_heights(weight_bars, weights)
        how = "q·k / √d_k" if scaled else "q·k, unscaled"
        hist_ax.set_title(f"{how}: std {float(samples.std()):.1f}", fontsize=10)
        weight_ax.set_title(
            f"one query's weights: largest {float(weights.max()):.2f}, "
            f"entropy {float(entropy(weights)):.2f}",
            fontsize=10,
        )
        return [*changed, hist_ax.title, weight_ax.title]

    caption = (
        "Left: scores of 2000 random query-key pairs with N(0, 1) entries; right: one query's "
        f"softmax weights over {n_keys} keys. Unscaled, the scores spread like √d_k and the "
        "weights collapse onto one key; divided by √d_k they keep the same spread for every d_k."
    )
    return Explorer(figure, controls, update, caption=caption)
