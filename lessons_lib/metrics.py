"""Metrics: how many parameters a model has, and how often it is right.

Every score here runs the model in eval mode without gradients and puts the
model back in the mode it was in.

Layer: metrics (imports the models, decoding and data below it only).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib._validate import require_positive_int, require_rank, require_tensor
from lessons_lib.data import ImageSet
from lessons_lib.decoding import greedy_decode
from lessons_lib.transformer import Transformer


def _require_module(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _require_token_ids(name: str, tokens: object) -> torch.Tensor:
    tokens = require_tensor(name, tokens)
    if tokens.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold token ids (torch.long), got dtype {tokens.dtype}")
    require_rank(name, tokens, 2, "(batch, length)")
    if tokens.shape[0] == 0:
        raise ValueError(
            f"{name} holds no sequences (shape {tuple(tokens.shape)}): an "
            "accuracy needs at least one"
        )
    return tokens


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
    _require_module(model)
    if not isinstance(data, ImageSet):
        raise TypeError(f"data must be an ImageSet, got {type(data).__name__}")
    batch_size = require_positive_int("batch_size", batch_size)
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
    _require_module(model)
    sources = _require_token_ids("sources", sources)
    targets = _require_token_ids("targets", targets)
    if sources.shape[0] != targets.shape[0]:
        raise ValueError(
            f"sources {tuple(sources.shape)} and targets {tuple(targets.shape)} must hold "
            "the same number of sequences"
        )
    was_training = model.training
    model.eval()
    logits, _ = model(sources)  # (batch, L, vocab)
    model.train(was_training)
    if logits.shape[:2] != targets.shape:
        raise ValueError(
            f"the model writes {tuple(logits.shape[:2])} tokens (batch, L) but targets are "
            f"{tuple(targets.shape)}"
        )
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
    sources = _require_token_ids("sources", sources)
    targets = _require_token_ids("targets", targets)
    if sources.shape[0] != targets.shape[0] or (
        source_mask is None and sources.shape != targets.shape
    ):
        raise ValueError(
            f"sources {tuple(sources.shape)} and targets {tuple(targets.shape)} must match"
            + ("" if source_mask is None else " in their batch size")
        )
    decoded = greedy_decode(model, sources, bos, targets.shape[1], source_mask=source_mask)
    return float((decoded == targets).all(dim=1).float().mean())
