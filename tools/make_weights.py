"""Train the models that the pages run live, and ship them in ``lessons_lib/weights/``.

Run from the repository root (``make weights`` runs the first line)::

    python tools/make_weights.py                  # writes lessons_lib/weights/*.pt and *.json
    python tools/make_weights.py --check          # retrains both in a scratch folder and
                                                  # compares them with the shipped records
    python tools/make_weights.py --only digit_vit --folder /tmp/weights

Two models, each trained on the CPU from fixed seeds, on one thread:

- ``date_model``: chapter 06's date Transformer, :class:`~lessons_lib.training.DateRecipe`
  (its learning rate and batch size were chosen on validation dates only, by
  ``bench/results_date_recipe.py``), the model, optimiser, batches and splits that
  :func:`~lessons_lib.training.train_date_model` builds. Unlike the chapter, which stops at
  99% of the validation dates, it runs all :data:`DATE_RECIPE` ``.max_steps`` steps, scores
  the 1,000 validation dates every ``eval_every`` steps and keeps the weights of the best
  score (ties: the earlier step). Its settings were chosen on validation only.
- ``digit_vit``: chapter 11's ViT (:data:`~lessons_lib.vit.DIGITS_VIT`), trained as
  :func:`~lessons_lib.training.train_to_best` trains it (Adam, early stopping on the
  validation accuracy, the weights of the best point kept) on ``load_digits_split()``.

``train_to_best`` and ``train_date_model`` return no log of every evaluation, so
:func:`keep_best` runs their loop here (``fit`` in chunks of ``eval_every`` steps, one
optimiser throughout) and records it; :func:`same_as_library` checks, at every run, that it
trains exactly as they do. Each model's test split is scored once, after training, and
only written down: no choice here reads it.

Each model is written as ``NAME.pt`` (its ``state_dict``, float32) and ``NAME.json``: the
command, seed, torch and Python versions, date, seconds, the model's constructor arguments,
the recipe, the log (evaluation steps and validation scores), the kept step, its validation
score and the test score. ``lessons_lib.pretrained`` loads them.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime
import io
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn
from tqdm import tqdm

# run from a checkout without installing lessons_lib
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import DateTask, load_digits_split
from lessons_lib.metrics import classification_accuracy
from lessons_lib.training import (
    DateRecipe,
    DateSplits,
    date_accuracy,
    date_loss,
    date_optimiser,
    dropout_seeded,
    fit,
    one_thread,
    seeded,
    train_date_model,
    train_to_best,
)
from lessons_lib.transformer import Transformer
from lessons_lib.vit import DIGITS_VIT, ViT

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "lessons_lib" / "weights"
NAMES = ("date_model", "digit_vit")
COMMAND = "python tools/make_weights.py"

# The date recipe, run longer than the chapter and without its stop at 99%: the chapter's
# lr, batch size, warm-up and model, 8,000 steps, the 1,000 validation dates scored every 100.
# Chosen on validation only: with this constant rate the validation exact match swings from
# step to step (0.87-1.00 after step 4,000) and first reaches 1,000 of 1,000 at step 4,000;
# the recipe's other schedule, "inverse_sqrt", also peaks at 1,000 of 1,000 (step 3,400), so
# the best validation score cannot tell them apart and the recipe's own schedule stays.
DATE_RECIPE = DateRecipe(max_steps=8000, target=None)

# The ViT: chapter 11's model from seed 0, train_to_best's defaults (Adam at 3e-3, batches of
# 32, an evaluation every 50 steps) with more patience and steps than its defaults (6, 3,000).
# Chosen on validation only: run for 6,000 steps without a stop, the validation accuracy
# peaked at step 850 (176 of 180) and never again rose above 172, so a patience of 6 or 40
# keeps the same step; 20 evaluations (1,000 steps) of patience look well past it.
VIT_SEED = 0  # the initial weights; the batches are drawn from train_to_best's seed below
VIT_TRAINING = dict(lr=3e-3, batch_size=32, seed=0, eval_every=50, patience=20, max_steps=6000)

# How --check compares a new run with a shipped record: the same kept step, and every score
# within one example of its split (see check()).
CHECK_EXAMPLES = 1


class Trained(NamedTuple):
    """A trained model and the record written beside its weights."""

    model: nn.Module
    record: dict[str, Any]


class KeptBest(NamedTuple):
    """What :func:`keep_best` did: every evaluation, and which one's weights it kept."""

    eval_steps: list[int]  # 0 (before training), then every eval_every steps
    scores: list[float]  # validation score at each of eval_steps
    losses: list[float | None]  # mean training loss of the steps before each evaluation
    kept_step: int
    kept_score: float
    steps: int  # every step taken
    stopped_early: bool  # True: patience ran out before max_steps


