"""Metrics at the ends of their ranges and on bad input: written to kill the mutants that the
project's first mutation tool (on metrics; ``make mutate`` now runs mutmut) found surviving the
module's own tests.

Each model here is built so that its right answers are known by construction: a look-up
table of logits, right only in eval mode, or recording the batches it is given.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.data import ImageSet
from lessons_lib.metrics import classification_accuracy, exact_match_accuracy, token_accuracy
from lessons_lib.transformer import Transformer


class RightOnlyWhenEvaluating(nn.Module):
    """Scores the true label highest in eval mode and a wrong one in training mode."""

    def __init__(self, answers: torch.Tensor, classes: int) -> None:
        super().__init__()
        self.register_buffer("right", F.one_hot(answers, classes).float())
        self.register_buffer("wrong", F.one_hot((answers + 1) % classes, classes).float())

    def forward(self, *_: torch.Tensor) -> torch.Tensor:
        return self.wrong if self.training else self.right


class Batches(nn.Module):
    """Answers label 0 for every image and records the batch sizes it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.sizes.append(images.shape[0])
        return torch.tensor([1.0, 0.0]).expand(images.shape[0], 2)


class Tokens(nn.Module):
    """A chapter-04-style model: ``(logits, weights)`` from a fixed table, right or wrong."""

    def __init__(self, logits: torch.Tensor, right_only_when_evaluating: bool = False) -> None:
        super().__init__()
        self.register_buffer("logits", logits)
        self.right_only_when_evaluating = right_only_when_evaluating

    def forward(self, sources: torch.Tensor) -> tuple[torch.Tensor, None]:
        if self.right_only_when_evaluating and self.training:
            return -self.logits, None  # the argmax moves off every right answer
        return self.logits, None


def one_image_set(n: int) -> ImageSet:
    return ImageSet(torch.zeros(n, 1, 2, 2), torch.zeros(n, dtype=torch.long), ("a", "b"))


# --- classification_accuracy ----------------------------------------------------------


def test_classification_accuracy_scores_in_eval_mode_and_puts_the_mode_back():
    labels = torch.tensor([0, 1, 1, 0])
    data = ImageSet(torch.zeros(4, 1, 2, 2), labels, ("a", "b"))
    model = RightOnlyWhenEvaluating(labels, 2).train()
    assert classification_accuracy(model, data) == 1.0
    assert model.training


def test_the_default_batch_is_1024_images():
    model = Batches()
    assert classification_accuracy(model, one_image_set(1025)) == 1.0
    assert model.sizes == [1024, 1]


def test_classification_accuracy_refuses_what_is_not_a_model_or_not_an_image_set():
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got function"):
        classification_accuracy(lambda images: images, one_image_set(2))
    with pytest.raises(TypeError, match=r"data must be an ImageSet, got tuple"):
        classification_accuracy(Batches(), (torch.zeros(2, 1, 2, 2), torch.zeros(2)))


# --- token_accuracy -------------------------------------------------------------------


def targets_and_right_logits() -> tuple[torch.Tensor, torch.Tensor]:
    targets = torch.tensor([[0, 1, 2], [2, 1, 0]])  # (batch, L)
    return targets, F.one_hot(targets, 3).float()  # logits (batch, L, vocab)


def test_token_accuracy_scores_in_eval_mode_and_puts_the_mode_back():
    targets, logits = targets_and_right_logits()
    model = Tokens(logits, right_only_when_evaluating=True).train()
    assert token_accuracy(model, targets, targets) == 1.0
    assert model.training
    model.eval()
    assert token_accuracy(model, targets, targets) == 1.0
    assert not model.training


def test_token_accuracy_of_a_single_sequence():
    targets, logits = targets_and_right_logits()
    assert token_accuracy(Tokens(logits[:1]), targets[:1], targets[:1]) == 1.0


def test_token_accuracy_refuses_bad_models_and_token_ids():
    targets, logits = targets_and_right_logits()
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got function"):
        token_accuracy(lambda sources: (logits, None), targets, targets)
    with pytest.raises(TypeError, match=r"targets must hold token ids \(torch\.long\)"):
        token_accuracy(Tokens(logits), targets, targets.float())
    with pytest.raises(ValueError, match=r"sources must have 2 dimensions"):
        token_accuracy(Tokens(logits), targets[0], targets)
    with pytest.raises(ValueError, match=r"sources holds no sequences \(shape \(0, 3\)\)"):
        token_accuracy(Tokens(logits), targets[:0], targets)


def test_token_accuracy_refuses_sources_and_targets_of_different_batch_sizes():
    targets, logits = targets_and_right_logits()
    with pytest.raises(ValueError, match=r"sources \(1, 3\) and targets \(2, 3\) must hold"):
        token_accuracy(Tokens(logits), targets[:1], targets)


def test_token_accuracy_refuses_a_model_that_writes_another_length():
    targets, logits = targets_and_right_logits()
    with pytest.raises(ValueError, match=r"the model writes \(2, 2\) tokens"):
        token_accuracy(Tokens(logits[:, :2]), targets, targets)


# --- exact_match_accuracy -------------------------------------------------------------


def test_exact_match_accuracy_refuses_empty_and_float_targets():
    torch.manual_seed(0)
    model = Transformer(5, d_model=8, num_heads=2, num_layers=1, d_ff=16)
    sources = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="targets holds no sequences"):
        exact_match_accuracy(model, sources, sources[:0], bos=4)
    with pytest.raises(TypeError, match="targets must hold token ids"):
        exact_match_accuracy(model, sources, sources.double(), bos=4)
