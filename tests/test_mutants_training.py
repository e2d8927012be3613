"""The training module's recipes and edges: written to kill the mutants that mutmut (``make
mutate``) found surviving the module's own tests in ``train_to_best``, ``train_gpt``,
``GPTRecipe``, ``warmup_cosine_schedule``, ``train_alignment_model``, ``adamw_optimiser``,
``validation_loss``, ``validation_windows`` and ``summary``.

Expected values are worked out by hand: the warm-up and cosine factors from the docstring's
formula, the validation loss from ``F.cross_entropy`` window by window, Adam's first steps from
its update rule (a constant gradient moves each weight by ``lr`` a step). ``train_to_best`` is
run on a scripted classifier whose validation accuracy is a chosen function of the steps it
has trained, so that the best step, the stop and the kept weights are known by construction.
``train_gpt`` is checked against the run its docstring describes, built from its parts with
the seeds it names. Defaults are read from what the book and the committed results state.
Refusals are matched from the message's start, so that each names its own argument.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib import training
from lessons_lib.corpus import lm_batches
from lessons_lib.data import ImageSet, ReversalTask
from lessons_lib.gpt import GPT
from lessons_lib.results import load_result
from lessons_lib.training import (
    BestRun,
    GPTRecipe,
    History,
    adamw_optimiser,
    dropout_seeded,
    fit,
    language_model_loss,
    one_thread,
    seeded,
    summary,
    train_alignment_model,
    train_gpt,
    train_to_best,
    validation_loss,
    validation_windows,
    warmup_cosine_schedule,
)
from tests._messages import refused

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- train_to_best: a classifier whose validation accuracy follows a script ------------------


class ScriptedClassifier(nn.Module):
    """Two classes; its validation accuracy is ``correct(t) / len(validation)`` after ``t`` steps.

    Training: the logits are 0 for both classes whatever the weights, so the loss's gradient is
    the same at every step (``-1/2, +1/2`` on the two weights, every label being class 0) and
    Adam moves each weight by ``lr`` a step. ``trained`` counts the steps and is a buffer, so a
    restored state dict restores it, together with the weights. In eval mode the first
    ``correct(trained)`` images are called class 0 (right) and the rest class 1 (wrong).
    """

    def __init__(self, correct):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2))
        self.register_buffer("trained", torch.zeros((), dtype=torch.long))
        self.correct = correct
        self.drawn = []  # the training images of each step (each image holds its own index)
        self.weights_at = {}  # trained steps -> the weights when evaluated then

    def forward(self, images):
        n = images.shape[0]
        if self.training:
            self.trained.add_(1)  # in place, as Adam updates the weights
            self.drawn.append(images.flatten().tolist())
            return (self.weight - self.weight.detach()).expand(n, 2)  # values 0, gradient 1
        steps = int(self.trained)
        self.weights_at[steps] = self.weight.detach().clone()
        logits = torch.zeros(n, 2)
        logits[:, 1] = 1.0  # class 1: wrong
        logits[: self.correct(steps), 1] = -1.0  # class 0: right
        return logits


def images(n: int) -> ImageSet:
    """``n`` one-pixel images whose pixel is their index, all of class 0."""
    pixels = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1)
    return ImageSet(pixels, torch.zeros(n, dtype=torch.long), ("right", "wrong"))


def adam_weights(steps: int, lr: float) -> torch.Tensor:
    """Where a constant gradient ``(-1/2, +1/2)`` takes the weights ``(0, 0)`` in Adam steps."""
    return torch.tensor([1.0, -1.0]) * steps * lr


def test_train_to_best_runs_at_most_its_default_max_steps():
    """A model that improves at every evaluation is stopped by max_steps alone: 3,000 by
    default, the budget the committed ViT-vs-CNN runs record. (A behaviour, not the signature:
    mutmut calls its mutants through a wrapper that keeps the original signature.)"""
    budget = load_result("vit_vs_cnn")["settings"]["max_steps"]
    model = ScriptedClassifier(lambda steps: steps // 50 + 1)  # one more right per evaluation
    run = train_to_best(model, images(8), images(budget // 50 + 2))
    assert run.steps == run.best_step == budget and not run.stopped_early


def test_train_to_best_stops_after_patience_evaluations_and_keeps_the_first_best(capsys):
    """Evaluated every 2 steps with patience 3: 1, 2, 3 of 4 right at steps 0, 2, 4; then 3
    (a tie, not a new best), 2 and 3 again, so the third evaluation after step 4 (step 10)
    stops the run, and the weights of step 4 come back."""
    script = {0: 1, 2: 2, 4: 3, 6: 3, 8: 2, 10: 3}
    model = ScriptedClassifier(lambda steps: script.get(steps, 0))
    run = train_to_best(
        model, images(8), images(4), lr=0.25, eval_every=2, patience=3, max_steps=40
    )
    assert run == BestRun(best_step=4, steps=10, validation_accuracy=0.75, stopped_early=True)
    assert isinstance(run.best_step, int) and isinstance(run.validation_accuracy, float)
    assert sorted(model.weights_at) == [0, 2, 4, 6, 8, 10]  # every evaluation, no more
    # the model holds step 4's weights and buffers, not those of step 10
    assert int(model.trained) == 4
    assert torch.allclose(model.weight.detach(), adam_weights(4, lr=0.25), rtol=1e-6)
    # one Adam with the given rate throughout: 10 steps of 0.25 each
    assert torch.allclose(model.weights_at[10], adam_weights(10, lr=0.25), rtol=1e-6)
    assert capsys.readouterr() == ("", "")  # silent: no bar and no summary per chunk


def test_train_to_best_with_its_defaults_runs_the_committed_comparison_settings():
    """The appendix's ViT-vs-CNN runs (lessons_lib/results/vit_vs_cnn.json) were made with these
    settings, which are train_to_best's defaults. A model that never beats its untrained
    accuracy stops after patience evaluations of eval_every steps and gets its first weights
    back; the batches are those of ``train.batches(batch_size, seed 0)``."""
    settings = load_result("vit_vs_cnn")["settings"]
    defaults = inspect.signature(train_to_best).parameters
    assert {name: defaults[name].default for name in settings} == settings
    assert defaults["seed"].default == 0
    train = images(50)
    model = ScriptedClassifier(lambda steps: 2)
    run = train_to_best(model, train, images(4))
    steps = settings["patience"] * settings["eval_every"]
    assert run == BestRun(best_step=0, steps=steps, validation_accuracy=0.5, stopped_early=True)
    assert sorted(model.weights_at) == list(range(0, steps + 1, settings["eval_every"]))
    assert int(model.trained) == 0 and torch.equal(model.weight.detach(), torch.zeros(2))
    last = adam_weights(steps, lr=settings["lr"])
    assert torch.allclose(model.weights_at[steps], last, rtol=1e-5)
    expected = train.batches(settings["batch_size"], torch.Generator().manual_seed(0))
    assert model.drawn == [next(expected)[0].flatten().tolist() for _ in range(steps)]


def test_train_to_best_cuts_its_last_chunk_to_max_steps():
    """An accuracy that rises at every evaluation: no early stop, evaluations at 3, 6 and 7."""
    model = ScriptedClassifier(lambda steps: steps)
    run = train_to_best(model, images(4), images(16), lr=0.5, eval_every=3, patience=2, max_steps=7)
    assert run == BestRun(best_step=7, steps=7, validation_accuracy=7 / 16, stopped_early=False)
    assert sorted(model.weights_at) == [0, 3, 6, 7]
    # max_steps may equal eval_every: one chunk, one evaluation
    model = ScriptedClassifier(lambda steps: steps)
    run = train_to_best(model, images(4), images(16), eval_every=2, patience=1, max_steps=2)
    assert run == BestRun(best_step=2, steps=2, validation_accuracy=2 / 16, stopped_early=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"eval_every": 0}, "eval_every must be > 0, got 0", id="eval_every"),
        pytest.param({"patience": 0}, "patience must be > 0, got 0", id="patience"),
        pytest.param({"max_steps": 0}, "max_steps must be > 0, got 0", id="max_steps"),
        pytest.param(
            {"max_steps": 1, "eval_every": 2},
            "max_steps (1) must be at least eval_every (2)",
            id="max_steps-below-eval_every",
        ),
    ],
)
def test_train_to_best_refuses_a_bad_setting_by_its_name(options, message):
    model = ScriptedClassifier(lambda steps: 0)
    with pytest.raises(ValueError, match=refused(message)):
        train_to_best(model, images(4), images(4), **options)


# --- train_alignment_model (chapter 04) -------------------------------------------------------


class TokenTable(nn.Module):
    """An alignment model reduced to a lookup: logits per source token, no weights returned."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, sources):
        return self.table(sources), None  # (batch, L, vocab), like (logits, weights)


