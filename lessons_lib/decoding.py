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
from seeing later tokens). :class:`CachedDecoder` keeps them, so one step
costs one token's work; :class:`PrefixDecoder` is the plain version it is
checked against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from lessons_lib._validate import require_float, require_positive_int, require_tensor
from lessons_lib.attention import attend
from lessons_lib.softmax import softmax

if TYPE_CHECKING:
    from lessons_lib.attention import MultiHeadAttention
    from lessons_lib.transformer import Transformer

Chooser = Callable[[torch.Tensor], torch.Tensor]


# --- from logits to one token --------------------------------------------------------


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
    logits = require_float("logits", logits)
    if logits.dim() == 0:
        raise ValueError("logits must have a vocabulary dimension (..., vocab), got a scalar")
    if top_k is not None:
        top_k = require_positive_int("top_k", top_k)
        if top_k > logits.shape[-1]:
            raise ValueError(
                f"top_k must be at most the vocabulary size {logits.shape[-1]}, got {top_k}"
            )
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
    chosen = probabilities.argmax(dim=-1)  # (...,)
    return torch.nn.functional.one_hot(chosen, probabilities.shape[-1]).to(probabilities.dtype)


def greedy_choice(logits: torch.Tensor) -> torch.Tensor:
    """logits ``(batch, vocab)`` -> the most probable token of each row ``(batch,)``."""
    return logits.argmax(dim=-1)


def sampling_choice(
    temperature: float = 1.0, top_k: int | None = None, generator: torch.Generator | None = None
) -> Chooser:
    """A chooser that draws each row's token from :func:`next_token_probabilities`."""

    def choose(logits: torch.Tensor) -> torch.Tensor:
        probabilities = next_token_probabilities(logits, temperature, top_k)  # (batch, vocab)
        return torch.multinomial(probabilities, 1, generator=generator)[:, 0]  # (batch,)

    return choose


# --- one decoder step: over the whole prefix, or over a key/value cache ---------------


class PrefixDecoder:
    """Plain decoding: every step reruns the decoder over the whole prefix so far.

    The encoder runs once. ``step(tokens)`` appends ``tokens`` ``(batch,)`` to
    the prefix and returns the logits ``(batch, vocab)`` of the next token.
    Step t costs t tokens' work.
    """

    def __init__(
        self, model: Transformer, source: torch.Tensor, source_mask: torch.Tensor | None = None
    ) -> None:
        self.model = model
        self.source_mask = source_mask
        self.memory = model.encode(source, source_mask)  # (batch, L_src, d_model)
        self.prefix = source.new_zeros(source.shape[0], 0)  # (batch, 0)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        self.prefix = torch.cat([self.prefix, tokens[:, None]], dim=1)  # (batch, t + 1)
        logits = self.model.decode(self.prefix, self.memory, self.source_mask)  # (batch, t+1, V)
        return logits[:, -1]  # (batch, vocab): only the newest position is new


@dataclass
class LayerCache:
    """One decoder layer's keys and values, each ``(batch, heads, positions, d_head)``."""

    self_keys: torch.Tensor
    self_values: torch.Tensor
    cross_keys: torch.Tensor  # from the encoder's memory, computed once
    cross_values: torch.Tensor


