"""Exercises of the chapter "ViT patching"."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from lessons_lib.checks.core import CheckResult, Mistake, check_against
from lessons_lib.patching import linear_weight_from_conv, patchify


def _grid_blocks(images: torch.Tensor, p: int) -> torch.Tensor:
    batch, channels, height, width = images.shape
    return images.reshape(batch, channels, height // p, p, width // p, p)  # (B, C, gh, p, gw, p)


PATCHIFY_MISTAKES = [
    Mistake(
        "patches flattened in the wrong order",
        "a plain reshape takes runs of memory (whole image rows), not p x p blocks; "
        "split H and W into (grid, p) and permute so the two p axes sit together",
        lambda x, p: x.reshape(x.shape[0], (x.shape[2] // p) * (x.shape[3] // p), -1),
    ),
    Mistake(
        "patches listed column by column",
        "number the patches row-major: left to right along the top row, then the next row",
        lambda x, p: (
            _grid_blocks(x, p).permute(0, 4, 2, 1, 3, 5).reshape(x.shape[0], -1, x.shape[1] * p * p)
        ),
    ),
    Mistake(
        "channels flattened last",
        "flatten each patch in (channel, row, col) order, like a Conv2d weight (d, C, p, p)",
        lambda x, p: (
            _grid_blocks(x, p).permute(0, 2, 4, 3, 5, 1).reshape(x.shape[0], -1, x.shape[1] * p * p)
        ),
    ),
]


def check_patchify(function: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Check ``function(images (batch, C, H, W), p) -> (batch, N, C*p*p)``."""
    generator = torch.Generator().manual_seed(3)
    images = torch.rand(2, 3, 8, 12, generator=generator)  # H != W: orders cannot coincide
    p = 4
    return check_against(
        function, (images, p), patchify(images, p), PATCHIFY_MISTAKES, "your patches match."
    )


def _conv_embed(images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    p = weight.shape[-1]
    return F.conv2d(images, weight, bias, stride=p).flatten(2).transpose(1, 2)  # (B, N, d)


CONV_MISTAKES = [
    Mistake(
        "the sequence is not transposed",
        "the convolution gives (batch, d_model, N); transpose to (batch, N, d_model)",
        lambda x, w, b: F.conv2d(x, w, b, stride=w.shape[-1]).flatten(2),
    ),
    Mistake(
        "stride 1",
        "with stride 1 the windows overlap; use stride = kernel_size = p: each patch seen once",
        lambda x, w, b: F.conv2d(x, w, b).flatten(2).transpose(1, 2),
    ),
    Mistake(
        "patches listed column by column",
        "flatten the (grid_h, grid_w) output row-major: .flatten(2) without swapping H and W",
        lambda x, w, b: (
            F.conv2d(x, w, b, stride=w.shape[-1]).transpose(2, 3).flatten(2).transpose(1, 2)
        ),
    ),
    Mistake(
        "no bias",
        "pass the bias to the convolution: each patch embedding is W·patch + b",
        lambda x, w, b: F.conv2d(x, w, None, stride=w.shape[-1]).flatten(2).transpose(1, 2),
    ),
]


def check_conv_embedding(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(images (B, C, H, W), weight (d, C, p, p), bias (d,)) -> (B, N, d)``."""
    generator = torch.Generator().manual_seed(4)
    images = torch.rand(2, 3, 8, 12, generator=generator)
    weight = torch.randn(6, 3, 4, 4, generator=generator)
    bias = torch.randn(6, generator=generator)
    args = (images, weight, bias)
    expected = patchify(images, 4) @ linear_weight_from_conv(weight).T + bias
    success = "your convolution embeds the patches."
    return check_against(function, args, expected, CONV_MISTAKES, success, atol=1e-4)
