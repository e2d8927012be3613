"""The training loop and the runners built on it: written to kill the mutants that mutmut (``make
mutate``) found surviving the module's own tests in ``fit``, ``_check_optimiser``, ``_score``,
``train_reversal_model``, ``train_date_model``, ``train_vit``, ``DateRecipe``,
``date_optimiser`` and ``date_loss``.

Expected values are known by construction: a line ``y = w x + b`` from ``w = b = 0`` whose first
loss on ``x = 1`` and the target 1 is exactly 1, scripted scores, and clocks that tick by hand
(for the wall times of the History, and for how often the bar redraws). Each runner is checked
against its run rebuilt by hand from the parts and seeds it names: the weights from
``recipe.seed``, the batches, the splits and the dropout masks from their own generators, and
a loop of ``torch.optim.Adam`` steps written out here. Defaults are read from what the
docstrings and the book state (chapter 11's ViT: Adam at ``3e-3`` in batches of 64; chapter
06's toy Transformer reads 16 positions). What a reader sees is read from the captured output:
the bar on stderr, the one-line summary on stdout. Refusals are matched whole, so that each
names its own argument.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
import tqdm.std
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from torch.optim.optimizer import register_optimizer_step_pre_hook

from lessons_lib import training
from lessons_lib.data import DateTask, ImageSet, ReversalTask
from lessons_lib.metrics import classification_accuracy, exact_match_accuracy
from lessons_lib.training import (
    DateRecipe,
    ToyRecipe,
    date_loss,
    date_optimiser,
    dropout_seeded,
    fit,
    one_thread,
    seeded,
    teacher_forcing_loss,
    train_date_model,
    train_reversal_model,
    train_vit,
)
from lessons_lib.transformer import Transformer
from tests._messages import refused

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def line() -> nn.Module:
    """``y = w x + b`` from ``w = b = 0``: on ``x = 1`` with the target 1 its loss is exactly 1."""
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    return model


def to_one(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return ((model(batch) - 1) ** 2).mean()


def ones() -> itertools.repeat:
    return itertools.repeat(torch.ones(4, 1))


def same_weights(model: nn.Module, other: nn.Module) -> bool:
    """The same tensors under the same names, equal to the last bit."""
    mine, theirs = model.state_dict(), other.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.1)


def constant(optimiser: torch.optim.Optimizer) -> LambdaLR:
    return LambdaLR(optimiser, lambda k: 1.0)


def with_scheduler(model: nn.Module, scheduler) -> dict:
    """An optimiser of ``model`` and ``scheduler(optimiser)``."""
    optimiser = sgd(model)
    return {"optimiser": optimiser, "scheduler": scheduler(optimiser)}


# --- fit's refusals, and _check_optimiser's -------------------------------------------------

FIT_REFUSALS = [
    pytest.param(
        lambda model: {"loss_fn": "mse"},
        TypeError,
        "loss_fn must be a function of the model, got str",
        id="loss_fn",
    ),
    pytest.param(
        lambda model: {"evaluate": 0.5},
        TypeError,
        "evaluate must be a function of the model, got float",
        id="evaluate",
    ),
    pytest.param(lambda model: {"steps": 0}, ValueError, "steps must be > 0, got 0", id="steps"),
    pytest.param(
        lambda model: {"eval_every": 0},
        ValueError,
        "eval_every must be > 0, got 0",
        id="eval_every",
    ),
    pytest.param(lambda model: {"lr": "fast"}, TypeError, "lr must be a number, got str", id="lr"),
    pytest.param(
        lambda model: {"target": "high", "evaluate": lambda model: 1.0},
        TypeError,
        "target must be a number, got str",
        id="target",
    ),
    pytest.param(
        lambda model: {"model": line().requires_grad_(False)},
        ValueError,
        "model has no parameters that require a gradient: nothing to train",
        id="frozen-model",
    ),
    pytest.param(
        lambda model: {"batches": [torch.ones(4, 1)] * 2, "steps": 3},
        ValueError,
        "batches ran out after 2 batches, but steps=3; pass an endless generator "
        "(e.g. task.batches(...)) or ask for fewer steps",
        id="batches-run-out",
    ),
    pytest.param(
        lambda model: {"loss_fn": lambda model, batch: 1.0},
        ValueError,
        "loss_fn must return a scalar tensor (one number to minimise), got float; "
        "average the per-example losses with .mean()",
        id="loss-not-a-tensor",
    ),
    pytest.param(
        lambda model: {"evaluate": lambda model: "0.9"},
        TypeError,
        "evaluate must return a number (a validation score such as an accuracy), got str; "
        "did it forget to return its score?",
        id="score-not-a-number",
    ),
    pytest.param(
        lambda model: {"scheduler": constant(sgd(model))},
        ValueError,
        "scheduler was given without its optimiser: pass both, e.g. fit(..., "
        "optimiser=optimiser, scheduler=scheduler), where the scheduler was made from that "
        "optimiser",
        id="scheduler-alone",
    ),
    pytest.param(
        lambda model: {"optimiser": "adam"},
        TypeError,
        "optimiser must be a torch.optim.Optimizer, such as "
        "torch.optim.AdamW(model.parameters()), got str",
        id="optimiser-type",
    ),
    pytest.param(
        lambda model: {"optimiser": sgd(model), "lr": 0.1},
        ValueError,
        "lr=0.1 was given with an optimiser, which has its own rate: set lr when you make the "
        "optimiser, not in fit",
        id="lr-and-optimiser",
    ),
    pytest.param(
        lambda model: {"optimiser": sgd(nn.Linear(2, 1))},
        ValueError,
        "optimiser holds 2 of its 2 tensors that are not parameters of model (was it made for "
        "another model?): make it from this model, e.g. torch.optim.AdamW(model.parameters())",
        id="optimiser-of-another-model",
    ),
    pytest.param(
        lambda model: with_scheduler(model, ReduceLROnPlateau),
        TypeError,
        "scheduler must be stepped once per training step without a score; "
        "ReduceLROnPlateau needs a score at each step, so fit cannot drive it",
        id="plateau-scheduler",
    ),
    pytest.param(
        lambda model: with_scheduler(model, lambda optimiser: "cosine"),
        TypeError,
        "scheduler must be a torch.optim.lr_scheduler object, such as "
        "LambdaLR(optimiser, ...), got str",
        id="scheduler-type",
    ),
    pytest.param(
        lambda model: with_scheduler(model, lambda optimiser: constant(sgd(model))),
        ValueError,
        "scheduler was made for another optimiser than the one given: "
        "make it from the optimiser passed as optimiser=",
        id="scheduler-of-another-optimiser",
    ),
    pytest.param(
        lambda model: {**with_scheduler(model, constant), "warmup_steps": 5},
        ValueError,
        "give either warmup_steps (5) or a scheduler, not both: to warm up inside your own "
        "schedule, chain a LambdaLR warm-up with it (torch.optim.lr_scheduler.SequentialLR)",
        id="warmup-and-scheduler",
    ),
]


@pytest.mark.parametrize(("options", "error", "message"), FIT_REFUSALS)
def test_fit_refuses_a_bad_argument_by_its_name(options, error, message, capsys):
    model = line()
    arguments = {"model": model, "loss_fn": to_one, "batches": ones(), "steps": 1}
    with pytest.raises(error, match=refused(message)):
        fit(**{**arguments, "progress": False, **options(model)})
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: DateRecipe(weight_decay="none"),
            "weight_decay must be a number, got str",
            id="weight_decay",
        ),
        pytest.param(
            lambda: DateRecipe(dropout="none"), "dropout must be a number, got str", id="dropout"
        ),
        pytest.param(
            lambda: DateRecipe(label_smoothing="0.1"),
            "label_smoothing must be a number, got str",
            id="label_smoothing",
        ),
        pytest.param(
            lambda: date_optimiser(nn.Linear(2, 2), DateRecipe(warmup_steps=2.5)),
            "warmup_steps must be an int, got float",
            id="warmup_steps",
        ),
    ],
)
def test_the_date_recipe_refuses_a_field_of_the_wrong_type_by_its_name(call, message):
    with pytest.raises(TypeError, match=refused(message)):
        call()


# --- fit: its defaults ------------------------------------------------------------------


def test_fit_evaluates_every_50_steps_and_at_the_last_by_default():
    history = fit(line(), to_one, ones(), steps=101, evaluate=lambda model: 0.5, progress=False)
    assert history.eval_steps == [50, 100, 101]


def test_fit_steps_torchs_vectorised_adam_at_1e_3_by_default():
    """The docstring: ``torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)``."""
    stepped = []  # the optimiser of every step, seen by a hook that torch calls before each
    handle = register_optimizer_step_pre_hook(lambda optimiser, *_: stepped.append(optimiser))
    try:
        model = line()
        history = fit(model, to_one, ones(), steps=3, progress=False)
    finally:
        handle.remove()
    assert len(stepped) == 3 and len({id(optimiser) for optimiser in stepped}) == 1
    optimiser = stepped[0]
    assert type(optimiser) is torch.optim.Adam
    assert optimiser.defaults["foreach"] is True and optimiser.defaults["lr"] == 1e-3
    assert history.lrs == [1e-3] * 3

    by_hand = line()
    adam = torch.optim.Adam(by_hand.parameters(), lr=1e-3, foreach=True)
    for _ in range(3):
        loss = to_one(by_hand, torch.ones(4, 1))
        adam.zero_grad()
        loss.backward()
        adam.step()
    assert same_weights(model, by_hand)
    assert history.losses[0] == 1.0  # the line's first loss, before any step


def test_the_wall_times_run_from_the_start_of_the_loop(monkeypatch):
    """A clock read three times: at the start, when the target is reached, at the end."""
    ticks = iter([100.0, 101.5, 103.0])
    monkeypatch.setattr(training, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    history = fit(
        line(), to_one, ones(), steps=4, evaluate=lambda model: 1.0, eval_every=2, target=1.0,
        progress=False,
    )  # fmt: skip
    assert history.steps == [1, 2]
    assert history.seconds_to_target == 1.5
    assert history.seconds == 3.0


# --- fit: what a reader sees ------------------------------------------------------------


def test_the_bar_and_the_summary_name_the_run_and_show_the_loss_and_the_score(capsys):
    history = fit(
        line(), to_one, ones(), steps=1, evaluate=lambda model: 0.25, progress=True,
        description="fitting a line",
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert history.losses == [1.0]
    assert out == "fitting a line: 1 steps, final loss 1.0000, score 0.2500\n"
    assert re.search(r"(^|\r)fitting a line: 100%", err)  # the bar's description
    assert "loss=1.000, score=0.250" in err  # the bar's postfix after the evaluation


def test_the_default_description_is_training(capsys):
    fit(line(), to_one, ones(), steps=1, progress=True)
    out, err = capsys.readouterr()
    assert out == "training: 1 steps, final loss 1.0000\n"
    assert re.search(r"(^|\r)training: 100%", err)


@pytest.mark.parametrize(
    ("progress", "building", "bar", "summary"),
    [
        pytest.param(None, False, True, True, id="None-in-a-notebook"),
        pytest.param(None, True, False, True, id="None-while-the-book-builds"),
        pytest.param(True, True, True, True, id="True-while-the-book-builds"),
        pytest.param(False, False, False, False, id="False-in-a-notebook"),
    ],
)
def test_progress_shows_the_bar_and_the_summary_as_the_docstring_says(
    progress, building, bar, summary, capsys, monkeypatch
):
    """``None``: a bar except while the book is built, and a summary; ``False``: silent."""
    if building:
        monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    fit(line(), to_one, ones(), steps=1, progress=progress)
    out, err = capsys.readouterr()
    assert ("training: 100%" in err) == bar
    assert (out == "training: 1 steps, final loss 1.0000\n") == summary


def test_the_bar_redraws_at_most_twice_a_second(capsys, monkeypatch):
    """Each step takes a quarter of a second on tqdm's clock, so the bar shows every second
    count: 0 when it opens, then 2, 4, 6 and 8 of 8 (drawn again as it closes)."""
    now = [float(int(time.time()))]  # near the real time that tqdm's monitor reads
    monkeypatch.setattr(tqdm.std, "time", lambda: now[0])

    def a_quarter_second_step(model, batch):
        now[0] += 0.25
        return to_one(model, batch)

    fit(line(), a_quarter_second_step, ones(), steps=8, progress=True)
    shown = sorted({int(count) for count in re.findall(r"(\d+)/8", capsys.readouterr().err)})
    assert shown == [0, 2, 4, 6, 8]


# --- date_loss and date_optimiser -------------------------------------------------------

DATE_TASK = DateTask()


def test_date_loss_masks_the_padding_of_the_sources():
    batch = DATE_TASK.sample(4, torch.Generator().manual_seed(0), "train")
    assert int(batch.lengths.min()) < batch.sources.shape[1]  # some sources are padded
    model = seeded(
        0,
        lambda: Transformer(
            DATE_TASK.vocab_size, d_model=8, num_heads=2, num_layers=1, d_ff=16,
            max_len=DATE_TASK.max_source_length,
        ),
    )  # fmt: skip
    pair, bos = (batch.sources, batch.targets), DATE_TASK.bos
    masked = teacher_forcing_loss(model, pair, bos, batch.source_mask)
    assert not torch.equal(masked, teacher_forcing_loss(model, pair, bos))  # the mask matters
    assert torch.equal(date_loss(model, batch, bos), masked)


def test_date_optimisers_adam_takes_torchs_vectorised_steps():
    """The docstring: ``torch.optim.Adam(model.parameters(), lr, foreach=True)``, as fit's."""
    optimiser, _ = date_optimiser(nn.Linear(2, 2), DateRecipe())
    assert type(optimiser) is torch.optim.Adam and optimiser.defaults["foreach"] is True


