"""Metrics: how many parameters a model has, how often it is right, and how well its
confidence matches how often it is right (calibration).

Every score here runs the model in eval mode without gradients and puts the
model back in the mode it was in.

Layer: metrics (imports the models, decoding and data below it only).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib._validate import require_positive_int, require_rank, require_tensor
from lessons_lib.data import DateBatch, ImageSet, shift_right
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


def expected_calibration_error(
    confidences: torch.Tensor, correct: torch.Tensor, bins: int = 10
) -> float:
    """How far a model's confidence is from its accuracy, on average (Guo et al. 2017).

    The predictions are sorted by confidence into ``bins`` equal-width bins over
    [0, 1] (bin m holds the confidences in ((m - 1) / M, m / M], and bin 1 holds 0
    too); in each bin the accuracy is compared with the mean confidence, and the
    gaps are averaged, each weighted by its share of the predictions:

        ECE = sum_m  |B_m| / n  *  | accuracy(B_m) - confidence(B_m) |

    0 means that, bin by bin, the model is right exactly as often as it is sure
    (of the predictions made with confidence 0.8, 80% are right); a model always
    sure and always wrong scores 1. ``confidences`` are floats in [0, 1] of any
    shape, one per prediction; ``correct`` is a bool tensor (or 0/1) of the same
    shape. Empty bins do not count.

    >>> confidences = torch.tensor([0.9, 0.9, 0.6, 0.6])
    >>> correct = torch.tensor([True, True, True, False])
    >>> round(expected_calibration_error(confidences, correct), 4)  # (2 * 0.1 + 2 * 0.1) / 4
    0.1
    """
    confidences = require_tensor("confidences", confidences)
    correct = require_tensor("correct", correct)
    bins = require_positive_int("bins", bins)
    if not confidences.is_floating_point():
        raise TypeError(
            f"confidences must be a floating-point tensor of probabilities, got dtype "
            f"{confidences.dtype}"
        )
    if correct.shape != confidences.shape:
        raise ValueError(
            f"correct {tuple(correct.shape)} must have the shape of confidences "
            f"{tuple(confidences.shape)}: one right-or-wrong per prediction"
        )
    if correct.dtype != torch.bool and not bool(((correct == 0) | (correct == 1)).all()):
        raise ValueError("correct must be a bool tensor, or hold only 0 and 1")
    if confidences.numel() == 0:
        raise ValueError("confidences holds no predictions: a calibration error needs one")
    if not bool(((confidences >= 0) & (confidences <= 1)).all()):
        raise ValueError(
            "confidences must be probabilities in [0, 1], got values from "
            f"{float(confidences.min()):g} to {float(confidences.max()):g}"
        )
    confidences = confidences.detach().reshape(-1).double()  # (n,)
    correct = correct.detach().reshape(-1).double()  # (n,)
    # bin m (0-based) holds (m / M, (m + 1) / M]; a confidence of exactly 0 goes to bin 0
    index = (torch.ceil(confidences * bins).long() - 1).clamp(0, bins - 1)  # (n,)
    counts = torch.bincount(index, minlength=bins).double()  # (bins,)
    confidence_sums = torch.bincount(index, weights=confidences, minlength=bins)  # (bins,)
    correct_sums = torch.bincount(index, weights=correct, minlength=bins)  # (bins,)
    # |B_m| * |acc(B_m) - conf(B_m)| = |correct in B_m - confidence in B_m|; empty bins give 0
    return float((correct_sums - confidence_sums).abs().sum() / counts.sum())


@torch.no_grad()
def date_calibration(model: Transformer, batch: DateBatch, bos: int, bins: int = 10) -> float:
    """The :func:`expected_calibration_error` of ``model``'s next-character predictions on dates.

    Token level and teacher-forced: the decoder reads the true previous
    characters (``shift_right(targets)``), as in training, and each of the 10
    characters of every date is one prediction, whose confidence is the largest
    softmax probability and which is correct when its argmax is the target
    character. Why this and not whole decoded dates: label smoothing changes
    exactly these per-character distributions (it trains each one towards
    ``1 - eps`` on the right character), so this is where its effect on
    confidence shows; a greedy decode's exact match is a separate score
    (:func:`exact_match_accuracy`).

    >>> from lessons_lib.data import DateTask
    >>> task = DateTask()
    >>> dates = task.sample(8, torch.Generator().manual_seed(0), "validation")
    >>> model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> 0.0 <= date_calibration(model, dates, task.bos) <= 1.0
    True
    """
    _require_module(model)
    if not isinstance(batch, DateBatch):
        raise TypeError(f"batch must be a DateBatch, got {type(batch).__name__}")
    targets = _require_token_ids("batch.targets", batch.targets)  # (n, 10)
    was_training = model.training
    model.eval()
    logits = model(batch.sources, shift_right(targets, bos), batch.source_mask)  # (n, 10, vocab)
    model.train(was_training)
    confidences, predictions = logits.softmax(-1).max(-1)  # (n, 10) each
    return expected_calibration_error(confidences, predictions == targets, bins)
