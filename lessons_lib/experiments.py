"""Experiments: the runs behind the chapters' figures and tables.

Each function is one chapter's measurement, seeded, returning plain numbers
for the notebook to plot and the text to quote:

- chapter 02: why attention divides by sqrt(d_k) (:func:`scaling_experiment`);
- chapter 05: gradient norms down a deep stack (:func:`gradient_norms_per_layer`);
- chapters 07 and 10: the shape of the data after every part (:func:`trace_shapes`);
- chapter 09: the ViT with each kind of position code (:func:`compare_position_codes`).

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_positive_int
from lessons_lib.data import ImageSet
from lessons_lib.residual import AddNorm, FeedForward
from lessons_lib.softmax import entropy, softmax
from lessons_lib.training import seeded_vit, train_vit
from lessons_lib.vit import POSITION_KINDS, ViT

# --- chapter 02: softmax saturates without the 1/sqrt(d_k) -------------------------------


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


# --- chapter 05: residual connections and the gradient -----------------------------------


def gradient_norms_per_layer(
    depth: int,
    residual: bool = True,
    norm: bool = False,
    d_model: int = 32,
    seed: int = 0,
) -> torch.Tensor:
    """Gradient norm of each block's first weight in a freshly initialised deep stack.

    The stack repeats one block ``depth`` times:

        no residual:  h = FFN(h)              residual:  h = h + FFN(h)
        with ``norm``, each result goes through a layer norm (post-norm: LayerNorm(h + FFN(h)))

    The loss is a fixed random read-out of the top, ``mean(h_top * r)``, so the
    gradient entering the top is the same in every setting and only the path
    down the stack differs. Returns ``(depth,)``: entry 0 is the bottom block.
    Seeded by ``seed``; the global random state is left as it was.

    >>> gradient_norms_per_layer(16, residual=False)[0] < 1e-6   # vanished
    tensor(True)
    """
    depth = require_positive_int("depth", depth)
    d_model = require_positive_int("d_model", d_model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        blocks = [FeedForward(d_model, 2 * d_model) for _ in range(depth)]
        add_norms = [AddNorm(d_model) for _ in range(depth)]
        h = torch.randn(64, d_model)  # (batch, d_model)
        readout = torch.randn(64, d_model)
    for block, add_norm in zip(blocks, add_norms):
        out = block(h)
        if residual:
            h = add_norm(h, out) if norm else h + out
        else:
            h = add_norm.norm(out) if norm else out
    (h * readout).mean().backward()
    return torch.stack([block.linear1.weight.grad.norm() for block in blocks])


# --- chapters 07 and 10: shapes through a model ------------------------------------------


def trace_shapes(
    run: Callable[[], object], parts: Mapping[str, nn.Module]
) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, output shape)`` of each of ``parts``, in the order ``run()`` calls them.

    Puts a forward hook on every module of ``parts`` (name -> module), calls
    ``run()`` without gradients, and removes the hooks. A module that returns
    a tuple (attention returns its weights too) is recorded by its first item.

    >>> layer = nn.Linear(4, 3)
    >>> trace_shapes(lambda: layer(torch.zeros(2, 4)), {"linear": layer})
    [('linear', (2, 3))]
    """
    shapes: list[tuple[str, tuple[int, ...]]] = []

    def recorder(name: str):
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            first = output[0] if isinstance(output, tuple) else output
            shapes.append((name, tuple(first.shape)))

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in parts.items()]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return shapes


# --- chapter 09: the ViT with each kind of position code --------------------------------


def compare_position_codes(
    train: ImageSet,
    test: ImageSet,
    kinds: tuple[str, ...] = POSITION_KINDS,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int = 150,
    lr: float = 3e-3,
    batch_size: int = 64,
    progress: bool | None = None,
    **options: object,
) -> tuple[dict[str, list[float]], dict[str, ViT]]:
    """Train one small ViT per (kind, seed); return test accuracies and the seed-0 models.

    Each run uses the same seeds for its weights and its batches, so the
    kinds differ only by their position codes. ``options`` go to :class:`ViT`.
    One progress bar counts the runs (``progress=None``: except while the book
    is built, where a live bar cannot move).
    """
    show_bar = not building_book() if progress is None else progress
    scores: dict[str, list[float]] = {kind: [] for kind in kinds}
    models: dict[str, ViT] = {}
    runs = [(kind, seed) for kind in kinds for seed in seeds]
    for kind, seed in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
        model = seeded_vit(seed, positions=kind, **options)
        history = train_vit(
            model,
            train,
            test,
            steps=steps,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            eval_every=steps,
            progress=False,
        )
        scores[kind].append(history.final_score)
        models.setdefault(kind, model)
    return scores, models