SHORT_REVERSAL = ReversalTask(length=3)  # three digits: cheap batches


def alignment_run(**options) -> History:
    task = SHORT_REVERSAL
    validation = task.sample(16, torch.Generator().manual_seed(9), held_out=True)
    model = seeded(0, lambda: TokenTable(task.vocab_size))
    return train_alignment_model(model, task, validation, **options)


def test_train_alignment_model_defaults_are_chapter_04s_run(capsys):
    """Chapter 04: "batches of 64 random training sequences, ..., 150 steps", the validation
    accuracy every 50 steps, from batches seeded 0."""
    default = alignment_run(progress=False)
    assert capsys.readouterr() == ("", "")  # progress=False: silent
    assert default.steps[-1] == 150 and default.eval_steps == [50, 100, 150]
    explicit = alignment_run(steps=150, lr=1e-2, batch_size=64, seed=0, progress=False)
    assert default.losses == explicit.losses and default.scores == explicit.scores


def test_train_alignment_model_names_itself_on_its_bar_and_summary(capsys):
    history = alignment_run(steps=1, progress=True)
    captured = capsys.readouterr()
    assert captured.out.startswith("training the alignment model: 1 steps, final loss")
    assert history.eval_steps == [1]
    assert "training the alignment model" in captured.err  # the bar's description


