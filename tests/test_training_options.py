"""The paper's recipe as options (issue 23): label smoothing, AdamW's decoupled weight decay,
the inverse square-root schedule, dropout, and the calibration error that measures them.

Each option is off by default and changes what it should and nothing else."""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import lessons_lib.training as training
from lessons_lib.data import DateTask
from lessons_lib.metrics import date_calibration, expected_calibration_error
from lessons_lib.training import (
    DateRecipe,
    DateSplits,
    adamw_optimiser,
    date_accuracy,
    date_loss,
    date_optimiser,
    fit,
    inverse_sqrt_schedule,
    seeded,
    teacher_forcing_loss,
    train_date_model,
)
from lessons_lib.transformer import Transformer

TINY = DateRecipe(
    d_model=16, num_heads=2, d_ff=32, batch_size=16, warmup_steps=4, max_steps=8, eval_every=4,
    validation_size=20, test_size=10, target=None,
)  # fmt: skip

needs_dropout = pytest.mark.skipif(
    "dropout" not in inspect.signature(Transformer).parameters,
    reason="Transformer(..., dropout=...) keyword not there yet (the models' dropout change)",
)


@pytest.fixture(scope="module")
def task():
    return DateTask()


def _same_history(a, b) -> None:
    assert a.steps == b.steps and a.eval_steps == b.eval_steps
    assert a.losses == b.losses and a.scores == b.scores and a.lrs == b.lrs


# --- the defaults: exactly the recipe as it was -------------------------------------------


