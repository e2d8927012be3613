"""Position codes: what tells attention *where* each token is.

Attention by itself is blind to order (shuffle the tokens and its outputs
shuffle the same way), so each token's input is its embedding plus a code for
its position:

    input = token_embedding + position_code

This module holds the fixed sinusoidal codes of Vaswani et al. (2017) and
the two learnable kinds the ViT paper compares (Dosovitskiy et al., 2021):
1-D codes, one vector per position, and 2-D codes, a row vector and a column
vector of half the size, concatenated.

It also holds the rotary codes (RoPE) of Su et al. (2021), which current
language models use: instead of adding a code to the input, they rotate the
queries and keys, so that a score depends only on the offset between the
two positions.

Layer: modules (imports torch only).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lessons_lib._validate import (
    require_float,
    require_int,
    require_number,
    require_positive_int,
    validated,
)

INIT_STD = 0.02  # learnable codes start as N(0, 0.02^2), as in the ViT reference code


def _require_init_std(init_std: object) -> float:
    """A standard deviation for the codes' first draw: a finite number >= 0."""
    if not 0.0 <= require_number("init_std", init_std) < math.inf:
        raise ValueError(f"init_std must be a finite number >= 0, got {init_std}")
    return init_std


def _check_sinusoidal_positions(n: int, d: int) -> None:
    require_positive_int("n", n)
    require_positive_int("d", d)


