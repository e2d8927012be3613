"""Chapter 10's committed Table 8 run (lessons_lib/results/position_codes.json): how it was
made, what it holds, and one seed of two kinds re-run against it."""

from __future__ import annotations

import datetime
import itertools

import pytest
import torch

from lessons_lib.experiments.position_codes import (
    DIGITS_POSITIONS_TRAINING,
    DIGITS_POSITIONS_VIT,
    compare_position_codes,
)
from lessons_lib.results import load_result
from lessons_lib.vit import POSITION_KINDS


@pytest.fixture(scope="module")
def record():
    return load_result("position_codes")


def test_the_file_says_how_it_was_made(record):
    assert record["name"] == "position_codes"
    assert record["command"].startswith("python bench/results_position_codes.py")
    assert len(record["seeds"]) >= 8 and len(set(record["seeds"])) == len(record["seeds"])
    assert all(isinstance(seed, int) for seed in record["seeds"])
    assert record["torch"] and record["python"] and record["seconds"] > 0
    datetime.date.fromisoformat(record["date"])
    # made with the settings the package holds now: change them and the file must be re-made
    assert record["settings"] == DIGITS_POSITIONS_TRAINING
    assert record["data"]["vit"] == DIGITS_POSITIONS_VIT


def test_the_file_holds_every_kind_and_seed_trained_to_its_best(record):
    data, n_seeds = record["data"], len(record["seeds"])
    assert list(data["test"]) == list(POSITION_KINDS) == list(data["best_steps"])
    n_test, settings = data["test_images"], record["settings"]
    for kind in POSITION_KINDS:
        assert len(data["test"][kind]) == len(data["best_steps"][kind]) == n_seeds
        # each accuracy is a whole number of test images out of test_images
        assert all(abs(v * n_test - round(v * n_test)) < 1e-6 for v in data["test"][kind])
        # each best step is an evaluation's step, and no run was cut short by the cap
        steps = data["best_steps"][kind]
        assert all(step % settings["eval_every"] == 0 for step in steps)
        assert 0 < min(steps) and max(steps) < settings["steps"]


def test_one_seed_of_two_kinds_agrees_with_the_file(record):
    from lessons_lib.data import load_digits_split

    data = record["data"]
    # the seed and two kinds whose runs stopped soonest, so the test takes as few steps as it
    # can (every run of the file is one call of the same code; any of them checks the file)
    index, kinds = min(
        itertools.product(range(len(record["seeds"])), itertools.combinations(POSITION_KINDS, 2)),
        key=lambda pick: sum(data["best_steps"][kind][pick[0]] for kind in pick[1]),
    )
    seed = record["seeds"][index]
    train, validation, test = load_digits_split()
    assert len(test) == data["test_images"] and len(validation) == data["validation_images"]
    best_steps: dict[str, list[int]] = {}
    with torch.random.fork_rng():
        scores, _ = compare_position_codes(
            train,
            test,
            kinds=kinds,
            seeds=(seed,),
            validation=validation,
            best_steps=best_steps,
            progress=False,
            **record["settings"],
            **data["vit"],
        )
    same_torch = record["torch"] == torch.__version__
    for kind in kinds:
        ours, committed = scores[kind][0], data["test"][kind][index]
        if same_torch:  # the same code and torch: the same run, to the last image and step
            assert ours == committed, (kind, ours, committed)
            assert best_steps[kind][0] == data["best_steps"][kind][index]
        else:  # another torch may round differently: within two test images
            assert abs(ours - committed) <= 2 / data["test_images"] + 1e-9, (kind, ours)
