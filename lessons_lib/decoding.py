"""Autoregressive decoding: the output at one step is the input at the next.

The decoder starts from the begin token ``bos``. At every step the model's
final Linear scores every token of the vocabulary (the *logits*); softmax
turns them into probabilities; one token is chosen and appended to the
decoder's input for the next step:

    logits -> softmax -> probabilities -> argmax (greedy) or a draw (sampling)

Greedy decoding takes the most probable token, i.e. the one-hot vector with a
1 at the argmax. Sampling draws from the probabilities, sharpened or flattened
by a temperature and optionally cut to the ``top_k`` most probable tokens or
to the nucleus of the most probable tokens that hold ``top_p`` of the
probability. Beam search keeps several prefixes at once and returns the most
probable whole sequence it met.

Rerunning the decoder over the whole prefix at every step repeats work: the
keys and values of earlier positions never change (the causal mask keeps them
from seeing later tokens). With ``use_cache=True`` the loop passes
``model.new_cache()`` to ``model.decode``, and every attention layer keeps its
keys and values there (:class:`lessons_lib.attention.KVCache`), so a step
feeds the decoder the newest token alone. A decoder-only model (GPT) has no
source and no begin token: :func:`generate_text` continues a prompt.

Layer: decoding (imports the models and the ops below them only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lessons_lib._validate import (
    require_float,
    require_int,
    require_number,
    require_positive_int,
    require_rank,
    require_tensor,
    validated,
)
from lessons_lib.gpt import GPT
from lessons_lib.softmax import softmax
from lessons_lib.transformer import LayerCache, Transformer, check_token_ids

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


def _check_top_p(top_p: float | None) -> None:
    if top_p is not None and not 0 < require_number("top_p", top_p) <= 1:
        raise ValueError(f"top_p must be a probability in (0, 1], got {top_p!r}")


def _check_next_token_probabilities(
    logits: torch.Tensor, top_k: int | None, top_p: float | None
) -> None:
    logits = require_float("logits", logits)
    _require_vocabulary("logits", logits)  # the temperature: checked by softmax
    if top_k is not None and require_positive_int("top_k", top_k) > logits.shape[-1]:
        raise ValueError(
            f"top_k must be at most the vocabulary size {logits.shape[-1]}, got {top_k}"
        )
    _check_top_p(top_p)


@validated(_check_next_token_probabilities)
def next_token_probabilities(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Probabilities of the next token: softmax(logits / temperature), cut to the top k or top p.

    logits ``(..., vocab)`` -> probabilities ``(..., vocab)``, summing to 1.
    With ``top_k`` set, all but the k largest logits get probability 0 and
    the rest are renormalised. With ``top_p`` set (nucleus sampling,
    Holtzman et al. 2020), only the smallest set of most probable tokens whose
    probabilities add up to at least ``top_p`` is kept: see :func:`nucleus`.
    With both, top k cuts first and top p cuts what is left, as Hugging Face
    transformers does.

    >>> next_token_probabilities(torch.tensor([2.0, 1.0, 0.0]), top_k=2)
    tensor([0.7311, 0.2689, 0.0000])
    >>> next_token_probabilities(torch.tensor([2.0, 1.0, 0.0]), top_p=0.8)
    tensor([0.7311, 0.2689, 0.0000])
    """
    if top_k is not None:
        kth_largest = logits.topk(top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    probabilities = softmax(logits, dim=-1, temperature=temperature)
    if top_p is not None:
        probabilities = nucleus(probabilities, top_p)
    return probabilities


def _check_nucleus(probabilities: torch.Tensor, top_p: float) -> None:
    probabilities = require_float("probabilities", probabilities)
    _require_vocabulary("probabilities", probabilities)
    require_number("top_p", top_p)
    _check_top_p(top_p)


@validated(_check_nucleus)
def nucleus(probabilities: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the nucleus: the fewest most probable tokens that hold at least ``top_p``.

    probabilities ``(..., vocab)``, each row summing to 1 -> the same shape,
    with every token outside the nucleus set to 0 and the rest renormalised.
    A token is in the nucleus when the tokens more probable than it hold less
    than ``top_p`` of the row's total (1 up to rounding); so the most probable
    token always is, ``top_p=1`` keeps every token of nonzero probability, and
    a larger ``top_p`` never drops a token that a smaller one keeps. Ties: a
    token as probable as the least probable one kept is kept too, so the
    result does not depend on the order in which a sort puts equal
    probabilities. float16 and bfloat16 are summed in float32, as
    :func:`lessons_lib.softmax.softmax` does.

    >>> nucleus(torch.tensor([0.1, 0.6, 0.3]), top_p=0.7)
    tensor([0.0000, 0.6667, 0.3333])
    """
    wide = probabilities.to(torch.promote_types(probabilities.dtype, torch.float32))  # 16 -> 32
    ascending = wide.sort(dim=-1).values  # (..., vocab), least probable first
    # this token and every less probable one: total - (what the more probable tokens hold)
    mass_from_here_down = ascending.cumsum(dim=-1)  # (..., vocab)
    total = mass_from_here_down[..., -1:]  # (..., 1): 1, up to rounding
    n_cut = (mass_from_here_down <= (1 - top_p) * total).sum(dim=-1, keepdim=True)  # (..., 1)
    n_cut = n_cut.clamp(max=probabilities.shape[-1] - 1)  # the most probable token stays
    least_kept = ascending.gather(-1, n_cut)  # (..., 1)
    kept = wide.masked_fill(wide < least_kept, 0.0)
    return (kept / kept.sum(dim=-1, keepdim=True)).to(probabilities.dtype)


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
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    *,
    top_p: float | None = None,
) -> Chooser:
    """A chooser that draws each row's token from :func:`next_token_probabilities`.

    The draws come from ``generator``; without one, from a generator of its own,
    seeded afresh, so that the global random state is never used or changed.
    ``top_k`` and ``top_p`` cut the probabilities first (top k, then top p).
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r:.60}")
    _check_top_p(top_p)

    def choose(logits: torch.Tensor) -> torch.Tensor:
        nonlocal generator
        probabilities = next_token_probabilities(logits, temperature, top_k, top_p)  # (b, vocab)
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
    top_p: float | None = None,
    use_cache: bool = True,
    source_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampling: draw every token from softmax(logits / temperature), cut to the top k or p.

    ``top_k=1`` is greedy decoding; ``top_p`` keeps the nucleus (see
    :func:`nucleus`), after the top-k cut when both are given. Pass a seeded
    ``generator`` to get the same draws every time. source ``(batch, L_src)``
    -> tokens ``(batch, steps)``.

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> source = torch.randint(0, 10, (2, 5))
    >>> draws = [sample_decode(model, source, bos=10, temperature=2.0,
    ...                        generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    >>> torch.equal(*draws)  # the same seed draws the same tokens
    True
    """
    choose = sampling_choice(temperature, top_k, generator, top_p=top_p)
    return generate(
        model,
        source,
        bos,
        choose,
        steps,
        use_cache=use_cache,
        source_mask=source_mask,
    ).tokens  # the temperature acts in choose; generate's own only sets recorded probabilities


# --- beam search -----------------------------------------------------------------------


@dataclass
class Beams:
    """What :func:`beam_search` found: each source row's best sequence, its rivals and how.

    tokens ``(batch, steps)`` and log_probability ``(batch,)``: each row's best
    sequence and the sum of its tokens' log-probabilities. beams ``(batch,
    beam_size, steps)``, beam_log_probabilities and beam_scores ``(batch,
    beam_size)``: every beam at the end, best first (by score: the
    log-probability, divided by the length penalty when ``eos`` is given).
    history: one ``(tokens (batch, beam_size, t), log_probabilities (batch,
    beam_size))`` per step t = 1..steps, the beams as they stood after it.
    A beam that no sequence could fill (more beams than sequences so far, or
    than sequences that stop at ``eos``) has log-probability -inf.
    """

    tokens: torch.Tensor
    log_probability: torch.Tensor
    beams: torch.Tensor
    beam_log_probabilities: torch.Tensor
    beam_scores: torch.Tensor
    history: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)


def _check_beam_search(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    beam_size: int,
    length_penalty: float,
    steps: int | None,
    eos: int | None,
) -> None:
    steps = _check_source(model, source, bos, steps)
    beam_size = require_positive_int("beam_size", beam_size)
    n_sequences = model.vocab_size**steps
    if beam_size > n_sequences:
        raise ValueError(
            f"beam_size must be at most the {n_sequences} sequences of {steps} tokens from a "
            f"vocabulary of {model.vocab_size}, got {beam_size}"
        )
    if not math.isfinite(require_number("length_penalty", length_penalty)):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    if eos is not None and not 0 <= require_int("eos", eos) < model.vocab_size:
        raise ValueError(f"eos must be a token id in 0..{model.vocab_size - 1}, got {eos!r}")


def _follow_parents(cache: list[LayerCache], rows: torch.Tensor) -> None:
    """Every cached row takes the keys and values of the beam it grew from.

    rows ``(batch * beam_size,)``: the flat row of each new beam's parent.
    """
    for layer_cache in cache:
        layer_cache.self_attention.select_rows(rows)
        layer_cache.cross_attention.select_rows(rows)


def gnmt_length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """The length penalty of Wu et al. 2016 (GNMT): ((5 + length) / 6) ** alpha.

    A finished hypothesis is ranked by log_probability / penalty; alpha=0 ranks
    by the log-probability alone, a larger alpha favours longer hypotheses.

    >>> gnmt_length_penalty(torch.tensor([1.0, 7.0]), alpha=1.0)
    tensor([1., 2.])
    """
    return ((5 + length) / 6) ** alpha


@validated(_check_beam_search)
@torch.no_grad()
def beam_search(
    model: Transformer,
    source: torch.Tensor,
    bos: int,
    beam_size: int,
    length_penalty: float = 0.0,
    steps: int | None = None,
    *,
    eos: int | None = None,
    source_mask: torch.Tensor | None = None,
    use_cache: bool = True,
) -> Beams:
    """Beam search: keep the ``beam_size`` most probable prefixes at every step.

        score(y_1..y_t) = sum_i log p(y_i | source, bos, y_1..y_{i-1})

    At each step every beam is extended by every token of the vocabulary, and
    the ``beam_size`` best of the ``beam_size * vocab`` candidates become the
    next beams; each source row has beams of its own (the decoder runs on
    ``batch * beam_size`` rows). ``beam_size=1`` is greedy decoding; a beam
    of ``vocab ** (steps - 1)`` holds every prefix and finds the most probable
    sequence. With ``use_cache`` the key/value cache's rows follow their
    beams' parents at every step; both ways give the same beams.

    Decoding has a fixed length (default: the source length), as the book's
    tasks do. Without ``eos`` every hypothesis has that length, and
    ``length_penalty`` cannot change their order. With ``eos``, a beam that
    emits it is finished: it grows only by ``eos`` at no cost, and the final
    ranking divides each log-probability by :func:`gnmt_length_penalty` of
    its length (up to and including the first ``eos``) with alpha =
    ``length_penalty``. (During the search, beams compete by log-probability.)

    >>> model = Transformer(vocab_size=11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    >>> beam_search(model, torch.randint(0, 10, (3, 6)), bos=10, beam_size=4).beams.shape
    torch.Size([3, 4, 6])
    """
    batch, vocab, beam_size = source.shape[0], model.vocab_size, int(beam_size)
    steps = source.shape[1] if steps is None else int(steps)
    was_training = model.training
    model.eval()
    per_beam = torch.arange(batch, device=source.device).repeat_interleave(beam_size)  # (b*beam,)
    memory = model.encode(source, source_mask)[per_beam]  # (batch * beam, L_src, d_model)
    if source_mask is not None and source_mask.dim() == 3 and source_mask.shape[0] == batch:
        source_mask = source_mask[per_beam]  # (batch * beam, 1 | L, L_src)
    cache = model.new_cache() if use_cache else None
    prefix = torch.full((batch * beam_size, 1), bos, device=source.device)  # (batch * beam, 1)
    log_probabilities = torch.full(
        (batch, beam_size), float("-inf"), dtype=memory.dtype, device=source.device
    )
    log_probabilities[:, 0] = 0.0  # one live beam to start with: bos alone
    first_row = torch.arange(batch, device=source.device)[:, None] * beam_size  # (batch, 1)
    history = []
    for _ in range(steps):
        new_tokens = prefix[:, -1:] if use_cache else prefix  # the cache holds the others
        logits = model.decode(new_tokens, memory, source_mask, cache=cache)[:, -1]  # (b*beam, V)
        next_log_p = torch.log_softmax(logits, dim=-1).view(batch, beam_size, vocab)  # (b, beam, V)
        if eos is not None:  # a finished beam grows by eos alone, at no cost
            finished = (prefix[:, 1:] == eos).any(dim=1).view(batch, beam_size, 1)  # (b, beam, 1)
            only_eos = torch.full_like(next_log_p[0, 0], float("-inf"))  # (vocab,)
            only_eos[eos] = 0.0
            next_log_p = torch.where(finished, only_eos, next_log_p)
        candidates = log_probabilities[:, :, None] + next_log_p  # (batch, beam, vocab)
        flat = candidates.view(batch, beam_size * vocab)  # (batch, beam * vocab)
        log_probabilities, best = flat.topk(beam_size, dim=-1)  # (batch, beam), best first
        parents = first_row + best // vocab  # (batch, beam): the flat row each beam grows from
        tokens = best % vocab  # (batch, beam): the token it grows by
        prefix = torch.cat([prefix[parents.view(-1)], tokens.view(-1, 1)], dim=1)  # (b*beam, t+1)
        if cache is not None:
            _follow_parents(cache, parents.view(-1))  # (batch * beam,)
        beams_so_far = prefix[:, 1:].view(batch, beam_size, -1)  # (batch, beam, t), no bos
        history.append((beams_so_far, log_probabilities))
    model.train(was_training)
    beams = prefix[:, 1:].view(batch, beam_size, steps)  # (batch, beam, steps), without bos
    scores = log_probabilities
    if eos is not None:
        ends = (beams == eos).int().argmax(dim=-1)  # (batch, beam): the first eos, or 0 if none
        lengths = torch.where((beams == eos).any(dim=-1), ends + 1, steps)  # (batch, beam)
        scores = log_probabilities / gnmt_length_penalty(lengths.to(scores.dtype), length_penalty)
    order = scores.argsort(dim=-1, descending=True, stable=True)  # (batch, beam), best first
    beams = beams.gather(1, order[:, :, None].expand(-1, -1, steps))  # (batch, beam, steps)
    log_probabilities = log_probabilities.gather(1, order)
    return Beams(
        tokens=beams[:, 0],  # (batch, steps)
        log_probability=log_probabilities[:, 0],  # (batch,)
        beams=beams,
        beam_log_probabilities=log_probabilities,
        beam_scores=scores.gather(1, order),
        history=history,
    )


# --- decoder-only models: continue a prompt ---------------------------------------------


def _check_generate_text(model: GPT, prompt: torch.Tensor, steps: int, choose: Chooser) -> None:
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    prompt = check_token_ids("prompt", prompt, model.vocab_size)  # (batch, L), ids in range
    if prompt.shape[1] == 0:
        raise ValueError(f"prompt holds no tokens (shape {tuple(prompt.shape)}): give at least one")
    steps = require_int("steps", steps)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if prompt.shape[1] + steps > model.max_len:
        raise ValueError(
            f"a prompt of {prompt.shape[1]} tokens + steps={steps} is {prompt.shape[1] + steps} "
            f"positions, more than the model's max_len={model.max_len}; generate at most "
            f"{model.max_len - prompt.shape[1]} steps"
        )
    if not callable(choose):
        raise TypeError(f"choose must map logits (batch, vocab) to tokens (batch,), got {choose!r}")


@validated(_check_generate_text)
@torch.no_grad()
def generate_text(
    model: GPT,
    prompt: torch.Tensor,
    steps: int,
    choose: Chooser = greedy_choice,
    *,
    use_cache: bool = True,
) -> torch.Tensor:
    """Continue ``prompt`` by ``steps`` tokens, one at a time: each output is the next input.

        logits_t = model(tokens_0 .. tokens_t)[-1];  tokens_{t+1} = choose(logits_t)

    prompt ``(batch, L)`` token ids -> ``(batch, L + steps)``: the prompt and
    what follows it. ``L + steps`` may not exceed ``model.max_len``. With
    ``use_cache`` the prompt is read once and every later step feeds the
    model only the newest token; without it, every step reruns the model over
    the whole text. Both give the same tokens. The model runs in eval mode
    (no dropout); sampling draws from the chooser's own generator, so the
    global random state is left as it was.

    >>> model = GPT(20, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=12)
    >>> generate_text(model, torch.tensor([[3, 1, 4]]), steps=5).shape
    torch.Size([1, 8])
    """
    was_training = model.training
    model.eval()
    cache = model.new_cache() if use_cache else None
    tokens, new_tokens = prompt, prompt  # the first step reads the whole prompt
    for _ in range(steps):
        logits = model(new_tokens, cache=cache)[:, -1]  # (batch, vocab): scores the next token
        chosen = choose(logits).to(tokens.dtype)  # (batch,)
        tokens = torch.cat([tokens, chosen[:, None]], dim=1)  # (batch, L + t + 1)
        new_tokens = tokens[:, -1:] if use_cache else tokens  # the cache holds the others
    model.train(was_training)
    return tokens
