"""Attention: the Q·K similarity weights the V's.

Every token's input vector x is projected three ways with weights shared by
all positions (Vaswani et al., 2017):

    query q = x W_Q     "what am I looking for?"
    key   k = x W_K     "what do I offer?"
    value v = x W_V     "what do I pass on?"

Query i scores every key j, the scores become weights through a softmax, and
the output is the weighted sum of the values:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Read top to bottom: the scores, one head's attention, the same thing as a
per-token loop, then several heads side by side (``MultiHeadAttention``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lessons_lib._validate import (
    require_bool_mask,
    require_float,
    require_min_rank,
    require_positive_int,
    require_rank,
)
from lessons_lib.masking import apply_mask
from lessons_lib.positions import sinusoidal_positions
from lessons_lib.softmax import softmax


def attention_scores(
    queries: torch.Tensor, keys: torch.Tensor, scaled: bool = True
) -> torch.Tensor:
    """How well each query matches each key: ``Q K^T / sqrt(d_k)``.

    queries ``(..., L_q, d_k)``, keys ``(..., L_k, d_k)`` -> scores ``(..., L_q, L_k)``.
    A random q·k has variance d_k; dividing by sqrt(d_k) brings it back to 1.

    >>> attention_scores(torch.ones(2, 4), torch.ones(3, 4)).shape
    torch.Size([2, 3])
    """
    scores = queries @ keys.transpose(-2, -1)  # (..., L_q, L_k)
    if scaled:
        scores = scores / math.sqrt(queries.shape[-1])
    return scores


def attend(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor | None = None,
    scaled: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The computation itself, without input checks: scores, softmax, weighted sum.

    A masked-out score becomes -inf, so its weight is exactly 0; a row with
    nothing allowed gets all-zero weights (see :func:`lessons_lib.softmax`).
    """
    scores = attention_scores(queries, keys, scaled=scaled)  # (..., L_q, L_k)
    if mask is not None:
        scores = apply_mask(scores, mask)  # masked-out scores -> -inf
    weights = softmax(scores, dim=-1)  # each row sums to 1 over the keys
    return weights @ values, weights  # (..., L_q, d_v), (..., L_q, L_k)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scaled: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention, returning the output and the weights.

        weights = softmax(Q K^T / sqrt(d_k)),  out = weights V

    q ``(..., L_q, d_k)``, k ``(..., L_k, d_k)``, v ``(..., L_k, d_v)``;
    ``mask`` is bool, broadcastable to ``(..., L_q, L_k)``, True = may attend.
    Returns out ``(..., L_q, d_v)`` and weights ``(..., L_q, L_k)``, in the
    input dtype. ``scaled=False`` drops the 1/sqrt(d_k), for experiments.
    Matches ``torch.nn.functional.scaled_dot_product_attention``.

    >>> q, k, v = torch.randn(5, 8), torch.randn(7, 8), torch.randn(7, 3)
    >>> out, weights = scaled_dot_product_attention(q, k, v)
    >>> out.shape, weights.shape
    (torch.Size([5, 3]), torch.Size([5, 7]))
    """
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_float(name, tensor)
        require_min_rank(name, tensor, 2, "(..., seq, dim)")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k and v must share one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q has d_k={q.shape[-1]} but k has d_k={k.shape[-1]}; they must be equal")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k has L_k={k.shape[-2]} positions but v has {v.shape[-2]}; "
            "every key needs exactly one value"
        )
    try:
        batch_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch) dimensions of q {tuple(q.shape)}, k {tuple(k.shape)} "
            f"and v {tuple(v.shape)} do not broadcast together"
        ) from None
    if mask is not None:
        require_bool_mask("mask", mask, (*batch_shape, q.shape[-2], k.shape[-2]))
    return attend(q, k, v, mask=mask, scaled=scaled)


def attention_per_token(
    inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> torch.Tensor:
    """One head, one token at a time, with the *same* W_Q, W_K, W_V for every token.

    inputs ``(seq, d_model)``; each weight ``(d_model, d_k)``. Equals the matrix
    form ``softmax(X W_Q (X W_K)^T / sqrt(d_k)) X W_V``, which is how a GPU
    runs it: every position at once.
    """
    require_rank("inputs", require_float("inputs", inputs), 2, "(seq, d_model)")
    keys = [x @ w_k for x in inputs]  # seq vectors of (d_k,)
    values = [x @ w_v for x in inputs]  # seq vectors of (d_v,)
    outputs = []
    for x in inputs:
        query = x @ w_q  # (d_k,)
        scores = torch.stack([query @ key for key in keys]) / math.sqrt(query.shape[0])  # (seq,)
        weights = softmax(scores)
        outputs.append(sum(weight * value for weight, value in zip(weights, values)))
    return torch.stack(outputs)  # (seq, d_v)


class MultiHeadAttention(nn.Module):
    """Several attention heads side by side, then one output projection.

        head_h = Attention(Q W_Q^h, K W_K^h, V W_V^h),   h = 1..num_heads
        out    = concat(head_1, ..., head_H) W_O

    ``w_q``, ``w_k``, ``w_v`` and ``w_o`` are ``nn.Linear(d_model, d_model)``;
    head h uses columns ``h*d_head:(h+1)*d_head`` of each projection, with
    ``d_head = d_model // num_heads``. Self-attention passes the same tensor as
    query, key and value; cross-attention passes the decoder's states as the
    query and the encoder's as key and value.

    forward(query ``(batch, L_q, d_model)``, key ``(batch, L_k, d_model)``,
    value ``(batch, L_k, d_model)``, mask bool broadcastable to
    ``(batch, L_q, L_k)``, True = may attend, shared by every head) ->
    out ``(batch, L_q, d_model)``, weights ``(batch, num_heads, L_q, L_k)``.
    Matches ``nn.MultiheadAttention(batch_first=True)`` given the same weights.

    >>> mha = MultiHeadAttention(d_model=16, num_heads=4)
    >>> out, weights = mha(torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 16))
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        require_positive_int("d_model", d_model)
        require_positive_int("num_heads", num_heads)
        if d_model % num_heads != 0:
            raise ValueError(
                f"d_model={d_model} must be divisible by num_heads={num_heads} "
                f"(each head gets d_model / num_heads dimensions); try num_heads in "
                f"{[h for h in range(1, d_model + 1) if d_model % h == 0][:8]}"
            )
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_head = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_head)``."""
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.num_heads, self.d_head)  # (batch, seq, heads, d_head)
        return x.transpose(1, 2)  # (batch, heads, seq, d_head)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, seq, d_head)`` -> ``(batch, seq, d_model)``: concatenate the heads."""
        batch, _, seq, _ = x.shape
        x = x.transpose(1, 2)  # (batch, seq, heads, d_head)
        return x.reshape(batch, seq, self.d_model)  # (batch, seq, d_model)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_inputs(query, key, value, mask)
        queries = self.split_heads(self.w_q(query))  # (batch, heads, L_q, d_head)
        keys = self.split_heads(self.w_k(key))  # (batch, heads, L_k, d_head)
        values = self.split_heads(self.w_v(value))  # (batch, heads, L_k, d_head)
        if mask is not None:
            mask = self.mask_for_heads(mask)  # (batch or 1, 1, L_q or 1, L_k)
        heads, weights = attend(queries, keys, values, mask=mask)  # (batch, heads, L_q, d_head)
        return self.w_o(self.merge_heads(heads)), weights

    @staticmethod
    def mask_for_heads(mask: torch.Tensor) -> torch.Tensor:
        """Give a ``(batch, L_q, L_k)``-broadcastable mask a head axis of size 1."""
        while mask.dim() < 3:
            mask = mask.unsqueeze(0)  # (1, ..., L_k)
        return mask.unsqueeze(1)  # (batch, 1, L_q, L_k)

    def _check_inputs(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> None:
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            require_rank(name, require_float(name, tensor), 3, "(batch, seq, d_model)")
            if tensor.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} has last dimension {tensor.shape[-1]} but this layer was "
                    f"built with d_model={self.d_model}; shape {tuple(tensor.shape)}"
                )
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key {tuple(key.shape)} and value {tuple(value.shape)} must share "
                "(batch, L_k): every key needs exactly one value"
            )
        if query.shape[0] != key.shape[0]:
            raise ValueError(f"query has batch {query.shape[0]} but key has batch {key.shape[0]}")
        if mask is not None:
            if mask.dim() > 3:
                raise ValueError(
                    "mask must broadcast to (batch, L_q, L_k) and is shared by all heads, "
                    f"got {mask.dim()} dimensions with shape {tuple(mask.shape)}"
                )
            require_bool_mask("mask", mask, (query.shape[0], query.shape[1], key.shape[1]))


