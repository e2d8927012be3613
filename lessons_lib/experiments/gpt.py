"""Chapter "From the Transformer to GPT": the runs behind its numbers.

- :data:`CHAPTER_GPT`: the recipe the chapter trains live, sized for its 20-second budget;
- :func:`unigram_baselines`: the losses a model gets without reading any context (uniform
  guessing, and the training text's token frequencies), the floor that a trained GPT
  must beat;
- :func:`compare_tokenizations`: the same recipe trained on characters and on BPE ids, with
  losses turned per character so that the two are compared on the same text;
- :func:`sample_texts`: continuations of fixed prompts, greedy and sampled.

How the two tokenizations are made comparable. Both runs take the same optimiser steps of
the same ``batch_size x block_size`` tokens, with the same model apart from its embedding
table and final Linear (``vocab_size`` rows: about 100 characters against 1,024 BPE tokens;
the larger final Linear makes a BPE step about a quarter slower on a CPU). What they are
scored on is made equal afterwards: the loss per token times tokens over characters
(:func:`~lessons_lib.corpus.per_character`) is the loss of the same validation text, in
nats per character. What stays unequal, by design of the comparison: a BPE token covers
about 2.3 characters of validation text (2.6 of training text), so a BPE window of 64
tokens reads about 2.3-2.6 times more text, as context and as training text per step, than
a window of 64 characters; the BPE model has more parameters (the larger tables); and its
tokenizer learned its merges from the training text, a little knowledge of English the
character model does not get for free.

Layer: experiments (imports training, corpus and everything below).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch

from lessons_lib._validate import require_int, require_positive_int
from lessons_lib.corpus import (
    END_OF_TEXT,
    SPLITS,
    BPETokenizer,
    CharTokenizer,
    Docstring,
    TextTokenizer,
    corpus_text,
    encode_split,
    per_character,
)
from lessons_lib.decoding import generate_text, greedy_choice, sampling_choice
from lessons_lib.gpt import GPT
from lessons_lib.training import GPTRecipe, History, train_gpt, validation_loss

CHAPTER_GPT = GPTRecipe(
    batch_size=16, lr=2e-2, warmup_steps=20, steps=160, eval_every=40, eval_batches=4
)
"""The chapter's live run: :class:`~lessons_lib.training.GPTRecipe`'s model, 160 steps of
16 windows at twice the rate, about 6 s on one core (the chapter has 20 s in all). On BPE ids
it ends about 1.4 nats per token below the unigram baseline (``bench/results_gpt.py``
measures it and keeps the numbers)."""

PROMPTS = ("Return the", "This module provides", "If the argument is")
"""The fixed prompts of :func:`sample_texts`: how docstrings of the standard library begin."""

SAMPLING_SETTINGS: dict[str, dict[str, float] | None] = {
    "greedy": None,
    "temperature 0.8": {"temperature": 0.8},
    "top-k 20": {"top_k": 20},
    "top-p 0.9": {"top_p": 0.9},
}
"""How :func:`sample_texts` picks each next token: ``None`` is greedy, a dict holds the
keyword arguments of :func:`~lessons_lib.decoding.sampling_choice`."""


# --- baselines -------------------------------------------------------------------------


def unigram_baselines(
    train_ids: torch.Tensor, validation_ids: torch.Tensor, vocab_size: int
) -> dict[str, float]:
    """The losses (nats per token) of models that read no context at all.

    - ``uniform``: every id equally likely, ``ln(vocab_size)``;
    - ``unigram_entropy``: the entropy ``-sum_v p(v) ln p(v)`` of the training ids'
      frequencies ``p``: the training loss of the best context-free model;
    - ``unigram_validation``: the cross-entropy of the validation ids under those
      frequencies, add-one smoothed (``(count + 1) / (n + vocab_size)``) so that an id
      unseen in training costs a finite amount: the validation loss of that model, the
      number a trained GPT's validation loss compares with.

    >>> baselines = unigram_baselines(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1]), 2)
    >>> round(baselines["uniform"], 4), round(baselines["unigram_entropy"], 4)
    (0.6931, 0.6931)
    """
    vocab_size = require_positive_int("vocab_size", vocab_size)
    counts = {}
    for name, ids in (("train_ids", train_ids), ("validation_ids", validation_ids)):
        if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point():
            raise TypeError(
                f"{name} must be a 1-D tensor of token ids, got "
                f"{type(ids).__name__}{tuple(ids.shape) if isinstance(ids, torch.Tensor) else ''}"
            )
        if len(ids) == 0 or not 0 <= int(ids.min()) <= int(ids.max()) < vocab_size:
            raise ValueError(
                f"{name} must be non-empty ids in [0, {vocab_size}), got {len(ids)} ids"
                + (f" from {int(ids.min())} to {int(ids.max())}" if len(ids) else "")
            )
        counts[name] = torch.bincount(ids.long(), minlength=vocab_size).double()  # (vocab,)
    train = counts["train_ids"]
    frequencies = train / train.sum()  # (vocab,)
    seen = frequencies > 0
    entropy = -(frequencies[seen] * frequencies[seen].log()).sum()
    smoothed = (train + 1) / (train.sum() + vocab_size)  # (vocab,)
    validation = counts["validation_ids"]
    cross_entropy = -(validation * smoothed.log()).sum() / validation.sum()
    return {
        "uniform": math.log(vocab_size),
        "unigram_entropy": float(entropy),
        "unigram_validation": float(cross_entropy),
    }


# --- characters against BPE ------------------------------------------------------------


class TokenizedRun(NamedTuple):
    """One tokenization's run in :func:`compare_tokenizations`.

    ``report`` holds only numbers, lists and strings (it goes into a JSON file as it is).
    """

    tokenizer: TextTokenizer
    model: GPT
    history: History
    report: dict[str, object]


def _require_splits(corpus_splits: object) -> Mapping[str, Sequence[Docstring]]:
    if not isinstance(corpus_splits, Mapping):
        raise TypeError(
            "corpus_splits must be split_corpus's dict {'train': [...], 'validation': [...], "
            f"'test': [...]}}, got {type(corpus_splits).__name__}"
        )
    missing = [name for name in SPLITS if name not in corpus_splits]
    if missing:
        raise ValueError(
            f"corpus_splits must hold the splits {list(SPLITS)}, got {sorted(corpus_splits)}"
        )
    return corpus_splits


def _train_one(
    tokenizer: TextTokenizer,
    corpus_splits: Mapping[str, Sequence[Docstring]],
    recipe: GPTRecipe,
    progress: bool | None,
) -> TokenizedRun:
    ids = {name: encode_split(tokenizer, corpus_splits[name]) for name in SPLITS}
    characters = {name: len(corpus_text(corpus_splits[name])) for name in SPLITS}
    model, history = train_gpt(
        ids["train"], ids["validation"], tokenizer.vocab_size, recipe, progress=progress
    )
    # Every full window of the validation split: all of its tokens but the last few (fewer
    # than block_size), so the mean stands for the split's and per_character's ratio applies.
    loss = validation_loss(model, ids["validation"], recipe.block_size)
    nats_per_character = per_character(loss, len(ids["validation"]), characters["validation"])
    report = {
        "vocab_size": tokenizer.vocab_size,
        "parameters": sum(param.numel() for param in model.parameters()),
        "splits": {
            name: {
                "tokens": len(ids[name]),
                "characters": characters[name],
                "characters_per_token": characters[name] / len(ids[name]),
            }
            for name in SPLITS
        },
        "baselines": unigram_baselines(ids["train"], ids["validation"], tokenizer.vocab_size),
        "validation_loss_per_token": loss,
        "validation_nats_per_character": nats_per_character,
        "perplexity_per_token": math.exp(loss),
        "perplexity_per_character": math.exp(nats_per_character),
        "curve": {
            "eval_steps": list(history.eval_steps),
            "validation_loss_per_token": list(history.scores),
            "train_loss_per_token": [history.losses[step - 1] for step in history.eval_steps],
        },
        "seconds": history.seconds,
    }
    return TokenizedRun(tokenizer, model, history, report)


def compare_tokenizations(
    corpus_splits: Mapping[str, Sequence[Docstring]],
    recipe: GPTRecipe = CHAPTER_GPT,
    bpe_vocab_size: int = 1024,
    *,
    progress: bool | None = None,
) -> dict[str, TokenizedRun]:
    """Train ``recipe`` on characters and on BPE ids of the same splits; score both per character.

    ``corpus_splits`` is :func:`~lessons_lib.corpus.split_corpus`'s dict. The character
    tokenizer takes the training text's characters
    (:meth:`~lessons_lib.corpus.CharTokenizer.from_text`), the BPE tokenizer learns
    ``bpe_vocab_size`` ids from it (:meth:`~lessons_lib.corpus.BPETokenizer.train`). Both
    models train with the same ``recipe`` (same seed, steps, batch and block in tokens:
    see the module's docstring for what that makes equal and what not). Returns
    ``{"characters": run, "bpe": run}``, each a :class:`TokenizedRun` whose ``report``
    holds, per split, the tokens, characters and characters per token, then the
    :func:`unigram_baselines`, the validation loss per token over every full window of the
    validation split (:func:`~lessons_lib.training.validation_loss`), that loss in nats per
    character (:func:`~lessons_lib.corpus.per_character`: per token x scored tokens /
    their characters), both perplexities (``exp`` of each), the curve of the sampled
    validation loss during training and the seconds the training took.
    """
    corpus_splits = _require_splits(corpus_splits)
    if not isinstance(recipe, GPTRecipe):
        raise TypeError(f"recipe must be a GPTRecipe, got {type(recipe).__name__}")
    bpe_vocab_size = require_positive_int("bpe_vocab_size", bpe_vocab_size)
    train_text = corpus_text(corpus_splits["train"])
    tokenizers: dict[str, TextTokenizer] = {
        "characters": CharTokenizer.from_text(train_text),
        "bpe": BPETokenizer.train(train_text, vocab_size=bpe_vocab_size),
    }
    return {
        name: _train_one(tokenizer, corpus_splits, recipe, progress)
        for name, tokenizer in tokenizers.items()
    }


def recipe_settings(recipe: GPTRecipe) -> dict[str, object]:
    """The recipe's fields as a dict (for a results file), e.g. ``{"d_model": 64, ...}``."""
    if not isinstance(recipe, GPTRecipe):
        raise TypeError(f"recipe must be a GPTRecipe, got {type(recipe).__name__}")
    return dataclasses.asdict(recipe)


# --- samples ---------------------------------------------------------------------------


def _chooser(setting: dict[str, float] | None, generator: torch.Generator):
    if setting is None:
        return greedy_choice
    return sampling_choice(generator=generator, **setting)


def sample_texts(
    model: GPT,
    tokenizer: TextTokenizer,
    prompts: Sequence[str] = PROMPTS,
    steps: int = 48,
    settings: Mapping[str, dict[str, float] | None] = SAMPLING_SETTINGS,
    *,
    seed: int = 0,
) -> dict[str, dict[str, str]]:
    """Continue each prompt under each decoding setting: ``{setting: {prompt: continuation}}``.

    Each prompt is read after :data:`~lessons_lib.corpus.END_OF_TEXT`, the token that ends
    the docstring before it in the training text, so the model knows that a docstring
    begins. ``steps`` tokens are generated (:func:`~lessons_lib.decoding.generate_text`,
    with the key/value cache), and the continuation is cut at the first END_OF_TEXT (where
    the model ends its docstring). A sampled setting draws from a generator seeded ``seed``
    afresh for every prompt, so each continuation is reproducible on its own; ``None``
    settings are greedy. The global random state is left as it was.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    if not all(hasattr(tokenizer, name) for name in ("encode", "decode", "vocab_size")):
        raise TypeError(
            f"tokenizer must be a CharTokenizer or BPETokenizer, got {type(tokenizer).__name__}"
        )
    if tokenizer.vocab_size != model.vocab_size:
        raise ValueError(
            f"tokenizer has vocab_size {tokenizer.vocab_size} but the model "
            f"{model.vocab_size}: pass the tokenizer the model was trained with"
        )
    if isinstance(prompts, str) or not all(isinstance(p, str) and p for p in prompts):
        raise TypeError(f"prompts must be a list of non-empty str, got {prompts!r:.80}")
    steps = require_positive_int("steps", steps)
    seed = require_int("seed", seed)
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a dict name -> options, got {type(settings).__name__}")
    samples: dict[str, dict[str, str]] = {}
    for name, setting in settings.items():
        if setting is not None and not isinstance(setting, Mapping):
            raise TypeError(
                f"settings[{name!r}] must be None (greedy) or a dict of sampling_choice's "
                f"options, got {setting!r}"
            )
        samples[name] = {}
        for prompt in prompts:
            prompt_ids = tokenizer.encode(END_OF_TEXT + prompt)
            if len(prompt_ids) + steps > model.max_len:
                raise ValueError(
                    f"prompt {prompt!r} is {len(prompt_ids)} tokens; with steps={steps} that "
                    f"is more than the model's max_len={model.max_len}"
                )
            choose = _chooser(setting, torch.Generator().manual_seed(seed))
            tokens = generate_text(model, torch.tensor([prompt_ids]), steps, choose)
            continuation = tokenizer.decode(tokens[0, len(prompt_ids) :])  # the new tokens
            samples[name][prompt] = continuation.split(END_OF_TEXT)[0]
    return samples
