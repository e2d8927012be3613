"""Position codes: what tells attention *where* each token is.

Attention by itself is blind to order (shuffle the tokens and its outputs
shuffle the same way), so each token's input is its embedding plus a code for
its position:

    input = token_embedding + position_code

This module holds the fixed sinusoidal codes of Vaswani et al. (2017) and
the two learnable kinds the ViT paper compares (Dosovitskiy et al., 2021):
1-D codes, one vector per position, and 2-D codes, a row vector and a column
vector of half the size, concatenated.

Layer: modules (imports torch only).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lessons_lib._validate import require_positive_int

INIT_STD = 0.02  # learnable codes start as N(0, 0.02^2), as in the ViT reference code


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
    n = require_positive_int("n", n)
    d = require_positive_int("d", d)
    positions = torch.arange(n, dtype=torch.float64)[:, None]  # (n, 1)
    pair_index = torch.arange(0, d, 2, dtype=torch.float64)  # (ceil(d/2),) values 2i
    frequencies = torch.exp(-math.log(10000.0) * pair_index / d)  # 1 / 10000^(2i/d)
    angles = positions * frequencies[None, :]  # (n, ceil(d/2))
    codes = torch.empty(n, d, dtype=torch.float64)
    codes[:, 0::2] = torch.sin(angles)
    codes[:, 1::2] = torch.cos(angles[:, : d // 2])
    return codes.to(torch.get_default_dtype())


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
        half = d // 2
        self.row_codes = nn.Parameter(torch.randn(grid_h, half) * init_std)  # (grid_h, d/2)
        self.col_codes = nn.Parameter(torch.randn(grid_w, half) * init_std)  # (grid_w, d/2)

    def forward(self) -> torch.Tensor:
        half = self.d // 2
        rows = self.row_codes[:, None, :].expand(self.grid_h, self.grid_w, half)  # (gh, gw, d/2)
        cols = self.col_codes[None, :, :].expand(self.grid_h, self.grid_w, half)  # (gh, gw, d/2)
        codes = torch.cat([rows, cols], dim=-1)  # (gh, gw, d)
        return codes.reshape(self.grid_h * self.grid_w, self.d)  # (gh*gw, d), row-major