def keep_best(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    batches: Iterator[Any],
    optimiser: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    evaluate: Callable[[nn.Module], float],
    *,
    eval_every: int,
    max_steps: int,
    patience: int | None,
    description: str,
) -> KeptBest:
    """Train ``model`` with :func:`fit`, ``eval_every`` steps at a time; keep its best weights.

    The loop of :func:`~lessons_lib.training.train_to_best`, with a log and any optimiser:
    the score before training is the first best; after every chunk of ``eval_every`` steps
    (one optimiser and scheduler throughout, so their state carries over) ``evaluate`` scores
    the model, and a score *higher* than the best so far becomes the best (ties keep the
    earlier step). It stops after ``max_steps`` or, with ``patience``, once that many
    evaluations in a row bring no new best. The model ends with the best weights, in eval mode.
    """
    best_score = evaluate(model)
    best_step, best_weights = 0, copy.deepcopy(model.state_dict())
    log = KeptBest([0], [best_score], [None], 0, best_score, 0, False)
    steps, waited = 0, 0
    bar = tqdm(total=max_steps, desc=description, mininterval=1.0, file=sys.stdout)
    while steps < max_steps and (patience is None or waited < patience):
        chunk = min(eval_every, max_steps - steps)
        history = fit(
            model,
            loss_fn,
            batches,
            steps=chunk,
            optimiser=optimiser,
            scheduler=scheduler,
            progress=False,
        )
        steps += chunk
        model.eval()
        with torch.no_grad():
            score = float(evaluate(model))
        log.eval_steps.append(steps)
        log.scores.append(score)
        log.losses.append(sum(history.losses) / len(history.losses))
        if score > best_score:
            best_score, best_step, best_weights = score, steps, copy.deepcopy(model.state_dict())
            waited = 0
        else:
            waited += 1
        bar.update(chunk)
        bar.set_postfix_str(f"validation {score:.4f}, best {best_score:.4f} at {best_step}")
    bar.close()
    model.load_state_dict(best_weights)
    model.eval()
    stopped_early = patience is not None and waited >= patience
    return log._replace(
        kept_step=best_step, kept_score=best_score, steps=steps, stopped_early=stopped_early
    )


# --- the date model ------------------------------------------------------------------------


def date_model_arguments(task: DateTask, recipe: DateRecipe) -> dict[str, Any]:
    """The ``Transformer`` arguments that ``train_date_model`` builds the date model with."""
    arguments = dict(
        vocab_size=task.vocab_size,
        d_model=recipe.d_model,
        num_heads=recipe.num_heads,
        num_layers=recipe.num_layers,
        d_ff=recipe.d_ff,
        max_len=task.max_source_length,
    )
    if recipe.dropout > 0:  # train_date_model passes dropout only when it is on
        arguments["dropout"] = recipe.dropout
    return arguments


def date_splits(task: DateTask, recipe: DateRecipe) -> DateSplits:
    """The validation and test dates of ``train_date_model`` (seeds ``seed + 2``, ``seed + 3``)."""
    return DateSplits(
        task.sample(
            recipe.validation_size, torch.Generator().manual_seed(recipe.seed + 2), "validation"
        ),
        task.sample(recipe.test_size, torch.Generator().manual_seed(recipe.seed + 3), "test"),
    )


def run_date_model(task: DateTask, recipe: DateRecipe) -> tuple[Transformer, KeptBest, DateSplits]:
    """Train the date model as ``train_date_model`` does, for every step; keep the best."""
    arguments = date_model_arguments(task, recipe)
    model = seeded(recipe.seed, lambda: Transformer(**arguments))
    optimiser, scheduler = date_optimiser(model, recipe)
    splits = date_splits(task, recipe)
    batches = task.batches(recipe.batch_size, torch.Generator().manual_seed(recipe.seed + 1))
    with one_thread(), dropout_seeded(recipe.seed + 4):
        log = keep_best(
            model,
            lambda model, batch: date_loss(
                model, batch, task.bos, label_smoothing=recipe.label_smoothing
            ),
            batches,
            optimiser,
            scheduler,
            lambda model: date_accuracy(model, splits.validation, task.bos),
            eval_every=recipe.eval_every,
            max_steps=recipe.max_steps,
            patience=None,
            description="date model",
        )
    return model, log, splits


