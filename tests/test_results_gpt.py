"""The GPT chapter's committed runs (lessons_lib/results/gpt.json): how the file was made,
that its numbers agree with each other, and a slice re-run against it."""

from __future__ import annotations

import dataclasses
import datetime
import math

import pytest
import torch

from lessons_lib.corpus import (
    END_OF_TEXT,
    SPLITS,
    CharTokenizer,
    corpus_text,
    encode_split,
    split_corpus,
    stdlib_docstrings,
)
from lessons_lib.experiments.gpt import CHAPTER_GPT, PROMPTS, SAMPLING_SETTINGS, recipe_settings
from lessons_lib.results import load_result
from lessons_lib.training import GPTRecipe, train_gpt

TOKENIZATIONS = ("characters", "bpe")


@pytest.fixture(scope="module")
def record():
    return load_result("gpt")


def test_the_file_says_how_it_was_made(record):
    assert record["name"] == "gpt"
    assert record["command"].startswith("python bench/results_gpt.py")
    assert "--steps" not in record["command"]  # the full run, not a quick check
    seeds = record["seeds"]
    assert len(seeds) >= 3 and len(set(seeds)) == len(seeds)  # enough for intervals
    assert record["torch"] and record["python"] and record["seconds"] > 0
    datetime.date.fromisoformat(record["date"])
    settings = dict(record["settings"])
    # made with the recipe the package holds now: change GPTRecipe and re-make the file
    recipe = recipe_settings(GPTRecipe())
    recipe.pop("seed")
    assert {key: settings[key] for key in recipe} == recipe
    assert settings["prompts"] == list(PROMPTS)
    assert settings["sampling_settings"] == SAMPLING_SETTINGS
    assert settings["split_seed"] == 0


def test_the_numbers_agree_with_each_other(record):
    comparison = record["data"]["comparison"]
    assert set(comparison) == set(TOKENIZATIONS)
    recipe = GPTRecipe()
    eval_steps = list(range(recipe.eval_every, recipe.steps + 1, recipe.eval_every))
    if eval_steps[-1] != recipe.steps:
        eval_steps.append(recipe.steps)
    for name in TOKENIZATIONS:
        report = comparison[name]
        for split in SPLITS:
            sizes = report["splits"][split]
            assert sizes["characters"] == comparison["characters"]["splits"][split]["characters"]
            assert sizes["characters_per_token"] == pytest.approx(
                sizes["characters"] / sizes["tokens"]
            )
        validation = report["splits"]["validation"]
        baselines = report["baselines"]
        assert baselines["uniform"] == pytest.approx(math.log(report["vocab_size"]))
        assert baselines["unigram_entropy"] < baselines["uniform"]
        assert [run["seed"] for run in report["per_seed"]] == record["seeds"]
        for run in report["per_seed"]:
            per_token = run["validation_loss_per_token"]
            per_character = run["validation_nats_per_character"]
            assert per_character == pytest.approx(
                per_token * validation["tokens"] / validation["characters"], rel=1e-12
            )
            assert run["perplexity_per_token"] == pytest.approx(math.exp(per_token))
            assert run["perplexity_per_character"] == pytest.approx(math.exp(per_character))
            # trained: clearly better than the best model that reads no context
            assert per_token < baselines["unigram_validation"] - 0.5
            curve = run["curve"]
            assert curve["eval_steps"] == eval_steps
            assert len(curve["validation_loss_per_token"]) == len(eval_steps)
            assert len(curve["train_loss_per_token"]) == len(eval_steps)
    assert comparison["bpe"]["splits"]["validation"]["characters_per_token"] > 1.5
    assert comparison["characters"]["splits"]["train"]["characters_per_token"] == 1.0


def test_the_samples_cover_every_setting_and_prompt(record):
    samples = record["data"]["samples"]
    assert set(samples) == set(TOKENIZATIONS)
    for by_setting in samples.values():
        assert set(by_setting) == set(SAMPLING_SETTINGS)
        for by_prompt in by_setting.values():
            assert set(by_prompt) == set(PROMPTS)
            assert all(END_OF_TEXT not in text for text in by_prompt.values())


def test_the_chapter_recipe_learns_within_its_budget(record):
    chapter = record["data"]["chapter"]
    recipe = recipe_settings(CHAPTER_GPT)
    assert {key: value for key, value in chapter["recipe"].items() if key != "seed"} == {
        key: value for key, value in recipe.items() if key != "seed"
    }
    assert chapter["validation_loss_per_token"] < chapter["baselines"]["unigram_validation"] - 1
    assert chapter["curve"]["eval_steps"][-1] == CHAPTER_GPT.steps


def test_the_first_evaluation_of_the_character_run_agrees_with_the_file(record):
    first_run = record["data"]["comparison"]["characters"]["per_seed"][0]
    first_step = first_run["curve"]["eval_steps"][0]
    recipe = GPTRecipe()
    # within the warm-up the rate does not depend on the total steps, so a run cut short
    # at the first evaluation takes exactly the committed run's first steps
    assert recipe.warmup_steps >= first_step
    short = dataclasses.replace(recipe, seed=record["seeds"][0], steps=first_step)
    splits = split_corpus(stdlib_docstrings(), seed=record["settings"]["split_seed"])
    tokenizer = CharTokenizer.from_text(corpus_text(splits["train"]))
    train, validation = (encode_split(tokenizer, splits[name]) for name in ("train", "validation"))
    _, history = train_gpt(train, validation, tokenizer.vocab_size, short, progress=False)
    ours = (history.scores[0], history.losses[first_step - 1])
    theirs = (
        first_run["curve"]["validation_loss_per_token"][0],
        first_run["curve"]["train_loss_per_token"][0],
    )
    if record["torch"] == torch.__version__:
        assert ours == pytest.approx(theirs, rel=1e-5)
    else:  # another torch may round differently along the 100 steps
        assert ours == pytest.approx(theirs, abs=0.05)
