"""The appendix's stretched codes (``book/12_vit_scale.ipynb``) with more seeds.

Run from the repository root: ``python bench/bench_position_codes.py``. The appendix
stretches the codes of one position-task model of chapter 10 per kind to a grid twice as
large; this repeats that from 5 seeds. (Table 8 on the digits, every kind trained to its
best from 8 seeds, is ``bench/results_position_codes.py``, whose committed file chapter 10
reads.)
``--runs`` is accepted for ``make bench`` and ignored: the seeds are the repeats. The last
line printed is one JSON object:

    {"position_stretch": {"1-D codes, stretched in 1-D": [[before, after], ...], ...}, ...}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import MarkPositionTask
from lessons_lib.experiments.position_codes import (
    MARK_TASK_STEPS,
    MARK_TASK_VIT,
    compare_position_codes,
)
from lessons_lib.experiments.vit_scale import evaluate_stretched

STRETCH_SEEDS = tuple(range(5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="ignored: the sweeps have seeds")
    parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    task = MarkPositionTask(image_size=8, patch_size=2, noise=0.1)
    mark_train = task.sample(2000, torch.Generator().manual_seed(0))
    mark_test = task.sample(500, torch.Generator().manual_seed(1))
    stretch: dict[str, list[list[float]]] = {}
    for seed in STRETCH_SEEDS:
        _, models = compare_position_codes(
            mark_train,
            mark_test,
            kinds=("none", "1d", "2d"),
            seeds=(seed,),
            steps=MARK_TASK_STEPS,
            progress=False,
            **MARK_TASK_VIT,
        )
        for label, pair in evaluate_stretched(models, mark_test).items():
            stretch.setdefault(label, []).append(list(pair))
    for label, pairs in stretch.items():
        after = [pair[1] for pair in pairs]
        print(f"{label}: after stretching {min(after):.3f}-{max(after):.3f} over the seeds")
    result = {
        "position_stretch": stretch,
        "position_codes_seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