def train_date(recipe: DateRecipe = DATE_RECIPE) -> Trained:
    """The shipped date model and its record; its test dates scored once, at the end."""
    task = DateTask()
    start = time.perf_counter()
    model, log, splits = run_date_model(task, recipe)
    seconds = time.perf_counter() - start
    with one_thread():
        test = date_accuracy(model, splits.test, task.bos)  # scored once, now
    record = _record(
        "date_model",
        seed=recipe.seed,
        seeds={
            "initial weights": recipe.seed,
            "training batches": recipe.seed + 1,
            "validation dates": recipe.seed + 2,
            "test dates": recipe.seed + 3,
            "dropout": recipe.seed + 4,
        },
        seconds=seconds,
        model=date_model_arguments(task, recipe),
        extra={
            "task": {
                **dataclasses.asdict(task),
                "characters": task.characters,
                "max_source_length": task.max_source_length,
            }
        },
        recipe=dataclasses.asdict(recipe),
        trainer="train_date_model's model, optimiser, batches and splits, run for every step; "
        "the weights of the best validation exact match kept (tools/make_weights.py keep_best)",
        score="exact match: the greedy decode equals the ISO date at every character",
        log=log,
        validation_size=len(splits.validation.sources),
        test=test,
        test_size=len(splits.test.sources),
    )
    return Trained(model, record)


# --- the digit ViT -------------------------------------------------------------------------


def run_digit_vit(
    seed: int = VIT_SEED, training: dict[str, Any] = VIT_TRAINING
) -> tuple[ViT, KeptBest]:
    """Train the digit ViT as ``train_to_best`` does, with a log of every evaluation."""
    train, validation, _ = load_digits_split()
    model = seeded(seed, lambda: ViT(**DIGITS_VIT))
    optimiser = torch.optim.Adam(model.parameters(), lr=training["lr"], foreach=True)
    batches = train.batches(training["batch_size"], torch.Generator().manual_seed(training["seed"]))

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    with one_thread():
        log = keep_best(
            model,
            loss_fn,
            batches,
            optimiser,
            None,
            lambda model: classification_accuracy(model, validation),
            eval_every=training["eval_every"],
            max_steps=training["max_steps"],
            patience=training["patience"],
            description="digit ViT",
        )
    return model, log


def train_vit(seed: int = VIT_SEED, training: dict[str, Any] = VIT_TRAINING) -> Trained:
    """The shipped digit ViT and its record; its test digits scored once, at the end."""
    start = time.perf_counter()
    model, log = run_digit_vit(seed, training)
    seconds = time.perf_counter() - start
    _, validation, test_set = load_digits_split()
    with one_thread():
        test = classification_accuracy(model, test_set)  # scored once, now
    record = _record(
        "digit_vit",
        seed=seed,
        seeds={"initial weights": seed, "training batches": training["seed"]},
        seconds=seconds,
        model=dict(DIGITS_VIT),
        extra={"data": "load_digits_split() (test_fraction=0.2, validation_fraction=0.1, seed=0)"},
        recipe=dict(training),
        trainer="train_to_best(model, train, validation, **recipe) (the same loop, with a log: "
        "tools/make_weights.py keep_best)",
        score="accuracy: the largest logit is the label",
        log=log,
        validation_size=len(validation),
        test=test,
        test_size=len(test_set),
    )
    return Trained(model, record)


# --- records, files and checks -------------------------------------------------------------


def _record(
    name: str,
    *,
    seed: int,
    seeds: dict[str, int],
    seconds: float,
    model: dict[str, Any],
    extra: dict[str, Any],
    recipe: dict[str, Any],
    trainer: str,
    score: str,
    log: KeptBest,
    validation_size: int,
    test: float,
    test_size: int,
) -> dict[str, Any]:
    """The JSON record of one trained model (see the module's docstring)."""
    return {
        "name": name,
        "command": COMMAND,
        "seed": seed,
        "seeds": seeds,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": datetime.date.today().isoformat(),
        "seconds": round(seconds, 1),
        "model": model,
        **extra,
        "recipe": recipe,
        "trainer": trainer,
        "score": score,
        "log": {
            "eval_steps": log.eval_steps,
            "validation": log.scores,
            "train_loss": log.losses,
        },
        "steps": log.steps,
        "stopped_early": log.stopped_early,
        "kept_step": log.kept_step,
        "validation": log.kept_score,
        "validation_size": validation_size,
        "validation_correct": round(log.kept_score * validation_size),
        "test": test,
        "test_size": test_size,
        "test_correct": round(test * test_size),
    }


def write(trained: Trained, folder: Path) -> Path:
    """Write ``NAME.pt`` (the float32 ``state_dict``) and ``NAME.json``; return the .pt path."""
    name = trained.record["name"]
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        key: value.detach().float().contiguous()
        for key, value in trained.model.state_dict().items()
    }
    torch.save(state, folder / f"{name}.pt")
    text = json.dumps(trained.record, indent=1, allow_nan=False) + "\n"
    (folder / f"{name}.json").write_text(text, encoding="utf-8")
    return folder / f"{name}.pt"


