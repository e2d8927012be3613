"""Benchmark of the date model: training time until 99% of the test dates come out exactly.

Prints progress lines, then ONE JSON object on its last line:

    dates_seconds_to_target  median wall time until the validation score reached the
                             stopping target, counting a run only if its test score
                             (scored once, after training) reaches 99%; null when the
                             median run did not
    dates_accuracy           median exact-match accuracy on the test dates
    dates_steps              median training steps
    dates_goal               the test goal (0.99)

The recipe itself was chosen on validation dates only, by bench/results_date_recipe.py;
this benchmark times it and scores the test dates once per run, choosing nothing.
Nothing is asserted: `make bench` reports, it does not fail. Training runs on one
thread (``train_date_model`` uses ``one_thread``), as the model is too small to share.

    python bench/bench_dates.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from lessons_lib.data import DateTask
from lessons_lib.training import DateRecipe, date_accuracy, train_date_model

GOAL = 0.99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="training runs (seeds 0..runs-1)")
    args = parser.parse_args()
    task = DateTask()
    seconds, scores, steps = [], [], []
    for seed in range(args.runs):
        model, history, splits = train_date_model(task, DateRecipe(seed=seed), progress=False)
        test_accuracy = date_accuracy(model, splits.test, task.bos)
        reached = history.seconds_to_target if test_accuracy >= GOAL else None
        print(
            f"dates seed {seed}: {history.steps[-1]} steps, validation "
            f"{history.final_score:.3f}, test {test_accuracy:.3f}, to target: "
            + (f"{reached:.2f} s" if reached is not None else "not reached")
            + f" (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        seconds.append(reached if reached is not None else float("inf"))
        scores.append(test_accuracy)
        steps.append(history.steps[-1])
    median = statistics.median(seconds)
    result = {
        "dates_seconds_to_target": median if median != float("inf") else None,
        "dates_accuracy": statistics.median(scores),
        "dates_steps": statistics.median(steps),
        "dates_goal": GOAL,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
