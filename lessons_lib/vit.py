"""The small Vision Transformer: patches, a class token, position codes, encoder, head.

Dosovitskiy et al. (2021), equations 1-4, with N patches of an image:

    z_0 = [x_class; x_1 E; ...; x_N E] + E_pos        (batch, 1 + N, d_model)
    z_l = EncoderLayer_l(z_{l-1}),  l = 1..L          pre-norm layers
    y   = Head(LayerNorm(z_L[:, 0]))                  (batch, num_classes)

The class token is one learnable vector put in front of the patches; after
the encoder its output, which has attended to every patch, is the image's
summary. ``positions`` picks the position codes ``E_pos``: ``"none"``,
``"1d"``, ``"2d"`` or ``"sinusoidal"``; or ``"relative"``, which adds nothing
to the input and biases every layer's attention logits instead.
:func:`stretch_positions` carries a trained ViT to larger images.

Training, accuracy and the position-code comparison of chapter 10 live in
``training``, ``metrics`` and ``experiments``.

Layer: models (imports torch and the modules below it only).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lessons_lib._validate import (
    require_dtype_of,
    require_float,
    require_number,
    require_positive_int,
    require_rank,
    validated,
)
from lessons_lib.patching import PatchEmbedding, patch_grid
from lessons_lib.positions import (
    INIT_STD,
    PositionCodes1D,
    PositionCodes2D,
    RelativePositionBias2D,
    interpolate_codes_1d,
    interpolate_codes_2d,
    interpolate_row_col,
    sinusoidal_positions,
)
from lessons_lib.residual import LayerNorm
from lessons_lib.transformer import EncoderLayer

POSITION_KINDS = ("none", "1d", "2d", "sinusoidal", "relative")

# The book's ViT for the 8x8 digits (chapter 11 and bench/bench_vit.py): 2x2 patches, so a
# 4x4 grid and 17 tokens; reaches 95% test accuracy in a few hundred steps on a CPU.
DIGITS_VIT = dict(
    image_size=8,
    patch_size=2,
    channels=1,
    num_classes=10,
    d_model=32,
    num_layers=2,
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
      index, the class token at position 0 and patch i at position i + 1;
    - ``"relative"``: nothing is added to the input; each encoder layer has a
      :class:`RelativePositionBias2D` whose logits, from the query and a
      learned embedding of each (row, column) offset, are added to that
      layer's attention logits (the ViT paper's Appendix D.4). The class
      token has no offset: its pairs get bias 0 (our choice). So the last
      layer's table never learns: the head reads only the class token's
      row of that layer, whose bias is 0 (its gradient is exactly zero).

    Our choices, with their sources: positions are added after the class
    token is put in front (the paper's eq. 1); the layers are pre-norm
    (``norm_first=True``, the paper's eq. 2-3), and a final LayerNorm comes
    before the head (eq. 4); the MLP uses GELU (``activation="gelu"``, the
    paper's section 3.1); the class token starts as N(0, 0.02^2) noise.
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
        *,
        patch_size: int = 2,
        channels: int = 1,
        num_classes: int = 10,
        d_model: int = 32,
        num_layers: int = 2,
        num_heads: int = 4,
        d_ff: int | None = None,
        positions: str = "1d",
        patch_method: str = "linear",
        dropout: float = 0.0,
        code_init_std: float = 0.1,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if positions not in POSITION_KINDS:
            raise ValueError(f"positions must be one of {POSITION_KINDS}, got {positions!r}")
        require_positive_int("num_layers", num_layers)
        require_positive_int("num_classes", num_classes)
        image_size = require_positive_int("image_size", image_size)
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
            EncoderLayer(
                d_model,
                num_heads=num_heads,
                d_ff=d_ff,
                dropout=dropout,
                norm_first=True,
                activation=activation,
            )
            for _ in range(num_layers)
        )
        if positions == "relative":  # one offset table per layer, read with that layer's queries
            self.relative_biases = nn.ModuleList(
                RelativePositionBias2D(
                    self.grid_h, self.grid_w, self.layers[0].self_attention.d_head
                )
                for _ in range(num_layers)
            )
        self.norm = LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def _check_images(self, images: object) -> None:
        images = require_dtype_of("images", require_float("images", images), self)
        require_rank("images", images, 4, "(batch, channels, height, width)")
        height, width = images.shape[-2:]
        if (height, width) != (self.image_size, self.image_size):
            raise ValueError(
                f"images are {height}x{width} but this ViT was built for image_size="
                f"{self.image_size} ({self.image_size}x{self.image_size} images); resize the "
                f"images or build ViT(image_size=...) for their size"
            )

    def codes(self) -> torch.Tensor | None:
        """``E_pos``, ``(1 + N, d_model)`` with the class token's row first; None for "none".

        Also None for ``"relative"``, which adds no code to the input.
        """
        if self.positions in ("none", "relative"):
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

    @validated(_check_images)
    def forward(
        self, images: torch.Tensor, *, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """images ``(batch, C, H, W)`` -> logits ``(batch, num_classes)``.

        ``need_weights=True`` also returns every layer's attention,
        ``(depth, batch, heads, 1 + N, 1 + N)``; token 0 is the class token.
        """
        tokens = self.embed(images)  # (batch, 1 + N, d)
        maps = []
        for index, layer in enumerate(self.layers):
            bias = self.relative_biases[index] if self.positions == "relative" else None
            tokens, weights = layer(tokens, need_weights=True, bias=bias)  # (batch, 1 + N, d)
            maps.append(weights)  # (batch, heads, 1 + N, 1 + N)
        summary = self.norm(tokens[:, 0])  # (batch, d): the class token's output
        logits = self.head(summary)  # (batch, num_classes)
        return (logits, torch.stack(maps)) if need_weights else logits


STRETCH_METHODS = ("1d", "2d")


def stretch_positions(model: ViT, image_size: int, method: str = "2d") -> ViT:
    """A copy of a trained ``model`` for larger images, its position codes interpolated.

    The patch size stays, so the grid grows from (gh, gw) to (nh, nw); the
    weights are copied, and the codes stretched to the new grid (the ViT
    paper, Section 3.2, fine-tunes at a higher resolution this way):

    - ``"1d"`` codes, ``method="2d"``: put back on the old grid and
      interpolated bilinearly (:func:`interpolate_codes_2d`), as the paper does;
    - ``"1d"`` codes, ``method="1d"``: the naive way, the row-major sequence
      stretched as one line (:func:`interpolate_codes_1d`), blind to the grid;
    - ``"2d"`` codes: the row and the column tables, each interpolated
      (:func:`interpolate_row_col`; ``method`` is not used);
    - ``"sinusoidal"``: computed afresh for the longer sequence; ``"none"``:
      nothing to do. The class token's code is kept as it is.

    ``"relative"`` models are refused (their offset table would need
    stretching too, which this book does not do).

    >>> small = ViT(image_size=8, patch_size=2, positions="1d")
    >>> large = stretch_positions(small, image_size=16)
    >>> large(torch.zeros(1, 1, 16, 16)).shape, large.codes().shape
    (torch.Size([1, 10]), torch.Size([65, 32]))
    """
    if not isinstance(model, ViT):
        raise TypeError(f"model must be a ViT, got {type(model).__name__}")
    if method not in STRETCH_METHODS:
        raise ValueError(f"method must be one of {STRETCH_METHODS}, got {method!r}")
    if model.positions == "relative":
        raise ValueError("stretch_positions handles absolute codes only, got a 'relative' ViT")
    image_size = require_positive_int("image_size", image_size)
    patch_size = model.patch_embedding.patch_size
    new_h, new_w = patch_grid(image_size, image_size, patch_size)
    old_grid, new_grid = (model.grid_h, model.grid_w), (new_h, new_w)
    stretched = copy.deepcopy(model)
    stretched.image_size, stretched.grid_h, stretched.grid_w = image_size, new_h, new_w
    stretched.n_patches = new_h * new_w
    d = model.d_model
    # The new code tables draw random values, overwritten at once: fork the RNG so that the
    # caller's global random state is left as it was.
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        if model.positions == "1d":
            old = model.position_codes()  # (1 + N, d)
            patches = old[1:]  # (N, d), row-major
            if method == "2d":
                patches = interpolate_codes_2d(patches, old_grid, new_grid)  # (nh*nw, d)
            else:
                patches = interpolate_codes_1d(patches, new_h * new_w)  # (nh*nw, d)
            stretched.position_codes = PositionCodes1D(1 + new_h * new_w, d)
            stretched.position_codes.codes.copy_(torch.cat([old[:1], patches]))
        elif model.positions == "2d":
            rows, cols = interpolate_row_col(
                model.position_codes.row_codes, model.position_codes.col_codes, new_grid
            )  # (nh, d/2), (nw, d/2)
            stretched.position_codes = PositionCodes2D(new_h, new_w, d)
            stretched.position_codes.row_codes.copy_(rows)
            stretched.position_codes.col_codes.copy_(cols)
        elif model.positions == "sinusoidal":
            stretched.fixed_codes = sinusoidal_positions(1 + new_h * new_w, d)
    weight = next(model.parameters())
    return stretched.to(device=weight.device, dtype=weight.dtype)  # the new tables too


def _check_attention_rollout(maps: torch.Tensor, residual_weight: float) -> None:
    maps = require_float("maps", maps)
    if maps.dim() < 4 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(
            "maps must be (depth, ..., heads, T, T) with square T x T maps, got shape "
            f"{tuple(maps.shape)}"
        )
    if maps.shape[0] == 0:
        raise ValueError(f"maps hold no layers (shape {tuple(maps.shape)}): nothing to roll out")
    if not 0.0 <= require_number("residual_weight", residual_weight) <= 1.0:
        raise ValueError(f"residual_weight must lie in [0, 1], got {residual_weight}")


@validated(_check_attention_rollout)
def attention_rollout(maps: torch.Tensor, residual_weight: float = 0.5) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): attention followed down through every layer.

    Each layer's map is averaged over the heads and mixed with the identity,
    which stands for the residual path that carries every token past the
    attention; each row is renormalised to sum to 1; the layers' maps are
    then multiplied, the last layer on the left:

        A'_l = (1 - a) * mean_heads(A_l) + a * I,    rows of A'_l rescaled to sum 1
        R    = A'_L @ ... @ A'_2 @ A'_1               a = residual_weight (Abnar & Zuidema: 0.5)

    maps ``(depth, ..., heads, T, T)`` (a :class:`ViT`'s ``need_weights``
    output, ``(depth, batch, heads, 1 + N, 1 + N)``) -> ``R`` ``(..., T, T)``.
    Row ``i`` of ``R`` says how much of each *input* token flows into token
    ``i`` of the last layer, if attention were the only way tokens mix. The
    ViT paper draws its attention maps with rollout (its appendix). The 0.5
    is a heuristic, and the MLPs and the values' content are ignored, so it
    is a picture of where information could flow, not an explanation.

    >>> maps = torch.full((2, 1, 3, 3), 1 / 3)  # (depth, heads, T, T): uniform attention
    >>> attention_rollout(maps)[0]  # token 0 gathers a little of every token, most of itself
    tensor([0.5000, 0.2500, 0.2500])
    >>> torch.equal(attention_rollout(torch.eye(3).expand(2, 1, 3, 3)), torch.eye(3))
    True
    """
    identity = torch.eye(maps.shape[-1], dtype=maps.dtype, device=maps.device)  # (T, T)
    rollout = None
    for layer_maps in maps:  # (..., heads, T, T), from the first layer up
        mixed = (1 - residual_weight) * layer_maps.mean(dim=-3) + residual_weight * identity
        mixed = mixed / mixed.sum(dim=-1, keepdim=True).clamp_min(1e-12)  # (..., T, T)
        rollout = mixed if rollout is None else mixed @ rollout  # later layers on the left
    return rollout