def same_as_library() -> None:
    """Check that :func:`keep_best` trains exactly as ``train_date_model`` and ``train_to_best``.

    Short runs of both, from the same seeds, in this process: the weights must be equal to
    the last bit. A change in how the library trains (a new default, another split) fails
    here instead of silently shipping a model the chapters would not train.
    """
    short = dataclasses.replace(DATE_RECIPE, max_steps=2 * DATE_RECIPE.eval_every)
    task = DateTask()
    library, history, _ = train_date_model(task, short, progress=False)
    with _quiet():
        ours, log, _ = run_date_model(task, short)
    assert log.scores[1:] == history.scores, (log.scores, history.scores)
    _assert_same_weights("date model", ours, library)

    training = dict(VIT_TRAINING, patience=2, max_steps=8 * VIT_TRAINING["eval_every"])
    train, validation, _ = load_digits_split()
    library = seeded(VIT_SEED, lambda: ViT(**DIGITS_VIT))
    run = train_to_best(library, train, validation, **training)
    with _quiet():
        ours, log = run_digit_vit(VIT_SEED, training)
    assert (log.kept_step, log.kept_score, log.steps) == (
        run.best_step,
        run.validation_accuracy,
        run.steps,
    ), (log, run)
    _assert_same_weights("digit ViT", ours, library)
    print("keep_best trains as train_date_model and train_to_best do: the same weights")


def _assert_same_weights(what: str, ours: nn.Module, theirs: nn.Module) -> None:
    mine, library = ours.state_dict(), theirs.state_dict()
    assert mine.keys() == library.keys(), f"{what}: different parameters"
    for key in mine:
        assert torch.equal(mine[key], library[key]), f"{what}: {key} differs from the library's"


def _quiet() -> contextlib.AbstractContextManager[object]:
    """Hide the progress bars of the short runs of :func:`same_as_library`."""
    return contextlib.redirect_stdout(io.StringIO())


TRAINERS: dict[str, Callable[[], Trained]] = {"date_model": train_date, "digit_vit": train_vit}


def check(names: tuple[str, ...], shipped: Path) -> bool:
    """Retrain ``names`` in a scratch folder; compare each with its record in ``shipped``.

    Passes when the kept step is the same and the kept validation score and the test score
    each differ by at most :data:`CHECK_EXAMPLES` example of their split (1/1,000 for the
    dates; 1/180 and 1/359 for the digits). On the machine and torch release that made the
    files the run is the same to the last bit (seeded generators, one thread), so the
    difference is 0. Another CPU or torch release may add floats in another order; a
    last-bit difference can flip the answer for one borderline example, and over thousands
    of steps it can grow, so an exact match is not promised there. The largest weight
    difference is printed, not judged.
    """
    passed = True
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            record = json.loads((shipped / f"{name}.json").read_text(encoding="utf-8"))
            trained = TRAINERS[name]()
            write(trained, Path(scratch))
            new = trained.record
            shipped_state = torch.load(shipped / f"{name}.pt", weights_only=True)
            gap = max(
                float((value - shipped_state[key]).abs().max())
                for key, value in trained.model.state_dict().items()
            )
            rows = [("kept step", record["kept_step"], new["kept_step"], 0)]
            for score, size in (("validation", "validation_size"), ("test", "test_size")):
                rows.append((score, record[score], new[score], CHECK_EXAMPLES / record[size]))
            print(f"{name}: shipped with torch {record['torch']}, now torch {new['torch']}")
            for what, old, now, tolerance in rows:
                ok = abs(now - old) <= tolerance + 1e-9
                passed &= ok
                print(f"  {what:>10}: shipped {old}, now {now}  {'ok' if ok else 'DIFFERS'}")
            print(f"  largest weight difference: {gap:.2e}")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare; write nothing")
    parser.add_argument("--only", choices=NAMES, action="append", help="one model (repeatable)")
    parser.add_argument(
        "--folder", type=Path, default=WEIGHTS, help="write here (default: the package)"
    )
    args = parser.parse_args()
    names = tuple(args.only or NAMES)
    start = time.perf_counter()
    same_as_library()
    if args.check:
        passed = check(names, args.folder)
        print(
            f"{'reproduced' if passed else 'NOT reproduced'} in {time.perf_counter() - start:.0f} s"
        )
        sys.exit(0 if passed else 1)
    for name in names:
        trained = TRAINERS[name]()
        path = write(trained, args.folder)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        record = trained.record
        print(
            f"{name}: kept step {record['kept_step']} of {record['steps']}, validation "
            f"{record['validation']:.4f}, test {record['test']:.4f} (scored once), "
            f"{record['seconds']:.0f} s -> {shown}"
        )
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
