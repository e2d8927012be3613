"""Chapter "Putting it together": every attention map of the trained model, head by head,
and where the date model reads each character it writes.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import torch
from matplotlib.artist import Artist
from matplotlib.patches import Rectangle

from lessons_lib._validate import require_float, require_int, require_rank
from lessons_lib.data import DateBatch, DateTask, shift_right
from lessons_lib.decoding import greedy_decode
from lessons_lib.experiments.transformer import date_cross_attention
from lessons_lib.plotting import bars, font_family, heatmap, set_bar_heights
from lessons_lib.transformer import Transformer
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import require_date_model, require_source

KINDS = ("encoder self-attention", "decoder self-attention (masked)", "decoder cross-attention")


@torch.no_grad()
def attention_maps(
    model: torch.nn.Module, source: torch.Tensor, bos: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The explorer's computation: the last layers' attention weights for one source.

    Decodes ``source`` ``(length,)`` greedily, runs the model once on the
    result, and returns ``({kind: weights (heads, L_q, L_k)}, output tokens)``.

    >>> _ = torch.manual_seed(0)
    >>> model = Transformer(11, d_model=16, num_heads=2, num_layers=2, d_ff=32).eval()
    >>> maps, output = attention_maps(model, torch.tensor([3, 1, 4]), bos=10)
    >>> maps["decoder cross-attention"].shape  # (heads, L_tgt, L_src)
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

    >>> _ = torch.manual_seed(0)
    >>> model = Transformer(11, d_model=16, num_heads=2, num_layers=2, d_ff=32).eval()
    >>> names = [str(token) for token in range(10)] + ["<bos>"]
    >>> explorer = transformer_attention_explorer(model, torch.tensor([3, 1, 4]), 10, names)
    >>> list(explorer.controls)
    ['kind', 'head']
    """
    require_source(model, source)
    bos = require_int("bos", bos)
    if not 0 <= bos < model.vocab_size:
        raise ValueError(f"bos must be a token id in 0..{model.vocab_size - 1}, got {bos}")
    if len(token_names) != model.vocab_size:
        raise ValueError(
            f"need one token name per vocabulary entry ({model.vocab_size}), got {len(token_names)}"
        )
    maps, output = attention_maps(model, source, bos)
    # A bfloat16 or float16 model computes in its dtype; its attention is drawn in float32.
    maps = {kind: weights.float() for kind, weights in maps.items()}
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
        ax.set_yticks(range(len(rows)), rows, fontsize=8, fontfamily=font_family())
        ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=45, fontfamily=font_family())
        return [ax]  # new tick labels: the whole axes is drawn again

    caption = (
        "The trained model's attention weights, last layer, for one held-out source. Rows are "
        "queries, columns keys; each row sums to 1. Decoder rows are labelled by the decoder's "
        "input at that position (the begin token, then each chosen digit)."
    )
    return Explorer(figure, controls, update, caption=caption)


# --- the date model: where each output character reads ----------------------------------

MAX_DATE_FRAMES = 160  # examples x output characters x layers, each a frame of the static page


