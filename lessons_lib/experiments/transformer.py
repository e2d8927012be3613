"""Chapter 06's experiments: the shapes through a model, and where cross-attention reads.

:func:`trace_shapes` records the shape after every part of a model (chapter 11
uses it for the ViT too); :func:`date_cross_attention` and
:func:`field_attention_shares` measure where the date model's cross-attention
reads while it writes each field.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
from torch import nn

from lessons_lib._validate import require_float, require_rank
from lessons_lib.data import (
    DATE_FIELDS,
    DATE_FORMATS,
    ISO_FIELD_SPANS,
    DateBatch,
    format_date,
    shift_right,
)
from lessons_lib.decoding import greedy_decode
from lessons_lib.transformer import Transformer

# --- chapters 06 and 11: shapes through a model ------------------------------------------


def trace_shapes(
    run: Callable[[], object], parts: Mapping[str, nn.Module]
) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, output shape)`` of each of ``parts``, in the order ``run()`` calls them.

    Puts a forward hook on every module of ``parts`` (name -> module), calls
    ``run()`` without gradients, and removes the hooks. A module that returns
    a tuple (attention returns its weights too) is recorded by its first item.

    >>> layer = nn.Linear(4, 3)
    >>> trace_shapes(lambda: layer(torch.zeros(2, 4)), {"linear": layer})
    [('linear', (2, 3))]
    """
    shapes: list[tuple[str, tuple[int, ...]]] = []

    def recorder(name: str):
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            first = output[0] if isinstance(output, tuple) else output
            shapes.append((name, tuple(first.shape)))

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in parts.items()]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return shapes


# --- chapter 06: where the date model's cross-attention reads ---------------------------


class DateAttention(NamedTuple):
    """What a date model wrote, and where its cross-attention read while writing it.

    ``outputs (n, 10)``: the greedy decode; ``cross (n, layers, heads, 10, L_src)``:
    every decoder layer's cross-attention weights, one row per output character
    (the row that predicts it), exactly 0 on the sources' padding.
    """

    outputs: torch.Tensor
    cross: torch.Tensor


@torch.no_grad()
def date_cross_attention(model: Transformer, batch: DateBatch, bos: int) -> DateAttention:
    """Decode ``batch`` greedily, then rerun the decoder on its own outputs for the weights.

    >>> from lessons_lib.data import DateTask
    >>> task = DateTask()
    >>> model = Transformer(
    ...     task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=30
    ... )
    >>> batch = task.sample(3, torch.Generator().manual_seed(0))
    >>> date_cross_attention(model, batch, task.bos).cross.shape  # (n, layers, heads, 10, L_src)
    torch.Size([3, 1, 2, 10, 30])
    """
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    if not isinstance(batch, DateBatch):
        raise TypeError(f"batch must be a DateBatch (DateTask.sample), got {type(batch).__name__}")
    steps = batch.targets.shape[1]
    outputs = greedy_decode(model, batch.sources, bos, steps, source_mask=batch.source_mask)
    memory = model.encode(batch.sources, batch.source_mask)
    _, weights = model.decode(
        shift_right(outputs, bos), memory, batch.source_mask, need_weights=True
    )
    cross = torch.stack([layer["cross"] for layer in weights], dim=1)  # (n, layers, heads, 10, L)
    return DateAttention(outputs, cross)


class FieldShares(NamedTuple):
    """How much of each output field's cross-attention falls on the same field of the source.

    ``by_head (layers, heads, 3)`` and ``by_style (formats, layers, 3)`` (the
    mean of the heads), averaged over the examples, for the fields ``year,
    month, day``; ``uniform (3,)``: the share that a reader spreading its
    weight evenly over the source characters would give.
    """

    by_head: torch.Tensor
    by_style: torch.Tensor
    uniform: torch.Tensor


def field_attention_shares(attention: DateAttention, batch: DateBatch) -> FieldShares:
    """Share of each output field's attention mass that lands on the matching source field.

    For an output field f (its characters ``ISO_FIELD_SPANS[f]`` in ``YYYY-MM-DD``)
    and the source characters S_f that write the same field (the year's digits,
    the month's name or number, the day's digits, from :func:`format_date`):

        share_f = mean over output characters t of f of  sum_{j in S_f} w[t, j]

    averaged over the examples. A uniform reader gives ``|S_f| / length``.
    """
    cross = require_float("attention.cross", attention.cross)
    require_rank("attention.cross", cross, 5, "(n, layers, heads, L_tgt, L_src)")
    n, layers, heads = cross.shape[:3]
    if n != batch.sources.shape[0]:
        raise ValueError(f"attention holds {n} examples but batch holds {batch.sources.shape[0]}")
    shares = torch.zeros(n, layers, heads, len(DATE_FIELDS))
    uniform = torch.zeros(n, len(DATE_FIELDS))
    for index in range(n):
        _, spans = format_date(batch.date(index), DATE_FORMATS[int(batch.styles[index])])
        for f, name in enumerate(DATE_FIELDS):
            (out_start, out_end), (start, end) = ISO_FIELD_SPANS[name], spans[name]
            rows = cross[index, :, :, out_start:out_end, start:end]  # (layers, heads, |f|, |S_f|)
            shares[index, :, :, f] = rows.sum(-1).mean(-1)
            uniform[index, f] = (end - start) / int(batch.lengths[index])
    by_style = torch.stack(
        [shares[batch.styles == style].mean(dim=(0, 2)) for style in range(len(DATE_FORMATS))]
    )  # (formats, layers, 3); NaN for a format the batch lacks
    return FieldShares(shares.mean(0), by_style, uniform.mean(0))
