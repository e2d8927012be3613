"""The live models of the book's pages: the date model and the digit ViT as fixed-shape readers.

A reader is a torch module whose ``forward`` is exactly what a page runs for
one input, with every loop unrolled and every shape fixed, so that
``torch.onnx.export`` can write it out (``tools/export_live_models.py``) and
onnxruntime-web can run it in the static page; the kernel-side widgets call
the same modules, so kernel and page agree by construction.

    DateReader:  source (1, 30) ids -> answer (1, 10) ids, probability (1, 10),
                 cross (1, 10, 30)       greedy decoding, 10 steps, no cache
    DigitReader: image (1, 1, 8, 8)  -> probability (1, 10), rollout (1, 16)

:func:`read_date` and :func:`read_digit` wrap them for Python: a string or an
8x8 image in, a :class:`DateReading` or a :class:`DigitReading` out.

Layer: experiments (imports the models, the data and the ops below them).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from lessons_lib._validate import require_float, require_rank, require_tensor, validated
from lessons_lib.data import DateTask
from lessons_lib.softmax import softmax
from lessons_lib.transformer import Transformer
from lessons_lib.vit import ViT, attention_rollout

# The answer shows one character per decoding step. A model may choose the padding or the begin
# token (a trained one does not: its targets never hold them); this character, outside the
# vocabulary, stands for either, so that answer[t] is still the character of probability[t].
NOT_A_CHARACTER = "?"


class DateReader(nn.Module):
    """Greedy decoding of a date model for one padded source, unrolled over the answer's steps.

        mask        = source != pad                                   (batch, 1, L_src)
        memory      = model.encode(source, mask)
        prefix_0    = [bos]
        logits_t    = model.decode(prefix_t, memory, mask)[:, -1]     step t = 0 .. 9
        answer_t    = argmax(logits_t);  probability_t = softmax(logits_t)[answer_t]
        prefix_t+1  = prefix_t + [answer_t]
        cross       = mean over heads of the last decoder layer's cross-attention at the
                      last step (decoder input: bos and the first 9 answer characters)

    source ``(batch, task.max_source_length)`` token ids (the page runs batch 1)
    -> ``answer (batch, 10)`` token ids, ``probability (batch, 10)``, ``cross
    (batch, 10, L_src)``. Each step reruns the decoder over the whole prefix
    (``greedy_decode(..., use_cache=False)``), so the exporter sees plain
    tensors and no cache; row t of ``cross`` is the weight with which output
    character t read each source character (0 on the padding), as
    :func:`lessons_lib.experiments.transformer.date_cross_attention` computes
    it. The model is put in eval mode.

    >>> task = DateTask()
    >>> model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32,
    ...                     max_len=30)
    >>> answer, probability, cross = DateReader(model, task)(task.encode(["Nov 27, 2026"])[0])
    >>> answer.shape, probability.shape, cross.shape
    (torch.Size([1, 10]), torch.Size([1, 10]), torch.Size([1, 10, 30]))
    """

    def __init__(self, model: Transformer, task: DateTask) -> None:
        super().__init__()
        if not isinstance(model, Transformer):
            raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
        if not isinstance(task, DateTask):
            raise TypeError(f"task must be a DateTask, got {type(task).__name__}")
        if model.vocab_size != task.vocab_size:
            raise ValueError(
                f"the model has vocab_size={model.vocab_size} but the task has "
                f"{task.vocab_size} tokens; build the model with Transformer(task.vocab_size, ...)"
            )
        longest = max(task.max_source_length, task.target_length)
        if model.max_len < longest:
            raise ValueError(
                f"the model has max_len={model.max_len}, fewer positions than the task needs: "
                f"sources of {task.max_source_length}, answers of {task.target_length}"
            )
        self.model = model
        self.bos = task.bos
        self.pad = task.pad
        self.steps = task.target_length
        self.source_length = task.max_source_length
        self.eval()  # the reader and the model: no dropout, as the page runs it

    def _check_forward(self, source: torch.Tensor) -> None:
        source = require_tensor("source", source)
        if source.dtype != torch.long:
            raise TypeError(f"source must hold token ids (torch.long), got dtype {source.dtype}")
        require_rank("source", source, 2, f"(batch, {self.source_length})")
        if source.shape[0] == 0 or source.shape[1] != self.source_length:
            raise ValueError(
                f"source must be (batch, {self.source_length}): one padded date per row "
                f"(DateTask.encode), got shape {tuple(source.shape)}"
            )

    @validated(_check_forward)
    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = (source != self.pad)[:, None, :]  # (batch, 1, L_src): True on real characters
        memory = self.model.encode(source, mask)  # (batch, L_src, d_model)
        prefix = torch.full_like(source[:, :1], self.bos)  # (batch, 1): the decoder's input
        chosen, chances = [], []
        for _ in range(self.steps):  # a Python loop: the exporter unrolls it
            logits, weights = self.model.decode(prefix, memory, mask, need_weights=True)
            logits = logits[:, -1]  # (batch, vocab): the newest position scores the next one
            tokens = logits.argmax(dim=-1, keepdim=True)  # (batch, 1): greedy's choice
            chances.append(softmax(logits).gather(-1, tokens))  # (batch, 1)
            chosen.append(tokens)
            prefix = torch.cat([prefix, tokens], dim=1)  # the output becomes the input
        # The last step's decoder input was bos + the first 9 answer characters: its rows are
        # those of the whole answer (the causal mask keeps each row from seeing later ones).
        cross = weights[-1]["cross"].mean(dim=1)  # (batch, heads, 10, L_src) -> (batch, 10, L_src)
        return torch.cat(chosen, dim=1), torch.cat(chances, dim=1), cross


class DigitReader(nn.Module):
    """A ViT's class probabilities and the class token's attention rollout over the patches.

        logits, maps = model(image, need_weights=True)
        probability  = softmax(logits)                          (batch, num_classes)
        rollout      = attention_rollout(maps)[:, 0, 1:]        (batch, n_patches)

    image ``(batch, channels, H, W)``, pixels in [0, 1] (the page: ``(1, 1, 8,
    8)``). ``rollout[b, i]`` is the share of patch i (row-major over the
    patch grid) in what flows into the class token, the class token's own
    share left out; so a row sums to less than 1. The model is put in eval mode.

    >>> reader = DigitReader(ViT(image_size=8, patch_size=2, num_classes=10))
    >>> probability, rollout = reader(torch.zeros(1, 1, 8, 8))
    >>> probability.shape, rollout.shape
    (torch.Size([1, 10]), torch.Size([1, 16]))
    """

    def __init__(self, model: ViT) -> None:
        super().__init__()
        if not isinstance(model, ViT):
            raise TypeError(f"model must be a ViT, got {type(model).__name__}")
        self.model = model
        self.eval()  # the reader and the model: no dropout, as the page runs it

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, maps = self.model(image, need_weights=True)  # ViT checks the image's shape
        rollout = attention_rollout(maps)  # (batch, 1 + N, 1 + N), token 0 the class token
        return softmax(logits), rollout[:, 0, 1:]  # (batch, classes), (batch, N)


class DateReading(NamedTuple):
    """What the date model wrote for ``text``.

    ``answer``: one character per step (``NOT_A_CHARACTER`` for the padding or
    begin token); ``probabilities``: the chosen character's probability at
    each step; ``cross (10, len(text))``: output character t's cross-attention
    over the characters of ``text`` (mean of the heads).
    """

    text: str
    answer: str
    probabilities: list[float]
    cross: torch.Tensor


class DigitReading(NamedTuple):
    """The ViT's class ``probabilities (10,)`` and the ``rollout (grid_h, grid_w)`` over patches."""

    probabilities: torch.Tensor
    rollout: torch.Tensor


