"""Exercises of the chapter "ViT patching" (``book/*_vit_patching.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.patching import linear_weight_from_conv, patchify


def _grid_blocks(images: torch.Tensor, p: int) -> torch.Tensor:
    batch, channels, height, width = images.shape
    return images.reshape(batch, channels, height // p, p, width // p, p)  # (B, C, gh, p, gw, p)


def _patchify_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(3)
    cases = []
    # H != W, so that the orders cannot coincide; other sizes, channels and p.
    for shape, p in (((2, 3, 8, 12), 4), ((1, 2, 6, 4), 2), ((2, 1, 9, 6), 3)):
        images = torch.rand(*shape, generator=generator)  # (batch, C, H, W)
        cases.append(Case((images, p), f"images of shape {shape} and p = {p}"))
    return cases


PATCHIFY_MISTAKES = [
    Mistake(
        "patches flattened in the wrong order",
        "a plain reshape takes runs of memory (whole image rows), not p x p blocks; "
        "split H and W into (grid, p) and permute so the two p axes sit together",
        lambda x, p: x.reshape(x.shape[0], (x.shape[2] // p) * (x.shape[3] // p), -1),
    ),
    Mistake(
        "F.unfold reshaped, not transposed",
        "F.unfold gives (batch, C*p*p, N), one patch per column; a reshape to (batch, N, C*p*p) "
        "only regroups the numbers in memory order, so a row holds the same pixel of many "
        "patches instead of one whole patch; swap the two axes: F.unfold(...).transpose(1, 2)",
        lambda x, p: F.unfold(x, kernel_size=p, stride=p).reshape(
            x.shape[0], -1, x.shape[1] * p * p
        ),
    ),
    Mistake(
        "the channel axis left in front of the grid",
        "after splitting H and W into (grid, p), the two grid axes must come right after the "
        "batch: permute to (B, gh, gw, C, p, p) with permute(0, 2, 4, 1, 3, 5); from "
        "(B, C, gh, gw, p, p) the reshape to (B, N, C*p*p) fills each row from one channel of "
        "several patches",
        lambda x, p: (
            _grid_blocks(x, p).permute(0, 1, 2, 4, 3, 5).reshape(x.shape[0], -1, x.shape[1] * p * p)
        ),
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

PATCHIFY = Exercise(
    name="check_patchify",
    parameters=("images", "p"),
    cases=_patchify_cases,
    solution=patchify,
    mistakes=PATCHIFY_MISTAKES,
    success="your patches match.",
)


def check_patchify(function: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Check ``function(images (batch, C, H, W), p) -> (batch, N, C*p*p)``."""
    return PATCHIFY.check(function)


def _conv_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(4)
    cases = []
    for batch, channels, height, width, d_model, p in ((2, 3, 8, 12, 6, 4), (1, 2, 6, 9, 5, 3)):
        images = torch.rand(batch, channels, height, width, generator=generator)
        weight = torch.randn(d_model, channels, p, p, generator=generator)  # (d, C, p, p)
        bias = torch.randn(d_model, generator=generator)  # (d,)
        label = (
            f"images {(batch, channels, height, width)} and a weight {(d_model, channels, p, p)}"
        )
        cases.append(Case((images, weight, bias), label))
    return cases


def _conv_embedding(images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    """The linear layer on the patches: the same numbers as the strided convolution."""
    return patchify(images, weight.shape[-1]) @ linear_weight_from_conv(weight).T + bias


CONV_MISTAKES = [
    Mistake(
        "the sequence is not transposed",
        "the convolution gives (batch, d_model, N); transpose to (batch, N, d_model)",
        lambda x, w, b: F.conv2d(x, w, b, stride=w.shape[-1]).flatten(2),
    ),
    Mistake(
        "reshaped to (batch, N, D) instead of transposed",
        "the convolution gives (batch, D, gh, gw); a reshape to (batch, N, D) keeps the memory "
        "order, so a row holds one output channel of several patches instead of the D channels "
        "of one patch; flatten the grid, .flatten(2) to (batch, D, N), then swap the axes with "
        ".transpose(1, 2)",
        lambda x, w, b: F.conv2d(x, w, b, stride=w.shape[-1]).reshape(x.shape[0], -1, w.shape[0]),
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

CONV_EMBEDDING = Exercise(
    name="check_conv_embedding",
    parameters=("images", "weight", "bias"),
    cases=_conv_cases,
    solution=_conv_embedding,
    mistakes=CONV_MISTAKES,
    success="your convolution embeds the patches.",
)


def check_conv_embedding(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(images (B, C, H, W), weight (d, C, p, p), bias (d,)) -> (B, N, d)``."""
    return CONV_EMBEDDING.check(function)
