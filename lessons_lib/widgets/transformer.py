"""Chapter "Putting it together": every attention map of the trained model, head by head."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import torch

from lessons_lib.data import shift_right
from lessons_lib.decoding import greedy_decode
from lessons_lib.plotting import heatmap
from lessons_lib.widgets.core import Explorer, new_figure

KINDS = ("encoder self-attention", "decoder self-attention (masked)", "decoder cross-attention")


@torch.no_grad()
def attention_maps(
    model: torch.nn.Module, source: torch.Tensor, bos: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The explorer's computation: the last layers' attention weights for one source.

    Decodes ``source`` ``(length,)`` greedily, runs the model once on the
    result, and returns ``({kind: weights (heads, L_q, L_k)}, output tokens)``.
    """
    if source.dim() != 1:
        raise ValueError(f"source must be one sequence (length,), got shape {tuple(source.shape)}")
    output = greedy_decode(model, source[None], bos)  # (1, length)
    model(source[None], shift_right(output, bos))
    encoder, decoder = model.encoder_layers[-1], model.decoder_layers[-1]
    maps = {
        KINDS[0]: encoder.attention_weights[0],  # (heads, L_src, L_src)
        KINDS[1]: decoder.self_attention_weights[0],  # (heads, L_tgt, L_tgt)
        KINDS[2]: decoder.cross_attention_weights[0],  # (heads, L_tgt, L_src)
    }
    return maps, output[0]


def attention_explorer(
    model: torch.nn.Module, source: torch.Tensor, bos: int, token_names: Sequence[str]
) -> Explorer:
    """Pick an attention (encoder, masked decoder, cross) and a head; see its weights."""
    maps, output = attention_maps(model, source, bos)
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

    def update(kind: str, head: int | None) -> None:
        weights = maps[kind]  # (heads, L_q, L_k)
        image.set_data((weights.mean(0) if head is None else weights[head]).numpy())
        rows, cols = labels[kind]
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=45)
        ax.set_title(
            f"{kind}, {'mean of the heads' if head is None else f'head {head}'}", fontsize=9
        )

    caption = (
        "The trained model's attention weights, last layer, for one held-out source. Rows are "
        "queries, columns keys; each row sums to 1. Decoder rows are labelled by the decoder's "
        "input at that position (the begin token, then each chosen digit)."
    )
    return Explorer(figure, controls, update, caption=caption)
