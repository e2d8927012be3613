"""The small Vision Transformer: patches, a class token, position codes, encoder, head.

Dosovitskiy et al. (2021), equations 1-4, with N patches of an image:

    z_0 = [x_class; x_1 E; ...; x_N E] + E_pos        (batch, 1 + N, d_model)
    z_l = EncoderLayer_l(z_{l-1}),  l = 1..L          pre-norm layers
    y   = Head(LayerNorm(z_L[:, 0]))                  (batch, num_classes)

The class token is one learnable vector put in front of the patches; after
the encoder its output, which has attended to every patch, is the image's
summary. ``positions`` picks the position codes ``E_pos``: ``"none"``,
``"1d"``, ``"2d"`` or ``"sinusoidal"``.

Read top to bottom: the model, then accuracy, one training run and the
position-code comparison of chapter 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_positive_int
from lessons_lib.data import ImageSet
from lessons_lib.patching import PatchEmbedding, patch_grid
from lessons_lib.positions import (
    INIT_STD,
    PositionCodes1D,
    PositionCodes2D,
    sinusoidal_positions,
)
from lessons_lib.residual import LayerNorm
from lessons_lib.train import History, fit
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

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(images)  # (batch, 1 + N, d)
        for layer in self.layers:
            tokens = layer(tokens)  # (batch, 1 + N, d)
        summary = self.norm(tokens[:, 0])  # (batch, d): the class token's output
        return self.head(summary)  # (batch, num_classes)

    def attention_maps(self) -> torch.Tensor:
        """The last forward's attention, ``(depth, batch, heads, 1 + N, 1 + N)``; 0 = class."""
        return torch.stack([layer.attention_weights for layer in self.layers])

    def trace_shapes(self, images: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
        """``(step, shape)`` for every step of the forward pass, for chapter 10's table."""
        with torch.no_grad():
            steps = [("images", tuple(images.shape))]
            patches = self.patch_embedding(images)
            steps.append(("patch embeddings", tuple(patches.shape)))
            tokens = self.embed(images)
            steps.append(("+ class token, + position codes", tuple(tokens.shape)))
            for number, layer in enumerate(self.layers, start=1):
                tokens = layer(tokens)
                steps.append((f"encoder layer {number}", tuple(tokens.shape)))
            summary = self.norm(tokens[:, 0])
            steps.append(("class token output, LayerNorm", tuple(summary.shape)))
            steps.append(("head: logits", tuple(self.head(summary).shape)))
        return steps


def parameter_count(module: nn.Module) -> int:
    """How many learnable numbers ``module`` holds (fixed buffers do not count)."""
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the old setting.

    A tiny ViT's matrices are too small to split between threads: on a busy
    machine, waiting for the second thread costs more than it saves.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageSet, batch_size: int = 1024) -> float:
    """The fraction of ``data`` that ``model`` labels correctly (in eval mode)."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(data), batch_size):
        logits = model(data.images[start : start + batch_size])  # (batch, classes)
        correct += int((logits.argmax(-1) == data.labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / len(data)


def train_vit(
    model: nn.Module,
    train: ImageSet,
    test: ImageSet,
    steps: int,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    eval_every: int = 50,
    target: float | None = None,
    progress: bool | None = None,
    description: str = "ViT",
) -> History:
    """Train ``model`` with cross-entropy on ``train``, scoring test accuracy; seeded batches.

    A thin wrapper around :func:`lessons_lib.train.fit`; returns its History
    (losses, test accuracies, seconds, seconds to ``target``).
    """

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, labels = batch
        return F.cross_entropy(model(images), labels)

    with one_thread():
        return fit(
            model,
            loss_fn,
            train.batches(batch_size, torch.Generator().manual_seed(seed)),
            steps=steps,
            lr=lr,
            evaluate=lambda model: accuracy(model, test),
            eval_every=eval_every,
            target=target,
            progress=progress,
            description=description,
        )


def seeded_vit(seed: int, **options: object) -> ViT:
    """A :class:`ViT` whose initial weights depend only on ``seed`` (global RNG untouched)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ViT(**options)


def compare_position_codes(
    train: ImageSet,
    test: ImageSet,
    kinds: tuple[str, ...] = POSITION_KINDS,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int = 150,
    lr: float = 3e-3,
    batch_size: int = 64,
    progress: bool | None = None,
    **options: object,
) -> tuple[dict[str, list[float]], dict[str, ViT]]:
    """Train one small ViT per (kind, seed); return test accuracies and the seed-0 models.

    Each run uses the same seeds for its weights and its batches, so the
    kinds differ only by their position codes. ``options`` go to :class:`ViT`.
    One progress bar counts the runs (``progress=None``: except while the book
    is built, where a live bar cannot move).
    """
    show_bar = not building_book() if progress is None else progress
    scores: dict[str, list[float]] = {kind: [] for kind in kinds}
    models: dict[str, ViT] = {}
    runs = [(kind, seed) for kind in kinds for seed in seeds]
    for kind, seed in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
        model = seeded_vit(seed, positions=kind, **options)
        history = train_vit(
            model,
            train,
            test,
            steps=steps,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            eval_every=steps,
            progress=False,
        )
        scores[kind].append(history.final_score)
        models.setdefault(kind, model)
    return scores, models