# --- train_reversal_model ---------------------------------------------------------------

SHORT_REVERSAL = ReversalTask(length=4)
# each size unlike Transformer's default, and the rate unlike fit's
TINY_TOY = ToyRecipe(
    d_model=8, num_heads=2, num_layers=1, d_ff=16, batch_size=4, lr=2e-2, max_steps=2,
    eval_every=1, eval_size=8, seed=1,
)  # fmt: skip


def test_train_reversal_model_is_the_run_its_docstring_describes(capsys):
    """Weights from seed, batches from seed + 1, validation and test from seed + 2 and + 3
    (held-out sequences); Adam at the recipe's rate; scored on validation after every step."""
    task, recipe = SHORT_REVERSAL, TINY_TOY
    model, history, splits = train_reversal_model(task, recipe, progress=False)
    assert capsys.readouterr() == ("", "")

    for split, seed in ((splits.validation, recipe.seed + 2), (splits.test, recipe.seed + 3)):
        expected = task.sample(8, torch.Generator().manual_seed(seed), held_out=True)
        assert all(torch.equal(got, want) for got, want in zip(split, expected, strict=True))
    again = seeded(
        recipe.seed,
        lambda: Transformer(
            task.vocab_size, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=16
        ),
    )
    adam = torch.optim.Adam(again.parameters(), lr=recipe.lr, foreach=True)
    batches = task.batches(4, torch.Generator().manual_seed(recipe.seed + 1))
    losses, scores = [], []
    for _ in range(2):
        loss = teacher_forcing_loss(again, next(batches), task.bos)
        adam.zero_grad()
        loss.backward()
        adam.step()
        losses.append(loss.item())
        scores.append(exact_match_accuracy(again, *splits.validation, task.bos))
    assert history.losses == losses and history.scores == scores
    assert history.eval_steps == [1, 2]
    assert same_weights(model, again)


