"""Toy data for the book: generated here or shipped inside a package, never downloaded.

Sequence tasks (for the Transformer chapters) come first, image sets (for the
ViT chapters) second.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lessons_lib._validate import require_positive_int

# --- sequence tasks -------------------------------------------------------------------


@dataclass(frozen=True)
class ReversalTask:
    """Reverse a sequence of digits: ``3 1 4 1 5`` -> ``5 1 4 1 3``.

    Tokens ``0..n_digits-1`` are digits and token ``bos = n_digits`` starts
    every decoder input. The alignment is visible: output position ``t``
    must read source position ``length - 1 - t``, so a trained model's
    cross-attention is an anti-diagonal.

    Sequences whose digit sum is a multiple of 7 are *held out*: training
    batches never contain them, test batches contain only them.
    """

    length: int = 8
    n_digits: int = 10

    def __post_init__(self) -> None:
        require_positive_int("length", self.length)
        require_positive_int("n_digits", self.n_digits)

    @property
    def bos(self) -> int:
        """The begin-of-sequence token that starts every decoder input."""
        return self.n_digits

    @property
    def vocab_size(self) -> int:
        """Digits plus the begin-of-sequence token."""
        return self.n_digits + 1

    def is_held_out(self, sources: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` bool: which sequences belong to the held-out split."""
        return sources.sum(dim=-1) % 7 == 0

    def sample(
        self, batch_size: int, generator: torch.Generator, held_out: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sources, targets)``, each ``(batch_size, length)`` long, from one split."""
        require_positive_int("batch_size", batch_size)
        chosen: list[torch.Tensor] = []
        found = 0
        while found < batch_size:
            shape = (4 * batch_size, self.length)
            candidates = torch.randint(0, self.n_digits, shape, generator=generator)
            keep = candidates[self.is_held_out(candidates) == held_out]
            chosen.append(keep)
            found += len(keep)
        sources = torch.cat(chosen)[:batch_size]  # (batch, length)
        return sources, sources.flip(dims=[1])


def shift_right(targets: torch.Tensor, bos: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``[bos, y_0, ..., y_{n-2}]``.

    The decoder predicts ``y_t`` from ``bos, y_0, ..., y_{t-1}``: the output at
    one step is the input at the next.

    >>> shift_right(torch.tensor([[5, 1, 4]]), bos=10)
    tensor([[10,  5,  1]])
    """
    start = torch.full_like(targets[:, :1], bos)  # (batch, 1)
    return torch.cat([start, targets[:, :-1]], dim=1)  # (batch, length)


# --- image sets -----------------------------------------------------------------------
