"""ViT patching: turning an image into a sequence of embeddings.

A Transformer reads a sequence of vectors; an image is a grid of pixels. The
Vision Transformer (Dosovitskiy et al., 2021) cuts the image into ``p x p``
patches, flattens each patch into one vector, and projects every vector with
the same matrix:

    patches  = patchify(images, p)           (batch, N, C*p*p),  N = (H/p)(W/p)
    embedded = patches @ E^T + b             (batch, N, d_model)

The same computation is a convolution whose kernel is one patch and whose
stride is one patch, so the windows never overlap:

    embedded = Conv2d(C, d_model, kernel_size=p, stride=p)(images)

Read top to bottom: the size check, ``patchify`` and its inverse, then the
two embeddings in one module.

Layer: modules (imports torch only).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib._validate import (
    require_dtype_of,
    require_float,
    require_positive_int,
    require_rank,
    validated,
)

METHODS = ("linear", "conv")


def patch_grid(height: int, width: int, patch_size: int) -> tuple[int, int]:
    """``(grid_h, grid_w)``: how many patches fit down and across.

    Raises a ValueError naming the numbers when ``patch_size`` does not
    divide the image size.

    >>> patch_grid(8, 8, 2)
    (4, 4)
    """
    patch_size = require_positive_int("patch_size", patch_size)
    for name, size in (("height", height), ("width", width)):
        size = require_positive_int(f"image {name}", size)
        if size % patch_size != 0:
            divisors = [p for p in range(1, size + 1) if size % p == 0]
            raise ValueError(
                f"image {name} ({size}) must be divisible by patch_size ({patch_size}); "
                f"patch sizes that divide {size}: {divisors}"
            )
    return int(height) // patch_size, int(width) // patch_size  # validated above


def _check_images(images: object) -> torch.Tensor:
    images = require_float("images", images)
    require_rank("images", images, 4, "(batch, channels, height, width)")
    return images


def _check_patchify(images: torch.Tensor, patch_size: int) -> None:
    images = _check_images(images)
    patch_grid(images.shape[2], images.shape[3], patch_size)  # names a size p does not divide


@validated(_check_patchify)
def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into flattened patches, ``(batch, n_patches, channels * p * p)``.

    images ``(batch, C, H, W)``; patch ``(r, c)`` of the ``(H/p, W/p)`` grid
    becomes row ``r * (W/p) + c`` (row-major: left to right, then top to
    bottom), and each patch is flattened in (channel, row, col) order, the
    order of a ``Conv2d`` weight ``(d_model, C, p, p)``.

    >>> patchify(torch.zeros(2, 3, 8, 8), 4).shape
    torch.Size([2, 4, 48])
    """
    batch, channels, height, width = images.shape
    p = patch_size
    grid_h, grid_w = height // p, width // p  # patches down and across
    patches = images.reshape(batch, channels, grid_h, p, grid_w, p)  # (B, C, gh, p, gw, p)
    patches = patches.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, p, p)
    return patches.reshape(batch, grid_h * grid_w, channels * p * p)  # (B, N, C*p*p)


def unpatchify(
    patches: torch.Tensor, patch_size: int, height: int, width: int, channels: int = 1
) -> torch.Tensor:
    """Put flattened patches back together: the inverse of :func:`patchify`.

    patches ``(batch, n_patches, channels * p * p)`` -> images
    ``(batch, channels, height, width)``; ``unpatchify(patchify(x, p), p, H, W, C) == x``.

    >>> unpatchify(patchify(torch.ones(1, 1, 4, 4), 2), 2, 4, 4).shape
    torch.Size([1, 1, 4, 4])
    """
    patches = require_float("patches", patches)
    require_rank("patches", patches, 3, "(batch, n_patches, channels * p * p)")
    grid_h, grid_w = patch_grid(height, width, patch_size)
    p = patch_size
    expected = (grid_h * grid_w, require_positive_int("channels", channels) * p * p)
    if tuple(patches.shape[1:]) != expected:
        raise ValueError(
            f"a {height}x{width} image with {channels} channel(s) and patch_size {p} has "
            f"{expected[0]} patches of {expected[1]} values, got patches of shape "
            f"{tuple(patches.shape)}"
        )
    batch = patches.shape[0]
    images = patches.reshape(batch, grid_h, grid_w, channels, p, p)  # (B, gh, gw, C, p, p)
    images = images.permute(0, 3, 1, 4, 2, 5)  # (B, C, gh, p, gw, p)
    return images.reshape(batch, channels, height, width)  # (B, C, H, W)


