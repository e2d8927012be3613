"""Exercises of the chapter "Cross-attention and multiple heads".

Chapter file: ``book/*_cross_attention.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lessons_lib.attention import attend
from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake


def _split(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_head)``: head h gets block h."""
    batch, seq, d_model = x.shape
    x = x.view(batch, seq, num_heads, d_model // num_heads)  # (batch, seq, heads, d_head)
    return x.transpose(1, 2)  # (batch, heads, seq, d_head)


def _split_without_transpose(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """The classic slip: view straight to (batch, heads, seq, d_head), mixing tokens."""
    batch, seq, d_model = x.shape
    return x.reshape(batch, num_heads, seq, d_model // num_heads)  # wrong: no transpose


def _split_interleaved(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Features h, h + H, h + 2H, ... to head h instead of one block each."""
    batch, seq, d_model = x.shape
    x = x.view(batch, seq, d_model // num_heads, num_heads)  # (batch, seq, d_head, heads)
    return x.permute(0, 3, 1, 2)  # (batch, heads, seq, d_head)


def _split_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(6)
    cases = []
    for batch, seq, d_model, num_heads in ((2, 5, 12, 3), (1, 3, 8, 2)):
        x = torch.randn(batch, seq, d_model, generator=generator)  # (batch, seq, d_model)
        cases.append(Case((x, num_heads), f"x ({batch}, {seq}, {d_model}) and {num_heads} heads"))
    return cases


SPLIT_MISTAKES = [
    Mistake(
        "heads split in the wrong order",
        "view as (batch, seq, heads, d_head) first, then transpose(1, 2); viewing straight "
        "to (batch, heads, seq, d_head) mixes features of different tokens",
        _split_without_transpose,
    ),
    Mistake(
        "heads interleaved",
        "head h takes one contiguous block of d_head features, h*d_head:(h+1)*d_head; "
        "view as (batch, seq, heads, d_head), not (batch, seq, d_head, heads)",
        _split_interleaved,
    ),
    Mistake(
        "transpose missing",
        "after the view to (batch, seq, heads, d_head), swap the seq and heads axes "
        "with .transpose(1, 2)",
        lambda x, h: x.view(x.shape[0], x.shape[1], h, x.shape[2] // h),
    ),
]

SPLIT_HEADS = Exercise(
    name="check_split_heads",
    parameters=("x", "num_heads"),
    cases=_split_cases,
    solution=_split,
    mistakes=SPLIT_MISTAKES,
    success="each head gets its block.",
)


def check_split_heads(function: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Check ``function(x (batch, seq, d_model), num_heads) -> (batch, heads, seq, d_head)``."""
    return SPLIT_HEADS.check(function)


def _multi_head(
    decoder: torch.Tensor,
    encoder: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    w_o: torch.Tensor,
    num_heads: int,
    split_heads: Callable[[torch.Tensor, int], torch.Tensor] = _split,
    divisor: float | None = None,
    use_w_o: bool = True,
    merge_transposed: bool = True,
) -> torch.Tensor:
    """Cross-attention, multi-head, with matrices applied as ``x @ w``; variants for mistakes.

    ``split_heads`` is the split the checker hands to the reader (a correct one), so the
    exercise does not depend on the reader's answer to the split exercise.
    """
    queries = split_heads(decoder @ w_q, num_heads)  # (batch, heads, L_q, d_head)
    keys = split_heads(encoder @ w_k, num_heads)  # (batch, heads, L_k, d_head)
    values = split_heads(encoder @ w_v, num_heads)  # (batch, heads, L_k, d_head)
    if divisor is None:
        heads, _ = attend(queries, keys, values)  # (batch, heads, L_q, d_head)
    else:
        weights = torch.softmax(queries @ keys.transpose(-2, -1) / divisor, dim=-1)
        heads = weights @ values  # (batch, heads, L_q, d_head)
    batch, _, l_q, _ = heads.shape
    if merge_transposed:
        heads = heads.transpose(1, 2)  # (batch, L_q, heads, d_head)
    merged = heads.reshape(batch, l_q, -1)  # (batch, L_q, d_model)
    return merged @ w_o if use_w_o else merged


def _multi_head_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(7)
    cases = []
    for batch, l_q, l_k, d_model, num_heads in ((2, 4, 6, 12, 3), (1, 5, 3, 8, 2)):
        decoder = torch.randn(batch, l_q, d_model, generator=generator)  # (batch, L_q, d_model)
        encoder = torch.randn(batch, l_k, d_model, generator=generator)  # (batch, L_k, d_model)
        weights = [
            torch.randn(d_model, d_model, generator=generator) / d_model**0.5 for _ in range(4)
        ]
        label = f"decoder ({batch}, {l_q}, {d_model}), encoder ({batch}, {l_k}, {d_model}), "
        args = (decoder, encoder, *weights, num_heads, _split)  # a correct split, given
        cases.append(Case(args, f"{label}{num_heads} heads"))
    return cases


MULTI_HEAD_MISTAKES = [
    Mistake(
        "queries from the encoder",
        "in cross-attention Q comes from the decoder, K and V from the encoder; "
        "the output has one row per decoder position",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(enc, dec, wq, wk, wv, wo, h, split),
    ),
    Mistake(
        "keys and values from the decoder",
        "that is the decoder's self-attention; in cross-attention K = encoder @ W_K and "
        "V = encoder @ W_V, so each decoder position can look at the source",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(dec, dec, wq, wk, wv, wo, h, split),
    ),
    Mistake(
        "heads split in the wrong order",
        "view as (batch, seq, heads, d_head) first, then transpose(1, 2)",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(
            dec, enc, wq, wk, wv, wo, h, split_heads=_split_without_transpose
        ),
    ),
    Mistake(
        "heads merged in the wrong order",
        "to concatenate, transpose (batch, heads, L_q, d_head) back to (batch, L_q, heads, "
        "d_head) before the reshape to (batch, L_q, d_model)",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(
            dec, enc, wq, wk, wv, wo, h, split, merge_transposed=False
        ),
    ),
    Mistake(
        "heads split and merged in the wrong order",
        "split: view as (batch, seq, heads, d_head), then transpose(1, 2); merge: transpose "
        "back, then reshape",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(
            dec,
            enc,
            wq,
            wk,
            wv,
            wo,
            h,
            split_heads=_split_without_transpose,
            merge_transposed=False,
        ),
    ),
    Mistake(
        "no output projection",
        "after concatenating the heads, multiply by W_O",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(
            dec, enc, wq, wk, wv, wo, h, split, use_w_o=False
        ),
    ),
    Mistake(
        "no scaling",
        "divide each head's scores by √d_head before the softmax",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(
            dec, enc, wq, wk, wv, wo, h, split, divisor=1.0
        ),
    ),
    Mistake(
        "scaled by √d_model",
        "each head works in d_head = d_model / heads dimensions: divide its scores by √d_head",
        lambda dec, enc, wq, wk, wv, wo, h, split: _multi_head(
            dec, enc, wq, wk, wv, wo, h, split, divisor=math.sqrt(dec.shape[-1])
        ),
    ),
]

MULTI_HEAD = Exercise(
    name="check_multi_head",
    parameters=("decoder", "encoder", "w_q", "w_k", "w_v", "w_o", "num_heads", "split_heads"),
    cases=_multi_head_cases,
    solution=_multi_head,
    mistakes=MULTI_HEAD_MISTAKES,
    success="split, attend per head, concatenate, W_O: all in order.",
)


def check_multi_head(function: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``function(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads)``.

    decoder ``(batch, L_q, d_model)``, encoder ``(batch, L_k, d_model)`` with
    L_q != L_k; each weight ``(d_model, d_model)``, applied as ``x @ w``; the
    answer is ``(batch, L_q, d_model)``. The checker passes a correct
    ``split_heads(x, num_heads)``, so the reader needs no answer to
    :func:`check_split_heads` for this one.
    """
    return MULTI_HEAD.check(function)
