"""Chapter 10's experiments: the ViT against a small CNN as the training set grows.

Seeded training subsets (:func:`training_subset`), training with early
stopping on the validation accuracy (:func:`train_to_best`, which chapter 09's
runs use too), the comparison (:func:`compare_vit_and_cnn`) and its summary
(:func:`summarise_runs`).

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.cnn import SmallCNN
from lessons_lib.data import ImageSet
from lessons_lib.experiments._seeds import require_seeds
from lessons_lib.metrics import classification_accuracy
from lessons_lib.training import fit, one_thread, seeded
from lessons_lib.vit import DIGITS_VIT, ViT

MODEL_KINDS = ("ViT", "CNN")


def training_subset(train: ImageSet, size: int, seed: int) -> ImageSet:
    """``size`` training images drawn without replacement by a seeded shuffle (all: ``len(train)``).

    >>> images = ImageSet(torch.zeros(5, 1, 2, 2), torch.arange(5), tuple("abcde"))
    >>> len(training_subset(images, 3, seed=0))
    3
    """
    size = require_positive_int("size", size)
    seed = require_int("seed", seed)
    if not isinstance(train, ImageSet):
        raise TypeError(f"train must be an ImageSet, got {type(train).__name__}")
    if size > len(train):
        raise ValueError(f"size must be at most the {len(train)} training images, got {size}")
    chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:size]
    return ImageSet(train.images[chosen], train.labels[chosen], train.class_names)


class BestRun(NamedTuple):
    """How :func:`train_to_best` ended: the step whose weights it kept, and why it stopped."""

    best_step: int  # the evaluation with the highest validation accuracy (its weights are kept)
    steps: int  # every step taken, the patience after the best one included
    validation_accuracy: float  # at best_step
    stopped_early: bool  # False: max_steps ran out before the patience did


def train_to_best(
    model: nn.Module,
    train: ImageSet,
    validation: ImageSet,
    *,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    eval_every: int = 50,
    patience: int = 6,
    max_steps: int = 3000,
) -> BestRun:
    """Train until the validation accuracy stops rising; keep the weights of its best point.

    Early stopping: every ``eval_every`` steps the accuracy on ``validation``
    is measured; training stops once ``patience`` evaluations in a row bring
    no new highest accuracy, or after ``max_steps``, and the model gets back
    the weights of its first highest accuracy. One Adam optimiser runs
    throughout (its moments carry over between evaluations); the batches are
    drawn with replacement from ``train``, seeded by ``seed``.

    Why accuracy and not the validation loss: on a few dozen training images
    a model soon fits them all and grows confident, and its validation loss
    can rise from the first steps while its validation accuracy still climbs
    for hundreds of steps; stopping on the loss would keep the untrained model.
    """
    for name, value in (("eval_every", eval_every), ("patience", patience)):
        require_positive_int(name, value)
    if require_positive_int("max_steps", max_steps) < eval_every:
        raise ValueError(f"max_steps ({max_steps}) must be at least eval_every ({eval_every})")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    batches = train.batches(batch_size, torch.Generator().manual_seed(seed))

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    best = (classification_accuracy(model, validation), 0, copy.deepcopy(model.state_dict()))
    steps, waited = 0, 0
    with one_thread():
        while steps < max_steps and waited < patience:
            chunk = min(eval_every, max_steps - steps)
            fit(model, loss_fn, batches, steps=chunk, optimiser=optimiser, progress=False)
            steps += chunk
            accuracy = classification_accuracy(model, validation)
            if accuracy > best[0]:
                best, waited = (accuracy, steps, copy.deepcopy(model.state_dict())), 0
            else:
                waited += 1
    model.load_state_dict(best[2])
    return BestRun(
        best_step=best[1],
        steps=steps,
        validation_accuracy=best[0],
        stopped_early=waited >= patience,
    )


def compare_vit_and_cnn(
    train: ImageSet,
    validation: ImageSet,
    test: ImageSet,
    sizes: tuple[int, ...],
    seeds: tuple[int, ...] = (0, 1, 2),
    lr: float = 3e-3,
    batch_size: int = 32,
    eval_every: int = 50,
    patience: int = 6,
    max_steps: int = 3000,
    progress: bool | None = None,
) -> dict[str, dict[str, dict[int, list[float]]]]:
    """The small ViT and the small CNN, each trained to its best, for each training-set size.

    Every run trains until its validation accuracy stops rising
    (:func:`train_to_best`: early stopping with ``patience``, capped at
    ``max_steps``), so no size is cut short by a fixed budget; the kept
    weights are then scored once on ``test`` and on the run's own training
    subset. The seed fixes the subset (:func:`training_subset`), the initial
    weights and the batches; the ViT is ``DIGITS_VIT``, the CNN
    :class:`~lessons_lib.cnn.SmallCNN`.

    Returns ``{"test": {"ViT": {size: [accuracy per seed]}, "CNN": {...}},
    "train": {...}, "steps": {...}}``, where ``steps`` is each run's best step.
    One progress bar counts the runs (``progress=None``: except while the
    book is built).
    """
    if not sizes:
        raise ValueError("sizes must name at least one training-set size, got none")
    for size in sizes:
        if not 1 <= require_int("size", size) <= len(train):
            raise ValueError(
                f"every size must lie in 1..{len(train)} (the training images), got {size}"
            )
    seeds = require_seeds(seeds)
    show_bar = not building_book() if progress is None else progress
    builders: dict[str, Callable[[], nn.Module]] = {
        "ViT": lambda: ViT(**DIGITS_VIT),
        "CNN": lambda: SmallCNN(channels=train.images.shape[1], num_classes=10),
    }
    results: dict[str, dict[str, dict[int, list[float]]]] = {
        measure: {kind: {} for kind in MODEL_KINDS} for measure in ("test", "train", "steps")
    }
    runs = [(size, seed, kind) for size in sizes for seed in seeds for kind in MODEL_KINDS]
    for size, seed, kind in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
        subset = training_subset(train, size, seed)
        model = seeded(seed, builders[kind])
        run = train_to_best(
            model,
            subset,
            validation,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            eval_every=eval_every,
            patience=patience,
            max_steps=max_steps,
        )
        with torch.no_grad():
            scored = {"test": classification_accuracy(model, test)}
            scored["train"] = classification_accuracy(model, subset)
        scored["steps"] = run.best_step
        for measure, value in scored.items():
            results[measure][kind].setdefault(size, []).append(value)
    return results


def summarise_runs(scores: Mapping[int, list[float]]) -> dict[str, list[float]]:
    """Per size (ascending): the mean, lowest and highest score over the seeds.

    >>> summarise_runs({100: [0.5, 0.7], 50: [0.2, 0.4]})
    {'sizes': [50, 100], 'mean': [0.30000000000000004, 0.6], 'low': [0.2, 0.5], 'high': [0.4, 0.7]}
    """
    if not scores or any(len(values) == 0 for values in scores.values()):
        raise ValueError(f"scores must map each size to at least one score, got {scores!r}")
    sizes = sorted(scores)
    return {
        "sizes": sizes,
        "mean": [sum(scores[size]) / len(scores[size]) for size in sizes],
        "low": [min(scores[size]) for size in sizes],
        "high": [max(scores[size]) for size in sizes],
    }
