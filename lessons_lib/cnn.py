"""A small convolutional network: the ViT's rival in chapter 11.

A convolution slides one small kernel over the image, so two things are
built into it before any training (its *inductive bias*):

- locality: each output looks at a ``k x k`` neighbourhood only;
- translation equivariance: the same kernel is used at every place, so a
  shifted input gives a shifted output.

Our network, for the 8x8 digits:

    conv 3x3 (1 -> 16) + ReLU         (batch, 16, 8, 8)
    conv 3x3 (16 -> 32) + ReLU        (batch, 32, 8, 8)
    max-pool 2x2                      (batch, 32, 4, 4)
    conv 3x3 (32 -> 48) + ReLU        (batch, 48, 4, 4)
    average over the grid             (batch, 48)
    linear (48 -> classes)            (batch, classes)

About 19,000 parameters, close to the book's small ViT (``DIGITS_VIT``).

Layer: models (imports torch and lessons_lib only).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib._validate import require_float, require_positive_int, require_rank


class SmallCNN(nn.Module):
    """Three 3x3 convolutions, one 2x2 max-pool, a global average and a linear head.

    ``widths`` are the three convolutions' output channels; padding 1 keeps
    the size, so any image of at least 2x2 pixels works (the average over the
    grid makes the head independent of the size).
    forward(images ``(batch, channels, H, W)``) -> logits ``(batch, num_classes)``.

    >>> model = SmallCNN()
    >>> model(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    >>> sum(p.numel() for p in model.parameters())
    19162
    """

    def __init__(
        self,
        channels: int = 1,
        *,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (16, 32, 48),
    ) -> None:
        super().__init__()
        self.channels = require_positive_int("channels", channels)
        require_positive_int("num_classes", num_classes)
        if len(widths) != 3:
            raise ValueError(f"widths must hold 3 channel counts, got {widths!r}")
        first, second, third = (require_positive_int("widths", width) for width in widths)
        self.features = nn.Sequential(
            nn.Conv2d(channels, first, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(first, second, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(second, third, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(third, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = require_float("images", images)
        require_rank("images", images, 4, "(batch, channels, height, width)")
        if images.shape[1] != self.channels or min(images.shape[2:]) < 2:
            raise ValueError(
                f"images must be (batch, {self.channels}, H, W) with H, W >= 2, got shape "
                f"{tuple(images.shape)}"
            )
        grid = self.features(images)  # (batch, widths[2], H/2, W/2)
        summary = grid.mean(dim=(2, 3))  # (batch, widths[2]): averaged over the grid
        return self.head(summary)  # (batch, num_classes)
