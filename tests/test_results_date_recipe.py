"""Chapter 06's committed recipe choice (lessons_lib/results/date_recipe.json): how it was made,
that DateRecipe holds the setting it chose on validation dates, and a slice re-run against it."""

from __future__ import annotations

import dataclasses
import datetime
import statistics

import pytest
import torch

from lessons_lib.data import DateTask
from lessons_lib.results import load_result
from lessons_lib.training import DateRecipe, train_date_model


@pytest.fixture(scope="module")
def record():
    return load_result("date_recipe")


def _median_cost(runs):
    return statistics.median(
        run["dates_read"] if run["dates_read"] is not None else float("inf") for run in runs
    )


def test_the_file_says_how_it_was_made(record):
    assert record["name"] == "date_recipe"
    assert record["command"].startswith("python bench/results_date_recipe.py")
    assert len(record["seeds"]) >= 3 and len(set(record["seeds"])) == len(record["seeds"])
    assert record["torch"] and record["python"] and record["seconds"] > 0
    datetime.date.fromisoformat(record["date"])
    # made with the fixed settings the package holds now: change them and re-make the file
    fixed = dataclasses.asdict(DateRecipe())
    for varied in ("lr", "batch_size", "seed", "test_size"):
        fixed.pop(varied)
    settings = dict(record["settings"])
    grid = {key: settings.pop(key) for key in ("learning_rates", "batch_sizes")}
    # options added after the file was made: its runs had them off, so DateRecipe must too
    off = {"label_smoothing": 0.0, "weight_decay": 0.0, "schedule": "warmup", "dropout": 0.0}
    for added, value in off.items():
        settings.setdefault(added, value)
    assert settings == fixed
    assert len(grid["learning_rates"]) * len(grid["batch_sizes"]) == len(record["data"]["runs"])
    # on the split the book uses, whose test dates took part in no choice
    assert record["data"]["split_seed"] == DateTask().split_seed


def test_date_recipe_holds_the_setting_chosen_on_validation(record):
    data = record["data"]
    costs = {name: _median_cost(runs) for name, runs in data["runs"].items()}
    chosen = min(costs, key=costs.__getitem__)
    assert data["chosen"] == chosen
    assert costs[chosen] < float("inf"), "no setting reached the target on validation"
    recipe = DateRecipe()
    assert chosen == f"lr={recipe.lr:g} batch={recipe.batch_size}"
    for name, runs in data["runs"].items():
        assert len(runs) == len(record["seeds"])
        for run in runs:
            # a validation curve only: the sweep never scores a test date
            assert set(run) == {"steps", "reached", "dates_read", "validation_scores", "eval_steps"}
            assert len(run["validation_scores"]) == len(run["eval_steps"])
            assert run["reached"] == (run["validation_scores"][-1] >= recipe.target)
            batch = int(name.rsplit("=", 1)[1])
            assert run["dates_read"] == (run["steps"] * batch if run["reached"] else None)


def test_the_chosen_setting_s_first_evaluations_agree_with_the_file(record):
    data = record["data"]
    recipe = DateRecipe()
    first_run = data["runs"][data["chosen"]][0]
    seed = record["seeds"][0]
    evaluations = 2
    steps = first_run["eval_steps"][evaluations - 1]
    short = dataclasses.replace(recipe, seed=seed, max_steps=steps, target=None)
    _, history, _ = train_date_model(DateTask(), short, progress=False)
    assert history.eval_steps == first_run["eval_steps"][:evaluations]
    ours, theirs = history.scores, first_run["validation_scores"][:evaluations]
    if record["torch"] == torch.__version__:
        assert ours == theirs
    else:  # another torch may round differently: allow five of the 1,000 validation dates
        assert all(abs(a - b) <= 5 / recipe.validation_size for a, b in zip(ours, theirs))
