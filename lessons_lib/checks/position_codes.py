"""Exercises of the chapter "1-D vs 2-D position codes" (``book/*_position_codes.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.positions import PositionCodes2D, rotary


def _codes_2d(row_codes: torch.Tensor, col_codes: torch.Tensor) -> torch.Tensor:
    """The package's :class:`PositionCodes2D` with these tables: ``(gh*gw, d)``.

    The module's random start is drawn inside ``fork_rng``, so the global generator is
    left as it was (the tables are overwritten anyway).
    """
    grid_h, half = row_codes.shape
    with torch.random.fork_rng(devices=[]):
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
        "this book's convention puts the row half first: code(r, c) = concat(row_codes[r], "
        "col_codes[c]); the other order would train as well (it only permutes the "
        "dimensions), but it does not give these tables' codes",
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


# --- Exercise 3: rotary position codes (RoPE) --------------------------------------------


def _rotary_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(3)
    cases = []
    for seq, d in ((6, 8), (9, 12)):  # two widths, and more positions than pairs
        x = torch.randn(seq, d, generator=generator)  # (seq, d)
        cases.append(Case((x,), f"x of shape ({seq}, {d})"))
    return cases


def _turn(x: torch.Tensor, angles: torch.Tensor, sign: float = 1.0) -> torch.Tensor:
    """Pairs (2i, 2i+1) of ``x`` (seq, d) turned by ``angles`` (seq, d/2); sign -1 turns back."""
    evens, odds = x[:, 0::2], x[:, 1::2]  # (seq, d/2) each
    cos, sin = torch.cos(angles), sign * torch.sin(angles)
    return torch.stack([evens * cos - odds * sin, evens * sin + odds * cos], dim=-1).flatten(-2)


def _thetas(d: int, exponent_step: int = 2) -> torch.Tensor:
    return 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) * exponent_step / (2 * d))


def _angles(x: torch.Tensor, first_position: int = 0, exponent_step: int = 2) -> torch.Tensor:
    positions = torch.arange(first_position, first_position + x.shape[0], dtype=torch.float64)
    return (positions[:, None] * _thetas(x.shape[1], exponent_step)[None, :]).to(x.dtype)


def _half_split(x: torch.Tensor) -> torch.Tensor:
    """The same turns applied to the pairs (i, i + d/2)."""
    half = x.shape[1] // 2
    order = torch.stack([torch.arange(half), torch.arange(half) + half], dim=-1).flatten()
    return _turn(x[:, order], _angles(x))[:, torch.argsort(order)]


def _halves_concatenated(x: torch.Tensor) -> torch.Tensor:
    """The right pairs (2i, 2i+1) turned, but written back as [turned evens, turned odds]."""
    turned = _turn(x, _angles(x))  # (seq, d), pairs interleaved
    return torch.cat([turned[:, 0::2], turned[:, 1::2]], dim=-1)  # (seq, d): halves


ROTARY_MISTAKES = [
    Mistake(
        "rotated the wrong pairs of dimensions",
        "you turned dimension i with i + d/2: the half-split layout of GPT-NeoX (and of LLaMA "
        "as ported to Hugging Face), a valid RoPE but not this exercise's (weights trained with "
        "one layout fail under the other); here, as in the RoFormer paper, the neighbours "
        "(2i, 2i+1) turn together: x[:, 0::2] with x[:, 1::2]",
        _half_split,
    ),
    Mistake(
        "halves concatenated, not interleaved",
        "the right pairs (2i, 2i+1) are turned, but torch.cat([new_evens, new_odds], dim=-1) "
        "writes every turned even dimension first and every turned odd one after; put each "
        "pair back in its own place, 2i and 2i+1: torch.stack([new_evens, new_odds], "
        "dim=-1).flatten(-2), or out[:, 0::2] = new_evens and out[:, 1::2] = new_odds",
        _halves_concatenated,
    ),
    Mistake(
        "angle is the position, not position × θ_i",
        "each pair turns at its own speed: pair i of row m turns by m·θ_i, "
        "with θ_i = 10000^(-2i/d)",
        lambda x: _turn(
            x, torch.arange(x.shape[0], dtype=x.dtype)[:, None].expand(-1, x.shape[1] // 2)
        ),
    ),
    Mistake(
        "angle θ_i without the position",
        "multiply θ_i by the position m of the row: the angle is m·θ_i, and row 0 is not turned",
        lambda x: _turn(x, _thetas(x.shape[1]).to(x.dtype)[None, :].expand(x.shape[0], -1)),
    ),
    Mistake(
        "turned the other way",
        "with x' = (x_2i cos - x_2i+1 sin, x_2i sin + x_2i+1 cos) the pair turns "
        "anticlockwise; check the signs of the sines",
        lambda x: _turn(x, _angles(x), sign=-1.0),
    ),
    Mistake(
        "frequencies 10000^(-i/d)",
        "the exponent is 2i/d, where 2i is the pair's first dimension: θ_i = 10000^(-2i/d)",
        lambda x: _turn(x, _angles(x, exponent_step=1)),
    ),
    Mistake(
        "positions counted from 1",
        "the first row is position 0, which is not turned: use torch.arange(seq)",
        lambda x: _turn(x, _angles(x, first_position=1)),
    ),
]

ROTARY = Exercise(
    name="check_rotary",
    parameters=("x",),
    cases=_rotary_cases,
    solution=lambda x: rotary(x),
    mistakes=ROTARY_MISTAKES,
    success="every pair turns by position × θ_i, as RoPE does.",
)


def check_rotary(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(x (seq, d)) -> (seq, d)``: pair (2i, 2i+1) of row m turned by m·θ_i."""
    return ROTARY.check(function)
