"""sinusoidal_positions against its formula, written as a plain loop."""

import math

import pytest
import torch

from lessons_lib import sinusoidal_positions


@pytest.mark.parametrize(("n", "d"), [(1, 2), (10, 16), (50, 64), (7, 5)])
def test_matches_the_formula(n, d):
    codes = sinusoidal_positions(n, d)
    assert codes.shape == (n, d)
    for pos in range(n):
        for i in range(d):
            angle = pos / 10000 ** (2 * (i // 2) / d)
            expected = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert codes[pos, i].item() == pytest.approx(expected, abs=1e-6)


def test_every_position_gets_a_distinct_code():
    codes = sinusoidal_positions(100, 32)
    distances = torch.cdist(codes, codes) + torch.eye(100) * 1e9
    assert distances.min() > 0.1


def test_bad_input():
    with pytest.raises(ValueError, match=r"d must be > 0, got 0"):
        sinusoidal_positions(4, 0)
    with pytest.raises(TypeError, match=r"n must be an int, got float"):
        sinusoidal_positions(4.0, 8)
