"""The appendix's ViT against a CNN, each trained to its best: lessons_lib/results/vit_vs_cnn.json.

Run from the repository root (``make results`` runs it with the position-code runs)::

    python bench/results_vit_vs_cnn.py            # the committed file: 10 seeds, ~8 min
    python bench/results_vit_vs_cnn.py --seeds 2 --folder /tmp/check

Every run trains until its validation accuracy stops rising (early stopping, see
``lessons_lib.training.train_to_best``), so the larger training sets are not cut short
by a fixed budget, and is scored once on the test split and on its own training subset.
The appendix (``book/12_vit_scale.ipynb``) executes in at most 20 s, so it reads this file
instead of re-running the sweep; ``tests/test_results.py`` re-runs one seed of the smallest
size and checks that it agrees with the file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.data import load_digits_split
from lessons_lib.experiments.vit_scale import compare_vit_and_cnn
from lessons_lib.intervals import interval_95
from lessons_lib.results import save_result

SIZES = (50, 100, 200, 400)  # and every training image
SETTINGS = {"lr": 3e-3, "batch_size": 32, "eval_every": 50, "patience": 6, "max_steps": 3000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--folder", type=Path, default=None, help="write here, not the package")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, validation, test = load_digits_split()
    sizes = (*SIZES, len(train))
    seeds = tuple(range(args.seeds))
    start = time.perf_counter()
    sweep = compare_vit_and_cnn(train, validation, test, sizes, seeds, progress=True, **SETTINGS)
    seconds = time.perf_counter() - start
    for model in sweep["test"]:
        for size in sizes:
            mean, half = interval_95(sweep["test"][model][size])
            fit = sum(sweep["train"][model][size]) / len(seeds)
            print(f"{model} {size:5d} images: test {mean:.3f} ± {half:.3f}, train {fit:.3f}")
    data = {
        measure: {model: {str(size): values for size, values in by_size.items()}
                  for model, by_size in by_model.items()}
        for measure, by_model in sweep.items()
    }  # fmt: skip
    data["sizes"] = list(sizes)
    data["test_images"] = len(test)
    path = save_result(
        "vit_vs_cnn",
        data,
        seeds=list(seeds),
        command="python bench/results_vit_vs_cnn.py"
        + (f" --seeds {args.seeds}" if args.seeds != 10 else ""),
        settings=SETTINGS,
        seconds=seconds,
        folder=args.folder,
    )
    print(f"wrote {path} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
