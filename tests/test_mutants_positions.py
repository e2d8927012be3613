"""Position codes at the ends of their ranges: written to kill the mutants that the project's first
mutation tool (on positions; ``make mutate`` now runs mutmut) found surviving the module's own
tests, then those that mutmut found surviving these: a bad argument must be refused by its own
name (the message starts with it), and the resize and offset matrices must be worked out in
float64 and rounded to the default dtype only once, at the end.

Expected values are known by construction (a zero standard deviation draws zeros, a turn by
0 rad is the identity), computed by hand for d = 4 (RoPE turns pair 0 by pos * 1 rad and
pair 1 by pos * base^(-1/2) rad), worked out in exact fractions (resize weights) or in Python
floats (offset turns), or measured on thousands of draws (their spread is the init_std asked
for, within a few percent).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
import torch

from lessons_lib.positions import (
    PositionCodes1D,
    PositionCodes2D,
    RelativePositionBias2D,
    interpolate_codes_2d,
    interpolate_row_col,
    linear_resize_matrix,
    relative_offsets,
    rotary,
    sinusoidal_offset_matrix,
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


@pytest.mark.parametrize("base", ["10000", None, torch.tensor(2.0)])
def test_rotary_refuses_a_base_that_is_not_a_number(base):
    # a string or None cannot even be compared with 1; a tensor would pass a bare `base <= 1`
    with pytest.raises(ValueError, match=r"^base must be a number > 1, got "):
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


# --- every bad argument is refused by its own name ------------------------------------------


def ints(*shape: int) -> torch.Tensor:
    """An integer tensor: refused wherever floating-point codes or queries are expected."""
    return torch.zeros(shape, dtype=torch.long)


BAD_ARGUMENTS = [
    # (call, error, how the message starts)
    pytest.param(
        lambda: linear_resize_matrix(0, 3),
        ValueError,
        "old_n must be > 0, got 0",
        id="linear_resize_matrix-old_n",
    ),
    pytest.param(
        lambda: linear_resize_matrix(3, 0),
        ValueError,
        "new_n must be > 0, got 0",
        id="linear_resize_matrix-new_n",
    ),
    pytest.param(
        lambda: relative_offsets(0, 2),
        ValueError,
        "grid_h must be > 0, got 0",
        id="relative_offsets-grid_h",
    ),
    pytest.param(
        lambda: relative_offsets(2, -1),
        ValueError,
        "grid_w must be > 0, got -1",
        id="relative_offsets-grid_w",
    ),
    pytest.param(
        lambda: sinusoidal_offset_matrix(1, 0),
        ValueError,
        "d must be > 0, got 0",
        id="sinusoidal_offset_matrix-d",
    ),
    pytest.param(
        lambda: PositionCodes2D(0, 2, 4),
        ValueError,
        "grid_h must be > 0, got 0",
        id="PositionCodes2D-grid_h",
    ),
    pytest.param(
        lambda: PositionCodes2D(2, 0, 4),
        ValueError,
        "grid_w must be > 0, got 0",
        id="PositionCodes2D-grid_w",
    ),
    pytest.param(
        lambda: PositionCodes2D(2, 2, 0), ValueError, "d must be > 0, got 0", id="PositionCodes2D-d"
    ),
    pytest.param(
        lambda: RelativePositionBias2D(0, 2, 4),
        ValueError,
        "grid_h must be > 0, got 0",
        id="RelativePositionBias2D-grid_h",
    ),
    pytest.param(
        lambda: RelativePositionBias2D(2, 0, 4),
        ValueError,
        "grid_w must be > 0, got 0",
        id="RelativePositionBias2D-grid_w",
    ),
    pytest.param(
        lambda: RelativePositionBias2D(2, 2, 0),
        ValueError,
        "d_head must be > 0, got 0",
        id="RelativePositionBias2D-d_head",
    ),
    pytest.param(
        lambda: RelativePositionBias2D(2, 2, 4, class_tokens=1.5),
        TypeError,
        "class_tokens must be an int, got float",
        id="RelativePositionBias2D-class_tokens",
    ),
    pytest.param(
        lambda: RelativePositionBias2D(2, 2, 4)(ints(1, 1, 5, 4)),
        TypeError,
        "queries must be a floating-point tensor",
        id="RelativePositionBias2D-queries",
    ),
    pytest.param(
        lambda: interpolate_codes_2d(ints(4, 2), (2, 2), (3, 3)),
        TypeError,
        "codes must be a floating-point tensor",
        id="interpolate_codes_2d-codes-dtype",
    ),
    pytest.param(
        lambda: interpolate_codes_2d(torch.zeros(4), (2, 2), (3, 3)),
        ValueError,
        "codes must be (n_positions, d), got shape (4,)",
        id="interpolate_codes_2d-codes-rank",
    ),
    pytest.param(
        lambda: interpolate_codes_2d(torch.zeros(4, 2), (2,), (3, 3)),
        TypeError,
        "old_grid must be a (grid_h, grid_w) pair, got (2,)",
        id="interpolate_codes_2d-old_grid",
    ),
    pytest.param(
        lambda: interpolate_codes_2d(torch.zeros(4, 2), (0, 2), (3, 3)),
        ValueError,
        "old_grid[0] must be > 0, got 0",
        id="interpolate_codes_2d-old_grid[0]",
    ),
    pytest.param(
        lambda: interpolate_codes_2d(torch.zeros(4, 2), (2, 0), (3, 3)),
        ValueError,
        "old_grid[1] must be > 0, got 0",
        id="interpolate_codes_2d-old_grid[1]",
    ),
    pytest.param(
        lambda: interpolate_codes_2d(torch.zeros(4, 2), (2, 2), (3, 0)),
        ValueError,
        "new_grid[1] must be > 0, got 0",
        id="interpolate_codes_2d-new_grid[1]",
    ),
    pytest.param(
        lambda: interpolate_row_col(ints(2, 2), torch.zeros(2, 2), (3, 3)),
        TypeError,
        "row_codes must be a floating-point tensor",
        id="interpolate_row_col-row_codes",
    ),
    pytest.param(
        lambda: interpolate_row_col(torch.zeros(2, 2), torch.zeros(2), (3, 3)),
        ValueError,
        "col_codes must be (n_positions, d), got shape (2,)",
        id="interpolate_row_col-col_codes",
    ),
    pytest.param(
        lambda: interpolate_row_col(torch.zeros(2, 2), torch.zeros(2, 2), [3]),
        TypeError,
        "new_grid must be a (grid_h, grid_w) pair, got [3]",
        id="interpolate_row_col-new_grid",
    ),
]


@pytest.mark.parametrize(("call", "error", "start"), BAD_ARGUMENTS)
def test_a_bad_argument_is_refused_by_its_own_name(call, error, start):
    with pytest.raises(error, match="^" + re.escape(start)):
        call()


# --- double precision inside, one rounding at the end ---------------------------------------


@pytest.fixture
def float32_default():
    """The matrices come out in torch's default dtype: make it float32 here, whatever it was."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


