"""Exercises of the chapter "Autoregressive decoding" (``book/*_autoregressive_decoding.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.checks.transformer import small_transformer
from lessons_lib.decoding import greedy_decode, next_token_probabilities
from lessons_lib.softmax import softmax
from lessons_lib.transformer import Transformer


def _greedy_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(12)
    cases = []
    # (vocab, bos, batch, source length, steps): bos is another id, and other sizes, each time.
    for vocab, bos, batch, length, steps in ((9, 8, 3, 6, 7), (7, 0, 2, 4, 5)):
        source = torch.randint(0, vocab, (batch, length), generator=generator)  # (batch, L)
        label = f"a source ({batch}, {length}), bos = {bos} and {steps} steps"
        cases.append(Case((small_transformer(vocab, seed=vocab), source, bos, steps), label))
    return cases


@torch.no_grad()
def _loop(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    steps: int,
    pick: Callable[[torch.Tensor], torch.Tensor],
    feed: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """A decoding loop with two pluggable slips: which logits to read, what to feed back."""
    prefix = torch.full((source.shape[0], 1), bos)  # (batch, 1)
    chosen = []
    for _ in range(steps):
        token = pick(model(source, prefix)).argmax(-1)  # (batch,)
        chosen.append(token)
        prefix = torch.cat([prefix, feed(token)[:, None]], dim=1)  # (batch, t + 1)
    return torch.stack(chosen, dim=1)  # (batch, steps)


GREEDY_MISTAKES = [
    Mistake(
        "kept the begin token",
        "return only the chosen tokens, (batch, steps); drop the bos you started from",
        lambda m, s, b, n: torch.cat(
            [torch.full((s.shape[0], 1), b), greedy_decode(m, s, b, n)], 1
        ),
    ),
    Mistake(
        "read the first position's logits",
        "the newest prediction is at the last position: use logits[:, -1], not logits[:, 0]",
        lambda m, s, b, n: _loop(m, s, b, n, lambda logits: logits[:, 0], lambda token: token),
    ),
    Mistake(
        "output not fed back",
        "append the token you chose to the decoder's input: the output at step t is the "
        "input at step t + 1",
        lambda m, s, b, n: _loop(
            m, s, b, n, lambda logits: logits[:, -1], lambda token: torch.full_like(token, b)
        ),
    ),
]

GREEDY_DECODE = Exercise(
    name="check_greedy_decode",
    parameters=("model", "source", "bos", "steps"),
    cases=_greedy_cases,
    solution=greedy_decode,
    mistakes=GREEDY_MISTAKES,
    success="your decoder picks the same tokens as greedy_decode.",
    precise=False,  # argmax of the model's own float32 logits, as the reader computes them
)


def check_greedy_decode(
    function: Callable[[Transformer, torch.Tensor, int, int], torch.Tensor],
) -> CheckResult:
    """Check ``function(model, source (batch, L), bos, steps) -> tokens (batch, steps)``.

    The reference runs first, on its own copy of the model, so a function that
    changes the model in place cannot change it.
    """
    return GREEDY_DECODE.check(function)


def _probability_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(5)
    cases = []
    for batch, vocab, temperature, top_k in ((4, 10, 2.0, 3), (3, 7, 0.5, 2), (2, 12, 1.5, 5)):
        logits = torch.randn(batch, vocab, generator=generator) * 2  # (batch, vocab)
        label = f"logits ({batch}, {vocab}), T = {temperature} and top_k = {top_k}"
        cases.append(Case((logits, temperature, top_k), label))
    return cases


def _keep_top(
    logits: torch.Tensor, k: int, largest: bool = True, fill: float = float("-inf")
) -> torch.Tensor:
    """The logits with all but the k largest (or smallest) set to ``fill`` (-inf)."""
    kth = logits.topk(k, dim=-1, largest=largest).values[..., -1:]  # (batch, 1)
    dropped = logits < kth if largest else logits > kth
    return logits.masked_fill(dropped, fill)


PROBABILITY_MISTAKES = [
    Mistake(
        "multiplied by the temperature",
        "divide the logits by the temperature: T > 1 must flatten the distribution",
        lambda logits, t, k: softmax(_keep_top(logits, k) * t),
    ),
    Mistake(
        "no temperature",
        "divide the logits by the temperature before the softmax",
        lambda logits, t, k: softmax(_keep_top(logits, k)),
    ),
    Mistake(
        "no top-k",
        "keep only the k largest logits: set the others to -inf before the softmax",
        lambda logits, t, k: softmax(logits, temperature=t),
    ),
    Mistake(
        "dropped logits set to 0",
        "a logit of 0 still gets probability exp(0) > 0 after the softmax (as masked scores "
        "set to 0 do in chapter 03); set the dropped logits to -inf, so that their probability "
        "is exactly 0",
        lambda logits, t, k: softmax(_keep_top(logits, k, fill=0.0), temperature=t),
    ),
    Mistake(
        "top-k off by one (kept k + 1)",
        "keep exactly k tokens: the k-th largest logit is topk(k).values[..., -1], "
        "and only logits below it are dropped",
        lambda logits, t, k: softmax(_keep_top(logits, k + 1), temperature=t),
    ),
    Mistake(
        "top-k off by one (kept k - 1)",
        "keep exactly k tokens, the k-th largest included: drop only logits *below* it "
        "(logits < kth, not <=)",
        lambda logits, t, k: softmax(_keep_top(logits, k - 1), temperature=t),
    ),
    Mistake(
        "top-k not renormalised",
        "after zeroing all but the k largest, the rest must sum to 1 again: cut the logits "
        "(set the others to -inf) before the softmax, or divide by the new sum",
        lambda logits, t, k: softmax(logits, temperature=t) * torch.isfinite(_keep_top(logits, k)),
    ),
    Mistake(
        "kept the k smallest",
        "keep the k *largest* logits: topk returns the largest by default",
        lambda logits, t, k: softmax(_keep_top(logits, k, largest=False), temperature=t),
    ),
]

NEXT_TOKEN_PROBABILITIES = Exercise(
    name="check_next_token_probabilities",
    parameters=("logits", "temperature", "top_k"),
    cases=_probability_cases,
    solution=next_token_probabilities,
    mistakes=PROBABILITY_MISTAKES,
    success="your probabilities match: tempered, cut to the top k, summing to 1.",
)


def check_next_token_probabilities(
    function: Callable[[torch.Tensor, float, int], torch.Tensor],
) -> CheckResult:
    """Check ``function(logits (batch, vocab), temperature, top_k) -> probabilities``."""
    return NEXT_TOKEN_PROBABILITIES.check(function)