# --- GPTRecipe, warmup_cosine_schedule and train_gpt ----------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"seed": "0"}, TypeError, "seed must be an int, got str", id="seed"),
        pytest.param(
            {"warmup_steps": 1.5}, TypeError, "warmup_steps must be an int, got float", id="warmup"
        ),
        pytest.param({"lr": "fast"}, TypeError, "lr must be a number, got str", id="lr"),
        pytest.param(
            {"min_lr_factor": None},
            TypeError,
            "min_lr_factor must be a number, got NoneType",
            id="min_lr_factor-type",
        ),
        pytest.param(
            {"min_lr_factor": 1.5},
            ValueError,
            "min_lr_factor must be in (0, 1] (1 = no decay), got 1.5",
            id="min_lr_factor-above-1",
        ),
        pytest.param(
            {"weight_decay": "some"},
            TypeError,
            "weight_decay must be a number, got str",
            id="weight_decay",
        ),
        pytest.param(
            {"dropout": "half"}, TypeError, "dropout must be a number, got str", id="dropout"
        ),
    ],
)
def test_a_gpt_recipe_refuses_a_bad_field_by_its_name(options, error, message):
    with pytest.raises(error, match=refused(message)):
        GPTRecipe(**options)


def test_a_gpt_recipe_accepts_the_edges_of_its_ranges():
    """No warm-up, a warm-up as long as the run, no decay of the rate, no weight decay."""
    assert GPTRecipe(warmup_steps=0).warmup_steps == 0
    assert GPTRecipe(warmup_steps=5, steps=5).warmup_steps == 5
    assert GPTRecipe(min_lr_factor=1).min_lr_factor == 1
    assert GPTRecipe(weight_decay=0).weight_decay == 0