@validated(_check_sinusoidal_positions)
def sinusoidal_positions(n: int, d: int) -> torch.Tensor:
    """Fixed sine/cosine position codes, ``(n, d)``.

        PE[pos, 2i]   = sin(pos / 10000^(2i/d))
        PE[pos, 2i+1] = cos(pos / 10000^(2i/d))

    Each pair of columns turns at its own frequency, from one turn every
    2*pi positions (i = 0) down to very slow ones, so every position gets a
    distinct code. An odd ``d`` keeps the last sine column.

    >>> sinusoidal_positions(50, 16).shape
    torch.Size([50, 16])
    """
    positions = torch.arange(n, dtype=torch.float64)[:, None]  # (n, 1)
    pair_index = torch.arange(0, d, 2, dtype=torch.float64)  # (ceil(d/2),) values 2i
    frequencies = torch.exp(-math.log(10000.0) * pair_index / d)  # 1 / 10000^(2i/d)
    angles = positions * frequencies[None, :]  # (n, ceil(d/2))
    codes = torch.empty(n, d, dtype=torch.float64)
    codes[:, 0::2] = torch.sin(angles)
    codes[:, 1::2] = torch.cos(angles[:, : d // 2])
    return codes.to(torch.get_default_dtype())


def sinusoidal_offset_matrix(offset: int, d: int) -> torch.Tensor:
    """The fixed ``(d, d)`` matrix that moves every sinusoidal code ``offset`` positions on.

        codes[pos + offset] = codes[pos] @ M    for every pos

    Pair j of a code is the point (sin(pos w_j), cos(pos w_j)) on the unit
    circle, w_j = 10000^(-2j/d); moving ``offset`` positions on turns it by the
    angle a_j = offset * w_j, whatever ``pos`` is. So M is block-diagonal with
    one 2x2 rotation per pair, [[cos a_j, -sin a_j], [sin a_j, cos a_j]] (for
    row vectors), and depends on the offset only: Vaswani et al. (2017) chose
    the code for this property. ``d`` must be even; ``offset`` may be negative.

    >>> codes = sinusoidal_positions(20, 8)
    >>> torch.allclose(codes[:-3] @ sinusoidal_offset_matrix(3, 8), codes[3:], atol=1e-6)
    True
    """
    offset = require_int("offset", offset)
    d = require_positive_int("d", d)
    if d % 2 != 0:
        raise ValueError(f"the offset matrix turns (sin, cos) pairs, so d must be even, got d={d}")
    pair_index = torch.arange(0, d, 2, dtype=torch.float64)  # (d/2,) values 2j
    angles = offset * torch.exp(-math.log(10000.0) * pair_index / d)  # (d/2,) offset * w_j
    matrix = torch.zeros(d, d, dtype=torch.float64)
    matrix[0::2, 0::2] = torch.diag(torch.cos(angles))  # sin part -> sin part
    matrix[0::2, 1::2] = torch.diag(-torch.sin(angles))  # sin part -> cos part
    matrix[1::2, 0::2] = torch.diag(torch.sin(angles))  # cos part -> sin part
    matrix[1::2, 1::2] = torch.diag(torch.cos(angles))  # cos part -> cos part
    return matrix.to(torch.get_default_dtype())


class PositionCodes1D(nn.Module):
    """One learnable vector per position: ``n_positions * d`` parameters.

        code(i) = table[i],   table: (n_positions, d)

    For a ViT the positions are the patches in row-major order (plus the
    class token), so the model must *learn* which patches are neighbours.
    The notes' example: a 3x3 grid with d = 1024 gives 9 x 1024 = 9,216
    parameters. ``forward()`` returns the codes, ``(n_positions, d)``.

    >>> PositionCodes1D(9, 1024)().shape
    torch.Size([9, 1024])
    """

    def __init__(self, n_positions: int, d: int, init_std: float = INIT_STD) -> None:
        super().__init__()
        self.n_positions = require_positive_int("n_positions", n_positions)
        self.d = require_positive_int("d", d)
        init_std = _require_init_std(init_std)
        self.codes = nn.Parameter(torch.randn(n_positions, d) * init_std)  # (n_positions, d)

    def forward(self) -> torch.Tensor:
        return self.codes  # (n_positions, d)


class PositionCodes2D(nn.Module):
    """A learnable row table and column table of half width, concatenated.

        code(r, c) = concat(row_codes[r], col_codes[c])
        row_codes: (grid_h, d/2),  col_codes: (grid_w, d/2)

    Patches in the same row share the first half of their code, patches in
    the same column the second half. Parameters: ``(grid_h + grid_w) * d/2``;
    the notes' 3x3 grid with d = 1024 needs 3 x 512 + 3 x 512 = 3,072.
    ``forward()`` returns ``(grid_h * grid_w, d)`` in row-major patch order
    (left to right, then top to bottom), like :func:`lessons_lib.patching.patchify`.

    Our choice of order, row half first, follows the notes and the book's
    contract. The ViT paper (Appendix D.4) says it concatenates an X- and a
    Y-embedding; implementations differ, and the order changes nothing that
    the model can learn. An odd ``d`` cannot be split in halves: ValueError.

    >>> PositionCodes2D(3, 3, 1024)().shape
    torch.Size([9, 1024])
    """

    def __init__(self, grid_h: int, grid_w: int, d: int, init_std: float = INIT_STD) -> None:
        super().__init__()
        self.grid_h = require_positive_int("grid_h", grid_h)
        self.grid_w = require_positive_int("grid_w", grid_w)
        self.d = require_positive_int("d", d)
        if d % 2 != 0:
            raise ValueError(
                f"2-D position codes split d into a row half and a column half, "
                f"so d must be even, got d={d}"
            )
        init_std = _require_init_std(init_std)
        half = d // 2
        self.row_codes = nn.Parameter(torch.randn(grid_h, half) * init_std)  # (grid_h, d/2)
        self.col_codes = nn.Parameter(torch.randn(grid_w, half) * init_std)  # (grid_w, d/2)

    def forward(self) -> torch.Tensor:
        half = self.d // 2
        rows = self.row_codes[:, None, :].expand(self.grid_h, self.grid_w, half)  # (gh, gw, d/2)
        cols = self.col_codes[None, :, :].expand(self.grid_h, self.grid_w, half)  # (gh, gw, d/2)
        codes = torch.cat([rows, cols], dim=-1)  # (gh, gw, d)
        return codes.reshape(self.grid_h * self.grid_w, self.d)  # (gh*gw, d), row-major


def _check_rotary(x: torch.Tensor, positions: torch.Tensor | None, base: float) -> None:
    x = require_float("x", x)
    if x.dim() < 2:
        raise ValueError(
            f"x must have at least 2 dimensions (..., seq, d), got shape {tuple(x.shape)}"
        )
    seq, d = x.shape[-2], x.shape[-1]
    if d % 2 != 0:
        raise ValueError(f"rotary codes turn pairs of dimensions, so d must be even, got d={d}")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or base <= 1:
        raise ValueError(f"base must be a number > 1, got {base!r}")
    if positions is not None and not isinstance(positions, torch.Tensor):
        raise TypeError(f"positions must be a torch.Tensor, got {type(positions).__name__}")
    if positions is not None and positions.shape != (seq,):
        raise ValueError(
            f"positions must have shape (seq,) = ({seq},), got {tuple(positions.shape)}"
        )


@validated(_check_rotary)
def rotary(
    x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0
) -> torch.Tensor:
    """Rotary position code (RoPE, Su et al. 2021): turn each pair of dims by pos * theta_i.

        theta_i = base^(-2i/d),   i = 0 .. d/2 - 1
        x'[2i]   = x[2i] cos(pos theta_i) - x[2i+1] sin(pos theta_i)
        x'[2i+1] = x[2i] sin(pos theta_i) + x[2i+1] cos(pos theta_i)

    Applied to the queries and the keys (not the values, and not added to the
    input), it makes the score of a query at position m and a key at position n
    depend on the positions only through the offset m - n, because rotating
    both by their own angles leaves the angle between them turned by
    (m - n) theta_i. Rotations keep every vector's length.

    Pairing convention: *interleaved* pairs (2i, 2i+1), as in the RoFormer
    paper (its Eq. 34). Some code (GPT-NeoX, and LLaMA as ported to Hugging
    Face) pairs dimension i with i + d/2 instead ("half-split"). The two are
    the same up to a fixed permutation of the dimensions, so either trains
    equally well, but weights trained with one are wrong under the other.

    x ``(..., seq, d)``, floating point, d even; ``positions`` ``(seq,)``
    (default ``0 .. seq-1``) -> ``(..., seq, d)``, same dtype as ``x``.

    >>> queries = torch.randn(5, 8)
    >>> rotary(queries).shape
    torch.Size([5, 8])
    >>> torch.allclose(rotary(queries).norm(dim=-1), queries.norm(dim=-1), atol=1e-5)
    True
    """
    seq, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(seq, device=x.device)  # (seq,) 0 .. seq-1
    pair_index = torch.arange(0, d, 2, dtype=torch.float64, device=positions.device)  # 2i
    thetas = base ** (-pair_index / d)  # (d/2,) theta_i = base^(-2i/d)
    angles = positions.to(torch.float64)[:, None] * thetas[None, :]  # (seq, d/2)
    cos, sin = torch.cos(angles).to(x), torch.sin(angles).to(x)  # x's dtype and device
    evens, odds = x[..., 0::2], x[..., 1::2]  # (..., seq, d/2) each: the pairs (2i, 2i+1)
    turned = torch.stack([evens * cos - odds * sin, evens * sin + odds * cos], dim=-1)
    return turned.flatten(-2)  # (..., seq, d/2, 2) -> (..., seq, d), pairs back in place


def relative_offsets(grid_h: int, grid_w: int) -> torch.Tensor:
    """The (row, column) offset from every patch to every patch, ``(N, N, 2)``, N = gh * gw.

        offsets[i, j] = (row_i - row_j, col_i - col_j)    i: query, j: key

    Patches are in row-major order, like :func:`lessons_lib.patching.patchify`;
    each offset lies in ``[-(gh-1), gh-1] x [-(gw-1), gw-1]``.

    >>> relative_offsets(2, 3)[0, 5].tolist()  # query patch (0, 0), key patch (1, 2)
    [-1, -2]
    """
    grid_h = require_positive_int("grid_h", grid_h)
    grid_w = require_positive_int("grid_w", grid_w)
    rows = torch.arange(grid_h).repeat_interleave(grid_w)  # (N,) row of each patch
    cols = torch.arange(grid_w).repeat(grid_h)  # (N,) column of each patch
    places = torch.stack([rows, cols], dim=-1)  # (N, 2)
    return places[:, None, :] - places[None, :, :]  # (N, N, 2)


class RelativePositionBias2D(nn.Module):
    """The ViT paper's relative position code: attention logits from learned offset embeddings.

    The ViT paper (Dosovitskiy et al., 2021, Appendix D.4) describes it in
    words: every (query, key) pair of patches has an offset, each offset has a
    learned embedding, an extra attention runs with the *original query* and
    the offset embeddings as keys, and its logits are added to the content
    logits before the softmax. Per head h, for a query patch i and key patch j:

        bias[h, i, j] = q_i^h · r[offset(i, j)] / sqrt(d_head)
        weights       = softmax(q_i^h · k_j^h / sqrt(d_head) + bias[h, i, j])

    ``r`` is a learnable table of ``(2 gh - 1) (2 gw - 1)`` embeddings of size
    ``d_head``, one per (row, column) offset (:func:`relative_offsets`), shared
    by the heads; each attention layer gets its own table. Nothing is added to
    the input. The first ``class_tokens`` tokens (the class token) have no
    place on the grid: every pair that involves them gets bias 0, so they are
    told apart by their content only.

    Our choices, where the appendix says nothing or otherwise: it calls the
    code "1-dimensional relative attention", with the offset of two patches
    written p_q - p_k; we index the offsets by (row, column) difference, so
    that moving every patch by the same 2-D shift keeps every bias. The
    scaling by 1/sqrt(d_head), like the content logits, and the table shared
    by the heads (as in Shaw et al., 2018) are ours too.

    forward(queries ``(batch, heads, T, d_head)``, T = class_tokens + gh * gw)
    -> bias ``(batch, heads, T, T)``; pass the module itself as
    ``MultiHeadAttention(..., bias=module)``, which calls it with its queries.

    >>> relative = RelativePositionBias2D(grid_h=4, grid_w=4, d_head=8)
    >>> relative(torch.randn(2, 3, 17, 8)).shape
    torch.Size([2, 3, 17, 17])
    """

    def __init__(
        self,
        grid_h: int,
        grid_w: int,
        d_head: int,
        class_tokens: int = 1,
        init_std: float = INIT_STD,
    ) -> None:
        super().__init__()
        self.grid_h = require_positive_int("grid_h", grid_h)
        self.grid_w = require_positive_int("grid_w", grid_w)
        self.d_head = require_positive_int("d_head", d_head)
        self.class_tokens = require_int("class_tokens", class_tokens)
        if class_tokens < 0:
            raise ValueError(f"class_tokens must be >= 0, got {class_tokens}")
        init_std = _require_init_std(init_std)
        n_offsets = (2 * grid_h - 1) * (2 * grid_w - 1)
        self.offset_codes = nn.Parameter(torch.randn(n_offsets, d_head) * init_std)  # (O, d_head)
        offsets = relative_offsets(grid_h, grid_w)  # (N, N, 2)
        index = (offsets[..., 0] + grid_h - 1) * (2 * grid_w - 1) + (offsets[..., 1] + grid_w - 1)
        self.register_buffer("offset_index", index, persistent=False)  # (N, N) in 0..O-1

    def _check_forward(self, queries: torch.Tensor) -> None:
        queries = require_float("queries", queries)
        tokens = self.class_tokens + self.grid_h * self.grid_w
        if queries.dim() != 4 or queries.shape[-2:] != (tokens, self.d_head):
            raise ValueError(
                f"queries must be (batch, heads, {tokens}, {self.d_head}) for a "
                f"{self.grid_h}x{self.grid_w} grid with {self.class_tokens} class token(s), "
                f"got shape {tuple(queries.shape)}"
            )

    @validated(_check_forward)
    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        n_patches = self.grid_h * self.grid_w
        batch, heads = queries.shape[:2]
        patch_queries = queries[:, :, self.class_tokens :]  # (batch, heads, N, d_head)
        logits = patch_queries @ self.offset_codes.T.to(queries.dtype)  # (batch, heads, N, O)
        index = self.offset_index.expand(batch, heads, n_patches, n_patches)  # (b, h, N, N)
        bias = logits.gather(-1, index) / math.sqrt(self.d_head)  # (b, h, N, N): q_i · r_ij
        c = self.class_tokens
        return nn.functional.pad(bias, (c, 0, c, 0))  # (b, h, T, T), 0 for class-token pairs


def linear_resize_matrix(
    old_n: int, new_n: int, *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The ``(new_n, old_n)`` matrix of linear interpolation from ``old_n`` to ``new_n`` points.

    Point i of the new row sits at x = (i + 0.5) old_n / new_n - 0.5 on the
    old one, clamped to [0, old_n - 1]; it takes (1 - t) of old point
    floor(x) and t of the next, t = x - floor(x). Each row sums to 1.
    This is ``align_corners=False`` in ``torch.nn.functional.interpolate``
    (its default): both rows are read as cells covering the same length,
    their outer edges line up, and each new cell is sampled at its own
    centre. (``align_corners=True`` lines up the centres of the two rows'
    end cells instead: x = i (old_n - 1) / (new_n - 1).)

    The weights are worked out in float64 and rounded once to ``dtype``
    (torch's default dtype when it is None), so float64 codes get float64 weights.

    >>> linear_resize_matrix(2, 4)
    tensor([[1.0000, 0.0000],
            [0.7500, 0.2500],
            [0.2500, 0.7500],
            [0.0000, 1.0000]])
    """
    old_n = require_positive_int("old_n", old_n)
    new_n = require_positive_int("new_n", new_n)
    if dtype is None:
        dtype = torch.get_default_dtype()
    elif not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"dtype must be a floating torch.dtype such as torch.float64, got {dtype!r}"
        )
    places = (torch.arange(new_n, dtype=torch.float64) + 0.5) * old_n / new_n - 0.5  # (new_n,)
    places = places.clamp(0, old_n - 1)
    left = places.floor().long()  # (new_n,)
    right = (left + 1).clamp(max=old_n - 1)  # (new_n,)
    share = places - left  # (new_n,) weight of the right neighbour
    matrix = torch.zeros(new_n, old_n, dtype=torch.float64)
    matrix[torch.arange(new_n), left] += 1 - share
    matrix[torch.arange(new_n), right] += share
    return matrix.to(dtype)


def _require_codes(name: str, codes: object) -> torch.Tensor:
    codes = require_float(name, codes)
    if codes.dim() != 2:
        raise ValueError(f"{name} must be (n_positions, d), got shape {tuple(codes.shape)}")
    return codes


def _require_grid(name: str, grid: object) -> tuple[int, int]:
    if not isinstance(grid, (tuple, list)) or len(grid) != 2:
        raise TypeError(f"{name} must be a (grid_h, grid_w) pair, got {grid!r}")
    return require_positive_int(f"{name}[0]", grid[0]), require_positive_int(f"{name}[1]", grid[1])


def interpolate_codes_1d(codes: torch.Tensor, new_n: int) -> torch.Tensor:
    """Stretch ``(n, d)`` codes to ``(new_n, d)`` along the sequence, ignoring any grid.

        new_codes = linear_resize_matrix(n, new_n) @ codes

    For a ViT's patch codes this is the *naive* way: the row-major sequence of
    a gh x gw grid is stretched as one long line, so the rows of the new grid
    do not line up with the old rows (chapter 10 shows what that breaks).
    Same as ``F.interpolate(codes.T[None], size=new_n, mode="linear")``.

    >>> interpolate_codes_1d(torch.tensor([[0.0], [1.0]]), 4).squeeze(1)
    tensor([0.0000, 0.2500, 0.7500, 1.0000])
    """
    codes = _require_codes("codes", codes)
    matrix = linear_resize_matrix(codes.shape[0], new_n, dtype=codes.dtype)  # (new_n, n)
    return matrix @ codes  # (new_n, d)


def _check_interpolate_codes_2d(
    codes: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int]
) -> None:
    codes = _require_codes("codes", codes)
    grid_h, grid_w = _require_grid("old_grid", old_grid)
    _require_grid("new_grid", new_grid)  # pairs of ints > 0
    if codes.shape[0] != grid_h * grid_w:
        raise ValueError(
            f"a {grid_h}x{grid_w} grid has {grid_h * grid_w} patches, got {codes.shape[0]} codes"
        )


@validated(_check_interpolate_codes_2d)
def interpolate_codes_2d(
    codes: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int]
) -> torch.Tensor:
    """Stretch a grid's codes in 2-D: ``(gh * gw, d)`` -> ``(nh * nw, d)``, both row-major.

    The codes are put back on their ``old_grid`` and interpolated bilinearly
    (linearly down the rows, then along the columns), as the ViT paper does
    when it fine-tunes at a higher resolution (its Section 3.2):

        grid[r, c]   = codes[r * gw + c]                        (gh, gw, d)
        new_grid     = R_h @ grid @ R_w^T   (per dimension),   R = linear_resize_matrix

    Same as ``F.interpolate(grid, size=new_grid, mode="bilinear")`` on the
    ``(1, d, gh, gw)`` layout. The class token's code is not part of the grid:
    keep it as it is.

    >>> interpolate_codes_2d(torch.randn(16, 8), (4, 4), (8, 8)).shape
    torch.Size([64, 8])
    """
    grid_h, grid_w = old_grid
    new_h, new_w = new_grid
    grid = codes.reshape(grid_h, grid_w, -1)  # (gh, gw, d)
    rows = linear_resize_matrix(grid_h, new_h, dtype=codes.dtype)  # (nh, gh)
    cols = linear_resize_matrix(grid_w, new_w, dtype=codes.dtype)  # (nw, gw)
    stretched = torch.einsum("ar,bc,rcd->abd", rows, cols, grid)  # (nh, nw, d)
    return stretched.reshape(new_h * new_w, -1)  # (nh * nw, d), row-major


def interpolate_row_col(
    row_codes: torch.Tensor, col_codes: torch.Tensor, new_grid: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stretch 2-D codes' tables: ``(gh, d/2)``, ``(gw, d/2)`` -> ``(nh, d/2)``, ``(nw, d/2)``.

    Each table is a line of codes, so each is interpolated in 1-D
    (:func:`interpolate_codes_1d`): the row table to ``nh`` rows, the column
    table to ``nw`` columns. The concatenated codes that result are exactly
    :func:`interpolate_codes_2d` of the old concatenated codes, because
    bilinear interpolation of concat(row[r], col[c]) acts on each half alone.

    >>> rows, cols = interpolate_row_col(torch.randn(4, 8), torch.randn(4, 8), (8, 8))
    >>> rows.shape, cols.shape
    (torch.Size([8, 8]), torch.Size([8, 8]))
    """
    row_codes = _require_codes("row_codes", row_codes)
    col_codes = _require_codes("col_codes", col_codes)
    if row_codes.shape[1] != col_codes.shape[1]:
        raise ValueError(
            f"row_codes are (grid_h, {row_codes.shape[1]}) but col_codes are "
            f"(grid_w, {col_codes.shape[1]}): both halves of a 2-D code have d/2 columns"
        )
    new_h, new_w = _require_grid("new_grid", new_grid)
    return interpolate_codes_1d(row_codes, new_h), interpolate_codes_1d(col_codes, new_w)
