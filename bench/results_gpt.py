"""The chapter "From the Transformer to GPT"'s longer runs: lessons_lib/results/gpt.json.

Run from the repository root (``make results`` runs it with the other long runs)::

    python bench/results_gpt.py            # the committed file: 3 seeds, about 10 minutes
    python bench/results_gpt.py --seeds 1 --folder /tmp/check

What it keeps:

- ``comparison``: :class:`~lessons_lib.training.GPTRecipe`'s defaults trained from each seed
  on characters and on BPE ids (:func:`~lessons_lib.experiments.gpt.compare_tokenizations`:
  same steps, same ``batch_size x block_size`` tokens a step), and per tokenization the
  sizes of every split (tokens, characters, characters per token), the unigram baselines,
  and per seed the validation loss per token over the whole validation split, in nats per
  character, both perplexities and the sparse training curve (every ``eval_every`` steps:
  the validation loss on the recipe's fixed sample of windows, and that step's training loss).
- ``samples``: the seed-``seeds[0]`` models' continuations of
  :data:`~lessons_lib.experiments.gpt.PROMPTS` under each of
  :data:`~lessons_lib.experiments.gpt.SAMPLING_SETTINGS`.
- ``chapter``: :data:`~lessons_lib.experiments.gpt.CHAPTER_GPT` (the chapter's live run)
  trained on BPE ids from ``seeds[0]``: its seconds on one thread, its curve and its
  validation loss against the baselines, to show it fits the chapter's budget.

The test split is not scored here. ``tests/test_results_gpt.py`` checks the file and re-runs
the first evaluation of one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lessons_lib.corpus import encode_split, split_corpus, stdlib_docstrings
from lessons_lib.experiments.gpt import (
    CHAPTER_GPT,
    PROMPTS,
    SAMPLING_SETTINGS,
    compare_tokenizations,
    recipe_settings,
    sample_texts,
)
from lessons_lib.results import save_result
from lessons_lib.training import GPTRecipe, train_gpt, validation_loss

BPE_VOCAB_SIZE = 1024
SPLIT_SEED = 0  # split_corpus's seed: the chapter's split
SAMPLE_STEPS = 40  # tokens generated per prompt (a prompt and these fit in block_size = 64)
PER_SEED = (
    "validation_loss_per_token",
    "validation_nats_per_character",
    "perplexity_per_token",
    "perplexity_per_character",
    "curve",
    "seconds",
)  # what differs from seed to seed; the rest of a report is the same for every seed


def chapter_run(runs: dict, splits: dict, seed: int) -> dict[str, object]:
    """CHAPTER_GPT on the BPE ids that ``runs["bpe"]`` used: its time and losses."""
    tokenizer = runs["bpe"].tokenizer
    train_ids, validation_ids = (
        encode_split(tokenizer, splits[name]) for name in ("train", "validation")
    )
    recipe = dataclasses.replace(CHAPTER_GPT, seed=seed)
    model, history = train_gpt(
        train_ids, validation_ids, tokenizer.vocab_size, recipe, progress=False
    )
    return {
        "recipe": recipe_settings(recipe),
        "tokenization": "bpe",
        "seconds": history.seconds,
        "curve": {"eval_steps": history.eval_steps, "validation_loss_per_token": history.scores},
        "validation_loss_per_token": validation_loss(model, validation_ids, recipe.block_size),
        "baselines": runs["bpe"].report["baselines"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--folder", type=Path, default=None, help="write here, not the package")
    parser.add_argument("--steps", type=int, default=None, help="a quick check: fewer steps")
    args = parser.parse_args()
    base = GPTRecipe() if args.steps is None else GPTRecipe(steps=args.steps, warmup_steps=1)
    torch.set_num_threads(1)
    start = time.perf_counter()
    splits = split_corpus(stdlib_docstrings(), seed=SPLIT_SEED)
    seeds = list(range(args.seeds))
    comparison: dict[str, dict[str, object]] = {}
    samples: dict[str, dict[str, dict[str, str]]] = {}
    chapter: dict[str, object] = {}
    for seed in seeds:
        recipe = dataclasses.replace(base, seed=seed)
        runs = compare_tokenizations(splits, recipe, BPE_VOCAB_SIZE, progress=False)
        for name, run in runs.items():
            shared = {key: value for key, value in run.report.items() if key not in PER_SEED}
            entry = comparison.setdefault(name, {**shared, "per_seed": []})
            if {key: entry[key] for key in shared} != shared:
                raise RuntimeError(f"{name}: the splits or baselines changed with the seed")
            entry["per_seed"].append({"seed": seed, **{key: run.report[key] for key in PER_SEED}})
            report = run.report
            print(
                f"seed {seed} {name:>10}: {report['validation_loss_per_token']:.4f} nats/token, "
                f"{report['validation_nats_per_character']:.4f} nats/character, "
                f"{report['seconds']:.0f} s",
                flush=True,
            )
            if seed == seeds[0]:
                samples[name] = sample_texts(run.model, run.tokenizer, PROMPTS, SAMPLE_STEPS)
        if seed == seeds[0]:
            chapter = chapter_run(runs, splits, seed)
            print(
                f"chapter recipe: {chapter['seconds']:.1f} s, "
                f"{chapter['validation_loss_per_token']:.4f} nats/token",
                flush=True,
            )
    seconds = time.perf_counter() - start
    settings = {
        **recipe_settings(base),
        "bpe_vocab_size": BPE_VOCAB_SIZE,
        "split_seed": SPLIT_SEED,
        "sample_steps": SAMPLE_STEPS,
        "prompts": list(PROMPTS),
        "sampling_settings": SAMPLING_SETTINGS,
        "threads": 1,
    }
    settings.pop("seed")
    path = save_result(
        "gpt",
        {"comparison": comparison, "samples": samples, "chapter": chapter},
        seeds=seeds,
        command="python bench/results_gpt.py"
        + (f" --seeds {args.seeds}" if args.seeds != 3 else "")
        + (f" --steps {args.steps}" if args.steps is not None else ""),
        settings=settings,
        seconds=seconds,
        folder=args.folder,
    )
    print(f"wrote {path} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
