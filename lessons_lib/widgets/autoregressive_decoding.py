"""Chapter "Autoregressive decoding": step through a decode, with a temperature control,
and watch the prefixes a beam search keeps, step by step.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets
import torch
from matplotlib.artist import Artist

from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.data import DateBatch, DateTask
from lessons_lib.decoding import (
    Beams,
    Trace,
    beam_search,
    generate,
    greedy_choice,
    sampling_choice,
)
from lessons_lib.plotting import bars, font_family, set_bar_heights
from lessons_lib.transformer import Transformer
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.tensors import require_date_model, require_source

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


# --- beam search: the prefixes alive at each step --------------------------------------

MAX_BEAM_FRAMES = 160  # dates x steps, each a frame of the static page


def beam_hypotheses(beams: Beams, example: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The explorer's computation: the prefixes one example's beam holds after ``step`` steps.

    Returns ``(prefixes (beam_size, step), log_probabilities (beam_size,))``, most
    probable first, read from ``beams.history`` (step 1 is the first token).

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> beams = beam_search(model, torch.tensor([[3, 1, 4]]), bos=10, beam_size=2)
    >>> [part.shape for part in beam_hypotheses(beams, example=0, step=2)]
    [torch.Size([2, 2]), torch.Size([2])]
    """
    if not isinstance(beams, Beams):
        raise TypeError(f"beams must be the Beams that beam_search returns, got {type(beams)}")
    example, step = require_int("example", example), require_int("step", step)
    n, steps = beams.tokens.shape
    if not 0 <= example < n or not 1 <= step <= steps:
        raise ValueError(
            f"example must lie in 0..{n - 1} and step in 1..{steps}, got {example} and {step}"
        )
    prefixes, log_probabilities = beams.history[step - 1]  # (n, beam, step), (n, beam)
    return prefixes[example], log_probabilities[example]


def beam_explorer(
    model: Transformer, task: DateTask, batch: DateBatch, beam_size: int = 4
) -> Explorer:
    """Pick a date and a step: see the ``beam_size`` prefixes the beam search keeps there.

    Each bar is one prefix, its length the prefix's probability (the exponential
    of its summed log-probability); the orange bars lead to the sequence the
    search returns in the end. Above: the date, the target, and what greedy
    decoding and the beam search wrote.

    >>> _ = torch.manual_seed(0)
    >>> task = DateTask()
    >>> model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> batch = task.sample(2, torch.Generator().manual_seed(0))
    >>> explorer = beam_explorer(model.eval(), task, batch, beam_size=3)
    >>> list(explorer.controls), explorer.controls["step"].max  # 10 characters: YYYY-MM-DD
    (['example', 'step'], 10)
    """
    require_date_model(model, task, batch)
    beam_size = require_positive_int("beam_size", beam_size)
    n, steps = batch.targets.shape
    if not 1 <= n * steps <= MAX_BEAM_FRAMES:
        raise ValueError(
            f"{n} dates x {steps} steps make {n * steps} frames; the static page holds at "
            f"most {MAX_BEAM_FRAMES}: pass fewer dates"
        )
    mask = batch.source_mask
    found = beam_search(model, batch.sources, task.bos, beam_size, steps=steps, source_mask=mask)
    greedy = beam_search(model, batch.sources, task.bos, 1, steps=steps, source_mask=mask)
    sources = [task.decode(row) for row in batch.sources]
    targets = [task.decode(row) for row in batch.targets]

    figure = new_figure(6.4, 3.0)
    figure.set_layout_engine("none")  # fixed margins: every frame has the same layout
    text_ax, bar_ax = figure.subplots(
        2,
        1,
        gridspec_kw={
            "height_ratios": [1.0, 1.6],
            "hspace": 0.35,
            "left": 0.22,
            "right": 0.68,
            "top": 0.97,
            "bottom": 0.14,
        },
    )
    text_ax.axis("off")
    # the date's own text, which may hold 年, 月 and 日
    lines = text_ax.text(-0.3, 1.0, "", va="top", fontfamily=font_family("monospace"), fontsize=8.5)
    rows = range(beam_size)
    beam_bars = bar_ax.barh(rows, [0.0] * beam_size, color="tab:blue")
    bar_ax.set_xlim(0.0, 1.0)
    bar_ax.set_ylim(beam_size - 0.5, -0.5)  # the most probable prefix on top
    bar_ax.set_yticks([])
    bar_ax.set_xlabel("probability of the prefix", fontsize=8)
    bar_ax.tick_params(labelsize=8)
    labels = [
        bar_ax.text(
            -0.03,
            row,
            "",
            ha="right",
            va="center",
            fontfamily=font_family("monospace"),  # an untrained model may write 年, 月, 日
            fontsize=9,
            transform=bar_ax.get_yaxis_transform(),
        )
        for row in rows
    ]
    notes = [
        bar_ax.text(
            1.02,
            row,
            "",
            ha="left",
            va="center",
            fontsize=8,
            transform=bar_ax.get_yaxis_transform(),
        )
        for row in rows
    ]
    controls = {
        "example": ipywidgets.Dropdown(
            options=[(text, index) for index, text in enumerate(sources)], description="date"
        ),
        "step": ipywidgets.IntSlider(value=1, min=1, max=steps, description="step"),
    }

    def update(example: int, step: int) -> list[Artist]:
        prefixes, log_probabilities = beam_hypotheses(found, example, step)
        log_probabilities = log_probabilities.float()  # drawn in float32, whatever the model's
        final = task.decode(found.tokens[example])
        for row, bar in enumerate(beam_bars):
            log_p = float(log_probabilities[row])
            prefix = task.decode(prefixes[row])
            bar.set_width(float(torch.exp(log_probabilities[row])))
            bar.set_color("tab:orange" if final.startswith(prefix) else "tab:blue")
            labels[row].set_text(prefix.ljust(steps))
            right = ", right so far" if targets[example].startswith(prefix) else ""
            notes[row].set_text(f"log p = {log_p:+.2f}{right}")
        lines.set_text(
            f"date:         {sources[example]}\n"
            f"target:       {targets[example]}\n"
            f"greedy:       {task.decode(greedy.tokens[example])}  "
            f"(log p = {float(greedy.log_probability[example]):+.2f})\n"
            f"{f'beam of {beam_size}:':<14}{final}  "
            f"(log p = {float(found.log_probability[example]):+.2f})"
        )
        bar_ax.set_title(f"after step {step}: the {beam_size} prefixes kept", fontsize=9)
        return [*beam_bars, *labels, *notes, lines, bar_ax.title]

    caption = (
        "Beam search on the trained date model, one step at a time. Each bar is a prefix the "
        "beam keeps after that step, most probable first; its length is the prefix's "
        "probability, the product of its characters' probabilities. Orange bars lead to the "
        "sequence the search returns at the end."
    )
    return Explorer(figure, controls, update, caption=caption, dpi=72)
