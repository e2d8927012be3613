"""Chapter 10's experiments: the ViT with each kind of position code.

The two settings of the chapter (:data:`MARK_TASK_VIT`, :data:`DIGITS_POSITIONS_VIT`),
and one ViT per (kind, seed) (:func:`compare_position_codes`, trained to its best
with :func:`~lessons_lib.training.train_to_best`). The codes stretched to
larger images are the appendix's (:mod:`lessons_lib.experiments.vit_scale`).
The intervals over seeds are :mod:`lessons_lib.intervals`.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import validated
from lessons_lib.data import ImageSet
from lessons_lib.experiments._seeds import require_seeds
from lessons_lib.metrics import classification_accuracy
from lessons_lib.training import seeded_vit, train_to_best, train_vit
from lessons_lib.vit import POSITION_KINDS, ViT

# Chapter 10's two settings. The position task: 2x2 patches, a 4x4 grid; codes start as
# N(0, 0.3^2), so that 120 steps find the mark's quadrant with every learned kind.
MARK_TASK_VIT = dict(
    image_size=8,
    patch_size=2,
    d_model=32,
    num_layers=2,
    num_heads=2,
    num_classes=4,
    code_init_std=0.3,
)
MARK_TASK_STEPS = 120
# The digits (bench/results_position_codes.py, read by the chapter): 2x2 patches, so a 4x4
# grid of 16 patches, each too small to name the digit by itself; every run trains to its
# best on the validation split (train_to_best, at most ``steps``), then is tested once.
DIGITS_POSITIONS_VIT = dict(image_size=8, patch_size=2, d_model=32, num_layers=2, num_heads=2)
DIGITS_POSITIONS_TRAINING = dict(steps=3000, lr=3e-3, batch_size=64, eval_every=50, patience=6)


def _check_compare_position_codes(
    kinds: tuple[str, ...],
    seeds: tuple[int, ...],
    validation: ImageSet | None,
    best_steps: dict[str, list[int]] | None,
) -> None:
    if not isinstance(kinds, (list, tuple)) or not kinds:
        raise TypeError(f"kinds must be a non-empty tuple of position kinds, got {kinds!r}")
    unknown = [kind for kind in kinds if kind not in POSITION_KINDS]
    if unknown:
        raise ValueError(f"kinds must come from {POSITION_KINDS}, got {unknown}")
    require_seeds(seeds)
    if validation is not None and not isinstance(validation, ImageSet):
        raise TypeError(f"validation must be an ImageSet or None, got {type(validation).__name__}")
    if best_steps is not None and not isinstance(best_steps, dict):
        raise TypeError(f"best_steps must be a dict or None, got {type(best_steps).__name__}")
    if best_steps is not None and validation is None:
        raise ValueError(
            "best_steps needs a validation split: only runs that stop at their best on "
            "validation have a best step, got validation=None"
        )


@validated(_check_compare_position_codes)
def compare_position_codes(
    train: ImageSet,
    test: ImageSet,
    kinds: tuple[str, ...] = POSITION_KINDS,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int = 150,
    lr: float = 3e-3,
    batch_size: int = 64,
    progress: bool | None = None,
    *,
    validation: ImageSet | None = None,
    eval_every: int = 50,
    patience: int = 6,
    best_steps: dict[str, list[int]] | None = None,
    **options: object,
) -> tuple[dict[str, list[float]], dict[str, ViT]]:
    """Train one small ViT per (kind, seed); return test accuracies and the seed-0 models.

    Each run uses the same seeds for its weights and its batches, so the
    kinds differ only by their position codes. ``options`` go to :class:`ViT`.

    - ``validation=None``: every run trains for exactly ``steps`` steps, and
      ``test`` is scored once, after the last one.
    - ``validation`` given: every run trains to its best on ``validation``
      (:func:`train_to_best`: evaluated every ``eval_every`` steps, stopped
      after ``patience`` evaluations with no new best, at most ``steps``
      steps), keeps its best weights, and ``test`` is scored once, with them.
      ``best_steps``, if given a dict, receives kind -> each run's best step.

    One progress bar counts the runs (``progress=None``: except while the book
    is built, where a live bar cannot move).
    """
    show_bar = not building_book() if progress is None else progress
    scores: dict[str, list[float]] = {kind: [] for kind in kinds}
    models: dict[str, ViT] = {}
    runs = [(kind, seed) for kind in kinds for seed in seeds]
    for kind, seed in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
        model = seeded_vit(seed, positions=kind, **options)
        if validation is None:  # a fixed number of steps; test scored after the last
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
        else:  # to its best on validation; test scored with those weights
            run = train_to_best(
                model,
                train,
                validation,
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                eval_every=eval_every,
                patience=patience,
                max_steps=steps,
            )
            scores[kind].append(classification_accuracy(model, test))
            if best_steps is not None:
                best_steps.setdefault(kind, []).append(run.best_step)
        models.setdefault(kind, model)
    return scores, models
