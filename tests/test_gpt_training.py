"""The GPT's training (lessons_lib.training, its GPT section): seeded, scored on fixed
validation windows, and learning more than the unigram baseline within seconds."""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.corpus import (
    CharTokenizer,
    corpus_text,
    encode_split,
    split_corpus,
    stdlib_docstrings,
)
from lessons_lib.experiments.gpt import unigram_baselines
from lessons_lib.gpt import GPT
from lessons_lib.training import (
    GPTRecipe,
    seeded,
    train_gpt,
    validation_loss,
    validation_windows,
    warmup_cosine_schedule,
)

TINY = GPTRecipe(
    d_model=16, num_heads=2, num_layers=1, d_ff=32, block_size=8, batch_size=4,
    lr=1e-2, warmup_steps=2, steps=6, eval_every=3, eval_batches=2,
)  # fmt: skip


def _ids(n: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def characters():
    """A slice of the real corpus in characters: train and validation ids and the vocabulary."""
    splits = split_corpus(stdlib_docstrings())
    tokenizer = CharTokenizer.from_text(corpus_text(splits["train"]))
    train = encode_split(tokenizer, splits["train"])[:200_000]
    validation = encode_split(tokenizer, splits["validation"])[:20_000]
    return train, validation, tokenizer.vocab_size


def _tiny_model(vocab: int = 11, max_len: int = 8, seed: int = 3) -> GPT:
    model = seeded(
        seed, lambda: GPT(vocab, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=max_len)
    )
    return model.eval()


# --- validation_loss --------------------------------------------------------------------


def test_validation_loss_is_the_cross_entropy_of_one_window_by_hand():
    model = _tiny_model()
    ids = _ids(9, 11, seed=0)  # block_size + 1 tokens: exactly one window
    with torch.no_grad():
        by_hand = F.cross_entropy(model(ids[:-1][None])[0], ids[1:])
    assert validation_loss(model, ids, block_size=8) == pytest.approx(float(by_hand), rel=1e-6)


@pytest.mark.parametrize("max_windows", [None, 3, 100])
def test_validation_loss_averages_the_same_windows_as_a_hand_loop(max_windows):
    model = _tiny_model()
    ids, block = _ids(75, 11, seed=1), 8
    n_windows = (len(ids) - 1) // block  # 9 full windows, the tail of 2 tokens left out
    if max_windows is None or max_windows >= n_windows:
        starts = [i * block for i in range(n_windows)]
    else:
        starts = [i * (n_windows // max_windows) * block for i in range(max_windows)]
    assert validation_windows(ids, block, max_windows).tolist() == starts
    with torch.no_grad():
        losses = [
            F.cross_entropy(
                model(ids[a : a + block][None])[0], ids[a + 1 : a + block + 1], reduction="sum"
            )
            for a in starts
        ]
    by_hand = float(sum(losses)) / (len(starts) * block)
    ours = validation_loss(model, ids, block, max_windows=max_windows, batch_size=2)
    assert ours == pytest.approx(by_hand, rel=1e-6)


def test_validation_loss_restores_the_model_s_mode_and_ignores_dropout():
    torch.manual_seed(0)
    model = GPT(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=8, dropout=0.5)
    ids = _ids(40, 11, seed=2)
    model.train()
    first = validation_loss(model, ids, 8)
    assert model.training  # put back
    assert validation_loss(model, ids, 8) == first  # no dropout: the same number twice


# --- train_gpt --------------------------------------------------------------------------


def test_train_gpt_is_seeded_and_leaves_the_global_rng_and_threads_alone():
    ids, validation = _ids(300, 13, seed=4), _ids(100, 13, seed=5)
    before, threads = torch.random.get_rng_state(), torch.get_num_threads()
    first, history = train_gpt(ids, validation, 13, TINY, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.get_num_threads() == threads
    second, again = train_gpt(ids, validation, 13, TINY, progress=False)
    assert history.losses == again.losses and history.scores == again.scores
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    assert not first.training  # returned in eval mode
    other, _ = train_gpt(ids, validation, 13, dataclasses.replace(TINY, seed=1), progress=False)
    assert not torch.equal(other.output.weight, first.output.weight)
    assert history.eval_steps == [3, 6]
    # the score is validation_loss on the recipe's fixed windows, at the end of training
    windows = TINY.eval_batches * TINY.batch_size
    assert history.scores[-1] == pytest.approx(
        validation_loss(first, validation, TINY.block_size, max_windows=windows), rel=1e-6
    )


def test_train_gpt_follows_the_warmup_then_cosine_schedule():
    recipe = dataclasses.replace(TINY, steps=10, warmup_steps=4, min_lr_factor=0.2)
    ids = _ids(200, 7, seed=6)
    _, history = train_gpt(ids, ids, 7, recipe, progress=False)
    expected = []
    for step in range(1, 11):
        if step <= 4:
            factor = step / 4
        else:
            factor = 0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * (step - 4) / 6))
        expected.append(recipe.lr * factor)
    assert history.lrs == pytest.approx(expected, rel=1e-9)
    assert history.lrs[-1] == pytest.approx(recipe.lr * 0.2)


def test_a_tiny_gpt_beats_the_unigram_baseline_in_seconds(characters):
    train, validation, vocab = characters
    recipe = GPTRecipe(
        d_model=32, num_heads=4, num_layers=1, d_ff=64, block_size=32, batch_size=16,
        lr=1e-2, warmup_steps=10, steps=80, eval_every=40, eval_batches=4,
    )  # fmt: skip
    start = time.perf_counter()
    model, history = train_gpt(train, validation, vocab, recipe, progress=False)
    seconds = time.perf_counter() - start
    baselines = unigram_baselines(train, validation, vocab)
    loss = validation_loss(model, validation, recipe.block_size)
    assert loss < baselines["unigram_validation"] - 0.2, (loss, baselines)
    assert history.scores[-1] < history.scores[0] < baselines["uniform"]
    assert seconds < 30  # a few seconds on one core; generous for a busy machine


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "error", "message"),
    [
        ([1, 2, 3] * 20, TypeError, "got list"),
        (torch.rand(60), TypeError, "dtype torch.float32"),
        (torch.zeros(6, 10, dtype=torch.long), ValueError, r"1-D .*got shape \(6, 10\)"),
        (torch.full((60,), 13), ValueError, r"\[0, 13\).*got ids from 13 to 13"),
        (
            torch.zeros(5, dtype=torch.long),
            ValueError,
            "at least block_size \\+ 1 = 9 tokens, got 5",
        ),
    ],
)
def test_train_gpt_names_what_it_expected(ids, error, message):
    good = _ids(100, 13, seed=0)
    with pytest.raises(error, match=message):
        train_gpt(ids, good, 13, TINY, progress=False)
    with pytest.raises(error, match=message):
        train_gpt(good, ids, 13, TINY, progress=False)