def exact_resize_matrix(old_n: int, new_n: int) -> torch.Tensor:
    """linear_resize_matrix by hand, in exact fractions, rounded once to float64 at the end."""
    rows = []
    for i in range(new_n):
        place = Fraction(2 * i + 1, 2) * old_n / new_n - Fraction(1, 2)
        place = min(max(place, Fraction(0)), Fraction(old_n - 1))
        left = math.floor(place)
        right = min(left + 1, old_n - 1)
        row = [Fraction(0)] * old_n
        row[left] += 1 - (place - left)
        row[right] += place - left
        rows.append([float(weight) for weight in row])
    return torch.tensor(rows, dtype=torch.float64)  # (new_n, old_n)


@pytest.mark.parametrize(("old_n", "new_n"), [(37, 101), (13, 7)])
def test_resize_weights_are_exact_to_float32_rounding(float32_default, old_n, new_n):
    # weights like 37/101 are inexact: the places are worked out in float64, so only the final
    # rounding to float32 (half a unit, <= 6e-8 below 1) is lost; places in float32 lose 1e-6
    matrix = linear_resize_matrix(old_n, new_n)
    assert matrix.dtype == torch.float32
    torch.testing.assert_close(
        matrix.double(), exact_resize_matrix(old_n, new_n), atol=1e-7, rtol=0
    )


def turn_by_hand(offset: int, d: int) -> torch.Tensor:
    """sinusoidal_offset_matrix in Python floats: pair j turns by offset * 10000^(-2j/d) rad."""
    matrix = torch.zeros(d, d, dtype=torch.float64)
    for j in range(d // 2):
        angle = offset * 10000.0 ** (-2 * j / d)
        cos, sin = math.cos(angle), math.sin(angle)
        matrix[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = torch.tensor([[cos, -sin], [sin, cos]])
    return matrix


@pytest.mark.parametrize("offset", [10**6, -12345])
def test_offset_matrix_turns_by_long_offsets_accurately(float32_default, offset):
    # offset * w_j in float32 would be off by up to 1e-2 rad at offset 10^6; in float64 it is not
    matrix = sinusoidal_offset_matrix(offset, 8)
    assert matrix.dtype == torch.float32
    torch.testing.assert_close(matrix.double(), turn_by_hand(offset, 8), atol=1e-6, rtol=0)
