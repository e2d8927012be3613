"""Benchmark of the toy Transformer: training time to target, and the key/value cache.

Prints progress lines, then ONE JSON object on its last line:

    transformer_seconds_to_target  median wall time until held-out exact-sequence accuracy >= target
    transformer_accuracy           median held-out accuracy when training stopped
    target                         the accuracy target (0.99)
    cache_speedup_32 / _64         uncached / cached decoding time for 32 / 64 output tokens
    cache_tokens_equal             cached decoding gave exactly the uncached tokens, every time

Nothing is asserted: `make bench` reports, it does not fail.

    python bench/bench_transformer.py [--runs 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from lessons_lib.data import ReversalTask
from lessons_lib.decoding import generate
from lessons_lib.metrics import exact_match_accuracy
from lessons_lib.training import ToyRecipe, train_reversal_model
from lessons_lib.transformer import Transformer


def training(runs: int) -> tuple[float | None, float]:
    """Median seconds to target and median test accuracy over ``runs`` seeds.

    Training stops when the validation score reaches the target; the test split
    is scored once afterwards, and a run counts as reaching the target only if
    its test score does too.
    """
    seconds, scores = [], []
    task = ReversalTask()
    for seed in range(runs):
        recipe = ToyRecipe(seed=seed)
        model, history, splits = train_reversal_model(task, recipe, progress=False)
        test_accuracy = exact_match_accuracy(model, *splits.test, task.bos)
        reached = history.seconds_to_target if test_accuracy >= recipe.target else None
        print(
            f"training seed {seed}: {history.eval_steps[-1]} steps, validation "
            f"{history.final_score:.3f}, test {test_accuracy:.3f}, to target: "
            + (f"{reached:.2f} s" if reached is not None else "not reached"),
            flush=True,
        )
        seconds.append(reached if reached is not None else float("inf"))
        scores.append(test_accuracy)
    median = statistics.median(seconds)
    return (median if median != float("inf") else None), statistics.median(scores)


def cache_speedup(steps: int, repeat: int) -> tuple[float, bool]:
    """Median uncached / cached time to decode ``steps`` tokens greedily, and token equality."""
    torch.manual_seed(0)
    recipe = ToyRecipe()
    model = Transformer(
        11, recipe.d_model, recipe.num_heads, 2, recipe.d_ff, max_len=max(steps, 64)
    ).eval()
    source = torch.randint(0, 10, (8, 64), generator=torch.Generator().manual_seed(1))
    times = {True: [], False: []}
    equal = True
    for _ in range(repeat):
        tokens = {}
        for use_cache in (False, True):
            start = time.perf_counter()
            tokens[use_cache] = generate(model, source, 10, steps=steps, use_cache=use_cache).tokens
            times[use_cache].append(time.perf_counter() - start)
        equal = equal and torch.equal(tokens[True], tokens[False])
    speedup = statistics.median(times[False]) / statistics.median(times[True])
    print(
        f"decoding {steps} tokens: uncached {statistics.median(times[False]) * 1e3:.1f} ms, "
        f"cached {statistics.median(times[True]) * 1e3:.1f} ms, speed-up {speedup:.2f}x, "
        f"same tokens: {equal}",
        flush=True,
    )
    return speedup, equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="training runs (seeds 0..runs-1)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    seconds, accuracy = training(args.runs)
    speedup_32, equal_32 = cache_speedup(32, repeat=5)
    speedup_64, equal_64 = cache_speedup(64, repeat=5)
    result = {
        "transformer_seconds_to_target": seconds,
        "transformer_accuracy": accuracy,
        "target": ToyRecipe().target,
        "cache_speedup_32": speedup_32,
        "cache_speedup_64": speedup_64,
        "cache_tokens_equal": equal_32 and equal_64,
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
