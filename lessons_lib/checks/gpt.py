"""Exercises of the chapter "From the Transformer to GPT" (``book/*_gpt.ipynb``).

Three small pieces of a GPT, each checked on inputs of other sizes than the
chapter's: the causal mask that lets position i read tokens 0..i, the
nucleus (top-p) filter that sampling uses, and one merge step of byte-pair
encoding (BPE), the tokenizer's training loop in miniature.

>>> import torch
>>> check_gpt_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
✅ Correct: position i reads tokens 0..i, itself included, and nothing later, for every n.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessons_lib._validate import require_int, require_rank, require_token_ids
from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.decoding import nucleus
from lessons_lib.masking import causal_mask
from lessons_lib.softmax import softmax

# --- the causal mask of a decoder-only model ------------------------------------------


def _causal_cases() -> list[Case]:
    return [Case((n,), f"n = {n}") for n in (4, 9, 1)]


CAUSAL_MISTAKES = [
    Mistake(
        "off by one: a token cannot read itself",
        "position i may read tokens 0..i, its own included: keep the diagonal "
        "(j <= i, torch.tril with diagonal=0, not diagonal=-1)",
        lambda n: causal_mask(n).tril(-1),
    ),
    Mistake(
        "upper triangle: reads the future",
        "rows are the reading positions, columns the tokens read: position i may read j <= i, "
        "the lower triangle (tril, not triu)",
        lambda n: causal_mask(n).T,
    ),
    Mistake(
        "True = blocked (torch's attn_mask convention)",
        "in this book True means *may read*: torch's nn.MultiheadAttention attn_mask uses the "
        "opposite, True = blocked; invert it with ~ (or build it with tril)",
        lambda n: ~causal_mask(n),
    ),
    Mistake(
        "additive float mask (0 and -inf)",
        "that is the additive form (nn.Transformer.generate_square_subsequent_mask) that is added "
        "to the scores; here return the bool mask, True where position i may read j",
        lambda n: torch.zeros(n, n).masked_fill(~causal_mask(n), float("-inf")),
    ),
    Mistake(
        "0/1 numbers instead of bools",
        "the pattern is right, but a mask is a bool tensor: build it with a comparison, or "
        "call .bool() on the 0/1 tensor",
        lambda n: causal_mask(n).float(),
    ),
]

GPT_CAUSAL_MASK = Exercise(
    name="check_gpt_causal_mask",
    parameters=("n",),
    cases=_causal_cases,
    solution=causal_mask,
    mistakes=CAUSAL_MISTAKES,
    success="position i reads tokens 0..i, itself included, and nothing later, for every n.",
    kind="bool mask",
)


def check_gpt_causal_mask(function: Callable[[int], torch.Tensor]) -> CheckResult:
    """Check ``function(n) -> (n, n)`` bool mask, True where position i may read token j (j <= i).

    Tried for n = 4, 9 and 1 (a single token reads only itself).

    >>> check_gpt_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1))
    ❌ Not yet: off by one: a token cannot read itself: position i may read tokens 0..i, its own included: keep the diagonal (j <= i, torch.tril with diagonal=0, not diagonal=-1)
    """  # noqa: E501
    return GPT_CAUSAL_MASK.check(function)


# --- top-p (nucleus) filtering --------------------------------------------------------


def _top_p_cases() -> list[Case]:
    """Probabilities in vocabulary order (not sorted), and a top_p that no partial sum meets.

    In every row the most probable token holds less than ``top_p``, so the
    nucleus has two tokens or more and the token that crosses ``top_p`` is
    never the first; no two probabilities are equal.
    """
    generator = torch.Generator().manual_seed(25)  # a seed whose rows meet the above
    cases = []
    for shape, top_p in (((7,), 0.6), ((3, 10), 0.85), ((2, 2, 6), 0.5)):
        logits = torch.randn(shape, generator=generator)  # (..., vocab)
        probabilities = softmax(logits, dim=-1)  # (..., vocab)
        label = f"probabilities of shape {shape} and top_p = {top_p}"
        cases.append(Case((probabilities, top_p), label))
    return cases


def _kept(probabilities: torch.Tensor, top_p: float, descending: bool = True) -> torch.Tensor:
    """Which tokens the nucleus keeps (bool, same shape), scanning in the given order.

    A token is kept when the tokens before it in that order hold less than ``top_p``.
    """
    ordered, order = probabilities.sort(dim=-1, descending=descending)  # (..., vocab)
    before = ordered.cumsum(dim=-1) - ordered  # (..., vocab): mass of the tokens before
    return (before < top_p).scatter(-1, order, before < top_p)


def _renormalised(kept: torch.Tensor) -> torch.Tensor:
    return kept / kept.sum(dim=-1, keepdim=True)


def _cut_before_crossing(probabilities: torch.Tensor, top_p: float) -> torch.Tensor:
    """The slip: keep only the tokens whose running total, their own included, stays below."""
    ordered, order = probabilities.sort(dim=-1, descending=True)  # (..., vocab)
    below = ordered.cumsum(dim=-1) < top_p  # (..., vocab)
    keep = below.scatter(-1, order, below)
    return _renormalised(probabilities * keep)


def _unsorted_running_total(probabilities: torch.Tensor, top_p: float) -> torch.Tensor:
    """The slip: the running total in vocabulary order, no sort first."""
    before = probabilities.cumsum(dim=-1) - probabilities  # (..., vocab)
    return _renormalised(probabilities * (before < top_p))


def _left_sorted(probabilities: torch.Tensor, top_p: float) -> torch.Tensor:
    """The slip: the filtered, renormalised probabilities left in sorted order."""
    ordered = probabilities.sort(dim=-1, descending=True).values  # (..., vocab)
    before = ordered.cumsum(dim=-1) - ordered  # (..., vocab)
    return _renormalised(ordered * (before < top_p))


TOP_P_MISTAKES = [
    Mistake(
        "not renormalised",
        "after zeroing the tokens outside the nucleus, divide the kept probabilities by their "
        "sum, so that they add up to 1 again",
        lambda p, top_p: p * _kept(p, top_p),
    ),
    Mistake(
        "the token that crosses top_p dropped",
        "the nucleus is the smallest set whose mass is *at least* top_p, so it includes the "
        "token that takes the running total past top_p: keep a token when the tokens before "
        "it hold less than top_p (cumsum - p < top_p), not when cumsum < top_p",
        _cut_before_crossing,
    ),
    Mistake(
        "sorted ascending: kept the least probable",
        "sort the probabilities in *descending* order (sort(descending=True)): the nucleus "
        "holds the most probable tokens",
        lambda p, top_p: _renormalised(p * _kept(p, top_p, descending=False)),
    ),
    Mistake(
        "no sort before the running total",
        "sort the probabilities in descending order before the cumulative sum: the nucleus is "
        "made of the most probable tokens, not of the first ones in vocabulary order",
        _unsorted_running_total,
    ),
    Mistake(
        "left in sorted order",
        "the filtered probabilities must go back to their tokens' places: scatter them with "
        "the indices that sort returned (or build a mask and apply it to the unsorted row)",
        _left_sorted,
    ),
    Mistake(
        "renormalised with a softmax",
        "the kept values are probabilities already: divide them by their sum; a softmax would "
        "exponentiate them again and flatten the distribution",
        lambda p, top_p: softmax(p.masked_fill(~_kept(p, top_p), float("-inf")), dim=-1),
    ),
]

TOP_P = Exercise(
    name="check_top_p",
    parameters=("probabilities", "top_p"),
    cases=_top_p_cases,
    solution=nucleus,
    mistakes=TOP_P_MISTAKES,
    success="your nucleus keeps the fewest most probable tokens that hold top_p, renormalised.",
)


def check_top_p(function: Callable[[torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Check ``function(probabilities (..., vocab), top_p) -> (..., vocab)``, the nucleus filter.

    The nucleus is the smallest set of most probable tokens whose probabilities
    add up to at least ``top_p``; the others get 0 and the kept ones are divided
    by their sum. The reference is :func:`lessons_lib.decoding.nucleus`.

    >>> check_top_p(nucleus)
    ✅ Correct: your nucleus keeps the fewest most probable tokens that hold top_p, renormalised.
    """
    return TOP_P.check(function)


