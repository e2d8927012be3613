"""Autoregressive decoding: the output at one step is the input at the next.

The decoder starts from the begin token ``bos``. At every step the model's
final Linear scores every token of the vocabulary (the *logits*); softmax
turns them into probabilities; one token is chosen and appended to the
decoder's input for the next step:

    logits -> softmax -> probabilities -> argmax (greedy) or a draw (sampling)

Greedy decoding takes the most probable token, i.e. the one-hot vector with a
1 at the argmax. Sampling draws from the probabilities, sharpened or flattened
by a temperature and optionally cut to the ``top_k`` most probable tokens.

Rerunning the decoder over the whole prefix at every step repeats work: the
keys and values of earlier positions never change (the causal mask keeps them
from seeing later tokens). With ``use_cache=True`` the loop passes
``model.new_cache()`` to ``model.decode``, and every attention layer keeps its
keys and values there (:class:`lessons_lib.attention.KVCache`), so a step
feeds the decoder the newest token alone.

Layer: decoding (imports the models and the ops below them only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lessons_lib._validate import (
    require_float,
    require_int,
    require_positive_int,
    require_rank,
    require_tensor,
    validated,
)
from lessons_lib.softmax import softmax
from lessons_lib.transformer import Transformer

Chooser = Callable[[torch.Tensor], torch.Tensor]


# --- from logits to one token --------------------------------------------------------


def _require_vocabulary(name: str, scores: torch.Tensor) -> None:
    if scores.dim() == 0 or scores.shape[-1] == 0:
        raise ValueError(
            f"{name} must have a vocabulary dimension with at least one token (..., vocab), "
            f"got shape {tuple(scores.shape)}"
        )


def _require_batch_of_logits(logits: object) -> torch.Tensor:
    logits = require_tensor("logits", logits)
    require_rank("logits", logits, 2, "(batch, vocab)")
    _require_vocabulary("logits", logits)
    return logits


def _check_next_token_probabilities(logits: torch.Tensor, top_k: int | None) -> None:
    logits = require_float("logits", logits)
    _require_vocabulary("logits", logits)  # the temperature: checked by softmax
    if top_k is not None and require_positive_int("top_k", top_k) > logits.shape[-1]:
        raise ValueError(
            f"top_k must be at most the vocabulary size {logits.shape[-1]}, got {top_k}"
        )


@validated(_check_next_token_probabilities)
def next_token_probabilities(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """Probabilities of the next token: softmax(logits / temperature), cut to the top k.

    logits ``(..., vocab)`` -> probabilities ``(..., vocab)``, summing to 1.
    With ``top_k`` set, all but the k largest logits get probability 0 and
    the rest are renormalised.

    >>> next_token_probabilities(torch.tensor([2.0, 1.0, 0.0]), top_k=2)
    tensor([0.7311, 0.2689, 0.0000])
    """
    if top_k is not None:
        kth_largest = logits.topk(top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    return softmax(logits, dim=-1, temperature=temperature)


def one_hot_choice(probabilities: torch.Tensor) -> torch.Tensor:
    """The largest probability becomes 1, every other one 0 (greedy's choice as a vector).

    probabilities ``(..., vocab)`` -> one-hot ``(..., vocab)`` of the same dtype.

    >>> one_hot_choice(torch.tensor([0.2, 0.7, 0.1]))
    tensor([0., 1., 0.])
    """
    probabilities = require_float("probabilities", probabilities)
    _require_vocabulary("probabilities", probabilities)
    chosen = probabilities.argmax(dim=-1)  # (...,)
    return torch.nn.functional.one_hot(chosen, probabilities.shape[-1]).to(probabilities.dtype)


def greedy_choice(logits: torch.Tensor) -> torch.Tensor:
    """logits ``(batch, vocab)`` -> the most probable token of each row ``(batch,)``."""
    return _require_batch_of_logits(logits).argmax(dim=-1)


def sampling_choice(
    temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None
) -> Chooser:
    """A chooser that draws each row's token from :func:`next_token_probabilities`.

    The draws come from ``generator``; without one, from a generator of its own,
    seeded afresh, so that the global random state is never used or changed.
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r:.60}")

    def choose(logits: torch.Tensor) -> torch.Tensor:
        nonlocal generator
        probabilities = next_token_probabilities(logits, temperature, top_k)  # (batch, vocab)
        require_rank("logits", probabilities, 2, "(batch, vocab)")
        if generator is None:  # a fresh, randomly seeded generator of its own
            generator = torch.Generator(device=probabilities.device)
            generator.seed()
        return torch.multinomial(probabilities, 1, generator=generator)[:, 0]  # (batch,)

    return choose


# --- the decoding loop ---------------------------------------------------------------


