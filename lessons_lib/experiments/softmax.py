"""Chapter 02's experiment: why attention divides by sqrt(d_k).

:func:`scaling_experiment` measures how softmax saturates, and the gradient
through it vanishes, when the scores are not scaled.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

import torch

from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.softmax import entropy, softmax


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
    >>> result["entropy_unscaled"].diff().lt(0).all()  # falls towards 0 as d_k grows
    tensor(True)
    """
    if not isinstance(d_ks, (list, tuple)) or not d_ks:
        raise TypeError(f"d_ks must be a non-empty list of ints, got {d_ks!r}")
    for d_k in d_ks:
        require_positive_int("d_k", d_k)
    require_positive_int("n_keys", n_keys)
    require_positive_int("n_trials", n_trials)
    require_int("seed", seed)
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
