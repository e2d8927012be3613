"""Position codes at the ends of their ranges: written to kill the mutants that the project's first
mutation tool (on positions; ``make mutate`` now runs mutmut) found surviving the module's own
tests.

Expected values are known by construction (a zero standard deviation draws zeros, a turn by
0 rad is the identity), computed by hand for d = 4 (RoPE turns pair 0 by pos * 1 rad and
pair 1 by pos * base^(-1/2) rad), or measured on thousands of draws (their spread is the
init_std asked for, within a few percent).
"""

from __future__ import annotations

import math

import pytest
import torch

from lessons_lib.positions import (
    PositionCodes1D,
    PositionCodes2D,
    RelativePositionBias2D,
    interpolate_row_col,
    rotary,
)

# --- the first draw of the learnable codes ------------------------------------------------


def spreads(init_std: float | None = None) -> dict[str, float]:
    """The standard deviation of every learnable table, from large modules (>= 10,000 draws)."""
    torch.manual_seed(0)
    given = {} if init_std is None else {"init_std": init_std}
    one_d = PositionCodes1D(100, 100, **given)
    two_d = PositionCodes2D(100, 100, 200, **given)
    relative = RelativePositionBias2D(10, 10, d_head=64, **given)  # 19 * 19 offsets
    return {
        "codes": one_d.codes.std().item(),
        "row_codes": two_d.row_codes.std().item(),
        "col_codes": two_d.col_codes.std().item(),
        "offset_codes": relative.offset_codes.std().item(),
    }


def test_learnable_codes_start_with_the_vit_spread_of_two_hundredths():
    for name, spread in spreads().items():
        assert spread == pytest.approx(0.02, rel=0.05), name


def test_learnable_codes_start_with_the_spread_asked_for():
    for name, spread in spreads(init_std=0.5).items():
        assert spread == pytest.approx(0.5, rel=0.05), name


def test_a_zero_spread_starts_every_code_at_zero():
    assert torch.equal(PositionCodes1D(3, 4, init_std=0.0)(), torch.zeros(3, 4))
    assert torch.equal(PositionCodes2D(2, 3, 4, init_std=0)(), torch.zeros(6, 4))
    relative = RelativePositionBias2D(2, 2, d_head=4, init_std=0.0)
    assert torch.equal(relative.offset_codes, torch.zeros(9, 4))


@pytest.mark.parametrize("init_std", [-0.1, math.inf, math.nan])
def test_a_negative_or_infinite_spread_is_refused_by_name(init_std):
    message = "init_std must be a finite number >= 0"
    with pytest.raises(ValueError, match=message):
        PositionCodes1D(3, 4, init_std=init_std)
    with pytest.raises(ValueError, match=message):
        PositionCodes2D(2, 2, 4, init_std=init_std)
    with pytest.raises(ValueError, match=message):
        RelativePositionBias2D(2, 2, d_head=4, init_std=init_std)


def test_one_d_codes_keep_their_sizes_and_refuse_an_empty_width():
    codes = PositionCodes1D(9, 6)
    assert (codes.n_positions, codes.d) == (9, 6)
    with pytest.raises(ValueError, match=r"d must be > 0, got 0"):
        PositionCodes1D(3, 0)


# --- rotary codes (RoPE) --------------------------------------------------------------------


def turned_unit_pairs(seq: int, second_pair_speed: float) -> torch.Tensor:
    """RoPE of x = [1, 0, 1, 0] at positions 0 .. seq-1, by hand: pair 0 turns by pos rad
    (theta_0 = base^0 = 1), pair 1 by pos * second_pair_speed rad (theta_1 = base^(-1/2)).
    """
    rows = []
    for pos in range(seq):
        slow = pos * second_pair_speed
        rows.append([math.cos(pos), math.sin(pos), math.cos(slow), math.sin(slow)])
    return torch.tensor(rows, dtype=torch.float64)  # (seq, 4)


def test_rotary_turns_by_base_ten_thousand_by_default():
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64).expand(5, 4)  # (seq, d)
    expected = turned_unit_pairs(5, 10000.0**-0.5)  # pair 1 turns 0.01 rad per position
    torch.testing.assert_close(rotary(x), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("base", [2, 1.5])
def test_rotary_accepts_any_base_above_one(base):
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64).expand(4, 4)  # (seq, d)
    expected = turned_unit_pairs(4, base**-0.5)
    torch.testing.assert_close(rotary(x, base=base), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("base", [1, 1.0, 0.5, True])
def test_rotary_refuses_a_base_of_one_or_less(base):
    # base 1 would turn every pair by the same angle: the code would lose its many speeds
    with pytest.raises(ValueError, match=r"base must be a number > 1"):
        rotary(torch.randn(3, 4), base=base)


# --- relative position bias and interpolated tables -----------------------------------------


def test_relative_bias_saves_its_table_but_not_the_offset_index():
    # the index follows from the grid, so a checkpoint holds the learned table only
    relative = RelativePositionBias2D(3, 4, d_head=8)
    assert list(relative.state_dict()) == ["offset_codes"]
    assert relative.offset_index.shape == (12, 12)  # still there, as a buffer


def test_row_and_column_tables_of_different_widths_are_refused():
    with pytest.raises(ValueError, match=r"row_codes are \(grid_h, 2\) but col_codes are"):
        interpolate_row_col(torch.randn(3, 2), torch.randn(3, 4), (4, 4))
