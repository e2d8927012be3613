"""Softmax: exponentiate (base e), then normalise.

    softmax(x)_i = exp(x_i / T) / sum_j exp(x_j / T)

``T`` is the temperature: ``T < 1`` sharpens the distribution, ``T > 1``
flattens it. Subtracting the row maximum first changes nothing mathematically
(the factor exp(-max) cancels) but keeps exp() from overflowing, so the result
is finite for any finite input, logits of 1e4 included.

Layer: ops (imports torch only).
"""

from __future__ import annotations

import torch

from lessons_lib._validate import require_float, require_int, require_number, validated


def _require_dim(x: torch.Tensor, dim: object) -> int:
    """``dim`` as an int that indexes an axis of ``x`` (a 0-d tensor has the one axis -1 or 0)."""
    dim = require_int("dim", dim)
    if not -max(x.dim(), 1) <= dim < max(x.dim(), 1):
        raise ValueError(f"dim={dim} is out of range for a tensor of shape {tuple(x.shape)}")
    return dim


def naive_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The textbook formula, exp(x) / sum(exp(x)), with no protection.

    It overflows to ``inf / inf = nan`` once a logit passes about 89 (float32).
    Shown in the softmax chapter; use :func:`softmax` everywhere else.

    >>> naive_softmax(torch.tensor([1000.0, 0.0]))
    tensor([nan, 0.])
    """
    x = require_float("x", x)
    dim = _require_dim(x, dim)
    exps = torch.exp(x)
    return exps / exps.sum(dim=dim, keepdim=True)


def _check_softmax(x: torch.Tensor, dim: int, temperature: float) -> None:
    x = require_float("x", x)
    if not require_number("temperature", temperature) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    _require_dim(x, dim)


@validated(_check_softmax)
def softmax(x: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    """Numerically stable softmax along ``dim``, with a temperature.

    softmax(x)_i = exp((x_i - max(x)) / T) / sum_j exp((x_j - max(x)) / T)

    A slice whose entries are all ``-inf`` (nothing allowed, as in a fully
    masked attention row) gives all zeros rather than NaN. Shape and dtype are
    kept; as ``torch.softmax``, half-precision input (float16, bfloat16) is
    computed in float32 and rounded once at the end (in bfloat16 the shift
    0.30078125 - 64 alone would round to -63.75 and change that weight by 5%).

    >>> softmax(torch.tensor([1e4, 0.0]))
    tensor([1., 0.])
    """
    if x.dim() and x.shape[dim] == 0:
        return x.clone()  # a slice with no entries: nothing to normalise (as torch.softmax)
    wide = x.to(torch.promote_types(x.dtype, torch.float32))  # float16/bfloat16 -> float32
    # The shift is a constant per slice, so it needs no gradient.
    shift = wide.detach().amax(dim=dim, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    shifted = wide - shift  # <= 0: the largest entry is now 0
    # Dividing after the shift keeps a tiny temperature from overflowing. A temperature too
    # small or too large for the dtype turns 0 / T or -inf / T into NaN; keep the limit there,
    # which is the shifted value itself (0 or -inf).
    scaled = shifted  # at T = 1 (attention's case) there is nothing to divide, or to guard
    if temperature != 1:
        scaled = shifted / temperature
        scaled = torch.where(torch.isnan(scaled), shifted, scaled)
    exps = torch.exp(scaled)
    total = exps.sum(dim=dim, keepdim=True)
    return (exps / total.clamp_min(torch.finfo(wide.dtype).tiny)).to(x.dtype)


def entropy(weights: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy (in nats) of probability rows: ``H(p) = -sum_i p_i log p_i``.

    0 for a one-hot row (all weight on one key), ``log n`` for a uniform row
    over ``n`` keys. Zero entries contribute 0 (the limit of p log p).

    >>> entropy(torch.tensor([0.5, 0.5]))
    tensor(0.6931)
    """
    weights = require_float("weights", weights)
    dim = _require_dim(weights, dim)
    logs = torch.log(weights.clamp_min(torch.finfo(weights.dtype).tiny))
    return -(weights * logs).sum(dim=dim)