@dataclass
class Trace:
    """Everything a step-by-step decode saw, for figures and the explorer.

    tokens ``(batch, steps)``; logits and probabilities ``(batch, steps,
    vocab)``; cross_attention ``(batch, steps, L_src)``: the last decoder
    layer's cross-attention, averaged over heads, at each step.
    """

    tokens: torch.Tensor
    logits: torch.Tensor
    probabilities: torch.Tensor
    cross_attention: torch.Tensor
    steps: list[int] = field(default_factory=list)


def _check_source(model: Transformer, source: object, bos: object, steps: int | None) -> int:
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    source = require_tensor("source", source)
    if source.dim() != 2:
        raise ValueError(
            f"source must have 2 dimensions (batch, seq), got shape {tuple(source.shape)}"
        )
    bos = require_int("bos", bos)
    if not 0 <= bos < model.vocab_size:
        raise ValueError(f"bos must be a token id in 0..{model.vocab_size - 1}, got {bos!r}")
    steps = source.shape[1] if steps is None else require_positive_int("steps", steps)
    if steps > model.max_len:
        raise ValueError(f"steps={steps} is more than the model's max_len={model.max_len}")
    return steps


@torch.no_grad()
def generate(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    choose: Chooser = greedy_choice,
    steps: int | None = None,
    *,
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> Trace:
    """Decode ``steps`` tokens (default: the source length), one at a time.

        token_0 = bos;  logits_t = model(source, token_0 .. token_t)[-1];
        token_{t+1} = choose(logits_t)

    source ``(batch, L_src)`` -> a :class:`Trace` whose ``tokens`` are
    ``(batch, steps)`` (without ``bos``). The encoder runs once. With
    ``use_cache`` each step feeds the decoder only the newest token, and the
    key/value cache supplies the rest; without it, each step reruns the
    decoder over the whole prefix. Both give the same tokens.
    ``temperature`` only sets the recorded probabilities.

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> generate(model, torch.randint(0, 10, (3, 8)), bos=10).tokens.shape
    torch.Size([3, 8])
    """
    steps = _check_source(model, source, bos, steps)
    if not callable(choose):
        raise TypeError(f"choose must map logits (batch, vocab) to tokens (batch,), got {choose!r}")
    was_training = model.training
    model.eval()
    memory = model.encode(source, source_mask)  # (batch, L_src, d_model)
    cache = model.new_cache() if use_cache else None
    prefix = torch.full_like(source[:, :1], bos)  # (batch, 1): the decoder's input so far
    chosen, all_logits, cross = [], [], []
    for _ in range(steps):
        new_tokens = prefix[:, -1:] if use_cache else prefix  # the cache holds the others
        logits, weights = model.decode(
            new_tokens, memory, source_mask, need_weights=True, cache=cache
        )
        logits = logits[:, -1]  # (batch, vocab): the newest position scores the next token
        tokens = choose(logits)  # (batch,)
        prefix = torch.cat([prefix, tokens[:, None]], dim=1)  # the output becomes the input
        chosen.append(tokens)
        all_logits.append(logits)
        cross.append(weights[-1]["cross"][:, :, -1].mean(dim=1))  # (batch, L_src), mean of heads
    model.train(was_training)
    logits = torch.stack(all_logits, dim=1)  # (batch, steps, vocab)
    return Trace(
        tokens=torch.stack(chosen, dim=1),  # (batch, steps)
        logits=logits,
        probabilities=softmax(logits, temperature=temperature),
        cross_attention=torch.stack(cross, dim=1),  # (batch, steps, L_src)
        steps=list(range(1, steps + 1)),
    )


def greedy_decode(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    steps: int | None = None,
    *,
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Greedy decoding: at every step take the most probable token.

    source ``(batch, L_src)`` -> tokens ``(batch, steps)``.

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> greedy_decode(model, torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]]), bos=10).shape
    torch.Size([1, 8])
    """
    return generate(
        model, source, bos, greedy_choice, steps, use_cache=use_cache, source_mask=source_mask
    ).tokens


def sample_decode(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    *,
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampling: draw every token from softmax(logits / temperature), cut to the top k.

    ``top_k=1`` is greedy decoding. Pass a seeded ``generator`` to get the
    same draws every time. source ``(batch, L_src)`` -> tokens ``(batch, steps)``.

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> source = torch.randint(0, 10, (2, 5))
    >>> draws = [sample_decode(model, source, bos=10, temperature=2.0,
    ...                        generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    >>> torch.equal(*draws)  # the same seed draws the same tokens
    True
    """
    choose = sampling_choice(temperature, top_k, generator)
    return generate(
        model,
        source,
        bos,
        choose,
        steps,
        use_cache=use_cache,
        source_mask=source_mask,
        temperature=temperature,
    ).tokens
