"""PositionCodes1D and PositionCodes2D: parameter counts, the 2-D structure, bad input."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.metrics import parameter_count as count
from lessons_lib.positions import PositionCodes1D, PositionCodes2D


def test_the_notes_example_counts():
    assert count(PositionCodes1D(9, 1024)) == 9 * 1024 == 9216
    assert count(PositionCodes2D(3, 3, 1024)) == 3 * 512 + 3 * 512 == 3072


@given(h=st.integers(1, 6), w=st.integers(1, 6), half=st.integers(1, 16))
def test_parameter_counts(h, w, half):
    d = 2 * half
    assert count(PositionCodes1D(h * w, d)) == h * w * d
    assert count(PositionCodes2D(h, w, d)) == (h + w) * half
    assert PositionCodes1D(h * w, d)().shape == PositionCodes2D(h, w, d)().shape == (h * w, d)


@given(h=st.integers(1, 5), w=st.integers(1, 5), half=st.integers(1, 8), seed=st.integers(0, 99))
def test_rows_share_the_first_half_and_columns_the_second(h, w, half, seed):
    torch.manual_seed(seed)
    module = PositionCodes2D(h, w, 2 * half)
    codes = module()
    for index in range(h * w):
        r, c = divmod(index, w)  # row-major patch order
        assert torch.equal(codes[index, :half], module.row_codes[r])
        assert torch.equal(codes[index, half:], module.col_codes[c])
    grid = codes.reshape(h, w, 2 * half)  # (rows, cols, d)
    assert torch.equal(grid[:, :1, :half].expand(h, w, half), grid[:, :, :half])  # same row
    assert torch.equal(grid[:1, :, half:].expand(h, w, half), grid[:, :, half:])  # same column


def test_codes_are_learnable_and_get_gradients():
    module = PositionCodes2D(2, 3, 4)
    (module() ** 2).sum().backward()
    assert module.row_codes.grad is not None and module.col_codes.grad is not None
    one_d = PositionCodes1D(5, 4)
    one_d().sum().backward()
    assert torch.equal(one_d.codes.grad, torch.ones(5, 4))


def test_bad_input():
    with pytest.raises(ValueError, match=r"d must be even, got d=7"):
        PositionCodes2D(3, 3, 7)
    with pytest.raises(ValueError, match=r"n_positions must be > 0, got 0"):
        PositionCodes1D(0, 8)
    with pytest.raises(TypeError, match=r"grid_w must be an int, got float"):
        PositionCodes2D(3, 3.0, 8)
