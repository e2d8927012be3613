"""Data: the sequence tasks' splits and shapes (image sets are tested further down)."""

import pytest
import torch

from lessons_lib.data import ReversalTask, shift_right


def test_reversal_targets_are_reversed_sources_and_splits_are_disjoint():
    task = ReversalTask(length=6)
    generator = torch.Generator().manual_seed(0)
    train_sources, train_targets = task.sample(256, generator)
    test_sources, _ = task.sample(64, generator, held_out=True)
    assert train_sources.shape == (256, 6) and train_sources.dtype == torch.long
    assert torch.equal(train_targets, train_sources.flip(1))
    assert not task.is_held_out(train_sources).any()
    assert task.is_held_out(test_sources).all()
    assert int(train_sources.max()) < task.bos == task.vocab_size - 1


def test_sampling_is_seeded():
    task = ReversalTask()
    first = task.sample(8, torch.Generator().manual_seed(3))[0]
    again = task.sample(8, torch.Generator().manual_seed(3))[0]
    assert torch.equal(first, again)


def test_shift_right_starts_with_bos():
    targets = torch.tensor([[5, 1, 4], [2, 7, 1]])
    assert shift_right(targets, bos=10).tolist() == [[10, 5, 1], [10, 2, 7]]


def test_bad_input():
    with pytest.raises(ValueError, match=r"length must be > 0, got 0"):
        ReversalTask(length=0)
    with pytest.raises(TypeError, match=r"batch_size must be an int"):
        ReversalTask().sample(2.0, torch.Generator())