def test_default_recipe_trains_exactly_as_fit_s_own_adam_and_warm_up(task):
    """What train_date_model did before the options: fit's default Adam, lr and warm-up."""
    model, history, splits = train_date_model(task, TINY, progress=False)
    recipe = TINY
    theirs = seeded(
        recipe.seed,
        lambda: Transformer(
            task.vocab_size,
            d_model=recipe.d_model,
            num_heads=recipe.num_heads,
            num_layers=recipe.num_layers,
            d_ff=recipe.d_ff,
            max_len=task.max_source_length,
        ),
    )
    validation = task.sample(
        recipe.validation_size, torch.Generator().manual_seed(recipe.seed + 2), "validation"
    )
    torch.testing.assert_close(splits.validation.sources, validation.sources, rtol=0, atol=0)
    with training.one_thread():
        before = fit(
            theirs,
            lambda model, batch: date_loss(model, batch, task.bos),
            task.batches(recipe.batch_size, torch.Generator().manual_seed(recipe.seed + 1)),
            steps=recipe.max_steps,
            lr=recipe.lr,
            evaluate=lambda model: date_accuracy(model, validation, task.bos),
            eval_every=recipe.eval_every,
            warmup_steps=recipe.warmup_steps,
            progress=False,
        )
    _same_history(history, before)
    assert history.lrs[0] == pytest.approx(recipe.lr / recipe.warmup_steps)  # warm-up is on
    for (name, mine), other in zip(model.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(mine, other), name


def test_default_recipe_builds_adam_and_the_linear_warm_up():
    optimiser, scheduler = date_optimiser(nn.Linear(2, 2), DateRecipe())
    assert type(optimiser) is torch.optim.Adam
    assert optimiser.defaults["lr"] == DateRecipe().lr and optimiser.defaults["weight_decay"] == 0
    assert [scheduler.lr_lambdas[0](k) for k in (0, 49, 99, 500)] == [0.01, 0.5, 1.0, 1.0]
    _, none = date_optimiser(nn.Linear(2, 2), DateRecipe(warmup_steps=0))
    assert none is None


# --- label smoothing ----------------------------------------------------------------------


def test_label_smoothing_changes_the_loss_by_the_formula(task):
    model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    dates = task.sample(6, torch.Generator().manual_seed(0), "train")
    batch = (dates.sources, dates.targets)
    eps = 0.1
    smoothed = teacher_forcing_loss(model, batch, task.bos, dates.source_mask, label_smoothing=eps)
    plain = teacher_forcing_loss(model, batch, task.bos, dates.source_mask)
    logits = model(dates.sources, training.shift_right(dates.targets, task.bos), dates.source_mask)
    log_p = logits.log_softmax(-1)  # (batch, 10, vocab)
    nll = -log_p.gather(-1, dates.targets.unsqueeze(-1)).squeeze(-1)  # (batch, 10)
    uniform = -log_p.mean(-1)  # (batch, 10): cross-entropy against the uniform distribution
    expected = ((1 - eps) * nll + eps * uniform).mean()
    torch.testing.assert_close(smoothed, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(plain, nll.mean(), rtol=1e-6, atol=1e-6)
    assert not torch.isclose(smoothed, plain)
    same = teacher_forcing_loss(model, batch, task.bos, dates.source_mask, label_smoothing=0.0)
    assert torch.equal(same, plain)


def test_label_smoothing_in_the_recipe_changes_the_loss_and_nothing_else(task):
    _, plain, plain_splits = train_date_model(task, TINY, progress=False)
    smooth = dataclasses.replace(TINY, label_smoothing=0.1)
    _, smoothed, splits = train_date_model(task, smooth, progress=False)
    assert smoothed.lrs == plain.lrs and smoothed.eval_steps == plain.eval_steps
    assert torch.equal(splits.validation.sources, plain_splits.validation.sources)
    # step 1: the same model and batch, only the loss differs, by the formula's term
    first = next(task.batches(TINY.batch_size, torch.Generator().manual_seed(TINY.seed + 1)))
    model = seeded(
        TINY.seed,
        lambda: Transformer(
            task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32,
            max_len=task.max_source_length,
        ),
    )  # fmt: skip
    with torch.no_grad():
        plain_first = float(date_loss(model, first, task.bos))
        smoothed_first = float(date_loss(model, first, task.bos, label_smoothing=0.1))
    assert plain.losses[0] == pytest.approx(plain_first, rel=1e-6)
    assert smoothed.losses[0] == pytest.approx(smoothed_first, rel=1e-6)
    assert smoothed.losses[0] != plain.losses[0]


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_label_smoothing_outside_0_to_1_is_refused(task, bad):
    model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    dates = task.sample(2, torch.Generator().manual_seed(0), "train")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\).*got"):
        date_loss(model, dates, task.bos, label_smoothing=bad)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        DateRecipe(label_smoothing=bad)


def test_label_smoothing_must_be_a_number():
    with pytest.raises(TypeError, match="label_smoothing"):
        DateRecipe(label_smoothing="0.1")


# --- AdamW: decoupled weight decay --------------------------------------------------------


def test_adamw_decays_weight_matrices_and_embeddings_but_not_biases_or_norms():
    model = Transformer(13, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    decayed, kept = adamw_optimiser(model, lr=1e-3, weight_decay=0.1).param_groups
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    names = {id(param): name for name, param in model.named_parameters()}
    decayed_names = {names[id(p)] for p in decayed["params"]}
    kept_names = {names[id(p)] for p in kept["params"]}
    assert decayed_names | kept_names == set(names.values())
    assert not decayed_names & kept_names
    assert {"source_embedding.weight", "target_embedding.weight"} <= decayed_names
    assert all(name.endswith(".bias") or "norm" in name for name in kept_names)
    assert all(name.endswith(".weight") and "norm" not in name for name in decayed_names)
    assert any("norm" in name for name in kept_names)  # LayerNorm gains are there, undecayed


def test_adamw_decay_shrinks_decayed_weights_by_lr_times_decay_each_step():
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    lr, decay = 0.01, 0.5
    optimiser = adamw_optimiser(model, lr=lr, weight_decay=decay)
    start = {name: param.detach().clone() for name, param in model.named_parameters()}
    for _ in range(3):
        for param in model.parameters():  # a zero gradient: Adam's own step is 0
            param.grad = torch.zeros_like(param)
        optimiser.step()
    for name, param in model.named_parameters():
        factor = (1 - lr * decay) ** 3 if param.dim() >= 2 else 1.0
        torch.testing.assert_close(param.detach(), start[name] * factor, rtol=1e-6, atol=0)
    assert not torch.equal(model[0].weight, start["0.weight"])  # it did shrink


def test_adamw_without_decay_steps_as_adam_does():
    torch.manual_seed(0)
    first, second = nn.Linear(5, 4), nn.Linear(5, 4)
    second.load_state_dict(first.state_dict())
    adam = torch.optim.Adam(first.parameters(), lr=0.05, foreach=True)
    adamw = adamw_optimiser(second, lr=0.05, weight_decay=0.0)
    for _ in range(5):
        grads = [torch.randn_like(param) for param in first.parameters()]
        for model, optimiser in ((first, adam), (second, adamw)):
            for param, grad in zip(model.parameters(), grads):
                param.grad = grad.clone()
            optimiser.step()
    for mine, theirs in zip(second.parameters(), first.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)


def test_weight_decay_in_the_recipe_uses_adamw_and_shrinks_the_weights(task):
    optimiser, _ = date_optimiser(nn.Linear(2, 2), DateRecipe(weight_decay=0.01))
    assert type(optimiser) is torch.optim.AdamW
    assert [group["weight_decay"] for group in optimiser.param_groups] == [0.01, 0.0]
    plain_model, plain, _ = train_date_model(task, TINY, progress=False)
    decayed = dataclasses.replace(TINY, weight_decay=10.0)  # large, to show in 8 steps
    decayed_model, history, _ = train_date_model(task, decayed, progress=False)
    assert history.lrs == plain.lrs

    def matrices_norm(model):
        return sum(float(p.detach().norm()) ** 2 for p in model.parameters() if p.dim() >= 2) ** 0.5

    assert matrices_norm(decayed_model) < 0.9 * matrices_norm(plain_model)


@pytest.mark.parametrize("bad", [-0.01, float("nan")])
def test_a_negative_weight_decay_is_refused(bad):
    with pytest.raises(ValueError, match=r"weight_decay must be >= 0.*got"):
        DateRecipe(weight_decay=bad)
    with pytest.raises(ValueError, match=r"weight_decay must be >= 0.*got"):
        adamw_optimiser(nn.Linear(2, 2), lr=1e-3, weight_decay=bad)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got list"):
        adamw_optimiser([], lr=1e-3, weight_decay=0.1)


# --- the paper's schedule -----------------------------------------------------------------


def _rates(scheduler_of, steps: int, lr: float = 1.0) -> list[float]:
    """The rate of each of ``steps`` steps of fit, with the scheduler ``scheduler_of`` makes."""
    model = nn.Linear(2, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    data = [(torch.randn(4, 2), torch.randn(4, 1))] * steps
    history = fit(
        model,
        lambda model, batch: F.mse_loss(model(batch[0]), batch[1]),
        data,
        steps=steps,
        optimiser=optimiser,
        scheduler=scheduler_of(optimiser),
        progress=False,
    )
    return history.lrs


@pytest.mark.parametrize("warmup", [1, 4, 25])
def test_inverse_sqrt_schedule_is_the_papers_formula_over_its_peak(warmup):
    d_model, peak = 512, 3e-3
    rates = _rates(lambda opt: inverse_sqrt_schedule(opt, warmup), 120, lr=peak)
    paper = [d_model**-0.5 * min(s**-0.5, s * warmup**-1.5) for s in range(1, 121)]
    paper_peak = d_model**-0.5 * warmup**-0.5
    for step, (ours, theirs) in enumerate(zip(rates, paper), start=1):
        assert ours / peak == pytest.approx(theirs / paper_peak, rel=1e-9), step
    assert max(rates) == pytest.approx(peak) and rates.index(max(rates)) == warmup - 1
    assert rates[4 * warmup - 1] == pytest.approx(peak / 2)  # 4 x the warm-up: half the peak


def test_inverse_sqrt_in_the_recipe_sets_every_step_s_rate(task):
    recipe = dataclasses.replace(TINY, schedule="inverse_sqrt", warmup_steps=3)
    _, history, _ = train_date_model(task, recipe, progress=False)
    expected = [recipe.lr * min(s / 3, math.sqrt(3 / s)) for s in range(1, recipe.max_steps + 1)]
    assert history.lrs == pytest.approx(expected, rel=1e-12)
    _, warm, _ = train_date_model(task, dataclasses.replace(TINY, warmup_steps=3), progress=False)
    assert warm.lrs[:3] == pytest.approx(expected[:3]) and warm.lrs[3:] == [recipe.lr] * 5


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match=r"schedule must be one of \('warmup', 'inverse_sqrt'\)"):
        DateRecipe(schedule="cosine")
    optimiser = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps must be > 0, got 0"):
        inverse_sqrt_schedule(optimiser, 0)
    with pytest.raises(TypeError, match=r"optimiser must be a torch\.optim\.Optimizer, got str"):
        inverse_sqrt_schedule("adam", 10)
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        date_optimiser(nn.Linear(2, 1), DateRecipe(warmup_steps=-1))
    with pytest.raises(TypeError, match="recipe must be a DateRecipe, got dict"):
        date_optimiser(nn.Linear(2, 1), {})


# --- dropout --------------------------------------------------------------------------------


def test_dropout_is_passed_to_the_model_only_when_on(task, monkeypatch):
    calls = []
    real = training.Transformer

    def recording(*args, **kwargs):
        calls.append(dict(kwargs))
        kwargs.pop("dropout", None)  # works whether or not the model takes it yet
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "Transformer", recording)
    short = dataclasses.replace(TINY, max_steps=1)
    train_date_model(task, short, progress=False)
    train_date_model(task, dataclasses.replace(short, dropout=0.1), progress=False)
    assert "dropout" not in calls[0] and calls[1]["dropout"] == 0.1


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_dropout_outside_0_to_1_is_refused(bad):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\).*got"):
        DateRecipe(dropout=bad)


