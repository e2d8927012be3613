"""Exercises of the chapter "Queries, keys and values" (``book/*_qkv.ipynb``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lessons_lib.attention import attend, attention_scores
from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.positions import rotary
from lessons_lib.softmax import softmax


def _weight_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(1)
    cases = []
    for l_q, l_k, d_k in ((4, 6, 16), (5, 3, 9)):  # L_q != L_k, and two sizes of d_k
        queries = torch.randn(l_q, d_k, generator=generator) * 2
        keys = torch.randn(l_k, d_k, generator=generator) * 2
        cases.append(Case((queries, keys), f"queries ({l_q}, {d_k}) and keys ({l_k}, {d_k})"))
    return cases


WEIGHT_MISTAKES = [
    Mistake(
        "softmax over the wrong axis",
        "each row (one query) must sum to 1 over the keys; use dim=-1",
        lambda queries, keys: softmax(attention_scores(queries, keys), dim=0),
    ),
    Mistake(
        "no scaling",
        "did you divide by √d_k? The scores must be queries @ keys.T / sqrt(d_k)",
        lambda queries, keys: softmax(queries @ keys.T, dim=-1),
    ),
    Mistake(
        "divided by d_k",
        "divide by the square root of d_k, not by d_k itself",
        lambda queries, keys: softmax(queries @ keys.T / queries.shape[-1], dim=-1),
    ),
    Mistake(
        "divided by √L_q, not √d_k",
        "the scale is √d_k, the length of each query and key vector, queries.shape[-1]; "
        "queries.shape[0] is L_q, the number of queries, which has nothing to do with the "
        "size of a dot product",
        lambda queries, keys: softmax(queries @ keys.T / math.sqrt(queries.shape[0]), dim=-1),
    ),
    Mistake(
        "scores transposed",
        "rows must be queries and columns keys: compute queries @ keys.T, not keys @ queries.T",
        lambda queries, keys: softmax(attention_scores(keys, queries), dim=-1),
    ),
    Mistake(
        "no softmax",
        "the scaled scores are not weights yet: apply softmax over the keys (dim=-1)",
        lambda queries, keys: attention_scores(queries, keys),
    ),
    Mistake(
        "no softmax and no scaling",
        "divide the scores by √d_k, then apply softmax over the keys (dim=-1)",
        lambda queries, keys: queries @ keys.T,
    ),
]

ATTENTION_WEIGHTS = Exercise(
    name="check_attention_weights",
    parameters=("queries", "keys"),
    cases=_weight_cases,
    solution=lambda queries, keys: softmax(attention_scores(queries, keys), dim=-1),
    mistakes=WEIGHT_MISTAKES,
    success="the weights match.",
)


def check_attention_weights(
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(queries (L_q, d_k), keys (L_k, d_k)) -> weights (L_q, L_k)``."""
    return ATTENTION_WEIGHTS.check(function)


def _head_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(2)
    cases = []
    for seq, d_model, d_k in ((5, 12, 5), (7, 6, 4)):
        inputs = torch.randn(seq, d_model, generator=generator)  # (seq, d_model)
        w_q, w_k, w_v = (torch.randn(d_model, d_k, generator=generator) for _ in range(3))
        label = f"inputs ({seq}, {d_model}) and W_Q, W_K, W_V ({d_model}, {d_k})"
        cases.append(Case((inputs, w_q, w_k, w_v), label))
    return cases


def _head(inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor):
    return attend(inputs @ w_q, inputs @ w_k, inputs @ w_v)[0]  # (seq, d_k)


def _weights(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    return softmax(queries @ keys.T / math.sqrt(queries.shape[-1]), dim=-1)


HEAD_MISTAKES = [
    Mistake(
        "returned the weights",
        "the output is the weighted sum of the values: multiply the weights by V = X @ W_V",
        lambda x, wq, wk, wv: _weights(x @ wq, x @ wk),
    ),
    Mistake(
        "weighted the keys",
        "the weights must multiply the values V = X @ W_V, not the keys",
        lambda x, wq, wk, wv: _weights(x @ wq, x @ wk) @ (x @ wk),
    ),
    Mistake(
        "W_Q used for the keys",
        "keys come from their own matrix: K = X @ W_K",
        lambda x, wq, wk, wv: _weights(x @ wq, x @ wq) @ (x @ wv),
    ),
    Mistake(
        "weights transposed",
        "output = weights @ V: row i of the weights belongs to query i; do not transpose them",
        lambda x, wq, wk, wv: _weights(x @ wq, x @ wk).T @ (x @ wv),
    ),
    Mistake(
        "no scaling",
        "did you divide by √d_k? The scores must be Q @ K.T / sqrt(d_k)",
        lambda x, wq, wk, wv: softmax((x @ wq) @ (x @ wk).T, dim=-1) @ (x @ wv),
    ),
    Mistake(
        "divided by √seq, not √d_k",
        "the scale is √d_k, the width of Q = X @ W_Q (its last dimension, W_Q.shape[1]); "
        "Q.shape[0] is the number of tokens, which has nothing to do with the size of a "
        "dot product",
        lambda x, wq, wk, wv: (
            softmax((x @ wq) @ (x @ wk).T / math.sqrt(x.shape[0]), dim=-1) @ (x @ wv)
        ),
    ),
    Mistake(
        "no softmax",
        "turn the scaled scores into weights with softmax over the keys before weighting V",
        lambda x, wq, wk, wv: (x @ wq) @ (x @ wk).T / math.sqrt(wq.shape[-1]) @ (x @ wv),
    ),
]

ATTENTION_HEAD = Exercise(
    name="check_attention_head",
    parameters=("inputs", "w_q", "w_k", "w_v"),
    cases=_head_cases,
    solution=_head,
    mistakes=HEAD_MISTAKES,
    success="your head matches the reference.",
)


def check_attention_head(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(inputs (seq, d_model), w_q, w_k, w_v (d_model, d_k)) -> (seq, d_k)``."""
    return ATTENTION_HEAD.check(function)


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