# --- one merge step of byte-pair encoding ---------------------------------------------


def merge_pair(ids: torch.Tensor, pair: tuple[int, int], new_id: int) -> torch.Tensor:
    """One BPE merge step: every occurrence of ``pair``, left to right, becomes ``new_id``.

    ids ``(length,)`` -> ``(new_length,)``. The scan goes left to right and
    skips the pair's second token after a merge, so occurrences never overlap:
    with pair (a, a), ``a a a`` becomes ``aa a``.

    >>> merge_pair(torch.tensor([1, 1, 1, 2, 1, 1]), (1, 1), 7)
    tensor([7, 1, 2, 7])
    """
    ids = require_token_ids("ids", ids)
    require_rank("ids", ids, 1, "(length,)")
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"pair must be two token ids (left, right), got {pair!r}")
    first, second = (require_int("each id of pair", token) for token in pair)
    new_id = require_int("new_id", new_id)
    tokens = [int(token) for token in ids]
    merged = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and tokens[i] == first and tokens[i + 1] == second:
            merged.append(new_id)
            i += 2  # the pair's second token is used up
        else:
            merged.append(tokens[i])
            i += 1
    return torch.tensor(merged, dtype=torch.long)


ALPHABET = " abehnrt"
"""The characters of the merge cases; a character's id is its place here."""


