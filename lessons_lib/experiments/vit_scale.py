"""The appendix "The ViT at other scales": larger images, more data.

Two experiments from the ViT paper beyond the seed notes:

- codes stretched to larger images, without retraining (:func:`upsample_images`,
  :data:`STRETCHES`, :func:`evaluate_stretched`; the stretching itself is
  :func:`lessons_lib.vit.stretch_positions`);
- the ViT against a small CNN as the training set grows: seeded training subsets
  (:func:`training_subset`), every run trained to its best with
  :func:`~lessons_lib.training.train_to_best`, the comparison
  (:func:`compare_vit_and_cnn`) and its summary (:func:`summarise_runs`).

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.cnn import SmallCNN
from lessons_lib.data import ImageSet
from lessons_lib.experiments._seeds import require_seeds
from lessons_lib.metrics import classification_accuracy
from lessons_lib.training import seeded, train_to_best
from lessons_lib.vit import DIGITS_VIT, ViT, stretch_positions

MODEL_KINDS = ("ViT", "CNN")


def upsample_images(data: ImageSet, factor: int) -> ImageSet:
    """Every image ``factor`` times larger each way, each pixel copied into a block.

    images ``(n, C, H, W)`` -> ``(n, C, factor H, factor W)`` (nearest-neighbour),
    labels unchanged. With the patch size kept, the ViT then sees a grid
    ``factor`` times larger each way.

    >>> import torch
    >>> data = ImageSet(torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), ("a",))
    >>> tuple(upsample_images(data, 2).images.shape)
    (2, 1, 16, 16)
    """
    if not isinstance(data, ImageSet):
        raise TypeError(f"data must be an ImageSet, got {type(data).__name__}")
    factor = require_positive_int("factor", factor)
    images = nn.functional.interpolate(data.images, scale_factor=factor, mode="nearest")
    return ImageSet(images, data.labels, data.class_names)  # (n, C, factor H, factor W)


STRETCHES = {  # label -> (the kind of the trained model, how its codes are stretched)
    "none": ("none", "2d"),
    "1-D codes, stretched in 1-D": ("1d", "1d"),
    "1-D codes, stretched in 2-D": ("1d", "2d"),
    "2-D codes, tables stretched": ("2d", "2d"),
}


def evaluate_stretched(
    models: Mapping[str, ViT], test: ImageSet, factor: int = 2
) -> dict[str, tuple[float, float]]:
    """Test accuracy at the training size and on ``factor``-times larger images.

    For each entry of :data:`STRETCHES` whose kind is in ``models`` (trained
    ViTs by kind), the model is scored on ``test`` as it is, then copied with
    its codes stretched to the larger grid (:func:`~lessons_lib.vit.stretch_positions`)
    and scored on the upsampled ``test`` (:func:`upsample_images`), with no
    further training. Returns label -> (accuracy before, accuracy after).
    """
    kinds = {kind for kind, _ in STRETCHES.values()}
    if not isinstance(models, Mapping) or not kinds & set(models):
        raise ValueError(
            f"models must map at least one of the kinds {sorted(kinds)} to a trained ViT, "
            f"got {sorted(models) if isinstance(models, Mapping) else type(models).__name__}"
        )
    larger = upsample_images(test, factor)
    results = {}
    for label, (kind, method) in STRETCHES.items():
        if kind not in models:
            continue
        model = models[kind]
        stretched = stretch_positions(model, model.image_size * factor, method)
        results[label] = (
            classification_accuracy(model, test),
            classification_accuracy(stretched, larger),
        )
    return results


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
