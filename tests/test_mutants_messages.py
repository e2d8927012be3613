"""Errors that name the argument at fault, exactly: written to kill the mutants that mutmut
(``make mutate MUTATE="softmax masking"``) found surviving, which change the name a check
reports ("x" -> "X", "max_len" -> None) or the text of its message.

Each test gives one bad argument and reads the message's first words, which must be the
argument's own name; a meta tensor (shapes, no values) checks that ``padding_mask`` keeps the
lengths' device and does not read their values.
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.masking import padding_mask
from lessons_lib.softmax import naive_softmax, softmax

WHOLE_NUMBERS = torch.arange(6).reshape(2, 3)  # int64: not a floating-point tensor
ROWS = torch.randn(2, 3)


@pytest.mark.parametrize("function", [softmax, naive_softmax])
def test_a_tensor_of_integers_is_refused_by_the_name_x(function):
    with pytest.raises(TypeError, match=r"^x must be a floating-point tensor"):
        function(WHOLE_NUMBERS)


@pytest.mark.parametrize("function", [softmax, naive_softmax])
def test_a_dim_that_is_not_an_int_is_refused_by_its_name(function):
    with pytest.raises(TypeError, match=r"^dim must be an int, got float$"):
        function(ROWS, dim=1.5)


def test_a_temperature_that_is_not_a_number_is_refused_by_its_name():
    with pytest.raises(TypeError, match=r"^temperature must be a number, got str$"):
        softmax(ROWS, temperature="hot")


def test_padding_mask_names_max_len():
    with pytest.raises(ValueError, match=r"^max_len must be > 0, got 0$"):
        padding_mask([1, 2], max_len=0)


def test_padding_mask_says_what_lengths_must_be():
    with pytest.raises(
        TypeError, match=r"^lengths must be a 1-D LongTensor or a list of ints, got"
    ):
        padding_mask(torch.tensor([1.0, 2.0]), max_len=3)
    with pytest.raises(ValueError, match=r"^lengths must name at least one sequence, got an empty"):
        padding_mask([], max_len=3)


def test_padding_mask_of_meta_lengths_stays_on_the_meta_device_without_reading_values():
    lengths = torch.tensor([2, 3], device="meta")  # shapes only: reading a value would raise
    mask = padding_mask(lengths, max_len=4)
    assert mask.device.type == "meta"
    assert mask.shape == (2, 1, 4) and mask.dtype == torch.bool
