"""Exercises of the appendix "The ViT at other scales" (``book/*_vit_scale.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.positions import interpolate_codes_1d, interpolate_codes_2d


def _stretch_variant(
    codes: torch.Tensor,
    old_grid: tuple[int, int],
    new_grid: tuple[int, int],
    swap_grid: bool = False,
    column_major_out: bool = False,
    align_corners: bool = False,
    reshape_in: bool = False,
    reshape_out: bool = False,
) -> torch.Tensor:
    (grid_h, grid_w), (new_h, new_w) = old_grid, new_grid
    if swap_grid:  # (gw, gh): the sequence cut into columns' worth of codes
        grid = codes.reshape(grid_w, grid_h, -1).transpose(0, 1)  # (gh, gw, d), wrong places
    else:
        grid = codes.reshape(grid_h, grid_w, -1)  # (gh, gw, d)
    channels_first = grid.permute(2, 0, 1)[None]  # (1, d, gh, gw)
    if reshape_in:  # the slip: (gh*gw, d) read straight as (1, d, gh, gw), features mixed
        channels_first = codes.reshape(1, codes.shape[-1], grid_h, grid_w)
    resized = torch.nn.functional.interpolate(
        channels_first, size=(new_h, new_w), mode="bilinear", align_corners=align_corners
    )  # (1, d, nh, nw)
    if reshape_out:  # the slip: (1, d, nh, nw) read straight as (nh*nw, d)
        return resized.reshape(new_h * new_w, -1)
    stretched = resized[0].permute(1, 2, 0)  # (nh, nw, d)
    if column_major_out:
        stretched = stretched.transpose(0, 1)  # (nw, nh, d)
    return stretched.reshape(new_h * new_w, -1)  # (nh * nw, d)


def _stretch_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(9)
    cases = []
    for old_grid, new_grid, d in (((4, 4), (8, 8), 6), ((2, 3), (4, 5), 4), ((3, 2), (5, 4), 5)):
        codes = torch.randn(old_grid[0] * old_grid[1], d, generator=generator)  # (gh*gw, d)
        label = f"codes ({codes.shape[0]}, {d}) of a {old_grid[0]}x{old_grid[1]} grid"
        cases.append(Case((codes, old_grid, new_grid), f"{label} -> {new_grid[0]}x{new_grid[1]}"))
    return cases


STRETCH_MISTAKES = [
    Mistake(
        "stretched as one line, not on the grid",
        "the codes are a grid read row by row: reshape them to (grid_h, grid_w, d) first, "
        "interpolate down the rows and along the columns, then flatten the new grid row-major",
        lambda codes, old_grid, new_grid: interpolate_codes_1d(codes, new_grid[0] * new_grid[1]),
    ),
    Mistake(
        "the old grid reshaped as (grid_w, grid_h)",
        "patch i sits in row i // grid_w, column i % grid_w: reshape to (grid_h, grid_w, d)",
        lambda codes, old_grid, new_grid: _stretch_variant(codes, old_grid, new_grid, True),
    ),
    Mistake(
        "the new grid flattened column by column",
        "flatten the stretched (new_h, new_w, d) grid row-major, like patchify",
        lambda codes, old_grid, new_grid: _stretch_variant(
            codes, old_grid, new_grid, column_major_out=True
        ),
    ),
    Mistake(
        "reshaped to (1, d, grid_h, grid_w) without the transpose",
        "codes.reshape(1, d, grid_h, grid_w) reads the (grid_h*grid_w, d) numbers in their "
        "memory order, so each 'channel' mixes the features of several patches; reshape to "
        "(grid_h, grid_w, d) first, then .permute(2, 0, 1)[None] to put the features in front",
        lambda codes, old_grid, new_grid: _stretch_variant(
            codes, old_grid, new_grid, reshape_in=True
        ),
    ),
    Mistake(
        "the stretched grid reshaped to (N, d) without the transpose",
        "F.interpolate returns (1, d, new_h, new_w): the features come first, so reshaping "
        "it straight to (new_h*new_w, d) mixes patches and features; take [0].permute(1, 2, 0) "
        "to (new_h, new_w, d) first, then reshape",
        lambda codes, old_grid, new_grid: _stretch_variant(
            codes, old_grid, new_grid, reshape_out=True
        ),
    ),
    Mistake(
        "align_corners=True",
        "align_corners=True lines up the centres of the two grids' corner cells (their outer "
        "sample points coincide); this book uses F.interpolate's default, align_corners=False: "
        "the old and new grids cover the same image, their outer edges (the corners of the "
        "corner cells) line up, and each new cell is sampled at its own centre. Both "
        "conventions are in use; here pass align_corners=False (or leave it out)",
        lambda codes, old_grid, new_grid: _stretch_variant(
            codes, old_grid, new_grid, align_corners=True
        ),
    ),
]

STRETCH_CODES = Exercise(
    name="check_stretch_codes",
    parameters=("codes", "old_grid", "new_grid"),
    cases=_stretch_cases,
    solution=interpolate_codes_2d,
    mistakes=STRETCH_MISTAKES,
    success="your codes are stretched on the grid, as the ViT paper does.",
)


def check_stretch_codes(
    function: Callable[[torch.Tensor, tuple[int, int], tuple[int, int]], torch.Tensor],
) -> CheckResult:
    """Check ``function(codes (gh*gw, d), (gh, gw), (nh, nw)) -> (nh*nw, d)``, on the grid."""
    return STRETCH_CODES.check(function)
