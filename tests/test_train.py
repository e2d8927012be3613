"""The book's toy Transformer: it learns to reverse held-out sequences, reproducibly.

How fast it learns is measured by bench/bench_transformer.py, never asserted here.
"""

import torch

from lessons_lib.data import ReversalTask
from lessons_lib.decoding import exact_match_accuracy
from lessons_lib.transformer import ToyRecipe, train_reversal_model


def test_the_toy_model_reverses_held_out_sequences():
    task = ReversalTask()
    model, history, (sources, targets) = train_reversal_model(task, progress=False)
    assert task.is_held_out(sources).all()  # scored on sequences it never trained on
    assert torch.equal(targets, sources.flip(1))
    assert history.final_score >= 0.99
    assert history.seconds_to_target is not None
    fresh = task.sample(300, torch.Generator().manual_seed(123), held_out=True)
    assert exact_match_accuracy(model, *fresh, task.bos) >= 0.97
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
    from lessons_lib.train import fit

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