def date_reading(
    cross: torch.Tensor, position: int, layer: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One example's cross-attention, mean of the heads, and one output character's row.

    cross ``(layers, heads, L_tgt, L_src)`` -> the layer's matrix ``(L_tgt, L_src)``
    (the mean of its heads) and the row of output character ``position``, ``(L_src,)``.

    >>> cross = torch.softmax(torch.randn(1, 2, 10, 12), dim=-1)
    >>> matrix, row = date_reading(cross, position=3, layer=0)  # (10, 12), (12,)
    """
    require_rank("cross", require_float("cross", cross), 4, "(layers, heads, L_tgt, L_src)")
    position, layer = require_int("position", position), require_int("layer", layer)
    layers, _, l_tgt, _ = cross.shape
    if not 0 <= layer < layers:
        raise ValueError(f"layer must lie in 0..{layers - 1}, got {layer}")
    if not 0 <= position < l_tgt:
        raise ValueError(f"position must lie in 0..{l_tgt - 1}, got {position}")
    matrix = cross[layer].mean(0)  # (L_tgt, L_src)
    return matrix, matrix[position]


def date_attention_explorer(model: Transformer, task: DateTask, batch: DateBatch) -> Explorer:
    """Pick a date and an output character: see which source characters that character reads.

    ``batch``: a few dates (:meth:`DateTask.make_batch`); the model writes each
    as ``YYYY-MM-DD`` greedily, and the picture shows the cross-attention of
    that decode, the mean of the heads, with a layer control when the model
    has more than one decoder layer.

    >>> _ = torch.manual_seed(0)
    >>> task = DateTask()
    >>> model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=2, d_ff=32)
    >>> batch = task.sample(2, torch.Generator().manual_seed(0))
    >>> explorer = date_attention_explorer(model.eval(), task, batch)
    >>> list(explorer.controls)  # two decoder layers: a layer control too
    ['example', 'position', 'layer']
    >>> explorer.controls["position"].max  # the last of the 10 characters of YYYY-MM-DD
    9
    """
    require_date_model(model, task, batch)
    n, steps = batch.targets.shape
    layers = len(model.decoder_layers)
    if not 1 <= n * steps * layers <= MAX_DATE_FRAMES:
        raise ValueError(
            f"{n} dates x {steps} characters x {layers} layers make {n * steps * layers} "
            f"frames; the static page holds at most {MAX_DATE_FRAMES}: pass fewer dates"
        )
    attention = date_cross_attention(model, batch, task.bos)
    cross = attention.cross.float()  # drawn in float32, whatever the model's dtype
    names = task.token_names
    width = batch.sources.shape[1]
    sources = [
        [names[int(t)] for t in row[:length]] for row, length in zip(batch.sources, batch.lengths)
    ]
    outputs = [task.decode(row) for row in attention.outputs]
    figure = new_figure(6.0, 3.1)
    figure.set_layout_engine("none")  # fixed margins: the tick labels change between dates
    matrix_ax, row_ax = figure.subplots(
        2,
        1,
        sharex=True,  # the same source characters: labelled once, under the bars
        gridspec_kw={
            "height_ratios": [2.4, 1.2],
            "hspace": 0.3,
            "left": 0.1,
            "right": 0.98,
            "top": 0.92,
            "bottom": 0.1,
        },
    )
    image = heatmap(matrix_ax, torch.zeros(steps, width), vmin=0.0, vmax=1.0)
    image.set_interpolation("nearest")  # crisp cells: smaller frames
    matrix_ax.set_ylabel("output character")
    highlight = Rectangle((-0.5, -0.5), width, 1, fill=False, lw=2, ec="tab:orange")
    matrix_ax.add_patch(highlight)
    row_bars = bars(row_ax, torch.zeros(width), [""] * width)
    row_ax.set_ylabel("weight")
    controls = {
        "example": ipywidgets.Dropdown(
            options=[(task.decode(row), index) for index, row in enumerate(batch.sources)],
            description="date",
        ),
        "position": ipywidgets.IntSlider(value=0, min=0, max=steps - 1, description="output char"),
    }
    if layers > 1:
        controls["layer"] = ipywidgets.ToggleButtons(
            options=[(f"layer {k}", k) for k in range(layers)], description="layer"
        )
    labelled = None  # the example whose characters the axes' ticks show now

    def update(example: int, position: int, layer: int = layers - 1) -> list[Artist]:
        nonlocal labelled
        matrix, row = date_reading(cross[example], position, layer)
        image.set_data(matrix.numpy())
        highlight.set_y(position - 0.5)
        changed = [image, highlight, *set_bar_heights(row_bars, row)]
        most = int(row.argmax())
        for j, bar in enumerate(row_bars):
            bar.set_color("tab:orange" if j == most else "tab:blue")
        written = outputs[example]
        char = written[position] if position < len(written) else "?"
        matrix_ax.set_title(f"cross-attention, layer {layer}, mean of the heads", fontsize=9)
        row_ax.set_title(
            f"output {position} ({char!r}) reads source {most} ({sources[example][most]!r}) "
            f"with weight {float(row[most]):.2f}",
            fontsize=9,
            fontfamily=font_family(),  # the source may hold 年, 月 or 日
        )
        if example == labelled:
            return [*changed, matrix_ax.title, row_ax.title]
        labelled = example
        labels = sources[example] + [""] * (width - len(sources[example]))
        row_ax.set_xticks(range(width), labels, fontsize=8, rotation=0, fontfamily=font_family())
        matrix_ax.tick_params(axis="x", labelbottom=False)
        matrix_ax.set_yticks(range(steps), list(written.ljust(steps)), fontsize=8)
        return [matrix_ax, row_ax]  # new tick labels: both axes are drawn again

    caption = (
        "The trained date model's cross-attention while it writes one date as YYYY-MM-DD: "
        "rows are the output characters, columns the source characters (padding gets weight "
        "0); below, the chosen output character's row, its largest weight in orange."
    )
    return Explorer(figure, controls, update, caption=caption, dpi=72)
