"""The committed results (lessons_lib/results/*.json): how they are written and read, and a
slice of chapter 11's ViT-against-CNN sweep re-run against its file."""

from __future__ import annotations

import datetime
import json

import pytest
import torch

from lessons_lib.results import RESULTS, available, load_result, save_result


def test_save_and_load_round_trip_with_how_it_was_made(tmp_path):
    path = save_result(
        "demo_run",
        {"scores": [0.5, 0.75]},
        seeds=[0, 1],
        command="python bench/demo.py",
        settings={"steps": 10},
        seconds=1.234,
        folder=tmp_path,
    )
    assert path == tmp_path / "demo_run.json"
    record = load_result("demo_run", folder=tmp_path)
    assert record["data"] == {"scores": [0.5, 0.75]}
    assert record["seeds"] == [0, 1] and record["settings"] == {"steps": 10}
    assert record["torch"] == torch.__version__ and record["seconds"] == 1.2
    assert record["date"] == datetime.date.today().isoformat()
    assert record["command"] == "python bench/demo.py"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f: save_result("a b", {}, seeds=[0], command="x", folder=f), ValueError,
         r"name must be letters, digits and underscores .* got 'a b'"),
        (lambda f: save_result(3, {}, seeds=[0], command="x", folder=f), TypeError,
         r"name must be a str such as 'vit_vs_cnn', got int"),
        (lambda f: save_result("a", [1], seeds=[0], command="x", folder=f), TypeError,
         r"data must be a mapping .* got list"),
        (lambda f: save_result("a", {}, seeds=[], command="x", folder=f), ValueError,
         r"seeds must be a non-empty sequence of ints, got \[\]"),
        (lambda f: save_result("a", {}, seeds=[0.5], command="x", folder=f), TypeError,
         r"seeds must be ints, got \[0.5\]"),
        (lambda f: save_result("a", {}, seeds=[0], command=" ", folder=f), ValueError,
         r"command must say how to re-make the file"),
        (lambda f: save_result("a", {"x": float("nan")}, seeds=[0], command="x", folder=f),
         ValueError, r"Out of range float values are not JSON compliant"),
        (lambda f: load_result("missing", folder=f), ValueError,
         r"no committed result 'missing' in .*; the results are \["),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_what_was_expected(tmp_path, call, error, message):
    with pytest.raises(error, match=message):
        call(tmp_path)


def test_every_committed_result_says_how_it_was_made():
    assert "vit_vs_cnn" in available()
    for name in available():
        record = load_result(name)
        assert record["name"] == name
        assert record["seeds"] and all(isinstance(seed, int) for seed in record["seeds"])
        assert record["command"].startswith("python bench/results_")
        datetime.date.fromisoformat(record["date"])
        assert record["torch"] and record["python"] and record["data"]


def test_vit_vs_cnn_file_holds_every_size_seed_and_model():
    record = load_result("vit_vs_cnn")
    data, seeds = record["data"], record["seeds"]
    assert len(seeds) >= 5  # issue 22: at least five seeds
    for measure in ("test", "train", "steps"):
        for model in ("ViT", "CNN"):
            assert sorted(data[measure][model], key=int) == [str(s) for s in data["sizes"]]
            assert all(len(v) == len(seeds) for v in data[measure][model].values())
    for model in ("ViT", "CNN"):
        for values in data["test"][model].values():
            # each accuracy is a whole number of test images out of test_images
            assert all(abs(v * data["test_images"] - round(v * data["test_images"])) < 1e-6
                       for v in values)  # fmt: skip
        # trained to convergence, not cut short: no run used its whole step budget
        assert all(max(steps) < record["settings"]["max_steps"]
                   for steps in data["steps"][model].values())  # fmt: skip


def test_a_slice_of_the_vit_vs_cnn_sweep_agrees_with_its_file():
    from lessons_lib.data import load_digits_split
    from lessons_lib.experiments.vit_scale import compare_vit_and_cnn

    record = load_result("vit_vs_cnn")
    size, seed = min(record["data"]["sizes"]), record["seeds"][0]
    train, validation, test = load_digits_split()
    with torch.random.fork_rng():
        sweep = compare_vit_and_cnn(
            train, validation, test, (size,), (seed,), progress=False, **record["settings"]
        )
    same_torch = record["torch"] == torch.__version__
    for measure in ("test", "train"):
        for model in ("ViT", "CNN"):
            ours = sweep[measure][model][size][0]
            committed = record["data"][measure][model][str(size)][0]
            if same_torch:  # the same code and torch: the same run, to the last image
                assert ours == committed, (measure, model, ours, committed)
            else:  # another torch may round differently: within two test images
                assert abs(ours - committed) <= 2 / record["data"]["test_images"] + 1e-9
    if same_torch:
        for model in ("ViT", "CNN"):
            assert sweep["steps"][model][size][0] == record["data"]["steps"][model][str(size)][0]


def test_the_files_are_plain_json_with_no_nan():
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in a committed result")

    for name in available():
        json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"), parse_constant=refuse)
