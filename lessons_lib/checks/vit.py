"""Exercises of the chapter "The whole ViT"."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, check_against
from lessons_lib.residual import layer_norm


def _with_class(patches: torch.Tensor, class_token: torch.Tensor) -> torch.Tensor:
    class_tokens = class_token.expand(patches.shape[0], 1, -1)  # (batch, 1, d)
    return torch.cat([class_tokens, patches], dim=1)  # (batch, 1 + N, d)


SEQUENCE_MISTAKES = [
    Mistake(
        "the class token at the end",
        "the class token goes in front: position 0 of the sequence",
        lambda x, cls, codes: torch.cat([x, cls.expand(x.shape[0], 1, -1)], dim=1) + codes,
    ),
    Mistake(
        "the class token left without a position",
        "add codes[0] to the class token too: E_pos has 1 + N rows, one for every token",
        lambda x, cls, codes: _with_class(x + codes[1:], cls),
    ),
    Mistake(
        "codes shifted by one",
        "codes[0] belongs to the class token; patch i gets codes[i + 1]",
        lambda x, cls, codes: _with_class(x + codes[:-1], cls),
    ),
]


def check_input_sequence(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(patches (B, N, d), class_token (d,), codes (1+N, d)) -> (B, 1+N, d)``."""
    generator = torch.Generator().manual_seed(7)
    patches = torch.randn(2, 4, 6, generator=generator)
    class_token = torch.randn(6, generator=generator)
    codes = torch.randn(5, 6, generator=generator)
    args = (patches, class_token, codes)
    expected = _with_class(patches, class_token) + codes
    success = "your input sequence is z_0."
    return check_against(function, args, expected, SEQUENCE_MISTAKES, success)


READ_OUT_MISTAKES = [
    Mistake(
        "averaged every token",
        "this ViT reads the class token's output only: encoded[:, 0]",
        lambda z, w, b: layer_norm(z.mean(dim=1)) @ w.T + b,
    ),
    Mistake(
        "read the last token",
        "the class token is the first token, encoded[:, 0], not encoded[:, -1]",
        lambda z, w, b: layer_norm(z[:, -1]) @ w.T + b,
    ),
    Mistake(
        "no final layer norm",
        "pre-norm layers leave the output unnormalised: apply layer_norm before the head",
        lambda z, w, b: z[:, 0] @ w.T + b,
    ),
]


def check_read_out(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(encoded (B, 1+N, d), weight (k, d), bias (k,)) -> logits (B, k)``."""
    generator = torch.Generator().manual_seed(8)
    encoded = torch.randn(3, 5, 6, generator=generator) * 2 + 1
    weight = torch.randn(4, 6, generator=generator)
    bias = torch.randn(4, generator=generator)
    args = (encoded, weight, bias)
    expected = layer_norm(encoded[:, 0]) @ weight.T + bias
    success = "your read-out matches the ViT's."
    return check_against(function, args, expected, READ_OUT_MISTAKES, success)
