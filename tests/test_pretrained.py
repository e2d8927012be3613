"""The shipped models (lessons_lib/weights/, made by tools/make_weights.py): each scores, now,
exactly what its record says it scored on its test split, and its record says how it was made."""

from __future__ import annotations

import dataclasses
import datetime
import re

import pytest
import torch

from lessons_lib.data import DateTask, load_digits_split
from lessons_lib.metrics import classification_accuracy
from lessons_lib.pretrained import NAMES, load_date_model, load_digit_vit, weights_record
from lessons_lib.training import DateRecipe, date_accuracy, train_date_model
from lessons_lib.transformer import Transformer
from lessons_lib.vit import DIGITS_VIT, ViT


@pytest.fixture(scope="module")
def date_splits():
    """The recipe's validation and test dates, as train_date_model draws them (one step run)."""
    recipe = DateRecipe(**weights_record("date_model")["recipe"])
    _, _, splits = train_date_model(
        DateTask(), dataclasses.replace(recipe, max_steps=1), progress=False
    )
    return splits


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def test_the_date_model_scores_its_recorded_test_exact_match_now(date_splits):
    record = weights_record("date_model")
    model = load_date_model()
    test = date_accuracy(model, date_splits.test, DateTask().bos)
    assert len(date_splits.test.sources) == record["test_size"] == 1000
    assert round(test * record["test_size"]) == record["test_correct"]
    assert test == record["test"]
    assert record["test"] >= 0.99  # the bar for the page's model


def test_the_date_model_is_the_kept_steps_model(date_splits):
    record = weights_record("date_model")
    validation = date_accuracy(load_date_model(), date_splits.validation, DateTask().bos)
    assert validation == record["validation"]
    assert round(validation * record["validation_size"]) == record["validation_correct"]


def test_the_digit_vit_scores_its_recorded_test_accuracy_now(digits):
    _, validation, test = digits
    record = weights_record("digit_vit")
    model = load_digit_vit()
    assert classification_accuracy(model, test) == record["test"]
    assert len(test) == record["test_size"] and len(validation) == record["validation_size"]
    assert classification_accuracy(model, validation) == record["validation"]
    assert round(record["test"] * len(test)) == record["test_correct"]


def test_the_models_are_built_as_the_chapters_build_them():
    date, vit = load_date_model(), load_digit_vit()
    assert isinstance(date, Transformer) and isinstance(vit, ViT)
    assert not date.training and not vit.training
    assert weights_record("digit_vit")["model"] == DIGITS_VIT
    task, arguments = DateTask(), weights_record("date_model")["model"]
    assert arguments["vocab_size"] == task.vocab_size
    assert arguments["max_len"] == task.max_source_length
    assert load_date_model() is not date  # a new model each call: changing one spares the next


@pytest.mark.parametrize("name", NAMES)
def test_the_record_says_how_the_model_was_made(name):
    record = weights_record(name)
    assert record["name"] == name
    assert record["command"].startswith("python tools/make_weights.py")
    assert isinstance(record["seed"], int) and not isinstance(record["seed"], bool)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", record["torch"])
    assert re.fullmatch(r"3\.\d+\.\d+", record["python"])
    assert datetime.date.fromisoformat(record["date"]) <= datetime.date.today()
    assert record["seconds"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_the_log_holds_every_evaluation_and_the_kept_step_is_its_first_best(name):
    record = weights_record(name)
    steps, scores = record["log"]["eval_steps"], record["log"]["validation"]
    every = record["recipe"]["eval_every"]
    assert steps == list(range(0, record["steps"] + 1, every))
    assert len(scores) == len(steps) == len(record["log"]["train_loss"])
    assert all(0.0 <= score <= 1.0 for score in scores)
    best = max(scores)
    assert record["validation"] == best
    assert record["kept_step"] == steps[scores.index(best)]  # ties keep the earlier step


def test_the_date_model_ran_every_step_and_the_vit_stopped_on_patience():
    date = weights_record("date_model")
    assert date["steps"] == date["recipe"]["max_steps"] and not date["stopped_early"]
    assert date["recipe"]["target"] is None  # no stop at the chapter's 99%
    vit = weights_record("digit_vit")
    evaluations_after_best = (vit["steps"] - vit["kept_step"]) // vit["recipe"]["eval_every"]
    if vit["stopped_early"]:
        assert evaluations_after_best == vit["recipe"]["patience"]
    else:
        assert vit["steps"] == vit["recipe"]["max_steps"]


@pytest.mark.parametrize("load", [load_date_model, load_digit_vit])
def test_the_weights_are_float32_state_dicts(load):
    state = load().state_dict()
    assert state and all(value.dtype == torch.float32 for value in state.values())


def test_a_record_is_a_fresh_dict_each_call():
    record = weights_record("date_model")
    record["test"] = -1.0
    record["log"]["validation"].clear()
    again = weights_record("date_model")
    assert again["test"] >= 0.99 and again["log"]["validation"]


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("date", ValueError, r"name must be one of \('date_model', 'digit_vit'\), got 'date'"),
        ("Digit_ViT", ValueError, r"got 'Digit_ViT'"),
        ("", ValueError, r"got ''"),
        (3, TypeError, r"name must be a str, one of .*, got int"),
        (None, TypeError, r"got NoneType"),
    ],
)
def test_a_bad_name_is_refused_with_the_names_there_are(name, error, message):
    with pytest.raises(error, match=message):
        weights_record(name)
