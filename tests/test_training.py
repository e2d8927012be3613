"""The book's toy Transformer: it learns to reverse held-out sequences, reproducibly.

How fast it learns is measured by bench/bench_transformer.py, never asserted here.
"""

import datetime
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lessons_lib.data import DateTask, ImageSet, ReversalTask, shift_right
from lessons_lib.masking import padding_mask
from lessons_lib.metrics import exact_match_accuracy
from lessons_lib.training import (
    DateRecipe,
    ToyRecipe,
    date_accuracy,
    date_loss,
    fit,
    one_thread,
    seeded,
    train_date_model,
    train_reversal_model,
    train_vit,
)
from lessons_lib.transformer import Transformer
from lessons_lib.vit import ViT


def test_the_toy_model_reverses_held_out_sequences():
    task = ReversalTask()
    before = torch.random.get_rng_state()
    model, history, splits = train_reversal_model(task, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched
    for sources, targets in splits:
        assert task.is_held_out(sources).all()  # sequences it never trained on
        assert torch.equal(targets, sources.flip(1))
    assert not torch.equal(splits.validation[0], splits.test[0])
    assert history.final_score >= 0.99  # the validation score it stopped on
    assert history.final_score == exact_match_accuracy(model, *splits.validation, task.bos)
    assert history.seconds_to_target is not None
    assert exact_match_accuracy(model, *splits.test, task.bos) >= 0.97
    assert history.losses[-1] < history.losses[0] / 10


def test_training_is_reproducible():
    recipe = ToyRecipe(
        d_model=16,
        num_heads=2,
        d_ff=32,
        batch_size=16,
        max_steps=6,
        eval_every=3,
        eval_size=10,
        target=None,
    )
    _, first, _ = train_reversal_model(recipe=recipe, progress=False)
    _, second, _ = train_reversal_model(recipe=recipe, progress=False)
    assert first.losses == second.losses and first.scores == second.scores
    assert len(second.losses) == 6 and second.eval_steps == [3, 6]
    _, other, _ = train_reversal_model(
        recipe=ToyRecipe(**{**recipe.__dict__, "seed": 1}), progress=False
    )
    assert other.losses != second.losses


def test_fit_prints_a_summary_and_hides_the_bar_while_the_book_builds(monkeypatch, capsys):
    model = torch.nn.Linear(1, 1)
    data = iter(lambda: torch.ones(4, 1), None)

    def loss_fn(module, batch):
        return ((module(batch) - 3) ** 2).mean()

    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    history = fit(model, loss_fn, data, steps=4, evaluate=lambda m: 0.5, eval_every=2, target=0.9)
    captured = capsys.readouterr()
    assert "4 steps" in captured.out and "score 0.5000" in captured.out
    assert "target 0.9 not reached" in captured.out
    assert "it/s" not in captured.err  # no progress bar in the static book
    assert history.eval_steps == [2, 4]
    fit(model, loss_fn, data, steps=2, progress=False)
    assert capsys.readouterr().out == ""


def test_fit_says_when_the_batches_run_out_and_refuses_a_non_scalar_loss():
    model = torch.nn.Linear(1, 1)
    batches = [torch.ones(4, 1)] * 3  # a list works: any iterable of batches
    history = fit(model, lambda m, b: m(b).mean(), batches, steps=3, progress=False)
    assert history.steps == [1, 2, 3]
    with pytest.raises(ValueError, match="batches ran out after 3 batches, but steps=5"):
        fit(model, lambda m, b: m(b).mean(), batches, steps=5, progress=False)
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar tensor .* got \(4, 1\)"):
        fit(model, lambda m, b: m(b), batches, steps=1, progress=False)


def test_seeded_builds_the_same_weights_and_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state()
    first = seeded(3, lambda: torch.nn.Linear(4, 4))
    second = seeded(3, lambda: torch.nn.Linear(4, 4))
    assert torch.equal(first.weight, second.weight)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_train_vit_is_seeded_scores_validation_and_restores_threads():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(40, 1, 8, 8, generator=generator)
    train = ImageSet(images, torch.randint(0, 10, (40,), generator=generator), tuple("0123456789"))
    validation = ImageSet(images[:10], train.labels[:10], train.class_names)
    threads = torch.get_num_threads()
    runs = []
    for _ in range(2):
        model = seeded(0, lambda: ViT())
        runs.append(train_vit(model, train, validation, steps=5, eval_every=5, progress=False))
    assert runs[0].losses == runs[1].losses and len(runs[0].scores) == 1
    assert torch.get_num_threads() == threads
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads


def test_fit_warms_the_learning_rate_up_linearly():
    # loss = -w has a constant gradient, so each Adam step moves w by the step's rate.
    def run(warmup_steps):
        model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        weights = []

        def loss_fn(module, batch):
            weights.append(module.weight.item())
            return -module.weight.sum()

        fit(model, loss_fn, [0] * 6, steps=6, lr=0.1, progress=False, warmup_steps=warmup_steps)
        weights.append(model.weight.item())
        return torch.tensor(weights).diff()

    torch.testing.assert_close(run(4), torch.tensor([0.025, 0.05, 0.075, 0.1, 0.1, 0.1]))
    torch.testing.assert_close(run(0), torch.full((6,), 0.1))  # the default: no warm-up


def test_fit_refuses_a_negative_or_fractional_warm_up():
    model = torch.nn.Linear(1, 1)
    batches = [torch.ones(2, 1)] * 2
    with pytest.raises(ValueError, match=r"warmup_steps must be >= 0 \(0 = no warm-up\), got -1"):
        fit(model, lambda m, b: m(b).mean(), batches, steps=2, progress=False, warmup_steps=-1)
    with pytest.raises(TypeError, match="warmup_steps must be an int, got float"):
        fit(model, lambda m, b: m(b).mean(), batches, steps=2, progress=False, warmup_steps=2.5)


class _TwoPaths(torch.nn.Module):
    """A main path used at every step and a side path some batches leave without a gradient."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.main = torch.nn.Sequential(
            torch.nn.Linear(5, 7), torch.nn.GELU(), torch.nn.Linear(7, 3)
        )
        self.side = torch.nn.Linear(5, 3)


def _two_paths_loss(model, batch):
    inputs, targets, use_side = batch
    loss = torch.nn.functional.mse_loss(model.main(inputs), targets)
    return loss + model.side(inputs).pow(2).mean() if use_side else loss


def _two_paths_batches(n: int = 12):
    # gradients of every size; the side path is used only on steps 1, 2, 5, 6, 9, 10
    generator = torch.Generator().manual_seed(1)
    return [
        (
            torch.randn(16, 5, generator=generator) * 10 ** (-3, 0, 2)[step % 3],
            torch.randn(16, 3, generator=generator),
            step % 4 < 2,
        )
        for step in range(n)
    ]


def _hand_written_loop(model, batches, optimiser, scheduler=None):
    for batch in batches:
        optimiser.zero_grad()
        _two_paths_loss(model, batch).backward()
        optimiser.step()
        if scheduler is not None:
            scheduler.step()


def _assert_same_weights(ours, theirs):
    for (name, mine), other in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.equal(mine, other), name


@pytest.mark.parametrize("warmup_steps", [0, 4])
def test_fit_by_default_steps_torch_adam_exactly_like_a_hand_written_loop(warmup_steps):
    ours, theirs = _TwoPaths(0), _TwoPaths(0)
    for model in (ours, theirs):
        model.main[2].bias.requires_grad_(False)  # a frozen weight
    batches = _two_paths_batches()
    fit(
        ours, _two_paths_loss, batches, steps=12, lr=3e-2, warmup_steps=warmup_steps, progress=False
    )
    optimiser = torch.optim.Adam(theirs.parameters(), lr=3e-2)
    # LambdaLR calls the factor with k = 0 for the first step: step s = k + 1 uses lr * min(1, s/w)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda k: min(1.0, (k + 1) / warmup_steps) if warmup_steps else 1.0
    )
    _hand_written_loop(theirs, batches, optimiser, scheduler)
    _assert_same_weights(ours, theirs)
    start = _TwoPaths(0)
    moved = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), start.parameters()))
    assert moved > 0.1  # the runs did move the weights, so agreeing means something
    assert torch.equal(ours.main[2].bias, start.main[2].bias)


def test_fit_uses_the_optimiser_and_the_scheduler_it_is_given():
    def adamw_run(model):
        optimiser = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.5)
        return optimiser, torch.optim.lr_scheduler.StepLR(optimiser, step_size=2, gamma=0.5)

    ours, theirs, plain = _TwoPaths(0), _TwoPaths(0), _TwoPaths(0)
    batches = _two_paths_batches(6)
    optimiser, scheduler = adamw_run(ours)
    history = fit(
        ours, _two_paths_loss, batches, steps=6, optimiser=optimiser, scheduler=scheduler,
        progress=False,
    )  # fmt: skip
    # the rate of step s (1, 2, ...) halves every 2 steps: 0.05, 0.05, 0.025, 0.025, ...
    assert history.lrs == [0.05 * 0.5 ** ((step - 1) // 2) for step in range(1, 7)]
    assert scheduler.last_epoch == 6  # stepped once per step
    _hand_written_loop(theirs, batches, *adamw_run(theirs))
    _assert_same_weights(ours, theirs)
    fit(plain, _two_paths_loss, batches, steps=6, lr=0.05, progress=False)
    difference = max((a - b).abs().max() for a, b in zip(ours.parameters(), plain.parameters()))
    assert difference > 1e-3  # plain Adam at a constant rate lands elsewhere


def test_fit_records_the_rate_of_every_warm_up_step():
    model = torch.nn.Linear(1, 1)
    batches = [torch.ones(2, 1)] * 6
    history = fit(model, lambda m, b: m(b).mean(), batches, steps=6, lr=0.1, warmup_steps=4,
                  progress=False)  # fmt: skip
    assert history.lrs == [0.1 * min(1.0, step / 4) for step in range(1, 7)]
    history = fit(model, lambda m, b: m(b).mean(), batches, steps=3, progress=False)
    assert history.lrs == [1e-3] * 3  # the default rate, constant


def test_fit_stops_at_the_first_score_equal_to_the_target_and_not_before():
    assert 495 / 500 == 0.99  # an accuracy of 495 out of 500 is exactly the float 0.99
    scores = iter([0.5, math.nextafter(0.99, 0.0), 495 / 500, 1.0])
    model = torch.nn.Linear(1, 1)
    history = fit(
        model, lambda m, b: m(b).mean(), [torch.ones(2, 1)] * 10, steps=10,
        evaluate=lambda m: next(scores), eval_every=2, target=0.99, progress=False,
    )  # fmt: skip
    assert history.eval_steps == [2, 4, 6] and history.steps[-1] == 6
    assert history.scores[-1] == 0.99 and history.seconds_to_target is not None
    assert next(scores) == 1.0  # the fourth score was never asked for


@pytest.mark.parametrize("answer", [None, "0.9", torch.ones(2)])
def test_fit_says_evaluate_must_return_a_number(answer):
    model = torch.nn.Linear(1, 1)
    batches = [torch.ones(2, 1)] * 2
    with pytest.raises(
        TypeError, match=r"evaluate must return a number .* got (NoneType|str|Tensor)"
    ):
        fit(model, lambda m, b: m(b).mean(), batches, steps=2, evaluate=lambda m: answer,
            eval_every=1, progress=False)  # fmt: skip


def test_fit_takes_a_one_number_tensor_as_a_score():
    model = torch.nn.Linear(1, 1)
    history = fit(model, lambda m, b: m(b).mean(), [torch.ones(2, 1)] * 2, steps=2,
                  evaluate=lambda m: torch.tensor(0.25), eval_every=1, progress=False)  # fmt: skip
    assert history.scores == [0.25, 0.25]


def test_fit_refuses_optimisers_and_schedulers_that_do_not_fit_the_model():
    model, other = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    batches = [torch.ones(2, 1)] * 2

    def run(**options):
        return fit(model, lambda m, b: m(b).mean(), batches, steps=2, progress=False, **options)

    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        TypeError, match=r"optimiser must be a torch\.optim\.Optimizer.* got generator"
    ):
        run(optimiser=model.parameters())
    with pytest.raises(ValueError, match="optimiser holds 2 of its 2 tensors that are not param"):
        run(optimiser=torch.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"lr=0\.5 was given with an optimiser"):
        run(optimiser=optimiser, lr=0.5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=1)
    with pytest.raises(ValueError, match="scheduler was given without its optimiser"):
        run(scheduler=scheduler)
    other_optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler was made for another optimiser"):
        run(optimiser=other_optimiser, scheduler=scheduler)
    with pytest.raises(ValueError, match=r"either warmup_steps \(3\) or a scheduler, not both"):
        run(optimiser=optimiser, scheduler=scheduler, warmup_steps=3)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser)
    with pytest.raises(TypeError, match="ReduceLROnPlateau needs a score"):
        run(optimiser=optimiser, scheduler=plateau)
    with pytest.raises(TypeError, match=r"scheduler must be a torch\.optim\.lr_scheduler object"):
        run(optimiser=optimiser, scheduler=lambda step: 0.1)
    with pytest.raises(ValueError, match=r"target=0\.9 needs evaluate"):
        run(target=0.9)
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        run(lr=0)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got list"):
        fit([model], lambda m, b: m(b).mean(), batches, steps=2, progress=False)
    with pytest.raises(TypeError):  # steps and every option after it are keywords only
        fit(model, lambda m, b: m(b).mean(), batches, 2)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="model has no parameters that require a gradient"):
        run()


def _adam_update_from_the_book():
    """The ``adam_update`` code block of book/training.md, run as the reader would run it."""
    text = (Path(__file__).parents[1] / "book" / "training.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def adam_update" in b]
    assert len(blocks) == 1, "training.md should show adam_update in one python block"
    namespace: dict = {}
    exec(blocks[0], namespace)  # the book's own code, read from the repository
    return namespace["adam_update"]


def test_the_books_adam_update_moves_weights_as_torch_adam_does():
    adam_update = _adam_update_from_the_book()
    generator = torch.Generator().manual_seed(0)
    start = [torch.randn(4, 3, generator=generator), torch.randn(5, generator=generator)]
    theirs = [torch.nn.Parameter(weight.clone()) for weight in start]
    ours = [weight.clone() for weight in start]
    states = [{} for _ in ours]
    settings = {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}
    optimiser = torch.optim.Adam(theirs, **settings)
    for step in range(10):
        optimiser.zero_grad()
        for index, (mine, param) in enumerate(zip(ours, theirs)):
            if index == 1 and step in (1, 2, 5):  # no gradient: skipped, its t stays behind
                continue
            grad = torch.randn(mine.shape, generator=generator) * 10.0 ** (step % 3 - 1)
            param.grad = grad.clone()
            with torch.no_grad():
                adam_update(mine, grad, states[index], **settings)
        optimiser.step()
    assert [state["t"] for state in states] == [10, 7]
    for mine, param, first in zip(ours, theirs, start):
        torch.testing.assert_close(mine, param.detach(), rtol=1e-5, atol=1e-6)
        assert (mine - first).abs().max() > 0.1  # they moved, so agreeing means something


# --- chapter 06: dates --------------------------------------------------------------------

TINY_DATES = DateRecipe(
    d_model=16, num_heads=2, d_ff=32, batch_size=16, max_steps=6, eval_every=3,
    validation_size=20, test_size=30, target=None,
)  # fmt: skip


def test_the_date_model_is_seeded_and_scored_on_held_out_dates():
    task = DateTask()
    before = torch.random.get_rng_state()
    model, first, splits = train_date_model(task, TINY_DATES, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched
    _, second, _ = train_date_model(task, TINY_DATES, progress=False)
    assert first.losses == second.losses and first.eval_steps == [3, 6]
    _, other, _ = train_date_model(task, replace(TINY_DATES, seed=1), progress=False)
    assert other.losses != first.losses
    train_days = set(task.split_days("train").tolist())
    assert not set(splits.validation.days.tolist()) & train_days
    assert not set(splits.test.days.tolist()) & train_days
    assert set(splits.test.days.tolist()) <= set(task.split_days("test").tolist())
    assert splits.test.sources.shape[0] == 30 and splits.validation.sources.shape[0] == 20
    assert first.scores[-1] == date_accuracy(model, splits.validation, task.bos)
    assert model.max_len == task.max_source_length == 30


def test_the_padding_mask_hides_the_padding_from_the_model_and_its_score():
    task = DateTask()
    torch.manual_seed(0)
    model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32).eval()
    texts = ["Nov 27, 2026", "27/11/26"]
    short, lengths = task.encode(texts, length=14)
    long, _ = task.encode(texts)  # 30 characters, 16 more pads
    long[:, 14:] = task.bos  # what stands in the padding must not matter either
    target_in = shift_right(task.encode(["2026-11-27"] * 2, length=10)[0], task.bos)
    with torch.no_grad():
        seen_short = model(short, target_in, padding_mask(lengths, 14))
        seen_long = model(long, target_in, padding_mask(lengths, 30))
        unmasked = model(long, target_in)
    torch.testing.assert_close(seen_short, seen_long, atol=1e-5, rtol=1e-5)
    assert (seen_long - unmasked).abs().max() > 1e-3  # without the mask it does matter
    targets = task.encode(["2026-11-27"] * 2, length=10)[0]
    masked = exact_match_accuracy(model, long, targets, task.bos, padding_mask(lengths, 30))
    assert masked == exact_match_accuracy(
        model, short, targets, task.bos, padding_mask(lengths, 14)
    )
    batch = task.make_batch([datetime.date(2026, 11, 27)] * 2, ["Nov 27, 2026", "27/11/26"])
    loss = date_loss(model, batch, task.bos)
    assert loss.shape == () and loss > 0


def test_a_trained_date_model_loss_falls():
    recipe = replace(TINY_DATES, max_steps=60, eval_every=60, d_model=32)
    _, history, _ = train_date_model(recipe=recipe, progress=False)
    first, last = sum(history.losses[:5]) / 5, sum(history.losses[-5:]) / 5
    assert first > 3.0 and last < 0.75 * first  # from about ln(46) = 3.8 towards the ISO form


def test_train_date_model_refuses_other_tasks_and_recipes():
    with pytest.raises(TypeError, match="task must be a DateTask and recipe a DateRecipe"):
        train_date_model(ReversalTask(), progress=False)
    with pytest.raises(TypeError, match="got DateTask and ToyRecipe"):
        train_date_model(DateTask(), ToyRecipe(), progress=False)


def test_a_run_stopped_at_its_target_ends_with_a_full_bar_at_its_last_step(monkeypatch, capsys):
    # Jupyter draws a bar closed before its total as failed (red); a run that stops because it
    # reached its target is not a failure, and its bar must say the step it stopped at.
    import torch.nn.functional as F
    import tqdm
    from torch import nn

    import lessons_lib.training as training

    bars = []

    class Recorded(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(training, "tqdm", Recorded)
    model = nn.Linear(2, 1)
    data = [(torch.randn(8, 2), torch.randn(8, 1))] * 50
    scores = iter([0.1, 0.2, 0.9, 0.95])
    history = fit(
        model,
        lambda model, batch: F.mse_loss(model(batch[0]), batch[1]),
        data,
        steps=50,
        evaluate=lambda model: next(scores),
        eval_every=7,
        target=0.9,
        progress=True,
    )
    assert history.steps[-1] == 21  # the third evaluation reached 0.9
    (bar,) = bars
    assert bar.n == bar.total == 21
    assert "target reached" in bar.desc
    bars.clear()
    fit(model, lambda m, b: F.mse_loss(m(b[0]), b[1]), data, steps=10, progress=True)
    assert bars[0].n == bars[0].total == 10  # a full run: every step counted
