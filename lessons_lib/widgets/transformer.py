"""Chapter "Putting it together": every attention map of the trained model, head by head.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import torch
from matplotlib.artist import Artist

from lessons_lib.data import shift_right
from lessons_lib.decoding import greedy_decode
from lessons_lib.plotting import heatmap
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure

KINDS = ("encoder self-attention", "decoder self-attention (masked)", "decoder cross-attention")


@torch.no_grad()
def attention_maps(
    model: torch.nn.Module, source: torch.Tensor, bos: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The explorer's computation: the last layers' attention weights for one source.

    Decodes ``source`` ``(length,)`` greedily, runs the model once on the
    result, and returns ``({kind: weights (heads, L_q, L_k)}, output tokens)``.

    >>> maps, output = attention_maps(model, torch.tensor([3, 1, 4]), bos=10)  # doctest: +SKIP
    >>> maps["decoder cross-attention"].shape  # (heads, L_tgt, L_src)  # doctest: +SKIP
    torch.Size([2, 3, 3])
    """
    if source.dim() != 1:
        raise ValueError(f"source must be one sequence (length,), got shape {tuple(source.shape)}")
    output = greedy_decode(model, source[None], bos)  # (1, length)
    memory, encoder_weights = model.encode(source[None], need_weights=True)
    _, decoder_weights = model.decode(shift_right(output, bos), memory, need_weights=True)
    maps = {
        KINDS[0]: encoder_weights[-1][0],  # (heads, L_src, L_src)
        KINDS[1]: decoder_weights[-1]["self"][0],  # (heads, L_tgt, L_tgt)
        KINDS[2]: decoder_weights[-1]["cross"][0],  # (heads, L_tgt, L_src)
    }
    return maps, output[0]


def transformer_attention_explorer(
    model: torch.nn.Module, source: torch.Tensor, bos: int, token_names: Sequence[str]
) -> Explorer:
    """Pick an attention (encoder, masked decoder, cross) and a head; see its weights.

    >>> transformer_attention_explorer(model, source, task.bos, names)  # doctest: +SKIP
    """
    maps, output = attention_maps(model, source, bos)
    if len(token_names) != model.vocab_size:
        raise ValueError(
            f"need one token name per vocabulary entry ({model.vocab_size}), got {len(token_names)}"
        )
    num_heads = maps[KINDS[0]].shape[0]
    source_labels = [f"{i}:{token_names[int(t)]}" for i, t in enumerate(source)]
    decoder_inputs = [bos, *output[:-1].tolist()]
    decoder_labels = [f"{i}:{token_names[int(t)]}" for i, t in enumerate(decoder_inputs)]
    labels = {
        KINDS[0]: (source_labels, source_labels),
        KINDS[1]: (decoder_labels, decoder_labels),
        KINDS[2]: (decoder_labels, source_labels),
    }
    figure = new_figure(5.0, 3.6)
    figure.set_layout_engine("none")  # fixed margins: the tick labels change between frames
    ax = figure.subplots(gridspec_kw={"left": 0.2, "bottom": 0.25, "right": 0.98, "top": 0.92})
    image = heatmap(
        ax, maps[KINDS[0]][0], source_labels, source_labels, vmin=0.0, vmax=1.0, colorbar=True
    )
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    head_options = [("mean", None)] + [(f"head {h}", h) for h in range(num_heads)]
    controls = {
        "kind": ipywidgets.Dropdown(options=list(KINDS), description="attention"),
        "head": ipywidgets.ToggleButtons(options=head_options, description="head"),
    }

    labelled_kind = None  # the kind whose token labels the axes' ticks show now

    def update(kind: str, head: int | None) -> list[Artist]:
        nonlocal labelled_kind
        weights = maps[kind]  # (heads, L_q, L_k)
        image.set_data((weights.mean(0) if head is None else weights[head]).numpy())
        ax.set_title(
            f"{kind}, {'mean of the heads' if head is None else f'head {head}'}", fontsize=9
        )
        if kind == labelled_kind:
            return [image, ax.title]
        labelled_kind = kind
        rows, cols = labels[kind]
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=45)
        return [ax]  # new tick labels: the whole axes is drawn again

    caption = (
        "The trained model's attention weights, last layer, for one held-out source. Rows are "
        "queries, columns keys; each row sums to 1. Decoder rows are labelled by the decoder's "
        "input at that position (the begin token, then each chosen digit)."
    )
    return Explorer(figure, controls, update, caption=caption)
