"""Chapter 05's experiments: residual connections, the norm's place and warm-up.

Gradient norms down a deep stack under two initialisations
(:func:`gradient_norms_per_layer`, :func:`variance_preserving_init`), and
post-norm against pre-norm, with and without learning-rate warm-up
(:func:`warmup_experiment`, :func:`final_losses`, :func:`gradient_norms_at_init`),
on the model :class:`~lessons_lib.transformer.EncoderStack`.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.data import ReversalTask
from lessons_lib.experiments._seeds import require_seeds
from lessons_lib.residual import AddNorm, FeedForward
from lessons_lib.training import cross_entropy, fit, one_thread, seeded
from lessons_lib.transformer import EncoderStack

# --- residual connections and the gradient ---------------------------------------------


INITS = ("default", "kaiming")


def variance_preserving_init(block: FeedForward) -> FeedForward:
    """Re-draw ``block``'s weights so that it keeps the size of its input; biases 0.

        W_1 ~ N(0, 2 / d_model)   (He et al., 2015: the ReLU after it zeroes half the inputs)
        W_2 ~ N(0, 1 / d_ff)      (gain 1: nothing after it)

    Per feature, ``Var(xW_1) = 2 Var(x)``, the ReLU halves the mean square,
    and ``W_2`` keeps it: a block's output has about its input's size, and
    the gradient going back keeps its size the same way. PyTorch's default
    for ``nn.Linear`` draws ``W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, of
    variance ``1 / (3 fan_in)``: each layer keeps a third of the mean square,
    the ReLU half, so a block keeps about ``1/3 * 1/2 * 1/3 = 1/18`` of it,
    a factor ``sqrt(18) ≈ 4.2`` smaller in norm (biases add a little back).

    >>> _ = torch.manual_seed(0)
    >>> block = variance_preserving_init(FeedForward(256, 512))
    >>> x = torch.randn(4096, 256)
    >>> round((block(x).pow(2).mean() / x.pow(2).mean()).item(), 1)
    1.0
    """
    with torch.no_grad():
        nn.init.kaiming_normal_(block.linear1.weight, nonlinearity="relu")
        nn.init.kaiming_normal_(block.linear2.weight, nonlinearity="linear")
        nn.init.zeros_(block.linear1.bias)
        nn.init.zeros_(block.linear2.bias)
    return block


def gradient_norms_per_layer(
    num_layers: int,
    *,
    residual: bool = True,
    norm: bool = False,
    d_model: int = 32,
    seed: int = 0,
    init: str = "default",
) -> torch.Tensor:
    """Gradient norm of each block's first weight in a freshly initialised deep stack.

    The stack repeats one block ``num_layers`` times:

        no residual:  h = FFN(h)              residual:  h = h + FFN(h)
        with ``norm``, each result goes through a layer norm (post-norm: LayerNorm(h + FFN(h)))

    ``init="default"`` keeps PyTorch's ``nn.Linear`` initialisation, under
    which each block shrinks a vector (and the gradient through it) about
    4-fold; ``init="kaiming"`` re-draws every block with
    :func:`variance_preserving_init`, under which a block keeps their size.
    The loss is a fixed random read-out of the top, ``mean(h_top * r)``, so the
    gradient entering the top is the same in every setting and only the path
    down the stack differs. Returns ``(num_layers,)``: entry 0 is the bottom block.
    Seeded by ``seed``; the global random state is left as it was.

    >>> gradient_norms_per_layer(16, residual=False)[0] < 1e-6   # vanished
    tensor(True)
    >>> kept = gradient_norms_per_layer(16, residual=False, init="kaiming")
    >>> bool(0.1 < kept[0] / kept[-1] < 10)   # the same stack, another initialisation
    True
    """
    num_layers = require_positive_int("num_layers", num_layers)
    d_model = require_positive_int("d_model", d_model)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    require_int("seed", seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        blocks = [FeedForward(d_model, 2 * d_model) for _ in range(num_layers)]
        if init == "kaiming":
            blocks = [variance_preserving_init(block) for block in blocks]
        add_norms = [AddNorm(d_model) for _ in range(num_layers)]
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


# --- the norm's place and learning-rate warm-up -----------------------------------------


@dataclass(frozen=True)
class WarmupRecipe:
    """The warm-up runs: an :class:`EncoderStack` learns to reverse short digit sequences.

    The learning rate, 2e-2, is high on purpose: at 1e-2 all four settings
    trained in our trials (``bench/bench_warmup.py`` runs both rates), and the
    effect of the norm's place only shows where training is near its limit.
    """

    length: int = 6
    d_model: int = 32
    num_heads: int = 2
    num_layers: int = 4
    batch_size: int = 32
    steps: int = 80
    lr: float = 2e-2
    warmup_steps: int = 25


# label -> (norm_first, warm-up?)
WARMUP_SETTINGS = {
    "post-norm": (False, False),
    "post-norm + warm-up": (False, True),
    "pre-norm": (True, False),
    "pre-norm + warm-up": (True, True),
}


def _encoder_stack(task: ReversalTask, recipe: WarmupRecipe, norm_first: bool) -> EncoderStack:
    return EncoderStack(
        task.vocab_size,
        length=task.length,
        d_model=recipe.d_model,
        num_heads=recipe.num_heads,
        num_layers=recipe.num_layers,
        norm_first=norm_first,
    )


def warmup_experiment(
    seeds: Sequence[int] = (0, 1, 2),
    recipe: WarmupRecipe | None = None,
    progress: bool | None = None,
) -> dict[str, list[list[float]]]:
    """Training-loss curves of one model, post-norm and pre-norm, each with and without warm-up.

    For every setting of :data:`WARMUP_SETTINGS` and every seed, an
    :class:`EncoderStack` (weights drawn from the seed) is trained with Adam
    for ``recipe.steps`` steps on reversal of ``recipe.length`` digits
    (batches drawn from seed + 1), the cross-entropy of every output digit as
    the loss. With warm-up the rate climbs linearly over ``recipe.warmup_steps``
    steps (:func:`~lessons_lib.training.fit`'s ``warmup_steps``); without, it
    is ``recipe.lr`` from the first step. The same seed gives every setting
    the same weights (up to pre-norm's extra final norm) and the same batches.
    Nothing is selected, so no split is held out: the curves compare training.

    Returns ``{setting: [losses per step, one list per seed]}``.

    >>> curves = warmup_experiment(seeds=[0], recipe=WarmupRecipe(steps=3, warmup_steps=2))
    >>> list(curves), len(curves["pre-norm"][0])
    (['post-norm', 'post-norm + warm-up', 'pre-norm', 'pre-norm + warm-up'], 3)
    """
    recipe = recipe or WarmupRecipe()
    seeds = require_seeds(seeds)
    if not isinstance(recipe, WarmupRecipe):
        raise TypeError(f"recipe must be a WarmupRecipe, got {type(recipe).__name__}")
    task = ReversalTask(length=recipe.length)
    show_bar = not building_book() if progress is None else progress
    runs = [(label, seed) for label in WARMUP_SETTINGS for seed in seeds]
    curves: dict[str, list[list[float]]] = {label: [] for label in WARMUP_SETTINGS}
    with one_thread():
        for label, seed in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
            norm_first, warm_up = WARMUP_SETTINGS[label]
            model = seeded(seed, partial(_encoder_stack, task, recipe, norm_first))
            history = fit(
                model,
                lambda model, batch: cross_entropy(model(batch[0]), batch[1]),
                task.batches(recipe.batch_size, torch.Generator().manual_seed(seed + 1)),
                steps=recipe.steps,
                lr=recipe.lr,
                warmup_steps=recipe.warmup_steps if warm_up else 0,
                progress=False,
            )
            curves[label].append(history.losses)
    return curves


def final_losses(curves: Mapping[str, list[list[float]]], last: int = 10) -> dict[str, list[float]]:
    """Per setting, each run's mean loss over its ``last`` steps (smoother than the last one).

    >>> final_losses({"a": [[3.0, 2.0, 1.0], [4.0, 2.0, 2.0]]}, last=2)
    {'a': [1.5, 2.0]}
    """
    last = require_positive_int("last", last)
    for label, runs in curves.items():
        if any(len(losses) == 0 for losses in runs):
            raise ValueError(f"every run needs at least one loss, got an empty run for {label!r}")
    return {
        label: [sum(losses[-last:]) / len(losses[-last:]) for losses in runs]
        for label, runs in curves.items()
    }


def gradient_norms_at_init(
    num_layers: int,
    norm_first: bool,
    seeds: Sequence[int] = (0, 1, 2, 3),
    recipe: WarmupRecipe | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Gradient norm of each layer's weights, at initialisation, in the warm-up model.

    For each seed a fresh :class:`EncoderStack` of ``num_layers`` layers (the
    other sizes from ``recipe``) takes one batch of ``batch_size`` training
    sequences; after one backward pass of the cross-entropy, layer l's number
    is the norm of the gradient of all its weights together,
    ``sqrt(sum over its parameters of |grad|^2)``. Returns ``(num_layers,)``,
    the mean over the seeds; entry 0 is the layer next to the input. This is
    what Xiong et al. (2020) studied: at initialisation, post-norm gives the
    layers near the output larger gradients than pre-norm does.

    >>> gradient_norms_at_init(3, norm_first=True, seeds=[0]).shape
    torch.Size([3])
    """
    num_layers = require_positive_int("num_layers", num_layers)
    seeds = require_seeds(seeds)
    batch_size = require_positive_int("batch_size", batch_size)
    if recipe is not None and not isinstance(recipe, WarmupRecipe):
        raise TypeError(f"recipe must be a WarmupRecipe, got {type(recipe).__name__}")
    recipe = replace(recipe or WarmupRecipe(), num_layers=num_layers)
    task = ReversalTask(length=recipe.length)
    total = torch.zeros(num_layers)
    for seed in seeds:
        model = seeded(seed, partial(_encoder_stack, task, recipe, norm_first))
        sources, targets = task.sample(batch_size, torch.Generator().manual_seed(seed + 1))
        cross_entropy(model(sources), targets).backward()
        for index, layer in enumerate(model.layers):
            squares = sum(parameter.grad.pow(2).sum() for parameter in layer.parameters())
            total[index] += float(squares) ** 0.5
    return total / len(seeds)