def _check_read_date(reader: DateReader, task: DateTask, text: str) -> None:
    if not isinstance(reader, DateReader):
        raise TypeError(f"reader must be a DateReader, got {type(reader).__name__}")
    if not isinstance(task, DateTask):
        raise TypeError(f"task must be a DateTask, got {type(task).__name__}")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    unknown = sorted(set(text) - set(task.characters))
    if unknown:
        raise ValueError(
            f"{text!r} holds characters the date model does not know: {unknown}; "
            f"it knows these {len(task.characters)}: {task.characters!r}"
        )
    if not 0 < len(text) <= reader.source_length:
        raise ValueError(
            f"text must have 1 to {reader.source_length} characters, got {len(text)}: {text!r}"
        )


@validated(_check_read_date)
@torch.no_grad()
def read_date(reader: DateReader, task: DateTask, text: str) -> DateReading:
    """Run the date model on ``text`` as the page does: answer, probabilities, cross-attention.

    >>> task = DateTask()
    >>> model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32,
    ...                     max_len=30)
    >>> reading = read_date(DateReader(model, task), task, "Nov 27, 2026")
    >>> len(reading.answer), len(reading.probabilities), reading.cross.shape
    (10, 10, torch.Size([10, 12]))
    """
    source, _ = task.encode([text], reader.source_length)  # (1, L_src), padded with 0
    answer, probability, cross = reader(source)  # (1, 10), (1, 10), (1, 10, L_src)
    names = task.token_names
    characters = [
        names[token] if token >= 2 else NOT_A_CHARACTER  # 0 pads, 1 begins: no character
        for token in answer[0].tolist()
    ]
    return DateReading(
        text=text,
        answer="".join(characters),
        probabilities=probability[0].tolist(),
        cross=cross[0, :, : len(text)],  # (10, len(text)): the padding columns are 0
    )


def _check_read_digit(reader: DigitReader, image: torch.Tensor) -> None:
    if not isinstance(reader, DigitReader):
        raise TypeError(f"reader must be a DigitReader, got {type(reader).__name__}")
    image = require_float("image", image)
    side = reader.model.image_size
    if image.shape[-2:] != (side, side) or image.numel() != side * side:
        raise ValueError(
            f"image must be one {side}x{side} grey image, ({side}, {side}) or (1, 1, {side}, "
            f"{side}), got shape {tuple(image.shape)}"
        )
    if not bool(((image >= 0) & (image <= 1)).all()):  # NaN fails too
        raise ValueError(
            f"image pixels must lie in [0, 1] (0 blank, 1 ink), got values from "
            f"{float(image.min())} to {float(image.max())}"
        )


@validated(_check_read_digit)
@torch.no_grad()
def read_digit(reader: DigitReader, image: torch.Tensor) -> DigitReading:
    """Run the ViT on one grey image as the page does: class probabilities and rollout.

    image ``(8, 8)`` (or ``(1, 1, 8, 8)``) in [0, 1] -> probabilities ``(10,)``
    and the rollout ``(4, 4)`` over the patch grid.

    >>> reading = read_digit(DigitReader(ViT(image_size=8, patch_size=2)), torch.zeros(8, 8))
    >>> reading.probabilities.shape, reading.rollout.shape
    (torch.Size([10]), torch.Size([4, 4]))
    """
    model = reader.model
    side = model.image_size
    pixels = image.reshape(1, 1, side, side).to(model.head.weight.dtype)  # (1, 1, H, W)
    probability, rollout = reader(pixels)  # (1, classes), (1, N)
    grid = rollout[0].reshape(model.grid_h, model.grid_w)  # (grid_h, grid_w), row-major
    return DigitReading(probabilities=probability[0], rollout=grid)
