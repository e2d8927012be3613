"""Exercises of the chapter "1-D vs 2-D position codes" (``book/*_position_codes.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.positions import PositionCodes2D


def _codes_2d(row_codes: torch.Tensor, col_codes: torch.Tensor) -> torch.Tensor:
    """The package's :class:`PositionCodes2D` with these tables: ``(gh*gw, d)``."""
    grid_h, half = row_codes.shape
    codes = PositionCodes2D(grid_h, col_codes.shape[0], 2 * half).to(row_codes.dtype)
    with torch.no_grad():
        codes.row_codes.copy_(row_codes)
        codes.col_codes.copy_(col_codes)
        return codes()


def _codes_2d_variant(
    row_codes: torch.Tensor, col_codes: torch.Tensor, swap: bool = False, column_major: bool = False
) -> torch.Tensor:
    grid_h, grid_w = row_codes.shape[0], col_codes.shape[0]
    rows = row_codes[:, None].expand(grid_h, grid_w, -1)  # (gh, gw, d/2)
    cols = col_codes[None, :].expand(grid_h, grid_w, -1)  # (gh, gw, d/2)
    codes = torch.cat([cols, rows] if swap else [rows, cols], dim=-1)  # (gh, gw, d)
    if column_major:
        codes = codes.transpose(0, 1)  # (gw, gh, d)
    return codes.reshape(grid_h * grid_w, -1)  # (gh*gw, d)


def _codes_2d_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(5)
    cases = []
    for grid_h, grid_w, half in ((3, 4, 4), (2, 5, 3)):  # grid_h != grid_w
        row_codes = torch.randn(grid_h, half, generator=generator)  # (gh, d/2)
        col_codes = torch.randn(grid_w, half, generator=generator)  # (gw, d/2)
        label = f"row_codes ({grid_h}, {half}) and col_codes ({grid_w}, {half})"
        cases.append(Case((row_codes, col_codes), label))
    return cases


CODES_2D_MISTAKES = [
    Mistake(
        "the row and column halves swapped",
        "the row code comes first: code(r, c) = concat(row_codes[r], col_codes[c])",
        lambda rows, cols: _codes_2d_variant(rows, cols, swap=True),
    ),
    Mistake(
        "patches listed column by column",
        "list the patches row-major, like patchify: (0,0), (0,1), ..., then (1,0), ...",
        lambda rows, cols: _codes_2d_variant(rows, cols, column_major=True),
    ),
    Mistake(
        "added instead of concatenated",
        "each half has d/2 numbers; concatenate them to get d, do not add them",
        lambda rows, cols: (rows[:, None] + cols[None, :]).reshape(-1, rows.shape[1]),
    ),
]

CODES_2D = Exercise(
    name="check_codes_2d",
    parameters=("row_codes", "col_codes"),
    cases=_codes_2d_cases,
    solution=_codes_2d,
    mistakes=CODES_2D_MISTAKES,
    success="your 2-D codes are right.",
)


def check_codes_2d(function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(row_codes (gh, d/2), col_codes (gw, d/2)) -> (gh*gw, d)``."""
    return CODES_2D.check(function)


def _unit(codes: torch.Tensor, dim: int) -> torch.Tensor:
    return codes / codes.norm(dim=dim, keepdim=True)


def _cosine_similarity(codes: torch.Tensor) -> torch.Tensor:
    """``(n, d)`` -> ``(n, n)``: cos of the angle between every two codes."""
    return torch.nn.functional.cosine_similarity(codes[:, None], codes[None, :], dim=-1)


def _similarity_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(6)
    return [
        Case((torch.randn(n, d, generator=generator) * 3,), f"codes of shape ({n}, {d})")
        for n, d in ((6, 5), (4, 9))
    ]


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

COSINE_SIMILARITY = Exercise(
    name="check_cosine_similarity",
    parameters=("codes",),
    cases=_similarity_cases,
    solution=_cosine_similarity,
    mistakes=SIMILARITY_MISTAKES,
    success="your similarities match.",
)


def check_cosine_similarity(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(codes (n, d)) -> (n, n)`` cosine similarities."""
    return COSINE_SIMILARITY.check(function)
