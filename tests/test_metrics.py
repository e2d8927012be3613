"""Metrics: parameter counts and accuracies count exactly what they say, in eval mode."""

import pytest
import torch
from torch import nn

from lessons_lib.data import ImageSet
from lessons_lib.decoding import greedy_decode
from lessons_lib.metrics import (
    classification_accuracy,
    exact_match_accuracy,
    parameter_count,
    token_accuracy,
)
from lessons_lib.transformer import Transformer

BOS = 10


def test_parameter_count_counts_learnable_numbers_only():
    layer = nn.Linear(4, 3)
    assert parameter_count(layer) == 4 * 3 + 3
    layer.bias.requires_grad_(False)  # frozen: no longer learnable
    assert parameter_count(layer) == 12
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    assert "positions" in dict(model.named_buffers())  # fixed codes are a buffer, not counted
    assert parameter_count(model) == sum(p.numel() for p in model.parameters())
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module, got int"):
        parameter_count(3)


def test_classification_accuracy_counts_labels_and_keeps_the_mode():
    images = torch.zeros(5, 1, 2, 2)
    data = ImageSet(images, torch.tensor([1, 1, 0, 1, 0]), ("a", "b"))

    class Images(nn.Module):
        def forward(self, images):
            return torch.tensor([[0.0, 1.0]]).expand(images.shape[0], 2)

    model = Images().train()
    assert classification_accuracy(model, data, batch_size=2) == 3 / 5
    assert model.training  # put back in the mode it was in


def test_token_accuracy_counts_tokens_not_sequences():
    class Tokens(nn.Module):
        def forward(self, sources):
            return torch.tensor([0.0, 1.0]).expand(*sources.shape, 2), None

    sources = torch.zeros(2, 4, dtype=torch.long)
    targets = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 1]])
    assert token_accuracy(Tokens(), sources, targets) == 6 / 8


def test_exact_match_accuracy_counts_whole_sequences():
    torch.manual_seed(0)
    model = Transformer(BOS + 1, d_model=32, num_heads=4, num_layers=2, d_ff=64, max_len=40)
    source = torch.randint(0, BOS, (4, 7), generator=torch.Generator().manual_seed(1))
    decoded = greedy_decode(model, source, BOS)
    assert exact_match_accuracy(model, source, decoded, BOS) == 1.0
    wrong = decoded.clone()
    wrong[0, -1] = (wrong[0, -1] + 1) % BOS  # one token wrong spoils the whole sequence
    wrong[1, 0] = (wrong[1, 0] + 1) % BOS
    assert exact_match_accuracy(model, source, wrong, BOS) == 0.5
    with pytest.raises(ValueError, match=r"sources \(4, 7\) and targets \(4, 6\) must match"):
        exact_match_accuracy(model, source, source[:, :6], BOS)
