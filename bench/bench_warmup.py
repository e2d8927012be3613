"""Benchmark of chapter 05's warm-up runs: the full seed sweep the chapter shortens.

Trains the chapter's model (:func:`lessons_lib.experiments.add_norm.warmup_experiment`:
an encoder stack, post-norm or pre-norm, with or without learning-rate warm-up)
over 8 seeds at the chapter's learning rate (the chapter runs 3 seeds), and over
5 seeds at half that rate, where the effect should be weaker. Prints one line
per rate and setting (mean and range of the final losses over the seeds), then
ONE JSON object on its last line:

    warmup_final_losses     {lr: {setting: [final loss per seed]}}
    warmup_seconds          wall time of the whole sweep

A final loss is the mean training loss of a run's last 10 steps; a uniform
guess among the 10 digits scores ln 10 = 2.30. Nothing is asserted: `make bench`
reports, it does not fail.

    python bench/bench_warmup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from lessons_lib.experiments.add_norm import WarmupRecipe, final_losses, warmup_experiment

SEEDS = {WarmupRecipe().lr: range(8), WarmupRecipe().lr / 2: range(5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="accepted for run.py; seeds are fixed")
    parser.parse_args()
    start = time.perf_counter()
    result: dict = {"warmup_final_losses": {}}
    for lr, seeds in SEEDS.items():
        curves = warmup_experiment(list(seeds), replace(WarmupRecipe(), lr=lr), progress=False)
        finals = final_losses(curves)
        result["warmup_final_losses"][f"{lr:g}"] = finals
        for setting, values in finals.items():
            mean = sum(values) / len(values)
            print(
                f"lr={lr:g} {setting:20}: final loss mean {mean:.3f}, "
                f"range {min(values):.3f} to {max(values):.3f} over {len(values)} seeds",
                flush=True,
            )
    result["warmup_seconds"] = time.perf_counter() - start
    print(json.dumps(result))


if __name__ == "__main__":
    main()