def schedule_by_hand(step: int, warmup: int, steps: int, floor: float) -> float:
    """The docstring's factor of step ``s``: ``s / w``, then the cosine from 1 down to ``m``."""
    if step <= warmup:
        return step / warmup
    return floor + (1 - floor) * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup))) / 2


def factors(warmup: int, steps: int, *, after: int = 0, **options) -> list[float]:
    optimiser = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = warmup_cosine_schedule(optimiser, warmup, steps, **options)
    return [scheduler.lr_lambdas[0](s - 1) for s in range(1, steps + 1 + after)]


@pytest.mark.parametrize(
    ("warmup", "steps", "floor"),
    [(2, 6, 0.1), (0, 4, 0.25), (3, 4, 0.2), (4, 4, 0.3), (1, 5, 0.0), (2, 5, 1.0)],
    ids=["docstring", "no-warm-up", "one-step-of-cosine", "all-warm-up", "to-zero", "constant"],
)
def test_the_warm_up_and_cosine_factors_follow_the_docstrings_formula(warmup, steps, floor):
    expected = [schedule_by_hand(s, warmup, steps, floor) for s in range(1, steps + 1)]
    assert factors(warmup, steps, min_factor=floor) == pytest.approx(expected, abs=1e-12)


def test_the_rate_stays_at_its_floor_after_the_last_step():
    """fit steps the scheduler once more after the last step, and a longer loop would go on."""
    assert factors(2, 6, after=4, min_factor=0.25)[5:] == pytest.approx([0.25] * 5, abs=1e-12)


def test_the_schedule_falls_to_a_tenth_by_default():
    """A tenth, the floor GPTRecipe's docstring gives its cosine (``min_lr_factor``, nanoGPT's)."""
    assert factors(1, 3)[-1] == pytest.approx(0.1, abs=1e-12)


def test_the_last_warm_up_step_runs_at_exactly_lr_whatever_number_type_the_floor_is():
    """Step w is ``w / w``: lr itself, a Python float, even with a NumPy float32 floor, whose
    arithmetic would round the rate to float32 (0.1 becomes 0.10000000149...)."""
    optimiser = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = warmup_cosine_schedule(optimiser, 2, 6, min_factor=np.float32(0.5))
    optimiser.step()  # step 1 (no gradients: nothing moves)
    scheduler.step()  # the rate of step 2, the last of the warm-up
    rate = optimiser.param_groups[0]["lr"]
    assert type(rate) is float and rate == 0.1  # not np.float32(0.1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(lambda o: warmup_cosine_schedule(o, 0, 0), ValueError,
                     "steps must be > 0, got 0", id="steps"),
        pytest.param(lambda o: warmup_cosine_schedule(o, 1.5, 4), TypeError,
                     "warmup_steps must be an int, got float", id="warmup_steps"),
        pytest.param(lambda o: warmup_cosine_schedule(o, 1, 4, min_factor="low"), TypeError,
                     "min_factor must be a number, got str", id="min_factor"),
    ],
)  # fmt: skip
def test_the_schedule_refuses_a_bad_argument_by_its_name(call, error, message):
    optimiser = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(error, match=refused(message)):
        call(optimiser)


VOCAB = 12
TEXT = torch.arange(VOCAB).repeat(20)  # 240 tokens
TINY_GPT = GPTRecipe(
    d_model=8, num_heads=2, num_layers=1, d_ff=16, block_size=8, batch_size=3, steps=3,
    warmup_steps=1, eval_every=2, eval_batches=2, dropout=0.25, seed=3,
)  # fmt: skip


