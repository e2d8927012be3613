"""Softmax: exponentiate (base e), then normalise.

    softmax(x)_i = exp(x_i / T) / sum_j exp(x_j / T)

``T`` is the temperature: ``T < 1`` sharpens the distribution, ``T > 1``
flattens it. Subtracting the row maximum first changes nothing mathematically
(the factor exp(-max) cancels) but keeps exp() from overflowing, so the result
is finite for any finite input, logits of 1e4 included.
"""

from __future__ import annotations

import torch

from lessons_lib._validate import require_float, require_positive_int


def naive_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The textbook formula, exp(x) / sum(exp(x)), with no protection.

    It overflows to ``inf / inf = nan`` once a logit passes about 89 (float32).
    Shown in the softmax chapter; use :func:`softmax` everywhere else.

    >>> naive_softmax(torch.tensor([1000.0, 0.0]))
    tensor([nan, 0.])
    """
    exps = torch.exp(require_float("x", x))
    return exps / exps.sum(dim=dim, keepdim=True)


def softmax(x: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    """Numerically stable softmax along ``dim``, with a temperature.

    softmax(x)_i = exp((x_i - max(x)) / T) / sum_j exp((x_j - max(x)) / T)

    A slice whose entries are all ``-inf`` (nothing allowed, as in a fully
    masked attention row) gives all zeros rather than NaN. Shape and dtype are
    kept.

    >>> softmax(torch.tensor([1e4, 0.0]))
    tensor([1., 0.])
    """
    x = require_float("x", x)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not -x.dim() <= dim < max(x.dim(), 1):
        raise ValueError(f"dim={dim} is out of range for a tensor of shape {tuple(x.shape)}")
    scaled = x / temperature
    # The shift is a constant per slice, so it needs no gradient.
    shift = scaled.detach().amax(dim=dim, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    exps = torch.exp(scaled - shift)
    total = exps.sum(dim=dim, keepdim=True)
    return exps / total.clamp_min(torch.finfo(x.dtype).tiny)


def entropy(weights: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy (in nats) of probability rows: ``H(p) = -sum_i p_i log p_i``.

    0 for a one-hot row (all weight on one key), ``log n`` for a uniform row
    over ``n`` keys. Zero entries contribute 0 (the limit of p log p).

    >>> entropy(torch.tensor([0.5, 0.5]))
    tensor(0.6931)
    """
    weights = require_float("weights", weights)
    logs = torch.log(weights.clamp_min(torch.finfo(weights.dtype).tiny))
    return -(weights * logs).sum(dim=dim)


def scaling_experiment(
    d_ks: list[int], n_keys: int = 16, n_trials: int = 256, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Why attention divides by sqrt(d_k): saturation of softmax(q·k) as d_k grows.

    For each ``d_k`` draw ``n_trials`` queries and ``n_keys`` keys with
    independent N(0, 1) entries, so each raw score ``q·k`` is a sum of ``d_k``
    products of variance 1 and has variance ``d_k``. Then compare
    ``softmax(q·k)`` with ``softmax(q·k / sqrt(d_k))``.

    Returns a dict of ``(len(d_ks),)`` tensors (float64):

    - ``score_variance``: the measured variance of the raw scores (about d_k);
    - ``entropy_scaled`` / ``entropy_unscaled``: mean entropy of the weights,
      in nats (``log n_keys`` = uniform, 0 = one-hot);
    - ``max_weight_scaled`` / ``max_weight_unscaled``: mean largest weight;
    - ``grad_scaled`` / ``grad_unscaled``: the median norm of the gradient
      that a random linear loss ``sum_j g_j w_j`` sends back through the
      softmax to its input scores. A saturated softmax passes almost none back.

    >>> result = scaling_experiment([4, 64, 1024])
    >>> result["entropy_unscaled"]  # falls towards 0 as d_k grows
    """
    if not isinstance(d_ks, (list, tuple)) or not d_ks:
        raise TypeError(f"d_ks must be a non-empty list of ints, got {d_ks!r}")
    for d_k in d_ks:
        require_positive_int("d_k", d_k)
    require_positive_int("n_keys", n_keys)
    require_positive_int("n_trials", n_trials)
    generator = torch.Generator().manual_seed(seed)
    columns: dict[str, list[float]] = {}
    for d_k in d_ks:
        queries = torch.randn(n_trials, 1, d_k, generator=generator, dtype=torch.float64)
        keys = torch.randn(n_trials, n_keys, d_k, generator=generator, dtype=torch.float64)
        upstream = torch.randn(n_trials, 1, n_keys, generator=generator, dtype=torch.float64)
        raw_scores = queries @ keys.transpose(-2, -1)  # (trials, 1, n_keys)
        columns.setdefault("score_variance", []).append(float(raw_scores.var()))
        for name, divisor in (("scaled", d_k**0.5), ("unscaled", 1.0)):
            scores = (raw_scores / divisor).requires_grad_(True)  # (trials, 1, n_keys)
            weights = softmax(scores)
            (weights * upstream).sum().backward()
            grad_norms = scores.grad.norm(dim=-1)  # (trials, 1)
            weights = weights.detach()
            columns.setdefault(f"entropy_{name}", []).append(float(entropy(weights).mean()))
            columns.setdefault(f"max_weight_{name}", []).append(float(weights.amax(-1).mean()))
            columns.setdefault(f"grad_{name}", []).append(float(grad_norms.median()))
    return {name: torch.tensor(values, dtype=torch.float64) for name, values in columns.items()}
