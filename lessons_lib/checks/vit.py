"""Exercises of the chapter "The whole ViT" (``book/*_vit.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.residual import layer_norm
from lessons_lib.vit import attention_rollout


def _with_class(patches: torch.Tensor, class_token: torch.Tensor) -> torch.Tensor:
    class_tokens = class_token.expand(patches.shape[0], 1, -1)  # (batch, 1, d)
    return torch.cat([class_tokens, patches], dim=1)  # (batch, 1 + N, d)


def _input_sequence(
    patches: torch.Tensor, class_token: torch.Tensor, codes: torch.Tensor
) -> torch.Tensor:
    """z_0 = [x_class; x_1 E; ...; x_N E] + E_pos: ``(batch, 1 + N, d)``."""
    return _with_class(patches, class_token) + codes


def _sequence_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(7)
    cases = []
    for batch, n_patches, d in ((2, 4, 6), (1, 9, 4), (3, 2, 8)):
        patches = torch.randn(batch, n_patches, d, generator=generator)  # (batch, N, d)
        class_token = torch.randn(d, generator=generator)  # (d,)
        codes = torch.randn(1 + n_patches, d, generator=generator)  # (1 + N, d)
        label = f"patches {tuple(patches.shape)}, class_token ({d},), codes {tuple(codes.shape)}"
        cases.append(Case((patches, class_token, codes), label))
    return cases


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

INPUT_SEQUENCE = Exercise(
    name="check_input_sequence",
    parameters=("patches", "class_token", "codes"),
    cases=_sequence_cases,
    solution=_input_sequence,
    mistakes=SEQUENCE_MISTAKES,
    success="your input sequence is z_0.",
)


def check_input_sequence(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(patches (B, N, d), class_token (d,), codes (1+N, d)) -> (B, 1+N, d)``."""
    return INPUT_SEQUENCE.check(function)


def _read_out(encoded: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """y = LN(z_L^0) W^T + b: the class token's output, normalised, then the head."""
    return layer_norm(encoded[:, 0]) @ weight.T + bias  # (batch, classes)


def _read_out_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(8)
    cases = []
    for batch, tokens, d, classes in ((3, 5, 6, 4), (2, 10, 8, 3)):
        encoded = torch.randn(batch, tokens, d, generator=generator) * 2 + 1  # (B, 1 + N, d)
        weight = torch.randn(classes, d, generator=generator)  # (classes, d)
        bias = torch.randn(classes, generator=generator)  # (classes,)
        label = f"encoded ({batch}, {tokens}, {d}) and a head of {classes} classes"
        cases.append(Case((encoded, weight, bias), label))
    return cases


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

READ_OUT = Exercise(
    name="check_read_out",
    parameters=("encoded", "weight", "bias"),
    cases=_read_out_cases,
    solution=_read_out,
    mistakes=READ_OUT_MISTAKES,
    success="your read-out matches the ViT's.",
)


def check_read_out(
    function: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(encoded (B, 1+N, d), weight (k, d), bias (k,)) -> logits (B, k)``."""
    return READ_OUT.check(function)


def _rollout_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(9)
    cases = []
    for depth, heads, tokens in ((2, 2, 5), (3, 4, 4), (4, 1, 6)):
        scores = torch.randn(depth, heads, tokens, tokens, generator=generator) * 2
        maps = torch.softmax(scores, dim=-1)  # (depth, heads, T, T), rows sum to 1
        label = f"maps of shape {tuple(maps.shape)} (depth, heads, T, T)"
        cases.append(Case((maps,), label))
    return cases


def _mixed(maps: torch.Tensor) -> torch.Tensor:
    """0.5 * head-averaged map + 0.5 * I, per layer: ``(depth, T, T)``."""
    return 0.5 * maps.mean(dim=1) + 0.5 * torch.eye(maps.shape[-1], dtype=maps.dtype)


def _max_fused(maps: torch.Tensor) -> torch.Tensor:
    """Rollout with each layer's heads fused by their maximum, rows renormalised: ``(T, T)``."""
    mixed = 0.5 * maps.amax(dim=1) + 0.5 * torch.eye(maps.shape[-1], dtype=maps.dtype)
    return _product(mixed / mixed.sum(dim=-1, keepdim=True))  # (depth, T, T) -> (T, T)


def _product(layers: torch.Tensor, last_on_left: bool = True) -> torch.Tensor:
    result = layers[0]
    for layer in layers[1:]:
        result = layer @ result if last_on_left else result @ layer
    return result  # (T, T)


ROLLOUT_MISTAKES = [
    Mistake(
        "the residual identity left out",
        "mix each layer's head-averaged map with the identity, 0.5·A + 0.5·I: the residual "
        "path carries every token past the attention",
        lambda maps: _product(maps.mean(dim=1)),
    ),
    Mistake(
        "layers multiplied in the wrong order",
        "the first layer acts first, so it goes on the right: R = A'_L @ ... @ A'_2 @ A'_1",
        lambda maps: _product(_mixed(maps), last_on_left=False),
    ),
    Mistake(
        "A + I without renormalising",
        "after adding the identity, divide every row by its sum (or use 0.5·A + 0.5·I), so "
        "that each row of every layer's map sums to 1",
        lambda maps: _product(maps.mean(dim=1) + torch.eye(maps.shape[-1], dtype=maps.dtype)),
    ),
    Mistake(
        "only the last layer",
        "roll out: multiply the mixed maps of every layer, not just the last one",
        lambda maps: _mixed(maps)[-1],
    ),
    Mistake(
        "heads summed instead of averaged",
        "average the heads (maps.mean(dim=1)); their sum gives the attention too much weight "
        "against the identity",
        lambda maps: attention_rollout(maps * maps.shape[1]),
    ),
    Mistake(
        "heads fused by their maximum",
        "average the heads, maps.mean(dim=1): the maximum over the heads (the 'max' fusion some "
        "rollout code offers) keeps only the strongest head at every entry, so a layer's map "
        "is no longer the mixing that its heads perform together; Abnar & Zuidema's rollout "
        "averages them",
        _max_fused,
    ),
]

ROLLOUT = Exercise(
    name="check_rollout",
    parameters=("maps",),
    cases=_rollout_cases,
    solution=attention_rollout,
    mistakes=ROLLOUT_MISTAKES,
    success="your rollout matches Abnar & Zuidema's.",
)


def check_rollout(function: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``function(maps (depth, heads, T, T)) -> rollout (T, T)``."""
    return ROLLOUT.check(function)
