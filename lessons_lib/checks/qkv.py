"""Exercises of the chapter "Queries, keys and values"."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, call_reader, check_against, diagnose
from lessons_lib.softmax import softmax


def _weights(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    return softmax(queries @ keys.T / math.sqrt(queries.shape[-1]), dim=-1)


WEIGHT_MISTAKES = [
    Mistake(
        "softmax over the wrong axis",
        "each row (one query) must sum to 1 over the keys; use dim=-1",
        lambda q, k: softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0),
    ),
    Mistake(
        "no scaling",
        "did you divide by √d_k? The scores must be queries @ keys.T / sqrt(d_k)",
        lambda q, k: softmax(q @ k.T, dim=-1),
    ),
    Mistake(
        "divided by d_k",
        "divide by the square root of d_k, not by d_k itself",
        lambda q, k: softmax(q @ k.T / q.shape[-1], dim=-1),
    ),
    Mistake(
        "scores transposed",
        "rows must be queries and columns keys: compute queries @ keys.T, not keys @ queries.T",
        lambda q, k: softmax(k @ q.T / math.sqrt(q.shape[-1]), dim=-1),
    ),
]


def check_attention_weights(
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(queries (L_q, d_k), keys (L_k, d_k)) -> weights (L_q, L_k)``."""
    generator = torch.Generator().manual_seed(1)
    queries = torch.randn(4, 16, generator=generator) * 2  # L_q = 4 differs from L_k = 6
    keys = torch.randn(6, 16, generator=generator) * 2
    answer = call_reader(function, queries, keys)
    if isinstance(answer, CheckResult):
        return answer
    expected = _weights(queries, keys)
    result = diagnose(answer, expected, WEIGHT_MISTAKES, (queries, keys), "the weights match.")
    if not result.passed and answer.shape == expected.shape:
        if not torch.allclose(answer.sum(-1), torch.ones(answer.shape[0]), atol=1e-4):
            return CheckResult(
                False, f"{result.message} (rows do not sum to 1: softmax over the wrong axis?)"
            )
    return result


def _head(
    inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> torch.Tensor:
    return _weights(inputs @ w_q, inputs @ w_k) @ (inputs @ w_v)


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
]


def check_attention_head(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(inputs (seq, d_model), w_q, w_k, w_v (d_model, d_k)) -> (seq, d_k)``."""
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randn(5, 12, generator=generator)
    w_q, w_k, w_v = (torch.randn(12, 5, generator=generator) for _ in range(3))
    args = (inputs, w_q, w_k, w_v)
    success = "your head matches the reference."
    return check_against(function, args, _head(*args), HEAD_MISTAKES, success)
