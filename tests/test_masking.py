"""causal_mask and padding_mask: values, shapes, how they combine, bad input."""

import pytest
import torch

from lessons_lib import causal_mask, padding_mask


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(5)
    assert mask.dtype == torch.bool and mask.shape == (5, 5)
    rows, cols = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    assert torch.equal(mask, cols <= rows)


@pytest.mark.parametrize("lengths", [[3, 1, 4], torch.tensor([3, 1, 4])])
def test_padding_mask_marks_real_tokens(lengths):
    mask = padding_mask(lengths, max_len=4)
    assert mask.shape == (3, 1, 4)
    assert mask[:, 0].sum(-1).tolist() == [3, 1, 4]
    assert mask[0, 0].tolist() == [True, True, True, False]


def test_masks_combine_by_and():
    combined = causal_mask(4) & padding_mask([4, 2], max_len=4)
    assert combined.shape == (2, 4, 4)
    assert not combined[1, 3, 2:].any() and combined[1, 3, :2].all()


def test_bad_input():
    with pytest.raises(ValueError, match=r"n must be > 0, got 0"):
        causal_mask(0)
    with pytest.raises(TypeError, match=r"n must be an int, got float"):
        causal_mask(2.5)
    with pytest.raises(ValueError, match=r"0..max_len=3, got \[5\]"):
        padding_mask([5], max_len=3)
    with pytest.raises(TypeError, match=r"LongTensor or a list of ints"):
        padding_mask(torch.tensor([1.0, 2.0]), max_len=3)