def test_train_gpt_is_the_run_its_docstring_describes(monkeypatch):
    """Weights from seed, batches from seed + 1, dropout's masks from seed + 2; scored every
    eval_every steps on eval_batches * batch_size windows, read batch_size at a time."""
    recipe = TINY_GPT
    calls = []

    def spy(model, ids, block_size, **options):
        calls.append(options)
        return validation_loss(model, ids, block_size, **options)

    monkeypatch.setattr(training, "validation_loss", spy)
    validation = TEXT.flip(0)
    model, history = train_gpt(TEXT, validation, VOCAB, recipe, progress=False)
    windows = recipe.eval_batches * recipe.batch_size
    assert calls == [{"max_windows": windows, "batch_size": recipe.batch_size}] * 2
    assert history.eval_steps == [2, 3] and not model.training
    assert model.dropout.p == recipe.dropout

    again = seeded(
        recipe.seed,
        lambda: GPT(VOCAB, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=8, dropout=0.25),
    )
    optimiser = adamw_optimiser(again, lr=recipe.lr, weight_decay=recipe.weight_decay)
    scheduler = warmup_cosine_schedule(optimiser, 1, 3, recipe.min_lr_factor)
    batches = lm_batches(TEXT, 8, 3, torch.Generator().manual_seed(recipe.seed + 1))
    with one_thread(), dropout_seeded(recipe.seed + 2):
        expected = fit(
            again, language_model_loss, batches, steps=3, optimiser=optimiser,
            scheduler=scheduler, progress=False,
        )  # fmt: skip
    assert history.losses == expected.losses
    assert history.scores[-1] == pytest.approx(
        validation_loss(again, validation, 8, max_windows=windows), rel=1e-6
    )


def test_train_gpt_names_itself_on_its_bar_and_summary_and_is_silent_when_asked(capsys):
    train_gpt(TEXT, TEXT, VOCAB, TINY_GPT, progress=True)
    captured = capsys.readouterr()
    assert captured.out.startswith("training the GPT: 3 steps, final loss")
    assert "training the GPT" in captured.err  # the bar's description
    train_gpt(TEXT, TEXT, VOCAB, TINY_GPT, progress=False)
    assert capsys.readouterr() == ("", "")


def test_train_gpt_without_a_recipe_uses_the_default_one():
    """Too short for the default recipe's windows, long enough for the tiny one's."""
    needed = GPTRecipe().block_size + 1
    message = f"train_ids must hold at least block_size + 1 = {needed} tokens, got 20"
    with pytest.raises(ValueError, match=refused(message)):
        train_gpt(TEXT[:20], TEXT[:20], VOCAB)
    _, history = train_gpt(TEXT[:20], TEXT[:20], VOCAB, TINY_GPT, progress=False)
    assert history.steps == [1, 2, 3]


def test_train_gpt_needs_exactly_block_size_plus_one_tokens():
    """One window and the token after it is enough, for training and for validation."""
    recipe = GPTRecipe(**{**TINY_GPT.__dict__, "steps": 1, "warmup_steps": 0})
    ids = TEXT[: recipe.block_size + 1]
    _, history = train_gpt(ids, ids, VOCAB, recipe, progress=False)
    assert history.eval_steps == [1]


GOOD = TEXT[:40]


@pytest.mark.parametrize(
    ("train_ids", "validation_ids", "error", "message"),
    [
        pytest.param(GOOD.float(), GOOD, TypeError,
                     "train_ids must hold integer token ids, got dtype torch.float32",
                     id="train_ids-float"),
        pytest.param(GOOD[:8], GOOD, ValueError,
                     "train_ids must hold at least block_size + 1 = 9 tokens, got 8",
                     id="train_ids-short"),
        pytest.param(GOOD, GOOD + 1, ValueError,
                     "validation_ids must lie in [0, 12) for vocab_size=12, got ids from 1 to 12",
                     id="validation_ids-out-of-vocab"),
        pytest.param(GOOD, GOOD[:8], ValueError,
                     "validation_ids must hold at least block_size + 1 = 9 tokens, got 8",
                     id="validation_ids-short"),
    ],
)  # fmt: skip
def test_train_gpt_refuses_bad_ids_by_their_name(train_ids, validation_ids, error, message):
    with pytest.raises(error, match=refused(message)):
        train_gpt(train_ids, validation_ids, VOCAB, TINY_GPT, progress=False)