def test_train_reversal_model_reads_16_positions_as_chapter_06s_model_does():
    """Chapter 06 builds the model with ``max_len=16``; the runner "builds the model above"."""
    model, _, _ = train_reversal_model(SHORT_REVERSAL, TINY_TOY, progress=False)
    assert model.max_len == 16 and model.positions.shape == (16, 8)


def test_train_reversal_model_names_itself_on_its_bar_and_summary(capsys):
    train_reversal_model(SHORT_REVERSAL, TINY_TOY, progress=True)
    out, err = capsys.readouterr()
    assert out.startswith("training the toy Transformer: 2 steps, final loss ")
    assert "training the toy Transformer: 100%" in err


# --- train_date_model -------------------------------------------------------------------

TINY_DATE = DateRecipe(
    d_model=8, num_heads=2, num_layers=1, d_ff=16, batch_size=4, lr=2e-2, warmup_steps=0,
    max_steps=2, eval_every=1, validation_size=4, test_size=4, dropout=0.25, seed=1,
)  # fmt: skip


def test_train_date_model_is_the_run_its_docstring_describes(capsys):
    """Weights from seed, batches from seed + 1, validation and test dates from seed + 2 and
    + 3, dropout's masks from seed + 4; Adam at the recipe's rate (no warm-up asked)."""
    task, recipe = DATE_TASK, TINY_DATE
    model, history, splits = train_date_model(task, recipe, progress=False)
    assert capsys.readouterr() == ("", "")

    for split, seed, name in (
        (splits.validation, recipe.seed + 2, "validation"),
        (splits.test, recipe.seed + 3, "test"),
    ):
        expected = task.sample(4, torch.Generator().manual_seed(seed), name)
        assert all(torch.equal(got, want) for got, want in zip(split, expected, strict=True))
    again = seeded(
        recipe.seed,
        lambda: Transformer(
            task.vocab_size, d_model=8, num_heads=2, num_layers=1, d_ff=16,
            max_len=task.max_source_length, dropout=0.25,
        ),
    )  # fmt: skip
    adam = torch.optim.Adam(again.parameters(), lr=recipe.lr, foreach=True)
    batches = task.batches(4, torch.Generator().manual_seed(recipe.seed + 1))
    losses = []
    with one_thread(), dropout_seeded(recipe.seed + 4):
        for _ in range(2):
            batch = next(batches)
            again.train()
            loss = teacher_forcing_loss(
                again, (batch.sources, batch.targets), task.bos, batch.source_mask
            )
            adam.zero_grad()
            loss.backward()
            adam.step()
            losses.append(loss.item())
    assert history.losses == losses
    assert history.eval_steps == [1, 2]
    assert same_weights(model, again)


