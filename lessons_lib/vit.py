"""The small Vision Transformer: patches, a class token, position codes, encoder, head.

Dosovitskiy et al. (2021), equations 1-4, with N patches of an image:

    z_0 = [x_class; x_1 E; ...; x_N E] + E_pos        (batch, 1 + N, d_model)
    z_l = EncoderLayer_l(z_{l-1}),  l = 1..L          pre-norm layers
    y   = Head(LayerNorm(z_L[:, 0]))                  (batch, num_classes)

The class token is one learnable vector put in front of the patches; after
the encoder its output, which has attended to every patch, is the image's
summary. ``positions`` picks the position codes ``E_pos``: ``"none"``,
``"1d"``, ``"2d"`` or ``"sinusoidal"``.

Training, accuracy and the position-code comparison of chapter 09 live in
``training``, ``metrics`` and ``experiments``.

Layer: models (imports torch and the modules below it only).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib._validate import require_positive_int
from lessons_lib.patching import PatchEmbedding, patch_grid
from lessons_lib.positions import (
    INIT_STD,
    PositionCodes1D,
    PositionCodes2D,
    sinusoidal_positions,
)
from lessons_lib.residual import LayerNorm
from lessons_lib.transformer import EncoderLayer

POSITION_KINDS = ("none", "1d", "2d", "sinusoidal")

# The book's ViT for the 8x8 digits (chapter 10 and bench/bench_vit.py): 2x2 patches, so a
# 4x4 grid and 17 tokens; reaches 95% test accuracy in a few hundred steps on a CPU.
DIGITS_VIT = dict(
    image_size=8,
    patch_size=2,
    channels=1,
    num_classes=10,
    d_model=32,
    depth=2,
    num_heads=4,
    d_ff=64,
    positions="1d",
)


class ViT(nn.Module):
    """A small Vision Transformer for ``(batch, channels, H, W)`` images.

    - ``positions="none"``: no position codes, so the patches form an
      unordered set (the ViT paper's "no positional information");
    - ``"1d"``: :class:`PositionCodes1D` with ``1 + N`` vectors, the class
      token's code first (the paper's ``E_pos``);
    - ``"2d"``: :class:`PositionCodes2D` for the patches plus one learnable
      code for the class token, which has no row or column;
    - ``"sinusoidal"``: fixed :func:`sinusoidal_positions` of the flattened
      index, the class token at position 0 and patch i at position i + 1.

    Our choices, with their sources: positions are added after the class
    token is put in front (the paper's eq. 1); the layers are pre-norm
    (``norm_first=True``, the paper's eq. 2-3), and a final LayerNorm comes
    before the head (eq. 4); the class token starts as N(0, 0.02^2) noise.
    Learned position codes start as N(0, 0.1^2) (``code_init_std``): larger
    than the reference code's 0.02, so that in our runs of a hundred steps
    they matter from the start, yet small enough that what they learn shows
    in their similarity maps.

    forward(images ``(batch, C, H, W)``) -> logits ``(batch, num_classes)``.

    >>> model = ViT(image_size=8, patch_size=2, num_classes=10, positions="2d")
    >>> model(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    """

    def __init__(
        self,
        image_size: int = 8,
        patch_size: int = 2,
        channels: int = 1,
        num_classes: int = 10,
        d_model: int = 32,
        depth: int = 2,
        num_heads: int = 4,
        d_ff: int | None = None,
        positions: str = "1d",
        patch_method: str = "linear",
        dropout: float = 0.0,
        code_init_std: float = 0.1,
    ) -> None:
        super().__init__()
        if positions not in POSITION_KINDS:
            raise ValueError(f"positions must be one of {POSITION_KINDS}, got {positions!r}")
        require_positive_int("depth", depth)
        require_positive_int("num_classes", num_classes)
        self.grid_h, self.grid_w = patch_grid(image_size, image_size, patch_size)
        self.image_size = image_size
        self.n_patches = self.grid_h * self.grid_w
        self.d_model = d_model
        self.positions = positions
        self.patch_embedding = PatchEmbedding(patch_size, channels, d_model, method=patch_method)
        self.class_token = nn.Parameter(torch.randn(1, 1, d_model) * INIT_STD)  # (1, 1, d)
        if positions == "1d":
            self.position_codes = PositionCodes1D(1 + self.n_patches, d_model, code_init_std)
        elif positions == "2d":
            self.position_codes = PositionCodes2D(self.grid_h, self.grid_w, d_model, code_init_std)
            self.class_position = nn.Parameter(torch.randn(1, d_model) * code_init_std)  # (1, d)
        elif positions == "sinusoidal":
            self.register_buffer("fixed_codes", sinusoidal_positions(1 + self.n_patches, d_model))
        d_ff = 2 * d_model if d_ff is None else d_ff
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, d_ff, dropout=dropout, norm_first=True)
            for _ in range(depth)
        )
        self.norm = LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def codes(self) -> torch.Tensor | None:
        """``E_pos``, ``(1 + N, d_model)`` with the class token's row first; None for "none"."""
        if self.positions == "none":
            return None
        if self.positions == "1d":
            return self.position_codes()  # (1 + N, d)
        if self.positions == "2d":
            return torch.cat([self.class_position, self.position_codes()])  # (1 + N, d)
        return self.fixed_codes  # (1 + N, d)

    def patch_codes(self) -> torch.Tensor | None:
        """The patches' codes only, ``(N, d_model)`` in row-major order (for similarity maps)."""
        codes = self.codes()
        return None if codes is None else codes[1:]  # (N, d)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """``z_0``: class token, patch embeddings, plus codes: ``(batch, 1 + N, d)``."""
        patches = self.patch_embedding(images)  # (batch, N, d)
        class_tokens = self.class_token.expand(patches.shape[0], -1, -1)  # (batch, 1, d)
        tokens = torch.cat([class_tokens, patches], dim=1)  # (batch, 1 + N, d)
        codes = self.codes()
        return tokens if codes is None else tokens + codes  # broadcast over the batch

    def forward(
        self, images: torch.Tensor, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """images ``(batch, C, H, W)`` -> logits ``(batch, num_classes)``.

        ``need_weights=True`` also returns every layer's attention,
        ``(depth, batch, heads, 1 + N, 1 + N)``; token 0 is the class token.
        """
        tokens = self.embed(images)  # (batch, 1 + N, d)
        maps = []
        for layer in self.layers:
            tokens, weights = layer(tokens, need_weights=True)  # (batch, 1 + N, d)
            maps.append(weights)  # (batch, heads, 1 + N, 1 + N)
        summary = self.norm(tokens[:, 0])  # (batch, d): the class token's output
        logits = self.head(summary)  # (batch, num_classes)
        return (logits, torch.stack(maps)) if need_weights else logits
