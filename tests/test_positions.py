"""Position codes: sinusoidal_positions against its formula written as a plain loop, its
offset matrix, and rotary (RoPE) against a direct complex-number form and its properties."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lessons_lib import sinusoidal_positions
from lessons_lib.positions import rotary, sinusoidal_offset_matrix


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


# --- rotary codes (RoPE) ----------------------------------------------------------------


def rotary_by_complex_numbers(x, positions, base=10000.0):
    """RoPE from the paper: pair (2i, 2i+1) as z_i, multiplied by e^{i pos theta_i}."""
    d = x.shape[-1]
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    thetas = torch.tensor([base ** (-2 * i / d) for i in range(d // 2)], dtype=torch.float64)
    turns = torch.polar(
        torch.ones(len(positions), d // 2, dtype=torch.float64),
        positions.double()[:, None] * thetas[None, :],
    )  # (seq, d/2)
    return torch.view_as_real(pairs * turns).reshape(x.shape)


@pytest.mark.parametrize(
    ("shape", "base"), [((6, 8), 10000.0), ((2, 3, 5, 16), 10000.0), ((4, 2), 100.0)]
)
def test_rotary_matches_the_complex_number_form(shape, base):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64)
    positions = torch.arange(shape[-2])
    expected = rotary_by_complex_numbers(x, positions, base)
    torch.testing.assert_close(rotary(x, base=base), expected, atol=1e-12, rtol=0)


def test_rotary_with_given_positions_and_the_first_pair_by_hand():
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]])  # (seq 1, d 4)
    turned = rotary(x, positions=torch.tensor([2]), base=10000.0)
    # pair 0 turns by 2 * theta_0 = 2 rad; pair 1 by 2 * 10000^(-1/2) = 0.02 rad
    expected = torch.tensor([[math.cos(2), math.sin(2), math.cos(0.02), math.sin(0.02)]])
    torch.testing.assert_close(turned, expected, atol=1e-6, rtol=0)
    assert torch.equal(rotary(x, positions=torch.tensor([0])), x)  # position 0: no turn


def test_rotary_keeps_dtype_and_position_zero_is_the_identity():
    x = torch.randn(3, 5, 8, dtype=torch.float16)
    assert rotary(x).dtype == torch.float16
    assert torch.equal(rotary(x)[..., 0, :], x[..., 0, :])


@settings(max_examples=40, deadline=None)
@given(
    half_d=st.integers(1, 16),
    m=st.integers(0, 500),
    n=st.integers(0, 500),
    shift=st.integers(-200, 200),
    seed=st.integers(0, 2**16),
)
def test_rotary_score_depends_only_on_the_offset(half_d, m, n, shift, seed):
    generator = torch.Generator().manual_seed(seed)
    query, key = torch.randn(2, 1, 2 * half_d, generator=generator, dtype=torch.float64)
    shift = max(shift, -min(m, n))  # keep both positions >= 0

    def score(query_position, key_position):
        q = rotary(query, positions=torch.tensor([query_position]))
        k = rotary(key, positions=torch.tensor([key_position]))
        return float((q * k).sum())

    assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seq=st.integers(1, 20), half_d=st.integers(1, 16), seed=st.integers(0, 2**16))
def test_rotary_keeps_every_length(seq, half_d, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(seq, 2 * half_d, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(rotary(x).norm(dim=-1), x.norm(dim=-1), atol=1e-12, rtol=0)


def test_rotary_differs_from_the_half_split_pairing():
    # The same turns applied to the pairs (i, i + d/2) give other numbers: the convention matters.
    x = torch.randn(4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    order = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])  # half-split pairs laid out as (2i, 2i+1)
    half_split = rotary(x[:, order])[:, torch.argsort(order)]
    assert not torch.allclose(half_split, rotary(x), atol=1e-3)
    torch.testing.assert_close(half_split[0], x[0])  # both leave position 0 alone
    # the first half-split pair (dims 0 and 4) turns by pos * theta_0 = pos radians
    angle = torch.atan2(half_split[1, 4], half_split[1, 0]) - torch.atan2(x[1, 4], x[1, 0])
    assert math.remainder(float(angle) - 1.0, 2 * math.pi) == pytest.approx(0.0, abs=1e-9)


def test_rotary_bad_input():
    with pytest.raises(ValueError, match=r"d must be even, got d=5"):
        rotary(torch.randn(4, 5))
    with pytest.raises(
        ValueError, match=r"at least 2 dimensions \(\.\.\., seq, d\), got shape \(8,\)"
    ):
        rotary(torch.randn(8))
    with pytest.raises(
        TypeError, match=r"x must be a floating-point tensor .* got dtype torch.int64"
    ):
        rotary(torch.ones(4, 8, dtype=torch.long))
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor, got list"):
        rotary([[1.0, 2.0]])
    with pytest.raises(
        ValueError, match=r"positions must have shape \(seq,\) = \(4,\), got \(3,\)"
    ):
        rotary(torch.randn(4, 8), positions=torch.arange(3))
    with pytest.raises(TypeError, match=r"positions must be a torch.Tensor, got list"):
        rotary(torch.randn(4, 8), positions=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"base must be a number > 1, got 0"):
        rotary(torch.randn(4, 8), base=0)


# --- the offset matrix of the sinusoidal code ----------------------------------------------


@pytest.mark.parametrize(("offset", "d"), [(1, 2), (5, 16), (-4, 32), (0, 8), (37, 64)])
def test_offset_matrix_moves_every_code_by_the_offset(offset, d):
    codes = sinusoidal_positions(120, d).double()
    matrix = sinusoidal_offset_matrix(offset, d).double()
    start, stop = max(0, -offset), min(120, 120 - offset)
    moved = codes[start:stop] @ matrix
    torch.testing.assert_close(moved, codes[start + offset : stop + offset], atol=1e-6, rtol=0)


def test_offset_matrix_is_a_rotation_and_offsets_add():
    a, b = sinusoidal_offset_matrix(3, 16), sinusoidal_offset_matrix(4, 16)
    torch.testing.assert_close(a @ a.T, torch.eye(16), atol=1e-6, rtol=0)
    torch.testing.assert_close(a @ b, sinusoidal_offset_matrix(7, 16), atol=1e-6, rtol=0)


def test_offset_matrix_bad_input():
    with pytest.raises(ValueError, match=r"d must be even, got d=5"):
        sinusoidal_offset_matrix(1, 5)
    with pytest.raises(TypeError, match=r"offset must be an int, got float"):
        sinusoidal_offset_matrix(1.0, 4)


# --- relative position bias and interpolated codes (chapter 10) ---------------------------

import torch.nn.functional as F  # noqa: E402

from lessons_lib.positions import (  # noqa: E402
    PositionCodes2D,
    RelativePositionBias2D,
    interpolate_codes_1d,
    interpolate_codes_2d,
    interpolate_row_col,
    linear_resize_matrix,
    relative_offsets,
)


def test_relative_offsets_by_hand():
    offsets = relative_offsets(2, 3)
    assert offsets.shape == (6, 6, 2)
    assert offsets[0, 5].tolist() == [-1, -2]  # query (0, 0), key (1, 2)
    assert offsets[5, 0].tolist() == [1, 2]
    assert (offsets.diagonal(dim1=0, dim2=1) == 0).all()


def test_relative_bias_is_the_query_dotted_with_the_offset_embedding():
    torch.manual_seed(0)
    relative = RelativePositionBias2D(grid_h=2, grid_w=3, d_head=4)
    queries = torch.randn(2, 3, 7, 4)  # (batch, heads, 1 + 6, d_head)
    bias = relative(queries)
    assert bias.shape == (2, 3, 7, 7)
    assert (bias[:, :, 0] == 0).all() and (bias[:, :, :, 0] == 0).all()  # the class token
    offsets = relative_offsets(2, 3)
    for i in range(6):
        for j in range(6):
            dr, dc = offsets[i, j].tolist()
            embedding = relative.offset_codes[(dr + 1) * 5 + (dc + 2)]  # rows -1..1, cols -2..2
            expected = queries[:, :, 1 + i] @ embedding / 2.0  # / sqrt(d_head)
            assert torch.allclose(bias[:, :, 1 + i, 1 + j], expected, atol=1e-6)


@given(
    grid_h=st.integers(2, 5),
    grid_w=st.integers(2, 5),
    seed=st.integers(0, 200),
    data=st.data(),
)
def test_shifting_every_patch_by_the_same_offset_keeps_its_bias(grid_h, grid_w, seed, data):
    """bias(query at p, key at p') = bias(query at p + s, key at p' + s), same query vector."""
    torch.manual_seed(seed)
    relative = RelativePositionBias2D(grid_h, grid_w, d_head=6, class_tokens=0)
    shift_r = data.draw(st.integers(-(grid_h - 1), grid_h - 1))
    shift_c = data.draw(st.integers(-(grid_w - 1), grid_w - 1))
    rows_ok = range(max(0, -shift_r), min(grid_h, grid_h - shift_r))
    cols_ok = range(max(0, -shift_c), min(grid_w, grid_w - shift_c))
    query = torch.randn(6)
    queries = query.expand(1, 1, grid_h * grid_w, 6)  # the same query at every patch
    bias = relative(queries)[0, 0]  # (N, N)
    for r1 in rows_ok:
        for c1 in cols_ok:
            for r2 in rows_ok:
                for c2 in cols_ok:
                    before = bias[r1 * grid_w + c1, r2 * grid_w + c2]
                    after = bias[
                        (r1 + shift_r) * grid_w + c1 + shift_c,
                        (r2 + shift_r) * grid_w + c2 + shift_c,
                    ]
                    assert torch.allclose(before, after, atol=1e-6)


def test_relative_bias_gets_gradients_and_bad_input():
    relative = RelativePositionBias2D(3, 3, d_head=4)
    relative(torch.randn(1, 2, 10, 4)).sum().backward()
    assert relative.offset_codes.grad.shape == (25, 4)
    assert relative.offset_codes.grad.abs().sum() > 0
    with pytest.raises(
        ValueError, match=r"queries must be \(batch, heads, 10, 4\) .*got shape \(1, 2, 9, 4\)"
    ):
        relative(torch.randn(1, 2, 9, 4))
    with pytest.raises(TypeError, match="queries"):
        relative(torch.zeros(1, 2, 10, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="class_tokens must be >= 0, got -1"):
        RelativePositionBias2D(3, 3, 4, class_tokens=-1)
    with pytest.raises(ValueError, match="grid_h"):
        RelativePositionBias2D(0, 3, 4)


@pytest.mark.parametrize(("old_n", "new_n"), [(4, 8), (3, 7), (8, 4), (5, 5), (1, 3)])
def test_interpolate_codes_1d_matches_torch_linear(old_n, new_n):
    codes = torch.randn(old_n, 6)
    reference = F.interpolate(codes.T[None], size=new_n, mode="linear", align_corners=False)
    assert torch.allclose(interpolate_codes_1d(codes, new_n), reference[0].T, atol=1e-5)
    assert torch.allclose(linear_resize_matrix(old_n, new_n).sum(-1), torch.ones(new_n))


def test_float64_codes_are_stretched_with_float64_weights():
    """In float64 both interpolations agree with torch's to float64 precision, not float32's:
    37 -> 101 points puts new points at fractions that float32 rounds by about 1e-7."""
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(37, 4, dtype=torch.float64, generator=generator)
    reference = F.interpolate(codes.T[None], size=101, mode="linear", align_corners=False)
    assert torch.allclose(interpolate_codes_1d(codes, 101), reference[0].T, rtol=0, atol=1e-12)
    grid = codes[:36].reshape(6, 6, 4).permute(2, 0, 1)[None]  # (1, d, gh, gw)
    reference = F.interpolate(grid, size=(17, 29), mode="bilinear", align_corners=False)
    expected = reference[0].permute(1, 2, 0).reshape(-1, 4)  # (nh * nw, d), row-major
    stretched = interpolate_codes_2d(codes[:36], (6, 6), (17, 29))
    assert stretched.dtype == torch.float64
    assert torch.allclose(stretched, expected, rtol=0, atol=1e-12)
    assert linear_resize_matrix(37, 101).dtype == torch.get_default_dtype()
    with pytest.raises(TypeError, match=r"^dtype must be a floating torch.dtype"):
        linear_resize_matrix(3, 4, dtype=torch.long)


@pytest.mark.parametrize(
    ("old_grid", "new_grid"), [((4, 4), (8, 8)), ((2, 3), (5, 7)), ((4, 6), (3, 3))]
)
def test_interpolate_codes_2d_matches_torch_bilinear_on_the_grid(old_grid, new_grid):
    codes = torch.randn(old_grid[0] * old_grid[1], 10)
    grid = codes.reshape(*old_grid, 10).permute(2, 0, 1)[None]  # (1, d, gh, gw)
    reference = F.interpolate(grid, size=new_grid, mode="bilinear", align_corners=False)
    expected = reference[0].permute(1, 2, 0).reshape(-1, 10)  # (nh * nw, d), row-major
    assert torch.allclose(interpolate_codes_2d(codes, old_grid, new_grid), expected, atol=1e-5)


def test_stretching_the_tables_equals_stretching_the_concatenated_codes_in_2d():
    module = PositionCodes2D(3, 4, 8)
    rows, cols = interpolate_row_col(module.row_codes, module.col_codes, (6, 5))
    stretched = PositionCodes2D(6, 5, 8)
    with torch.no_grad():
        stretched.row_codes.copy_(rows)
        stretched.col_codes.copy_(cols)
    expected = interpolate_codes_2d(module(), (3, 4), (6, 5))
    assert torch.allclose(stretched(), expected, atol=1e-6)


def test_naive_1d_stretching_moves_codes_off_their_rows():
    """A 2x2 grid's codes stretched as a line of 16 put row 0's codes on rows 0-1 of 4x4."""
    codes = torch.eye(4)  # (4, 4): patch i's code is the unit vector e_i
    naive = interpolate_codes_1d(codes, 16).reshape(4, 4, 4)  # (row, col, d)
    on_grid = interpolate_codes_2d(codes, (2, 2), (4, 4)).reshape(4, 4, 4)
    assert naive[1, 3].argmax() == 1 and naive[2, 0].argmax() == 2  # row 1 ends in old (0, 1)
    assert on_grid[1, 3].argmax() == 1 and on_grid[2, 0].argmax() == 2
    assert on_grid[0, 3].argmax() == 1 and naive[0, 3].argmax() == 0  # old (0, 1) vs old (0, 0)


def test_interpolation_bad_input():
    with pytest.raises(ValueError, match=r"a 4x4 grid has 16 patches, got 15 codes"):
        interpolate_codes_2d(torch.randn(15, 4), (4, 4), (8, 8))
    with pytest.raises(TypeError, match=r"new_grid must be a \(grid_h, grid_w\) pair, got 8"):
        interpolate_codes_2d(torch.randn(16, 4), (4, 4), 8)
    with pytest.raises(ValueError, match=r"codes must be \(n_positions, d\), got shape \(16,\)"):
        interpolate_codes_1d(torch.randn(16), 8)
    with pytest.raises(ValueError, match="new_n"):
        interpolate_codes_1d(torch.randn(16, 4), 0)
    with pytest.raises(TypeError, match="row_codes"):
        interpolate_row_col(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2), (4, 4))


def test_rotary_follows_its_input_onto_another_device():
    # A reader who moves a model to a GPU passes GPU tensors; every tensor rotary builds must
    # be made on the input's device. The meta device stands in for a GPU here: mixing it with
    # a CPU tensor fails just as CUDA does.
    from lessons_lib.positions import rotary

    x = torch.randn(2, 5, 8, device="meta")
    assert rotary(x).device.type == "meta"
    assert rotary(x, positions=torch.arange(5, device="meta")).device.type == "meta"
