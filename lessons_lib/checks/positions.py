"""Exercises of the chapter "1-D vs 2-D position codes"."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, check_against


def _codes_2d(
    row_codes: torch.Tensor, col_codes: torch.Tensor, swap: bool = False, column_major: bool = False
) -> torch.Tensor:
    grid_h, grid_w = row_codes.shape[0], col_codes.shape[0]
    rows = row_codes[:, None].expand(grid_h, grid_w, -1)  # (gh, gw, d/2)
    cols = col_codes[None, :].expand(grid_h, grid_w, -1)  # (gh, gw, d/2)
    codes = torch.cat([cols, rows] if swap else [rows, cols], dim=-1)  # (gh, gw, d)
    if column_major:
        codes = codes.transpose(0, 1)  # (gw, gh, d)
    return codes.reshape(grid_h * grid_w, -1)  # (gh*gw, d)


CODES_2D_MISTAKES = [
    Mistake(
        "the row and column halves swapped",
        "the row code comes first: code(r, c) = concat(row_codes[r], col_codes[c])",
        lambda rows, cols: _codes_2d(rows, cols, swap=True),
    ),
    Mistake(
        "patches listed column by column",
        "list the patches row-major, like patchify: (0,0), (0,1), ..., then (1,0), ...",
        lambda rows, cols: _codes_2d(rows, cols, column_major=True),
    ),
    Mistake(
        "added instead of concatenated",
        "each half has d/2 numbers; concatenate them to get d, do not add them",
        lambda rows, cols: (rows[:, None] + cols[None, :]).reshape(-1, rows.shape[1]),
    ),
]


def check_codes_2d(function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(row_codes (gh, d/2), col_codes (gw, d/2)) -> (gh*gw, d)``."""
    generator = torch.Generator().manual_seed(5)
    row_codes = torch.randn(3, 4, generator=generator)  # 3 rows; 4 columns, so gh != gw
    col_codes = torch.randn(4, 4, generator=generator)
    args = (row_codes, col_codes)
    expected = _codes_2d(*args)
    return check_against(function, args, expected, CODES_2D_MISTAKES, "your 2-D codes are right.")


def _unit(codes: torch.Tensor, dim: int) -> torch.Tensor:
    return codes / codes.norm(dim=dim, keepdim=True)


SIMILARITY_MISTAKES = [
    Mistake(
        "dot products, not cosines",
        "divide each code by its length first, so the diagonal is 1",
        lambda codes: codes @ codes.T,
    ),
    Mistake(
        "normalised along the wrong axis",
        "each code is a row: take the norm over dim=-1 (its d numbers), not over the positions",
        lambda codes: _unit(codes, 0) @ _unit(codes, 0).T,
    ),
    Mistake(
        "Gram matrix of the features",
        "compare positions with positions: (n, n) = codes @ codes.T, not codes.T @ codes",
        lambda codes: _unit(codes, -1).T @ _unit(codes, -1),
    ),
]


def check_cosine_similarity(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(codes (n, d)) -> (n, n)`` cosine similarities."""
    codes = torch.randn(6, 5, generator=torch.Generator().manual_seed(6)) * 3
    expected = _unit(codes, -1) @ _unit(codes, -1).T
    success = "your similarities match."
    return check_against(function, (codes,), expected, SIMILARITY_MISTAKES, success)