def _ids(text: str) -> torch.Tensor:
    return torch.tensor([ALPHABET.index(character) for character in text], dtype=torch.long)


def _merge_cases() -> list[Case]:
    """Texts as character ids, a pair of ids and the new id (the next free one)."""
    new_id = len(ALPHABET)
    cases = []
    for text, pair in (
        ("aaab aa baaaa", "aa"),  # runs of 3 and 4 of a doubled pair
        ("abba ab ba bab", "ab"),  # the reversed pair (b, a) occurs too
        ("the then eth th", "th"),  # at the start and at the very end
        ("banana", "an"),  # two occurrences back to back
    ):
        ids = _ids(text)
        label = f"the ids of {text!r} and the pair {pair!r} -> {new_id}"
        cases.append(Case((ids, (ALPHABET.index(pair[0]), ALPHABET.index(pair[1])), new_id), label))
    return cases


def _only_first(ids: torch.Tensor, pair: tuple[int, int], new_id: int) -> torch.Tensor:
    tokens = ids.tolist()
    for i in range(len(tokens) - 1):
        if (tokens[i], tokens[i + 1]) == tuple(pair):
            return torch.tensor([*tokens[:i], new_id, *tokens[i + 2 :]], dtype=torch.long)
    return torch.tensor(tokens, dtype=torch.long)


def _second_kept(ids: torch.Tensor, pair: tuple[int, int], new_id: int) -> torch.Tensor:
    tokens = ids.tolist()
    merged = []
    for i, token in enumerate(tokens):  # every position, once, whether merged or not
        if i + 1 < len(tokens) and (token, tokens[i + 1]) == tuple(pair):
            merged.append(new_id)
        else:
            merged.append(token)
    return torch.tensor(merged, dtype=torch.long)


def _from_the_right(ids: torch.Tensor, pair: tuple[int, int], new_id: int) -> torch.Tensor:
    reversed_ids = ids.flip(0)  # (length,)
    return merge_pair(reversed_ids, (pair[1], pair[0]), new_id).flip(0)


def _every_overlap(ids: torch.Tensor, pair: tuple[int, int], new_id: int) -> torch.Tensor:
    """The vectorised slip: mark every match, overlapping ones too, then drop every second."""
    starts = torch.zeros_like(ids, dtype=torch.bool)  # (length,)
    starts[:-1] = (ids[:-1] == pair[0]) & (ids[1:] == pair[1])
    seconds = torch.zeros_like(starts)
    seconds[1:] = starts[:-1]
    return ids.masked_fill(starts, new_id)[~seconds]


MERGE_MISTAKES = [
    Mistake(
        "only the first occurrence merged",
        "keep scanning after a merge: every occurrence of the pair becomes the new id, "
        "not only the first",
        _only_first,
    ),
    Mistake(
        "the pair's second token kept",
        "after a merge, skip the pair's second token (i += 2): it is part of the new token "
        "and must not be copied again",
        _second_kept,
    ),
    Mistake(
        "merged from the right",
        "scan left to right: with the pair (a, a), 'a a a' becomes 'aa a', not 'a aa'",
        _from_the_right,
    ),
    Mistake(
        "overlapping occurrences merged",
        "occurrences must not overlap: once a pair is merged its tokens are used up, so "
        "'a a a' with the pair (a, a) gives 'aa a' (the last a stays), not one token",
        _every_overlap,
    ),
    Mistake(
        "pair read in the wrong order",
        "the pair is (left, right): merge a left token followed by a right token, not the "
        "other way round",
        lambda ids, pair, new_id: merge_pair(ids, (pair[1], pair[0]), new_id),
    ),
]

BPE_MERGE = Exercise(
    name="check_bpe_merge",
    parameters=("ids", "pair", "new_id"),
    cases=_merge_cases,
    solution=merge_pair,
    mistakes=MERGE_MISTAKES,
    success="every occurrence of the pair, left to right and never overlapping, is merged.",
)


def check_bpe_merge(
    function: Callable[[torch.Tensor, tuple[int, int], int], torch.Tensor],
) -> CheckResult:
    """Check ``function(ids (length,), pair (left, right), new_id) -> ids (new_length,)``.

    One merge step of BPE training: scan the ids left to right and replace
    every adjacent ``left, right`` by ``new_id``; occurrences never overlap.
    Return the merged ids as a 1-D integer tensor (``torch.tensor(merged)``).
    A function that changes ``ids`` in place is told so (the checker gives it a copy).

    >>> check_bpe_merge(merge_pair)
    ✅ Correct: every occurrence of the pair, left to right and never overlapping, is merged.
    """
    return BPE_MERGE.check(function)
