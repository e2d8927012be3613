"""Chapter "Autoregressive decoding": step through a decode, with a temperature control.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import torch
from matplotlib.artist import Artist

from lessons_lib._validate import require_int
from lessons_lib.decoding import Trace, generate, greedy_choice, sampling_choice
from lessons_lib.plotting import bars, set_bar_heights
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import require_source

TEMPERATURES = (("greedy", None), ("T = 1", 1.0), ("T = 2", 2.0), ("T = 4", 4.0))


def decoding_trace(
    model: torch.nn.Module,
    source: torch.Tensor,
    bos: int,
    temperature: float | None,
    seed: int = 0,
) -> Trace:
    """The explorer's computation: decode one source, greedily or by seeded sampling.

    source ``(length,)``; ``temperature=None`` is greedy decoding, otherwise
    every token is drawn from softmax(logits / temperature) with a generator
    seeded by ``seed``. The trace's probabilities use the same temperature
    (greedy shows temperature 1).
    """
    if source.dim() != 1:
        raise ValueError(f"source must be one sequence (length,), got shape {tuple(source.shape)}")
    if temperature is None:
        return generate(model, source[None], bos, greedy_choice)
    choose = sampling_choice(temperature, generator=torch.Generator().manual_seed(seed))
    return generate(model, source[None], bos, choose, temperature=temperature)


def decoding_explorer(
    model: torch.nn.Module,
    source: torch.Tensor,
    bos: int,
    token_names: Sequence[str] | None = None,
    seed: int = 0,
) -> Explorer:
    """Step through the decoding of ``source``; see the tokens so far and the probability bars.

    source ``(length,)``; ``bos`` is the begin token's id. A model in bfloat16 or float16
    decodes in its own dtype; its probabilities are drawn in float32.

    >>> from lessons_lib.transformer import Transformer
    >>> _ = torch.manual_seed(0)
    >>> model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32).eval()
    >>> explorer = decoding_explorer(model, torch.tensor([3, 1, 4]), bos=10)
    >>> explorer.controls["step"].max  # one step per output token
    3
    """
    require_source(model, source)
    bos, seed = require_int("bos", bos), require_int("seed", seed)
    length = source.shape[0]
    vocab = model.vocab_size
    names = list(token_names) if token_names is not None else [str(i) for i in range(vocab)]
    if len(names) != vocab or not 0 <= bos < vocab:
        raise ValueError(
            f"need one token name per vocabulary entry ({vocab}) and bos in 0..{vocab - 1}, "
            f"got {len(names)} names and bos={bos!r}"
        )
    names[bos] = names[bos] if token_names is not None else "<bos>"
    traces = {value: decoding_trace(model, source, bos, value, seed) for _, value in TEMPERATURES}

    figure = new_figure(7.6, 2.4)
    text_ax, bar_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    text_ax.axis("off")
    lines = text_ax.text(0.0, 0.95, "", va="top", family="monospace", fontsize=9)
    probability_bars = bars(bar_ax, torch.zeros(vocab), names)
    bar_ax.set_ylabel("probability")
    controls = {
        "step": ipywidgets.IntSlider(value=1, min=1, max=length, description="step"),
        "temperature": ipywidgets.Dropdown(options=list(TEMPERATURES), description="decoding"),
    }
    source_text = " ".join(names[int(token)] for token in source)

    def update(step: int, temperature: float | None) -> list[Artist]:
        trace = traces[temperature]
        tokens = trace.tokens[0]  # (length,)
        chosen = int(tokens[step - 1])
        probabilities = trace.probabilities[0, step - 1].float()  # (vocab,)
        changed = set_bar_heights(probability_bars, probabilities)
        for index, bar in enumerate(probability_bars):
            bar.set_color("tab:orange" if index == chosen else "tab:blue")
        so_far = " ".join([names[bos]] + [names[int(t)] for t in tokens[: step - 1]])
        output = " ".join(names[int(t)] for t in tokens)
        lines.set_text(
            f"source:      {source_text}\n\n"
            f"decoder in:  {so_far}\n"
            f"chosen:      {names[chosen]}  (p = {float(probabilities[chosen]):.2f})\n\n"
            f"full output: {output}"
        )
        how = "argmax" if temperature is None else f"a draw at T = {temperature:g}"
        bar_ax.set_title(f"step {step}: next-token probabilities, chosen by {how}", fontsize=9)
        return [*changed, lines, bar_ax.title]

    caption = (
        "One decoding step at a time. Left: the source, the decoder's input so far (begin token "
        "plus every token already chosen) and the token chosen now. Right: the probabilities of "
        "the next token; the orange bar is the one chosen. Sampling draws with a fixed seed."
    )
    return Explorer(figure, controls, update, caption=caption)
