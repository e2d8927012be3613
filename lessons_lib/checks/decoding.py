"""Exercises of the chapter "Autoregressive decoding"."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib.checks.core import CheckResult, Mistake, call_reader, diagnose
from lessons_lib.decoding import greedy_decode, next_token_probabilities
from lessons_lib.softmax import softmax
from lessons_lib.transformer import Transformer

VOCAB, BOS = 9, 8


def _model_and_source() -> tuple[Transformer, torch.Tensor]:
    """A small random Transformer and three sources; the same every call.

    Its final Linear is scaled up so that its choices vary from step to step
    (an untrained model at the usual scale repeats one or two tokens).
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Transformer(VOCAB, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=16)
    with torch.no_grad():
        model.output.weight.mul_(4)
    source = torch.randint(0, BOS, (3, 6), generator=torch.Generator().manual_seed(12))
    return model.eval(), source


@torch.no_grad()
def _loop(model: Transformer, source: torch.Tensor, steps: int, pick, feed) -> torch.Tensor:
    """A decoding loop with two pluggable slips: which logits to read, what to feed back."""
    prefix = torch.full((source.shape[0], 1), BOS)  # (batch, 1)
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
        lambda m, s, b, n: _loop(m, s, n, lambda logits: logits[:, 0], lambda token: token),
    ),
    Mistake(
        "output not fed back",
        "append the token you chose to the decoder's input: the output at step t is the "
        "input at step t + 1",
        lambda m, s, b, n: _loop(
            m, s, n, lambda logits: logits[:, -1], lambda token: torch.full_like(token, b)
        ),
    ),
]


def check_greedy_decode(
    function: Callable[[Transformer, torch.Tensor, int, int], torch.Tensor],
) -> CheckResult:
    """Check ``function(model, source (batch, L), bos, steps) -> tokens (batch, steps)``."""
    model, source = _model_and_source()
    steps = 7
    answer = call_reader(function, model, source, BOS, steps)
    if isinstance(answer, CheckResult):
        return answer
    expected = greedy_decode(model, source, BOS, steps)
    return diagnose(
        answer.float(),
        expected.float(),
        [
            Mistake(m.name, m.hint, lambda *args, m=m: m.compute(*args).float())
            for m in GREEDY_MISTAKES
        ],
        (model, source, BOS, steps),
        "your decoder picks the same tokens as greedy_decode.",
    )


TEMPERATURE, TOP_K = 2.0, 3


def _keep_top_k(probabilities: torch.Tensor, logits: torch.Tensor, k: int) -> torch.Tensor:
    kept = logits >= logits.topk(k, dim=-1).values[..., -1:]
    return probabilities * kept


def _keep_smallest_k(logits: torch.Tensor, temperature: float, k: int) -> torch.Tensor:
    kth_smallest = logits.topk(k, dim=-1, largest=False).values[..., -1:]  # (batch, 1)
    return softmax(
        logits.masked_fill(logits > kth_smallest, float("-inf")), temperature=temperature
    )


PROBABILITY_MISTAKES = [
    Mistake(
        "multiplied by the temperature",
        "divide the logits by the temperature: T > 1 must flatten the distribution",
        lambda logits, t, k: next_token_probabilities(logits * t * t, t, k),
    ),
    Mistake(
        "no temperature",
        "divide the logits by the temperature before the softmax",
        lambda logits, t, k: next_token_probabilities(logits, 1.0, k),
    ),
    Mistake(
        "top-k not renormalised",
        "after zeroing all but the k largest, the rest must sum to 1 again: cut the logits "
        "(set the others to -inf) before the softmax, or divide by the new sum",
        lambda logits, t, k: _keep_top_k(softmax(logits, temperature=t), logits, k),
    ),
    Mistake(
        "kept the k smallest",
        "keep the k *largest* logits: topk returns the largest by default",
        lambda logits, t, k: _keep_smallest_k(logits, t, k),
    ),
]


def check_next_token_probabilities(
    function: Callable[[torch.Tensor, float, int], torch.Tensor],
) -> CheckResult:
    """Check ``function(logits (batch, vocab), temperature, top_k) -> probabilities``."""
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(5)) * 2
    answer = call_reader(function, logits, TEMPERATURE, TOP_K)
    if isinstance(answer, CheckResult):
        return answer
    expected = next_token_probabilities(logits, TEMPERATURE, TOP_K)
    return diagnose(
        answer,
        expected,
        PROBABILITY_MISTAKES,
        (logits, TEMPERATURE, TOP_K),
        "your probabilities match: tempered, cut to the top k, summing to 1.",
    )
