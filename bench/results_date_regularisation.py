"""The paper's recipe on the date task, 5 seeds: lessons_lib/results/date_regularisation.json.

Run from the repository root::

    python bench/results_date_regularisation.py      # the committed file: 6 settings x 5 seeds
    python bench/results_date_regularisation.py --seeds 2 --steps 50 --folder /tmp/check

Six settings of chapter 06's date model (``DateRecipe``, its defaults otherwise): the
``baseline``, ``label smoothing 0.1`` (the paper's epsilon), ``dropout 0.1`` (the paper's
P_drop), ``both``, ``weight decay 0.1`` (AdamW's decoupled decay at nanoGPT's and GPT-3's
value; the paper used none) and ``inverse sqrt schedule`` (the paper's warm-up then inverse
square-root decay, with the recipe's ``lr`` as its peak, in place of warm-up then constant).
Every run trains from its seed (which also fixes dropout's masks) for the SAME fixed number of
steps (``--steps``, default 1,500, below ``DateRecipe.max_steps``) with no early stopping, so every
setting gets the same budget of training dates; it is scored once, at the end, on the
validation dates: exact match of the greedy decode (``date_accuracy``), the expected
calibration error of its next-character predictions under teacher forcing
(``date_calibration``) and their plain cross-entropy (no smoothing). No run scores a test
date: the test split is scored once, in the chapter, for the recipe it keeps.

Each setting is compared with the baseline seed by seed (``paired_gap``: the runs of one
seed share their initial weights, batches and validation dates); a gap whose 95% interval
holds 0 is one these seeds cannot resolve. ``--settings`` runs a subset.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import DateTask
from lessons_lib.intervals import interval_95, paired_gap
from lessons_lib.metrics import date_calibration
from lessons_lib.results import save_result
from lessons_lib.training import DateRecipe, date_loss, train_date_model

SETTINGS: dict[str, dict[str, float | str]] = {
    "baseline": {},
    "label smoothing 0.1": {"label_smoothing": 0.1},
    "dropout 0.1": {"dropout": 0.1},
    "both": {"label_smoothing": 0.1, "dropout": 0.1},
    "weight decay 0.1": {"weight_decay": 0.1},
    "inverse sqrt schedule": {"schedule": "inverse_sqrt"},
}
BASELINE = "baseline"
VARIED = ("label_smoothing", "dropout", "weight_decay", "schedule")  # the fields SETTINGS change
STEPS = 1500
SCORES = ("exact_match", "calibration_error", "cross_entropy")  # validation, per seed


def recipe_for(name: str, seed: int, steps: int) -> DateRecipe:
    """``DateRecipe()`` with setting ``name``'s changes, ``steps`` fixed steps, no early stop."""
    return dataclasses.replace(
        DateRecipe(), seed=seed, max_steps=steps, eval_every=steps, target=None, **SETTINGS[name]
    )


def run_setting(task: DateTask, name: str, seed: int, steps: int) -> dict[str, float]:
    """Train setting ``name`` from ``seed`` for ``steps`` steps; its validation scores."""
    recipe = recipe_for(name, seed, steps)
    model, history, splits = train_date_model(task, recipe, progress=False)
    assert history.steps[-1] == steps and history.eval_steps == [steps]  # the full budget
    with torch.no_grad():
        loss = date_loss(model, splits.validation, task.bos)  # model in eval mode: no dropout
    return {
        "exact_match": history.scores[-1],
        "calibration_error": date_calibration(model, splits.validation, task.bos),
        "cross_entropy": float(loss),
        "final_training_loss": history.losses[-1],
    }


def summarise(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, object]]:
    """Per setting and score: the mean and 95% half-width, and the paired gap to the baseline."""
    summary: dict[str, dict[str, object]] = {}
    for name, group in runs.items():
        summary[name] = {}
        for score in SCORES:
            values = [run[score] for run in group]
            mean, half = interval_95(values)
            entry: dict[str, object] = {"mean": mean, "half_width": half}
            if name != BASELINE and BASELINE in runs:
                per_seed = {kind: [run[score] for run in runs[kind]] for kind in (name, BASELINE)}
                gap, gap_half = paired_gap(per_seed, name, BASELINE)
                entry.update(
                    gap=gap, gap_half_width=gap_half, resolved=abs(gap) > gap_half
                )  # resolved: the interval of the gap excludes 0
            summary[name][score] = entry
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"steps per run ({STEPS})")
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
        help="run only these settings (default: all six)",
    )  # fmt: skip
    parser.add_argument("--folder", type=Path, default=None, help="write here, not the package")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (an interval needs two runs), got {args.seeds}")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    torch.set_num_threads(1)
    task = DateTask()
    seeds = tuple(range(args.seeds))
    runs: dict[str, list[dict[str, float]]] = {}
    start = time.perf_counter()
    for name in args.settings:
        runs[name] = []
        for seed in seeds:
            began = time.perf_counter()
            run = run_setting(task, name, seed, args.steps)
            runs[name].append(run)
            print(
                f"{name:>20} seed {seed}: exact match {run['exact_match']:.3f}, "
                f"ECE {run['calibration_error']:.4f}, cross-entropy {run['cross_entropy']:.4f} "
                f"({time.perf_counter() - began:.1f} s)",
                flush=True,
            )
    summary = summarise(runs)
    for name, scores in summary.items():
        for score, entry in scores.items():
            line = f"{name:>20} {score:>17}: {entry['mean']:.4f} ± {entry['half_width']:.4f}"
            if "gap" in entry:
                verdict = "resolved" if entry["resolved"] else "not resolved (holds 0)"
                line += (
                    f"; gap to baseline {entry['gap']:+.4f} ± {entry['gap_half_width']:.4f}, "
                    f"{verdict}"
                )
            print(line)
    seconds = time.perf_counter() - start
    base = recipe_for(BASELINE, 0, args.steps)
    fixed = dataclasses.asdict(base)
    for varied in ("seed", "test_size", *VARIED):
        fixed.pop(varied)
    data = {
        "runs": runs,
        "summary": summary,
        "split_seed": task.split_seed,
        "validation_size": base.validation_size,
    }
    command = "python bench/results_date_regularisation.py"
    if args.seeds != 5:
        command += f" --seeds {args.seeds}"
    if args.steps != STEPS:
        command += f" --steps {args.steps}"
    if args.settings != list(SETTINGS):
        command += " --settings " + " ".join(repr(name) for name in args.settings)
    path = save_result(
        "date_regularisation",
        data,
        seeds=list(seeds),
        command=command,
        settings={"settings": {name: SETTINGS[name] for name in args.settings}, **fixed},
        seconds=seconds,
        folder=args.folder,
    )
    print(f"wrote {path} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
