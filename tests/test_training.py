"""The book's toy Transformer: it learns to reverse held-out sequences, reproducibly.

How fast it learns is measured by bench/bench_transformer.py, never asserted here.
"""

import datetime
from dataclasses import replace

import pytest
import torch

from lessons_lib.data import DateTask, ImageSet, ReversalTask, shift_right
from lessons_lib.masking import padding_mask
from lessons_lib.metrics import exact_match_accuracy
from lessons_lib.training import (
    Adam,
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


def _two_layer_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.GELU(), torch.nn.Linear(7, 3))


@pytest.mark.parametrize("warmup_steps", [0, 4])
def test_our_adam_gives_the_weights_torch_adam_gives(warmup_steps):
    # The same model, the same batches: ours (through fit) and torch.optim.Adam with a
    # LambdaLR warm-up, step by step. Gradients of every size, including a frozen bias.
    ours, theirs = _two_layer_model(0), _two_layer_model(0)
    ours[2].bias.requires_grad_(False)
    theirs[2].bias.requires_grad_(False)
    generator = torch.Generator().manual_seed(1)
    batches = [
        (torch.randn(16, 5, generator=generator) * 10**k, torch.randn(16, 3, generator=generator))
        for k in (-3, 0, 2) * 4
    ]

    def loss_fn(model, batch):
        return torch.nn.functional.mse_loss(model(batch[0]), batch[1])

    fit(ours, loss_fn, batches, steps=12, lr=3e-2, warmup_steps=warmup_steps, progress=False)
    optimiser = torch.optim.Adam([p for p in theirs.parameters() if p.requires_grad], lr=3e-2)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda k: min(1.0, (k + 1) / warmup_steps) if warmup_steps else 1.0
    )
    for batch in batches:
        optimiser.zero_grad()
        loss_fn(theirs, batch).backward()
        optimiser.step()
        schedule.step()
    moved = 0.0
    for (name, mine), theirs_param in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, theirs_param, rtol=0, atol=1e-6, msg=name)
        moved = max(moved, (mine - _two_layer_model(0).state_dict()[name]).abs().max().item())
    assert moved > 0.1  # the runs did move the weights, so agreeing means something


def test_adam_skips_weights_without_a_gradient_and_refuses_bad_settings():
    used, unused = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    optimiser = Adam([used, unused], lr=0.5)
    used.sum().backward()
    optimiser.step()
    assert torch.equal(unused.data, torch.ones(2))
    torch.testing.assert_close(used.data, torch.full((2,), 0.5))  # step one moves by lr
    optimiser.zero_grad()
    assert used.grad is None
    with pytest.raises(ValueError, match="no parameters that require a gradient"):
        Adam([torch.ones(2)])
    with pytest.raises(ValueError, match="lr must be > 0 and eps >= 0, got lr=0"):
        Adam([used], lr=0)
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        Adam([used], lr="0.1")
    with pytest.raises(
        ValueError, match=r"betas must be two numbers in \[0, 1\), got \(0.9, 1.0\)"
    ):
        Adam([used], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match=r"such as model.parameters\(\), got a Linear"):
        Adam(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="params must hold tensors, got a str"):
        Adam(["weight"])
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        optimiser.step(lr=-1)
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        optimiser.step(lr="0.1")


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
