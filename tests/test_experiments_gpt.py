"""The chapter "From the Transformer to GPT"'s runs (lessons_lib.experiments.gpt): characters
against BPE scored per character, the unigram baselines, and seeded samples."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("tokenizers")

import torch

from lessons_lib.corpus import (
    END_OF_TEXT,
    CharTokenizer,
    Docstring,
    corpus_text,
    encode_split,
    split_corpus,
    stdlib_docstrings,
)
from lessons_lib.experiments.gpt import (
    CHAPTER_GPT,
    PROMPTS,
    SAMPLING_SETTINGS,
    compare_tokenizations,
    sample_texts,
    unigram_baselines,
)
from lessons_lib.gpt import GPT
from lessons_lib.training import GPTRecipe, seeded, validation_loss

SMALL = GPTRecipe(
    d_model=16, num_heads=2, num_layers=1, d_ff=32, block_size=32, batch_size=8,
    lr=1e-2, warmup_steps=2, steps=10, eval_every=5, eval_batches=2,
)  # fmt: skip


def _first(docs: list[Docstring], characters: int) -> list[Docstring]:
    """The first docstrings of a split, about ``characters`` long in all."""
    kept, total = [], 0
    for doc in docs:
        if total >= characters:
            break
        kept.append(doc)
        total += len(doc.text) + 1
    return kept


@pytest.fixture(scope="module")
def small_splits():
    splits = split_corpus(stdlib_docstrings())
    sizes = {"train": 60_000, "validation": 8_000, "test": 8_000}
    return {name: _first(splits[name], size) for name, size in sizes.items()}


@pytest.fixture(scope="module")
def comparison(small_splits):
    return compare_tokenizations(small_splits, SMALL, bpe_vocab_size=400, progress=False)


def test_the_report_s_numbers_agree_with_each_other(comparison, small_splits):
    assert set(comparison) == {"characters", "bpe"}
    for run in comparison.values():
        report = run.report
        validation = report["splits"]["validation"]
        assert validation["characters"] == len(corpus_text(small_splits["validation"]))
        ids = encode_split(run.tokenizer, small_splits["validation"])
        assert validation["tokens"] == len(ids)
        assert validation["characters_per_token"] == validation["characters"] / len(ids)
        per_token = report["validation_loss_per_token"]
        assert per_token == pytest.approx(validation_loss(run.model, ids, SMALL.block_size))
        assert report["validation_nats_per_character"] == pytest.approx(
            per_token * validation["tokens"] / validation["characters"]
        )
        assert report["perplexity_per_token"] == pytest.approx(math.exp(per_token))
        assert report["perplexity_per_character"] == pytest.approx(
            math.exp(report["validation_nats_per_character"])
        )
        assert report["vocab_size"] == run.tokenizer.vocab_size == run.model.vocab_size
        assert report["curve"]["eval_steps"] == [5, 10]
        assert report["curve"]["validation_loss_per_token"] == run.history.scores
    characters, bpe = comparison["characters"].report, comparison["bpe"].report
    # the same text under both: per character, a character model's loss is its loss per token
    for split in ("train", "validation", "test"):
        assert characters["splits"][split]["characters"] == bpe["splits"][split]["characters"]
        assert characters["splits"][split]["characters_per_token"] == 1.0
        assert bpe["splits"][split]["characters_per_token"] > 1.5
    assert characters["validation_nats_per_character"] == pytest.approx(
        characters["validation_loss_per_token"], rel=1e-12
    )
    assert bpe["vocab_size"] == 400
    # the same recipe, so the same steps of the same tokens: the same seeded batches' shapes
    assert comparison["characters"].history.steps == comparison["bpe"].history.steps


def test_unigram_baselines_by_hand():
    train, validation = torch.tensor([0, 0, 0, 1]), torch.tensor([1, 2])
    baselines = unigram_baselines(train, validation, vocab_size=3)
    assert baselines["uniform"] == pytest.approx(math.log(3))
    assert baselines["unigram_entropy"] == pytest.approx(
        -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    )
    # add-one smoothed: counts (3, 1, 0) + 1 over 4 + 3
    assert baselines["unigram_validation"] == pytest.approx(
        -(math.log(2 / 7) + math.log(1 / 7)) / 2
    )


def test_unigram_baselines_names_what_it_expected():
    with pytest.raises(TypeError, match="train_ids must be a 1-D tensor of token ids, got list"):
        unigram_baselines([0, 1], torch.tensor([0]), 2)
    with pytest.raises(ValueError, match=r"validation_ids must be non-empty ids in \[0, 2\)"):
        unigram_baselines(torch.tensor([0, 1]), torch.tensor([5]), 2)


def test_compare_tokenizations_names_what_it_expected(small_splits):
    with pytest.raises(TypeError, match="split_corpus's dict"):
        compare_tokenizations(list(small_splits.values()), SMALL)
    with pytest.raises(ValueError, match="must hold the splits"):
        compare_tokenizations({"train": small_splits["train"]}, SMALL)
    with pytest.raises(TypeError, match="recipe must be a GPTRecipe, got dict"):
        compare_tokenizations(small_splits, {"steps": 3})


def test_the_chapter_recipe_fits_a_prompt_and_its_samples():
    longest = max(len(prompt) for prompt in PROMPTS) + 1  # END_OF_TEXT first
    assert longest + 40 <= CHAPTER_GPT.block_size  # 40 characters of continuation fit


# --- samples ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def untrained():
    tokenizer = CharTokenizer.from_text("abcdefghijklmnopqrstuvwxyz ,.TRIhr" + END_OF_TEXT)
    model = seeded(
        0,
        lambda: GPT(
            tokenizer.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=64
        ),
    )
    return model.eval(), tokenizer


def test_samples_are_seeded_and_leave_the_global_rng_alone(untrained):
    model, tokenizer = untrained
    before = torch.random.get_rng_state()
    first = sample_texts(model, tokenizer, PROMPTS, steps=30)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert first == sample_texts(model, tokenizer, PROMPTS, steps=30)
    assert set(first) == set(SAMPLING_SETTINGS)
    other = sample_texts(model, tokenizer, PROMPTS, steps=30, seed=1)
    assert other["greedy"] == first["greedy"]  # greedy draws nothing
    assert other["temperature 0.8"] != first["temperature 0.8"]
    for setting in first.values():
        assert set(setting) == set(PROMPTS)
        for text in setting.values():
            assert END_OF_TEXT not in text and len(text) <= 30


def test_a_sample_is_the_greedy_continuation_of_the_prompt(untrained):
    model, tokenizer = untrained
    prompt_ids = tokenizer.encode(END_OF_TEXT + "Return the")
    tokens = list(prompt_ids)
    with torch.no_grad():
        for _ in range(12):  # the decode loop by hand, without a cache
            tokens.append(int(model(torch.tensor([tokens]))[0, -1].argmax()))
    by_hand = tokenizer.decode(tokens[len(prompt_ids) :]).split(END_OF_TEXT)[0]
    ours = sample_texts(model, tokenizer, ["Return the"], steps=12, settings={"greedy": None})
    assert ours == {"greedy": {"Return the": by_hand}}


def test_sample_texts_names_what_it_expected(untrained):
    model, tokenizer = untrained
    with pytest.raises(ValueError, match="more than the model's max_len=64"):
        sample_texts(model, tokenizer, ["Return the"], steps=60)
    with pytest.raises(ValueError, match="vocab_size 4 but the model"):
        sample_texts(model, CharTokenizer.from_text("abc"), ["a"], steps=3)
    with pytest.raises(TypeError, match="prompts must be a list of non-empty str"):
        sample_texts(model, tokenizer, "Return the", steps=3)
    with pytest.raises(TypeError, match="model must be a GPT, got str"):
        sample_texts("model", tokenizer, ["a"], steps=3)
    with pytest.raises(TypeError, match=r"settings\['hot'\] must be None \(greedy\) or a dict"):
        sample_texts(model, tokenizer, ["a"], steps=3, settings={"hot": 2.0})
