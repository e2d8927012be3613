"""Chapter 06's date recipe, chosen on validation dates only: lessons_lib/results/date_recipe.json.

Run from the repository root (``make results`` runs it with the other long runs)::

    python bench/results_date_recipe.py            # the committed file: 9 settings x 3 seeds
    python bench/results_date_recipe.py --seeds 1 --folder /tmp/check

The model's size stays the chapter's (``DateRecipe``: one layer on each side, d_model 32,
4 heads, d_ff 64, warm-up 100 steps). Every pair of learning rate and batch size in
``LEARNING_RATES`` x ``BATCH_SIZES`` trains from each seed until ``DateRecipe.target`` of the
validation dates come out exactly right, or ``DateRecipe.max_steps`` is spent. A setting's
cost is the number of training dates it reads before it gets there (steps x batch size; a run
that never gets there counts as infinite); the setting with the lowest median cost over the
seeds wins, and ``DateRecipe``'s defaults must be that winner (``tests/test_results_date_recipe.py``
checks it and re-runs a slice). No run here scores a test date: the test split is scored once,
by the chapter and by ``bench/bench_dates.py``, with the recipe this file chose.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import DateTask
from lessons_lib.results import save_result
from lessons_lib.training import DateRecipe, train_date_model

LEARNING_RATES = (2e-3, 5e-3, 1e-2)
BATCH_SIZES = (32, 64, 128)


def setting_name(lr: float, batch_size: int) -> str:
    """The key of one setting in the file: ``"lr=0.005 batch=64"``."""
    return f"lr={lr:g} batch={batch_size}"


def run_setting(task: DateTask, lr: float, batch_size: int, seed: int) -> dict[str, object]:
    """Train one recipe from one seed; what the file keeps of the run (no test score)."""
    recipe = dataclasses.replace(DateRecipe(), lr=lr, batch_size=batch_size, seed=seed)
    _, history, _ = train_date_model(task, recipe, progress=False)
    reached = history.final_score is not None and history.final_score >= recipe.target
    return {
        "steps": history.steps[-1],
        "reached": reached,
        "dates_read": history.steps[-1] * batch_size if reached else None,
        "validation_scores": history.scores,
        "eval_steps": history.eval_steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--folder", type=Path, default=None, help="write here, not the package")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = DateTask()
    seeds = tuple(range(args.seeds))
    runs: dict[str, list[dict[str, object]]] = {}
    start = time.perf_counter()
    for lr, batch_size in itertools.product(LEARNING_RATES, BATCH_SIZES):
        name = setting_name(lr, batch_size)
        runs[name] = []
        for seed in seeds:
            run = run_setting(task, lr, batch_size, seed)
            runs[name].append(run)
            print(
                f"{name:>18} seed {seed}: {run['steps']:5} steps, validation "
                f"{run['validation_scores'][-1]:.3f}, dates read {run['dates_read']}",
                flush=True,
            )
    costs = {
        name: statistics.median(
            run["dates_read"] if run["dates_read"] is not None else float("inf") for run in group
        )
        for name, group in runs.items()
    }
    winner = min(costs, key=costs.__getitem__)
    print(f"chosen on validation: {winner} (median {costs[winner]:,.0f} dates read)")
    seconds = time.perf_counter() - start
    base = DateRecipe()
    data = {
        "runs": runs,
        "median_dates_read": {k: (v if v != float("inf") else None) for k, v in costs.items()},
        "chosen": winner,
        "split_seed": task.split_seed,
        "validation_size": base.validation_size,
    }
    fixed = dataclasses.asdict(base)
    for varied in ("lr", "batch_size", "seed", "test_size"):
        fixed.pop(varied)
    settings = {
        "learning_rates": list(LEARNING_RATES),
        "batch_sizes": list(BATCH_SIZES),
        **fixed,
    }
    path = save_result(
        "date_recipe",
        data,
        seeds=list(seeds),
        command="python bench/results_date_recipe.py"
        + (f" --seeds {args.seeds}" if args.seeds != 3 else ""),
        settings=settings,
        seconds=seconds,
        folder=args.folder,
    )
    print(f"wrote {path} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
