"""Exercises of the chapter "Queries, keys and values" (``book/*_qkv.ipynb``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lessons_lib.attention import attend, attention_scores
from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
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