@needs_dropout
def test_dropout_in_the_recipe_trains_a_different_model_scored_without_dropout(task):
    _, plain, _ = train_date_model(task, TINY, progress=False)
    model, dropped, splits = train_date_model(
        task, dataclasses.replace(TINY, dropout=0.5), progress=False
    )
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, nn.Dropout))
    assert dropped.lrs == plain.lrs and dropped.losses != plain.losses
    assert not model.training  # scored and returned in eval mode: the same answer twice
    assert date_accuracy(model, splits.validation, task.bos) == dropped.scores[-1]
    assert date_calibration(model, splits.validation, task.bos) == date_calibration(
        model, splits.validation, task.bos
    )


# --- calibration: expected calibration error ------------------------------------------------


def test_ece_of_a_hand_computed_example():
    confidences = torch.tensor([0.0, 0.05, 0.15, 0.95, 1.0, 0.55, 0.65])
    correct = torch.tensor([False, True, False, True, True, True, False])
    # bins of width 0.1: {0.0, 0.05} acc 1/2 conf 0.025; {0.15} 0 vs 0.15; {0.55} 1 vs 0.55;
    # {0.65} 0 vs 0.65; {0.95, 1.0} 1 vs 0.975
    by_hand = (2 * 0.475 + 0.15 + 0.45 + 0.65 + 2 * 0.025) / 7
    assert expected_calibration_error(confidences, correct) == pytest.approx(by_hand, abs=1e-7)
    # a bin's upper edge is inside it: with 2 bins, 0.5 is in the first
    two = expected_calibration_error(torch.tensor([0.5, 0.75]), torch.tensor([1, 0]), bins=2)
    assert two == pytest.approx((0.5 + 0.75) / 2)
    # one bin: the gap between the mean accuracy and the mean confidence
    one = expected_calibration_error(confidences, correct, bins=1)
    assert one == pytest.approx(abs(4 / 7 - float(confidences.mean())), abs=1e-7)


