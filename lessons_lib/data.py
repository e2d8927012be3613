"""Toy data for the book: generated here or shipped inside a package, never downloaded.

Sequence tasks (for the Transformer chapters) come first, image sets (for the
ViT chapters) second. Every set that a chapter trains on comes with a
validation split, which training watches to stop and to choose, and a test
split, which is scored once at the end.

Layer: data (imports torch, and scikit-learn's bundled digits on first use).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch

from lessons_lib._validate import require_positive_int

# --- sequence tasks -------------------------------------------------------------------

MAX_DRAWS = 100  # rejection sampling gives up, with a clear error, after this many rounds


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
        for _ in range(MAX_DRAWS):
            shape = (4 * batch_size, self.length)
            candidates = torch.randint(0, self.n_digits, shape, generator=generator)
            keep = candidates[self.is_held_out(candidates) == held_out]
            chosen.append(keep)
            found += len(keep)
            if found >= batch_size:
                sources = torch.cat(chosen)[:batch_size]  # (batch, length)
                return sources, sources.flip(dims=[1])
        split = "held-out" if held_out else "training"
        raise ValueError(
            f"found only {found} {split} sequences in {MAX_DRAWS} draws of "
            f"{4 * batch_size}: with length={self.length} and n_digits={self.n_digits} "
            "almost no digit sums fall in that split; use more digits or another length"
        )

    def batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Training batches ``(sources, targets)`` forever, drawn with ``generator``."""
        while True:
            yield self.sample(batch_size, generator)


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


@dataclass(frozen=True)
class ImageSet:
    """Images with one label each: ``images (n, channels, H, W)`` in [0, 1], ``labels (n,)``."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                "an ImageSet needs images (n, channels, H, W) and labels (n,), got "
                f"{tuple(self.images.shape)} and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.labels.shape[0]

    def batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Random ``(images, labels)`` batches forever, drawn with ``generator`` (seeded)."""
        require_positive_int("batch_size", batch_size)
        while True:
            chosen = torch.randint(0, len(self), (batch_size,), generator=generator)
            yield self.images[chosen], self.labels[chosen]  # (batch, C, H, W), (batch,)


class Splits(NamedTuple):
    """A data set cut three ways: fit on ``train``, stop and choose on ``validation``,
    score ``test`` once at the end."""

    train: ImageSet
    validation: ImageSet
    test: ImageSet


def load_digits_split(
    test_fraction: float = 0.2, validation_fraction: float = 0.1, seed: int = 0
) -> Splits:
    """scikit-learn's 8x8 handwritten digits, split into ``(train, validation, test)``.

    1,797 grey images of 8x8 pixels, labels 0..9. The file ships inside
    scikit-learn, so nothing is downloaded. Pixels (0..16) are scaled to [0, 1];
    the split is a seeded shuffle.

    >>> train, validation, test = load_digits_split()
    >>> train.images.shape, len(validation), len(test)
    (torch.Size([1258, 1, 8, 8]), 180, 359)
    """
    from sklearn.datasets import load_digits  # bundled data; imported on first use

    for name, fraction in (
        ("test_fraction", test_fraction),
        ("validation_fraction", validation_fraction),
    ):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {fraction}")
    if test_fraction + validation_fraction >= 1.0:
        raise ValueError(
            f"test_fraction + validation_fraction must be below 1 to leave training images, "
            f"got {test_fraction} + {validation_fraction}"
        )
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.long)  # (1797,)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(labels) * test_fraction)
    n_validation = round(len(labels) * validation_fraction)
    names = tuple(str(digit) for digit in range(10))
    parts = order[n_test + n_validation :], order[n_test : n_test + n_validation], order[:n_test]
    return Splits(*(ImageSet(images[part], labels[part], names) for part in parts))


@dataclass(frozen=True)
class MarkPositionTask:
    """Where is the mark? A task that only position codes can solve.

    Every image is faint noise with one bright ``p x p`` mark (a ring) placed
    exactly on one patch of the grid; the label is the quadrant that holds
    the mark: top-left, top-right, bottom-left, bottom-right. Because the mark
    sits exactly on a patch, every image is made of the same kinds of patches
    (one mark, the rest noise): only *where* the mark patch is tells the
    quadrant. A ViT without position codes treats its patches as an unordered
    set, so it cannot do better than chance (1/4).
    """

    image_size: int = 8
    patch_size: int = 2
    noise: float = 0.1

    def __post_init__(self) -> None:
        require_positive_int("image_size", self.image_size)
        require_positive_int("patch_size", self.patch_size)
        grid = self.image_size // self.patch_size
        if self.image_size % self.patch_size != 0 or grid % 2 != 0:
            raise ValueError(
                f"image_size ({self.image_size}) must split into an even number of patches "
                f"of patch_size ({self.patch_size}) across, so that the quadrants are whole"
            )
        if not 0.0 <= self.noise < 1.0:
            raise ValueError(f"noise must lie in [0, 1), got {self.noise}")

    class_names = ("top-left", "top-right", "bottom-left", "bottom-right")

    @property
    def grid(self) -> int:
        """Patches per side."""
        return self.image_size // self.patch_size

    def mark(self) -> torch.Tensor:
        """The ``(p, p)`` mark: a bright ring (a single bright pixel when p = 1)."""
        mark = torch.ones(self.patch_size, self.patch_size)
        if self.patch_size > 2:
            mark[1:-1, 1:-1] = 0.0
        return mark

    def sample(self, n: int, generator: torch.Generator) -> ImageSet:
        """``n`` images ``(n, 1, image_size, image_size)`` with their quadrant labels."""
        require_positive_int("n", n)
        size, p, grid = self.image_size, self.patch_size, self.grid
        images = torch.rand(n, 1, size, size, generator=generator) * self.noise
        rows = torch.randint(0, grid, (n,), generator=generator)
        cols = torch.randint(0, grid, (n,), generator=generator)
        mark = self.mark()
        for index, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
            images[index, 0, row * p : (row + 1) * p, col * p : (col + 1) * p] = mark
        half = grid // 2
        labels = 2 * (rows >= half).long() + (cols >= half).long()  # (n,) quadrant 0..3
        return ImageSet(images, labels, self.class_names)
