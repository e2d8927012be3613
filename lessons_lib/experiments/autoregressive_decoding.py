"""Chapter 07's experiment: beam search against greedy decoding on the date task.

:func:`compare_beam_sizes` decodes the same dates with several beam sizes and
keeps, for each, the sequence it chose, that sequence's log-probability and
whether it is the right ISO date. :func:`sequence_log_probabilities` scores any
sequence by teacher forcing, one token at a time, so that two decodes of the
same date can be compared step by step.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.data import DateBatch, shift_right
from lessons_lib.decoding import beam_search
from lessons_lib.transformer import Transformer

BEAM_SIZES = (1, 2, 4, 8)  # beam 1 is greedy decoding; 4 is the paper's


class BeamComparison(NamedTuple):
    """What each beam size chose for the same dates.

    ``beam_sizes``; ``tokens (sizes, n, steps)``: the sequence each beam size
    chose for each date; ``log_probability (sizes, n)``: its summed
    log-probability; ``right (sizes, n)``: whether it is exactly the target.
    """

    beam_sizes: tuple[int, ...]
    tokens: torch.Tensor
    log_probability: torch.Tensor
    right: torch.Tensor

    @property
    def exact_match(self) -> torch.Tensor:
        """``(sizes,)``: the fraction of dates each beam size writes exactly right."""
        return self.right.float().mean(dim=1)

    @property
    def mean_log_probability(self) -> torch.Tensor:
        """``(sizes,)``: the mean log-probability of the sequences each beam size chose."""
        return self.log_probability.mean(dim=1)

    def changed(self, beam_size: int) -> torch.Tensor:
        """``(n,)`` bool: the dates for which ``beam_size`` chose another sequence than beam 1."""
        first, other = self.beam_sizes.index(1), self.beam_sizes.index(beam_size)
        return (self.tokens[other] != self.tokens[first]).any(dim=1)


def compare_beam_sizes(
    model: Transformer,
    batch: DateBatch,
    bos: int,
    beam_sizes: tuple[int, ...] = BEAM_SIZES,
) -> BeamComparison:
    """Decode ``batch``'s dates with each beam size (no length penalty: every date has 10).

    >>> from lessons_lib.data import DateTask
    >>> task = DateTask()
    >>> model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> batch = task.sample(3, torch.Generator().manual_seed(0))
    >>> compare_beam_sizes(model, batch, task.bos, (1, 2)).tokens.shape  # (sizes, n, steps)
    torch.Size([2, 3, 10])
    """
    if not isinstance(batch, DateBatch):
        raise TypeError(f"batch must be a DateBatch, got {type(batch).__name__}")
    sizes = tuple(require_positive_int("beam size", size) for size in beam_sizes)
    if 1 not in sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"beam_sizes must hold 1 (greedy) and no size twice, got {beam_sizes!r}")
    steps = batch.targets.shape[1]
    found = [
        beam_search(model, batch.sources, bos, size, steps=steps, source_mask=batch.source_mask)
        for size in sizes
    ]
    tokens = torch.stack([beams.tokens for beams in found])  # (sizes, n, steps)
    return BeamComparison(
        beam_sizes=sizes,
        tokens=tokens,
        log_probability=torch.stack([beams.log_probability for beams in found]),  # (sizes, n)
        right=(tokens == batch.targets).all(dim=-1),  # (sizes, n)
    )


@torch.no_grad()
def sequence_log_probabilities(
    model: Transformer,
    sources: torch.Tensor,
    sequences: torch.Tensor,
    bos: int,
    source_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """log p(y_t | source, bos, y_1..y_{t-1}) of every token, by teacher forcing.

    sources ``(n, L_src)``, sequences ``(n, steps)`` -> ``(n, steps)``; the sum
    over the steps is the sequence's log-probability, the score beam search ranks by.

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> sequence_log_probabilities(model, torch.randint(0, 10, (2, 5)),
    ...                            torch.randint(0, 10, (2, 4)), bos=10).shape
    torch.Size([2, 4])
    """
    bos = require_int("bos", bos)
    if sources.dim() != 2 or sequences.dim() != 2 or sources.shape[0] != sequences.shape[0]:
        raise ValueError(
            "sources (n, L_src) and sequences (n, steps) must be batches of the same size, got "
            f"shapes {tuple(sources.shape)} and {tuple(sequences.shape)}"
        )
    was_training = model.training
    model.eval()
    logits = model(sources, shift_right(sequences, bos), source_mask)  # (n, steps, vocab)
    model.train(was_training)
    log_p = torch.log_softmax(logits.float(), dim=-1)  # (n, steps, vocab)
    return log_p.gather(-1, sequences[:, :, None])[:, :, 0]  # (n, steps)