def test_ece_is_near_0_when_calibrated_and_1_when_sure_and_wrong():
    generator = torch.Generator().manual_seed(0)
    confidences = torch.rand(200_000, generator=generator)
    correct = torch.rand(200_000, generator=generator) < confidences  # right with p = confidence
    assert expected_calibration_error(confidences, correct) < 0.01
    overconfident = expected_calibration_error(torch.full((100,), 0.99), correct[:100])
    assert overconfident > 0.3
    sure_and_wrong = expected_calibration_error(torch.ones(50), torch.zeros(50, dtype=torch.bool))
    assert sure_and_wrong == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=40),
    st.integers(1, 20),
)
def test_ece_lies_in_0_to_1(pairs, bins):
    confidences = torch.tensor([c for c, _ in pairs], dtype=torch.float64)
    correct = torch.tensor([k for _, k in pairs])
    assert 0.0 <= expected_calibration_error(confidences, correct, bins) <= 1.0


def test_ece_refuses_bad_input():
    good = torch.tensor([0.2, 0.9])
    right = torch.tensor([True, False])
    with pytest.raises(ValueError, match=r"correct \(3,\) must have the shape of confidences"):
        expected_calibration_error(good, torch.tensor([True, False, True]))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got values from 0.2 to 1.5"):
        expected_calibration_error(torch.tensor([0.2, 1.5]), right)
    with pytest.raises(TypeError, match=r"floating-point tensor.*got dtype torch\.int64"):
        expected_calibration_error(torch.tensor([0, 1]), right)
    with pytest.raises(ValueError, match="correct must be a bool tensor, or hold only 0 and 1"):
        expected_calibration_error(good, torch.tensor([2, 0]))
    with pytest.raises(ValueError, match="bins must be > 0, got 0"):
        expected_calibration_error(good, right, bins=0)
    with pytest.raises(ValueError, match="holds no predictions"):
        expected_calibration_error(torch.tensor([]), torch.tensor([], dtype=torch.bool))
    with pytest.raises(TypeError, match=r"confidences must be a torch\.Tensor, got list"):
        expected_calibration_error([0.5], right[:1])


