"""Chapter 10's Table 8 on the digits, a 4x4 grid, 8 seeds: lessons_lib/results/position_codes.json.

Run from the repository root (``make results`` runs it with the appendix's runs)::

    python bench/results_position_codes.py            # the committed file: 8 seeds, ~10 min
    python bench/results_position_codes.py --seeds 2 --folder /tmp/check

Each kind of position code (``lessons_lib.vit.POSITION_KINDS``: none, 1-D, 2-D,
sinusoidal, relative) trains the same small ViT (``DIGITS_POSITIONS_VIT``: 2x2 patches, so a
4x4 grid) from every seed. Every run trains to its best on the validation split
(``compare_position_codes`` with a validation split, which calls ``train_to_best``, with
``DIGITS_POSITIONS_TRAINING``) and is scored once on the test split with its best weights.
The chapter executes in at most 20 s, so it reads this file instead of training 40 models;
``tests/test_results_position_codes.py`` re-runs one seed of two kinds and checks that it
agrees with the file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import load_digits_split
from lessons_lib.experiments.position_codes import (
    DIGITS_POSITIONS_TRAINING,
    DIGITS_POSITIONS_VIT,
    compare_position_codes,
)
from lessons_lib.intervals import interval_95, paired_gap
from lessons_lib.results import save_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 (default 8)")
    parser.add_argument("--folder", type=Path, default=None, help="write here, not the package")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (an interval needs two runs), got {args.seeds}")
    torch.set_num_threads(1)
    train, validation, test = load_digits_split()
    seeds = tuple(range(args.seeds))
    best_steps: dict[str, list[int]] = {}
    start = time.perf_counter()
    scores, _ = compare_position_codes(
        train,
        test,
        seeds=seeds,
        validation=validation,
        best_steps=best_steps,
        progress=True,
        **DIGITS_POSITIONS_TRAINING,
        **DIGITS_POSITIONS_VIT,
    )
    seconds = time.perf_counter() - start
    for kind, values in scores.items():
        mean, half = interval_95(values)
        gap = ""
        if kind != "none":
            gap = "  minus none {:+.3f} ± {:.3f}".format(*paired_gap(scores, kind, "none"))
        steps = sorted(best_steps[kind])
        print(f"{kind:>10}: {mean:.3f} ± {half:.3f}{gap}  best steps {steps[0]}-{steps[-1]}")
    data = {
        "test": scores,
        "best_steps": best_steps,
        "test_images": len(test),
        "validation_images": len(validation),
        "vit": DIGITS_POSITIONS_VIT,
    }
    path = save_result(
        "position_codes",
        data,
        seeds=list(seeds),
        command="python bench/results_position_codes.py"
        + (f" --seeds {args.seeds}" if args.seeds != 8 else ""),
        settings=DIGITS_POSITIONS_TRAINING,
        seconds=seconds,
        folder=args.folder,
    )
    print(f"wrote {path} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
