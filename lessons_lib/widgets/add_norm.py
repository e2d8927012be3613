"""Chapter "Add & norm": the gradient norm per layer of a deep stack, residuals on or off.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from functools import lru_cache

import ipywidgets
import numpy as np
from matplotlib.artist import Artist

from lessons_lib.experiments.add_norm import gradient_norms_per_layer
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure

DEPTHS = (4, 8, 16, 32)
Y_RANGE = (1e-24, 1e2)


def stack_gradients(
    num_layers: int, *, residual: bool, norm: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The explorer's computation: gradient norms per layer with and without residuals.

    Returns ``(chosen, other)``, each ``(num_layers,)``: the chosen setting and the
    same stack with residuals flipped, drawn as a grey reference.
    """
    return _gradients(num_layers, residual, norm), _gradients(num_layers, not residual, norm)


@lru_cache(maxsize=64)
def _gradients(num_layers: int, residual: bool, norm: bool) -> np.ndarray:
    return gradient_norms_per_layer(num_layers, residual=residual, norm=norm).numpy()


def add_norm_explorer() -> Explorer:
    """Pick the depth, residuals on or off and layer norm on or off; see the gradient per layer.

    >>> explorer = add_norm_explorer()
    >>> list(explorer.controls)
    ['depth', 'residual', 'norm']
    >>> explorer.controls["residual"].value = True  # the picture follows
    """
    figure = new_figure(6.4, 2.8)
    ax = figure.subplots()
    ax.set_yscale("log")
    ax.set_ylim(*Y_RANGE)
    # One layer axis for every depth: a deeper stack reaches further right, and moving the
    # depth only redraws the lines (the axes stay as they are).
    ax.set_xlim(0.5, max(DEPTHS) + 0.5)
    ax.set_xticks([1, *range(4, max(DEPTHS) + 1, 4)])
    ax.set_xlabel("layer (1 = bottom, next to the input)")
    ax.set_ylabel("gradient norm")
    ax.grid(True, which="major", alpha=0.3)
    (chosen_line,) = ax.plot([], [], "o-", color="tab:orange", markersize=4)
    (other_line,) = ax.plot([], [], "o--", color="tab:gray", markersize=3, alpha=0.7)
    legend = ax.legend([chosen_line, other_line], ["", ""], loc="lower right", fontsize=8)
    controls = {
        "depth": ipywidgets.SelectionSlider(options=list(DEPTHS), value=16, description="depth"),
        "residual": ipywidgets.Checkbox(value=False, description="residual connections"),
        "norm": ipywidgets.Checkbox(value=False, description="layer norm"),
    }

    def update(depth: int, residual: bool, norm: bool) -> list[Artist]:
        chosen, other = stack_gradients(depth, residual=residual, norm=norm)
        layers = np.arange(1, depth + 1)
        chosen_line.set_data(layers, np.clip(chosen, *Y_RANGE))
        other_line.set_data(layers, np.clip(other, *Y_RANGE))
        names = ("with residuals", "without residuals")
        texts = legend.get_texts()
        texts[0].set_text(names[0] if residual else names[1])
        texts[1].set_text(names[1] if residual else names[0])
        ratio = chosen[0] / chosen[-1]
        ax.set_title(
            f"{depth} blocks{' + layer norm' if norm else ''}: bottom / top gradient = {ratio:.1e}",
            fontsize=10,
        )
        return [chosen_line, other_line, legend, ax.title]

    caption = (
        "Gradient norm of each block's first weight matrix in a freshly initialised stack of "
        "feed-forward blocks (log scale). Orange: the chosen setting; grey: the same stack with "
        "residual connections flipped. Without residuals the gradient shrinks at every block on "
        "its way down."
    )
    return Explorer(figure, controls, update, caption=caption)