def test_date_calibration_scores_every_teacher_forced_character(task):
    model = seeded(0, lambda: Transformer(task.vocab_size, d_model=16, num_heads=2, d_ff=32))
    dates = task.sample(12, torch.Generator().manual_seed(5), "validation")
    model.train()
    score = date_calibration(model, dates, task.bos)
    assert model.training  # put back in the mode it was in
    model.eval()
    with torch.no_grad():
        inputs = training.shift_right(dates.targets, task.bos)
        probabilities = model(dates.sources, inputs, dates.source_mask).softmax(-1)
    confidences, predictions = probabilities.max(-1)  # (12, 10) each: 120 characters
    expected = expected_calibration_error(confidences, predictions == dates.targets)
    assert score == pytest.approx(expected, abs=1e-12)
    with pytest.raises(TypeError, match="batch must be a DateBatch, got tuple"):
        date_calibration(model, (dates.sources, dates.targets), task.bos)


def test_splits_are_the_same_whatever_the_options(task):
    recipes = [
        TINY,
        dataclasses.replace(TINY, label_smoothing=0.1, weight_decay=0.1, schedule="inverse_sqrt"),
    ]
    splits: list[DateSplits] = [train_date_model(task, r, progress=False)[2] for r in recipes]
    assert torch.equal(splits[0].validation.targets, splits[1].validation.targets)
    assert torch.equal(splits[0].test.sources, splits[1].test.sources)


@needs_dropout
def test_a_run_with_dropout_is_the_same_from_the_same_seed_and_leaves_the_global_rng(task):
    # dropout draws from torch's global RNG, which torch seeds differently in every process;
    # the recipe's seed must fix the masks too, and the caller's RNG must come back untouched
    recipe = dataclasses.replace(TINY, dropout=0.3)
    torch.manual_seed(123)
    first_model, first, _ = train_date_model(task, recipe, progress=False)
    after_first = torch.rand(3)
    torch.manual_seed(999)  # another global state: the run must not depend on it
    second_model, second, _ = train_date_model(task, recipe, progress=False)
    _same_history(first, second)
    for a, b in zip(first_model.parameters(), second_model.parameters(), strict=True):
        assert torch.equal(a, b)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after_first)  # the run drew nothing from the caller's RNG
    _, other_seed, _ = train_date_model(
        task, dataclasses.replace(recipe, seed=recipe.seed + 1), progress=False
    )
    assert other_seed.losses != first.losses
