"""Metrics: how many parameters a model has, and how often it is right.

Every score here runs the model in eval mode without gradients and puts the
model back in the mode it was in.

Layer: metrics (imports the models, decoding and data below it only).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib._validate import require_tensor
from lessons_lib.data import ImageSet
from lessons_lib.decoding import greedy_decode
from lessons_lib.transformer import Transformer


def parameter_count(module: nn.Module) -> int:
    """How many learnable numbers ``module`` holds (fixed buffers do not count).

    >>> parameter_count(nn.Linear(4, 3))  # 4 * 3 weights + 3 biases
    15
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


@torch.no_grad()
def classification_accuracy(model: nn.Module, data: ImageSet, batch_size: int = 1024) -> float:
    """The fraction of ``data`` whose argmax logit is the true label.

    >>> from lessons_lib.vit import ViT
    >>> data = ImageSet(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), ("a", "b"))
    >>> 0.0 <= classification_accuracy(ViT(num_classes=2), data) <= 1.0
    True
    """
    if len(data) == 0:
        raise ValueError("data holds no images: an accuracy needs at least one")
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(data), batch_size):
        logits = model(data.images[start : start + batch_size])  # (batch, classes)
        correct += int((logits.argmax(-1) == data.labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / len(data)


@torch.no_grad()
def token_accuracy(model: nn.Module, sources: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of output tokens predicted right by a model returning ``(logits, weights)``.

    For the one-layer alignment model of chapter 04: sources and targets
    ``(batch, L)``; each output token is the argmax of its logits.
    """
    was_training = model.training
    model.eval()
    logits, _ = model(sources)  # (batch, L, vocab)
    model.train(was_training)
    return float((logits.argmax(-1) == targets).float().mean())


def exact_match_accuracy(
    model: Transformer,
    sources: torch.Tensor,
    targets: torch.Tensor,
    bos: int,
    source_mask: torch.Tensor | None = None,
) -> float:
    """Fraction of sequences whose greedy decode equals the target at *every* position.

    sources and targets ``(batch, length)``. With ``source_mask`` (e.g. a padding
    mask ``(batch, 1, L_src)``, passed to the model), sources may be longer or
    shorter than the targets, ``(batch, L_src)``: the dates of chapter 06.

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> sources = torch.randint(0, 10, (4, 6))
    >>> 0.0 <= exact_match_accuracy(model, sources, sources.flip(1), bos=10) <= 1.0
    True
    """
    require_tensor("targets", targets)
    if sources.shape[0] != targets.shape[0] or (
        source_mask is None and sources.shape != targets.shape
    ):
        raise ValueError(
            f"sources {tuple(sources.shape)} and targets {tuple(targets.shape)} must match"
            + ("" if source_mask is None else " in their batch size")
        )
    decoded = greedy_decode(model, sources, bos, targets.shape[1], source_mask=source_mask)
    return float((decoded == targets).all(dim=1).float().mean())