# --- validation_windows and validation_loss --------------------------------------------------


class Bigram(nn.Module):
    """Logits of the next token from the current one alone; no ``vocab_size`` attribute.
    Records the number of windows of each call."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)
        self.rows = []

    def forward(self, tokens):
        self.rows.append(tokens.shape[0])
        return self.table(tokens)  # (batch, block, vocab)


def test_validation_loss_is_the_mean_cross_entropy_of_every_window_by_hand():
    """A model without ``vocab_size`` is scored too; 65 windows are read 64 at a time by
    default (the last window alone), the default batch_size."""
    model = seeded(0, lambda: Bigram(5))
    ids = torch.randint(0, 5, (2 * 65 + 1,), generator=torch.Generator().manual_seed(1))
    loss = validation_loss(model, ids, block_size=2)
    assert model.rows == [64, 1]
    assert inspect.signature(validation_loss).parameters["batch_size"].default == 64
    with torch.no_grad():
        per_window = [
            F.cross_entropy(model.table(ids[a : a + 2]), ids[a + 1 : a + 3], reduction="sum")
            for a in range(0, 130, 2)
        ]
    assert loss == pytest.approx(float(sum(per_window)) / 130, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(lambda m: validation_loss("gpt", GOOD, 4), TypeError,
                     "model must be a torch.nn.Module (a GPT), got str", id="model"),
        pytest.param(lambda m: validation_loss(m, GOOD.float(), 4), TypeError,
                     "ids must hold integer token ids, got dtype torch.float32", id="ids-float"),
        pytest.param(lambda m: validation_loss(m, GOOD, 4, batch_size=0), ValueError,
                     "batch_size must be > 0, got 0", id="batch_size"),
        pytest.param(lambda m: validation_windows(GOOD.float(), 4), TypeError,
                     "ids must hold integer token ids, got dtype torch.float32",
                     id="windows-ids-float"),
        pytest.param(lambda m: validation_windows(GOOD > 3, 4), TypeError,
                     "ids must hold integer token ids, got dtype torch.bool",
                     id="windows-ids-bool"),
        pytest.param(lambda m: validation_windows(GOOD, 0), ValueError,
                     "block_size must be > 0, got 0", id="windows-block_size"),
    ],
)  # fmt: skip
def test_validation_refuses_a_bad_argument_by_its_name(call, error, message):
    with pytest.raises(error, match=refused(message)):
        call(Bigram(VOCAB))


# --- adamw_optimiser and summary -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"lr": "fast"}, TypeError, "lr must be a number, got str", id="lr-type"),
        pytest.param({"lr": 0}, ValueError, "lr must be > 0, got 0", id="lr-zero"),
        pytest.param(
            {"weight_decay": "some"},
            TypeError,
            "weight_decay must be a number, got str",
            id="weight_decay",
        ),
    ],
)
def test_adamw_optimiser_refuses_a_bad_setting_by_its_name(options, error, message):
    with pytest.raises(error, match=refused(message)):
        adamw_optimiser(nn.Linear(2, 2), **{"lr": 1e-3, "weight_decay": 0.1, **options})


def test_adamw_optimiser_takes_torchs_vectorised_steps():
    """foreach=True, as fit's default Adam: one call per step for all parameters on a CPU too."""
    assert adamw_optimiser(nn.Linear(2, 2), lr=1e-3, weight_decay=0.1).defaults["foreach"] is True


def test_summary_reports_the_last_loss_under_the_default_description():
    history = History(steps=[1, 2, 3], losses=[0.5, 0.375, 0.25])
    assert summary(history) == "training: 3 steps, final loss 0.2500"