def linear_weight_from_conv(conv_weight: torch.Tensor) -> torch.Tensor:
    """A patch convolution's kernel as the linear layer's weight, ``(d_model, C*p*p)``.

    conv_weight ``(d_model, C, p, p)``; flattening each kernel in (channel,
    row, col) order matches the order in which :func:`patchify` flattens a
    patch, so ``patchify(x) @ W.T`` equals the convolution.

    >>> linear_weight_from_conv(torch.zeros(16, 3, 4, 4)).shape
    torch.Size([16, 48])
    """
    require_rank("conv_weight", require_float("conv_weight", conv_weight), 4, "(d_model, C, p, p)")
    if conv_weight.shape[2] != conv_weight.shape[3]:
        raise ValueError(
            f"conv_weight must have a square p x p kernel, like the square patches, got "
            f"{conv_weight.shape[2]}x{conv_weight.shape[3]} (shape {tuple(conv_weight.shape)})"
        )
    return conv_weight.reshape(conv_weight.shape[0], -1)  # (d_model, C*p*p)


class PatchEmbedding(nn.Module):
    """Images to a sequence of patch embeddings, computed one of two ways.

    - ``method="linear"``: ``patchify``, then ``nn.Linear(C*p*p, d_model)``;
    - ``method="conv"``: ``nn.Conv2d(C, d_model, kernel_size=p, stride=p)``,
      then ``flatten(2).transpose(1, 2)`` to list the grid's cells row-major.

    Both give ``(batch, n_patches, d_model)`` and, with the weights copied by
    :meth:`copy_from`, the same numbers. The convolution is what timm and the
    ViT reference code use; the linear form is the paper's equation 1.

    >>> embed = PatchEmbedding(patch_size=2, channels=1, d_model=32)
    >>> embed(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 16, 32])
    """

    def __init__(
        self, patch_size: int, channels: int, d_model: int, method: str = "linear"
    ) -> None:
        super().__init__()
        self.patch_size = require_positive_int("patch_size", patch_size)
        self.channels = require_positive_int("channels", channels)
        self.d_model = require_positive_int("d_model", d_model)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        p = patch_size
        if method == "linear":
            self.projection: nn.Module = nn.Linear(channels * p * p, d_model)
        else:
            self.projection = nn.Conv2d(channels, d_model, kernel_size=p, stride=p)

    def _check_forward(self, images: torch.Tensor) -> None:
        images = require_dtype_of("images", _check_images(images), self)
        if images.shape[1] != self.channels:
            raise ValueError(
                f"images have {images.shape[1]} channel(s) but this embedding was built "
                f"with channels={self.channels}; shape {tuple(images.shape)}"
            )
        patch_grid(images.shape[2], images.shape[3], self.patch_size)  # clear size errors

    @validated(_check_forward)
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.method == "linear":
            return self.projection(patchify(images, self.patch_size))  # (B, N, d_model)
        grid = self.projection(images)  # (B, d_model, gh, gw)
        return grid.flatten(2).transpose(1, 2)  # (B, gh*gw, d_model)

    def linear_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight (d_model, C*p*p), bias (d_model,))`` in the linear form, either method."""
        weight = self.projection.weight
        if self.method == "conv":
            weight = linear_weight_from_conv(weight)
        return weight, self.projection.bias

    @torch.no_grad()
    def copy_from(self, other: PatchEmbedding) -> PatchEmbedding:
        """Take ``other``'s weights, converting between the two forms; returns self."""
        if not isinstance(other, PatchEmbedding):
            raise TypeError(f"other must be a PatchEmbedding, got {type(other).__name__}")
        if (other.patch_size, other.channels, other.d_model) != (
            self.patch_size,
            self.channels,
            self.d_model,
        ):
            raise ValueError(
                "both embeddings need the same (patch_size, channels, d_model), got "
                f"{(self.patch_size, self.channels, self.d_model)} and "
                f"{(other.patch_size, other.channels, other.d_model)}"
            )
        weight, bias = other.linear_parameters()
        self.projection.weight.copy_(weight.reshape(self.projection.weight.shape))
        self.projection.bias.copy_(bias)
        return self
