"""Chapter 09's comparisons with more seeds: Table 8 on the digits, and codes stretched.

Run from the repository root: ``python bench/bench_position_codes.py``. The chapter
runs each kind of position code (none, 1-D, 2-D, sinusoidal, relative) from 3 seeds
to stay within its 20 s, too few to tell gaps of a few points apart; this runs the
same settings (``lessons_lib.experiments.DIGITS_POSITIONS_VIT``, fixed steps, test
scored once per run) from 12 seeds, and the stretching of the position task's codes
to a grid twice as large from 5 seeds. ``--runs`` is accepted for ``make bench`` and
ignored: the seeds are the repeats. The last line printed is one JSON object:

    {"position_codes": {"none": [...], ...}, "position_gaps": {"1d": [gap, half], ...},
     "position_stretch": {"1-D codes, stretched in 1-D": [[before, after], ...], ...}, ...}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import MarkPositionTask, load_digits_split
from lessons_lib.experiments import (
    DIGITS_POSITIONS_STEPS,
    DIGITS_POSITIONS_VIT,
    MARK_TASK_STEPS,
    MARK_TASK_VIT,
    compare_position_codes,
    evaluate_stretched,
    interval_95,
    paired_gap,
)

DIGIT_SEEDS = tuple(range(12))
STRETCH_SEEDS = tuple(range(5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="ignored: the sweeps have seeds")
    parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    train, _, test = load_digits_split()
    scores, _ = compare_position_codes(
        train,
        test,
        seeds=DIGIT_SEEDS,
        steps=DIGITS_POSITIONS_STEPS,
        progress=False,
        **DIGITS_POSITIONS_VIT,
    )
    gaps = {kind: paired_gap(scores, kind, "none") for kind in scores if kind != "none"}
    for kind, values in scores.items():
        mean, half = interval_95(values)
        gap = f"  minus none {gaps[kind][0]:+.3f} ± {gaps[kind][1]:.3f}" if kind in gaps else ""
        print(f"{kind:>10}: {mean:.3f} ± {half:.3f} ({len(values)} seeds){gap}")
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
        "position_codes": scores,
        "position_gaps": {kind: list(gap) for kind, gap in gaps.items()},
        "position_stretch": stretch,
        "position_codes_seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