def test_train_date_model_stops_at_the_recipes_target():
    """Any score reaches a target of 0: the run stops at its first evaluation."""
    recipe = dataclasses.replace(TINY_DATE, target=0.0, max_steps=3)
    _, history, _ = train_date_model(DATE_TASK, recipe, progress=False)
    assert history.steps == [1] and history.eval_steps == [1]
    assert history.seconds_to_target is not None


def test_train_date_model_names_itself_on_its_bar_and_summary(capsys):
    train_date_model(DATE_TASK, TINY_DATE, progress=True)
    out, err = capsys.readouterr()
    assert out.startswith("training the date model: 2 steps, final loss ")
    assert "training the date model: 100%" in err


# --- train_vit --------------------------------------------------------------------------


def image_set(n: int, seed: int) -> ImageSet:
    """``n`` random 2x2 grey images, labelled 0, 1, 0, 1, ..."""
    images = torch.rand(n, 1, 2, 2, generator=torch.Generator().manual_seed(seed))
    return ImageSet(images, torch.arange(n) % 2, ("even", "odd"))


TRAIN_IMAGES, VALIDATION_IMAGES = image_set(8, 0), image_set(6, 1)


def classifier() -> nn.Module:
    return seeded(0, lambda: nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_train_vit_is_adam_on_the_cross_entropy_of_seeded_batches():
    model = classifier()
    history = train_vit(
        model, TRAIN_IMAGES, VALIDATION_IMAGES, steps=2, lr=0.05, batch_size=3, seed=5,
        eval_every=1, progress=False,
    )  # fmt: skip
    again = classifier()
    adam = torch.optim.Adam(again.parameters(), lr=0.05, foreach=True)
    batches = TRAIN_IMAGES.batches(3, torch.Generator().manual_seed(5))
    losses, scores = [], []
    for _ in range(2):
        images, labels = next(batches)
        loss = F.cross_entropy(again(images), labels)
        adam.zero_grad()
        loss.backward()
        adam.step()
        losses.append(loss.item())
        scores.append(classification_accuracy(again, VALIDATION_IMAGES))
    assert history.losses == losses and history.scores == scores
    assert history.eval_steps == [1, 2]
    assert same_weights(model, again)


def test_train_vit_defaults_are_chapter_11s_adam_at_3e_3_in_batches_of_64():
    """Chapter 11: "Adam (learning rate 3e-3, batches of 64 ...)"; batches seeded 0, and an
    evaluation every 50 steps, as fit's."""
    default = train_vit(classifier(), TRAIN_IMAGES, VALIDATION_IMAGES, steps=51, progress=False)
    explicit = train_vit(
        classifier(), TRAIN_IMAGES, VALIDATION_IMAGES, steps=51, lr=3e-3, batch_size=64, seed=0,
        eval_every=50, progress=False,
    )  # fmt: skip
    assert default.eval_steps == [50, 51]
    assert default.losses == explicit.losses and default.scores == explicit.scores


def test_train_vit_stops_at_its_target():
    history = train_vit(
        classifier(), TRAIN_IMAGES, VALIDATION_IMAGES, steps=3, eval_every=1, target=0.0,
        progress=False,
    )  # fmt: skip
    assert history.steps == [1] and history.seconds_to_target is not None


def test_train_vit_names_its_bar_and_summary_vit_unless_told_otherwise(capsys):
    train_vit(classifier(), TRAIN_IMAGES, VALIDATION_IMAGES, steps=1, progress=True)
    out, err = capsys.readouterr()
    assert out.startswith("ViT: 1 steps, final loss ")
    assert re.search(r"(^|\r)ViT: 100%", err)
    train_vit(
        classifier(), TRAIN_IMAGES, VALIDATION_IMAGES, steps=1, progress=True,
        description="a small ViT",
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert out.startswith("a small ViT: 1 steps, final loss ")
    assert "a small ViT: 100%" in err
    train_vit(classifier(), TRAIN_IMAGES, VALIDATION_IMAGES, steps=1, progress=False)
    assert capsys.readouterr() == ("", "")