class CachedDecoder:
    """Decoding with a key/value cache: each step processes only the newest token.

    The cross-attention keys and values come from the encoder's memory and are
    computed once. The self-attention keys and values of earlier positions never
    change, so each step computes the newest token's query, key and value,
    appends the key and value to the cache, and attends over the cache. No mask
    is needed: the cache holds only the past. Gives the logits of
    :class:`PrefixDecoder`, with one token's work per step instead of t.
    """

    def __init__(
        self, model: Transformer, source: torch.Tensor, source_mask: torch.Tensor | None = None
    ) -> None:
        self.model = model
        memory = model.encode(source, source_mask)  # (batch, L_src, d_model)
        self.memory_mask = None
        if source_mask is not None:
            self.memory_mask = model.decoder_layers[0].cross_attention.mask_for_heads(source_mask)
        self.position = 0
        self.caches: list[LayerCache] = []
        for layer in model.decoder_layers:
            attention = layer.cross_attention
            self_attention = layer.self_attention
            empty = memory.new_zeros(
                memory.shape[0], self_attention.num_heads, 0, self_attention.d_head
            )  # (batch, heads, 0, d_head)
            self.caches.append(
                LayerCache(
                    self_keys=empty,
                    self_values=empty,
                    cross_keys=attention.split_heads(attention.w_k(memory)),
                    cross_values=attention.split_heads(attention.w_v(memory)),
                )
            )

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        model = self.model
        y = model.embed(model.target_embedding, tokens[:, None], start=self.position)  # (b, 1, d)
        for layer, cache in zip(model.decoder_layers, self.caches):
            y = layer.run_sublayers(
                y,
                lambda h, layer=layer, cache=cache: self._self_attend(layer, cache, h),
                lambda h, layer=layer, cache=cache: self._cross_attend(layer, cache, h),
            )
        self.position += 1
        return model.output(model.decoder_norm(y))[:, 0]  # (batch, vocab)

    @staticmethod
    def _project(attention: MultiHeadAttention, linear: torch.nn.Linear, h: torch.Tensor):
        return attention.split_heads(linear(h))  # (batch, heads, 1, d_head)

    def _self_attend(self, layer, cache: LayerCache, h: torch.Tensor) -> torch.Tensor:
        attention = layer.self_attention
        query = self._project(attention, attention.w_q, h)  # (batch, heads, 1, d_head)
        new_key = self._project(attention, attention.w_k, h)
        new_value = self._project(attention, attention.w_v, h)
        cache.self_keys = torch.cat([cache.self_keys, new_key], dim=2)  # (b, heads, t+1, d_head)
        cache.self_values = torch.cat([cache.self_values, new_value], dim=2)
        heads, weights = attend(query, cache.self_keys, cache.self_values)  # (b, heads, 1, d_head)
        layer.self_attention_weights = weights.detach()  # (batch, heads, 1, t + 1)
        return attention.w_o(attention.merge_heads(heads))  # (batch, 1, d_model)

    def _cross_attend(self, layer, cache: LayerCache, h: torch.Tensor) -> torch.Tensor:
        attention = layer.cross_attention
        query = self._project(attention, attention.w_q, h)  # (batch, heads, 1, d_head)
        heads, weights = attend(query, cache.cross_keys, cache.cross_values, self.memory_mask)
        layer.cross_attention_weights = weights.detach()  # (batch, heads, 1, L_src)
        return attention.w_o(attention.merge_heads(heads))  # (batch, 1, d_model)


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
    source = require_tensor("source", source)
    if source.dim() != 2:
        raise ValueError(
            f"source must have 2 dimensions (batch, seq), got shape {tuple(source.shape)}"
        )
    if isinstance(bos, bool) or not isinstance(bos, int) or not 0 <= bos < model.vocab_size:
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
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> Trace:
    """Decode ``steps`` tokens (default: the source length), one at a time.

        token_0 = bos;  logits_t = model(source, token_0 .. token_t)[-1];
        token_{t+1} = choose(logits_t)

    source ``(batch, L_src)`` -> a :class:`Trace` whose ``tokens`` are
    ``(batch, steps)`` (without ``bos``). ``use_cache`` picks
    :class:`CachedDecoder` or :class:`PrefixDecoder`; both give the same
    tokens. ``temperature`` only sets the recorded probabilities.

    >>> trace = generate(model, source, bos=task.bos)            # greedy
    >>> trace.tokens.shape
    torch.Size([batch, length])
    """
    steps = _check_source(model, source, bos, steps)
    was_training = model.training
    model.eval()
    decoder = (CachedDecoder if use_cache else PrefixDecoder)(model, source, source_mask)
    tokens = torch.full_like(source[:, 0], bos)  # (batch,)
    chosen, all_logits, cross = [], [], []
    for _ in range(steps):
        logits = decoder.step(tokens)  # (batch, vocab)
        tokens = choose(logits)  # (batch,): the output becomes the next input
        chosen.append(tokens)
        all_logits.append(logits)
        weights = model.decoder_layers[-1].cross_attention_weights  # (batch, heads, L, L_src)
        cross.append(weights[:, :, -1].mean(dim=1))  # (batch, L_src)
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
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Greedy decoding: at every step take the most probable token.

    source ``(batch, L_src)`` -> tokens ``(batch, steps)``.

    >>> greedy_decode(model, torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]]), bos=10)
    tensor([[6, 2, 9, 5, 1, 4, 1, 3]])
    """
    return generate(model, source, bos, greedy_choice, steps, use_cache, source_mask).tokens


def sample_decode(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampling: draw every token from softmax(logits / temperature), cut to the top k.

    ``top_k=1`` is greedy decoding. Pass a seeded ``generator`` to get the
    same draws every time. source ``(batch, L_src)`` -> tokens ``(batch, steps)``.

    >>> sample_decode(model, source, bos=10, temperature=2.0,
    ...               generator=torch.Generator().manual_seed(0))
    """
    choose = sampling_choice(temperature, top_k, generator)
    return generate(model, source, bos, choose, steps, use_cache, source_mask, temperature).tokens


def exact_match_accuracy(
    model: Transformer, sources: torch.Tensor, targets: torch.Tensor, bos: int
) -> float:
    """Fraction of sequences whose greedy decode equals the target at *every* position.

    sources and targets ``(batch, length)``.
    """
    require_tensor("targets", targets)
    if sources.shape != targets.shape:
        raise ValueError(
            f"sources {tuple(sources.shape)} and targets {tuple(targets.shape)} must match"
        )
    decoded = greedy_decode(model, sources, bos, steps=targets.shape[1])
    return float((decoded == targets).all(dim=1).float().mean())