def test_train_gpt_refuses_a_recipe_of_another_kind():
    ids = _ids(100, 13, seed=0)
    with pytest.raises(TypeError, match="GPTRecipe, got dict"):
        train_gpt(ids, ids, 13, {"steps": 3}, progress=False)
    with pytest.raises(ValueError, match="vocab_size must be > 0, got 0"):
        train_gpt(ids, ids, 0, TINY, progress=False)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"d_model": 30}, ValueError, r"d_model \(30\) must be divisible by num_heads \(4\)"),
        (
            {"warmup_steps": 2000},
            ValueError,
            r"warmup_steps must be in \[0, steps=1200\], got 2000",
        ),
        ({"lr": 0}, ValueError, "lr must be > 0, got 0"),
        ({"min_lr_factor": 0}, ValueError, r"min_lr_factor must be in \(0, 1\]"),
        ({"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)"),
        ({"weight_decay": -1}, ValueError, "weight_decay must be >= 0"),
        ({"steps": 2.5}, TypeError, "steps must be an int"),
        ({"block_size": 0}, ValueError, "block_size must be > 0, got 0"),
    ],
)
def test_gpt_recipe_refuses_a_bad_field(fields, error, message):
    with pytest.raises(error, match=message):
        GPTRecipe(**fields)


def test_validation_loss_names_what_it_expected():
    model = _tiny_model()
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        validation_loss("model", _ids(20, 11, 0), 8)
    with pytest.raises(ValueError, match=r"at least block_size \+ 1 = 9 tokens .*got 8"):
        validation_loss(model, _ids(8, 11, 0), 8)
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        validation_loss(model, torch.full((20,), 11), 8)
    with pytest.raises(ValueError, match="max_windows must be > 0, got 0"):
        validation_loss(model, _ids(20, 11, 0), 8, max_windows=0)


def test_warmup_cosine_schedule_names_what_it_expected():
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(TypeError, match=r"torch\.optim\.Optimizer, got str"):
        warmup_cosine_schedule("adam", 1, 10)
    with pytest.raises(ValueError, match=r"warmup_steps must be in \[0, steps=10\], got 11"):
        warmup_cosine_schedule(optimiser, 11, 10)
    with pytest.raises(ValueError, match=r"min_factor must be in \[0, 1\], got 2"):
        warmup_cosine_schedule(optimiser, 1, 10, min_factor=2)