class TinyCrossAttentionModel(nn.Module):
    """The smallest model whose cross-attention must learn an alignment.

    The encoder states are token embedding + sinusoidal position code of each
    source token (no encoder layers). The decoder knows only *which output
    position* t it is filling: its queries are the sinusoidal codes of t. One
    :class:`MultiHeadAttention` layer lets each output position read the
    source (Q from the decoder, K and V from the encoder), and a linear head
    turns what it read into logits over the vocabulary:

        states  = embed(source) + PE[0..L_k-1]           (batch, L_k, d_model)
        read, w = MultiHeadAttention(PE[0..L_q-1], states, states)
        logits  = Linear(read)                           (batch, L_q, vocab)

    Everything the decoder knows about the tokens passes through the weights
    ``w``, so on :class:`lessons_lib.data.ReversalTask` they must become the
    anti-diagonal: output t reads source ``L - 1 - t``. (The full model in
    ``transformer.py`` also feeds the decoder its previous outputs; this one
    leaves them out so that the alignment is all there is to learn.)

    >>> model = TinyCrossAttentionModel(vocab_size=11, length=8)
    >>> logits, weights = model(torch.randint(0, 10, (4, 8)))  # (4, 8, 11), (4, 2, 8, 8)
    """

    def __init__(self, vocab_size: int, length: int, d_model: int = 32, num_heads: int = 2) -> None:
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        self.length = require_positive_int("length", length)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.register_buffer("position_codes", sinusoidal_positions(length, d_model))
        self.cross_attention = MultiHeadAttention(d_model, num_heads)
        self.head = nn.Linear(d_model, vocab_size)

    def encode(self, sources: torch.Tensor) -> torch.Tensor:
        """``(batch, L_k)`` token ids -> encoder states ``(batch, L_k, d_model)``."""
        if not isinstance(sources, torch.Tensor) or sources.dtype != torch.long:
            raise TypeError(f"sources must be a LongTensor of token ids, got {sources!r:.60}")
        require_rank("sources", sources, 2, "(batch, L_k)")
        if sources.shape[1] > self.length:
            raise ValueError(
                f"sources have {sources.shape[1]} tokens but this model was built "
                f"for length={self.length}"
            )
        return self.embedding(sources) + self.position_codes[: sources.shape[1]]

    def forward(self, sources: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(batch, L, vocab)`` and cross-attention ``(batch, heads, L, L_k)``."""
        states = self.encode(sources)  # (batch, L_k, d_model)
        queries = self.position_codes.expand(sources.shape[0], -1, -1)  # (batch, L, d_model)
        read, weights = self.cross_attention(queries, states, states)  # (batch, L, d_model)
        return self.head(read), weights

    def loss(self, sources: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the predicted tokens against ``targets`` ``(batch, L)``."""
        logits, _ = self(sources)  # (batch, L, vocab)
        return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())

    @torch.no_grad()
    def accuracy(self, sources: torch.Tensor, targets: torch.Tensor) -> float:
        """Fraction of output tokens predicted right (argmax of the logits)."""
        logits, _ = self(sources)  # (batch, L, vocab)
        return float((logits.argmax(-1) == targets).float().mean())
