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
per-token loop, then several heads side by side (``MultiHeadAttention``),
with the key/value cache that decoding passes it (``KVCache``).

Layer: modules (imports the op ``softmax`` only; masks come from ``masking``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from lessons_lib._validate import (
    require_bool_mask,
    require_dtype_of,
    require_float,
    require_min_rank,
    require_number,
    require_positive_int,
    require_rank,
    validated,
)
from lessons_lib.softmax import softmax


def attention_scores(
    queries: torch.Tensor, keys: torch.Tensor, *, scaled: bool = True
) -> torch.Tensor:
    """How well each query matches each key: ``Q K^T / sqrt(d_k)``.

    queries ``(..., L_q, d_k)``, keys ``(..., L_k, d_k)`` -> scores ``(..., L_q, L_k)``.
    A random q·k has variance d_k; dividing by sqrt(d_k) brings it back to 1.
    Like :func:`attend`, it checks nothing: its callers do.

    >>> attention_scores(torch.ones(2, 4), torch.ones(3, 4)).shape
    torch.Size([2, 3])
    """
    scores = queries @ keys.transpose(-2, -1)  # (..., L_q, L_k)
    if scaled and queries.shape[-1] > 0:  # d_k = 0: every score is an empty sum, 0, as in torch
        scores = scores / math.sqrt(queries.shape[-1])
    return scores


def attend(
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    scaled: bool = True,
    bias: torch.Tensor | None = None,
    dropout: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The computation itself, without input checks: scores, softmax, weighted sum.

    The callers (:func:`scaled_dot_product_attention`, :class:`MultiHeadAttention`)
    check the inputs once, so nothing is checked here. ``bias`` (float,
    broadcastable to ``(..., L_q, L_k)``) is added to the scores before the
    mask and the softmax: ``softmax(Q K^T / sqrt(d_k) + bias)``,
    as torch's ``scaled_dot_product_attention`` does with a float ``attn_mask``.
    A masked-out score becomes -inf, so its weight is exactly 0; a row with
    nothing allowed gets all-zero weights (see :func:`lessons_lib.softmax`).
    ``dropout`` (e.g. an ``nn.Dropout``) is applied to the weights before
    they weight the values, as ``torch.nn.MultiheadAttention`` does, and the
    weights returned are the dropped ones, as torch returns them.
    """
    scores = attention_scores(queries, keys, scaled=scaled)  # (..., L_q, L_k)
    if bias is not None:
        scores = scores + bias  # (..., L_q, L_k), e.g. a relative position bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # may not attend -> -inf (apply_mask)
    weights = softmax(scores, dim=-1)  # each row sums to 1 over the keys
    if dropout is not None:
        weights = dropout(weights)  # training only: a weight is zeroed, or scaled by 1/(1-p)
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
    ``mask`` is bool, broadcastable to ``(..., L_q, L_k)`` without enlarging it
    (ValueError otherwise), True = may attend. Returns out ``(..., L_q, d_v)``
    and weights ``(..., L_q, L_k)``, in the input dtype. ``scaled=False`` drops
    the 1/sqrt(d_k), for experiments.
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


def _check_attention_per_token(
    inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> None:
    require_rank("inputs", require_float("inputs", inputs), 2, "(seq, d_model)")
    if inputs.shape[0] == 0:
        raise ValueError(f"inputs hold no tokens (shape {tuple(inputs.shape)}): nothing to attend")
    for name, weight in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        require_rank(name, require_float(name, weight), 2, "(d_model, d_k)")
        if weight.shape[0] != inputs.shape[1]:
            raise ValueError(
                f"{name} has {weight.shape[0]} rows but the inputs have d_model="
                f"{inputs.shape[1]}; each weight is (d_model, d_k)"
            )
    if w_q.shape[1] != w_k.shape[1]:
        raise ValueError(f"w_q gives d_k={w_q.shape[1]} but w_k gives d_k={w_k.shape[1]}")


@validated(_check_attention_per_token)
def attention_per_token(
    inputs: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> torch.Tensor:
    """One head, one token at a time, with the *same* W_Q, W_K, W_V for every token.

    inputs ``(seq, d_model)``; each weight ``(d_model, d_k)``. Equals the matrix
    form ``softmax(X W_Q (X W_K)^T / sqrt(d_k)) X W_V``, which is how a GPU
    runs it: every position at once.
    """
    keys = [x @ w_k for x in inputs]  # seq vectors of (d_k,)
    values = [x @ w_v for x in inputs]  # seq vectors of (d_v,)
    outputs = []
    for x in inputs:
        query = x @ w_q  # (d_k,)
        scores = torch.stack([query @ key for key in keys]) / math.sqrt(query.shape[0])  # (seq,)
        weights = softmax(scores)
        outputs.append(sum(weight * value for weight, value in zip(weights, values)))
    return torch.stack(outputs)  # (seq, d_v)


@dataclass
class KVCache:
    """One attention layer's keys and values from earlier decoding steps.

    ``keys`` and ``values`` are ``(batch, heads, seen, d_head)``, or None
    before the first step. A growing cache (``fixed=False``, self-attention)
    gains one position per step; a fixed cache (``fixed=True``,
    cross-attention) holds the encoder memory's keys and values, projected
    once. :meth:`MultiHeadAttention.keys_and_values` fills and reads it.

    >>> cache = KVCache()
    >>> mha = MultiHeadAttention(8, 2)
    >>> x = torch.randn(1, 1, 8)
    >>> _ = mha(x, x, x, cache=cache); _ = mha(x, x, x, cache=cache)
    >>> tuple(cache.keys.shape)
    (1, 2, 2, 4)
    """

    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None
    fixed: bool = field(default=False, kw_only=True)

    @property
    def length(self) -> int:
        """How many positions the cache holds."""
        return 0 if self.keys is None else self.keys.shape[2]

    def length_after(self, n_new: int) -> int:
        """How many keys attention reads when a call brings ``n_new`` more positions."""
        return self.length if self.fixed and self.keys is not None else self.length + n_new

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep the batch rows ``rows`` ``(new_batch,)``, in that order (beam search's parents).

        >>> cache = KVCache(torch.arange(2.0).view(2, 1, 1, 1), torch.zeros(2, 1, 1, 1))
        >>> cache.select_rows(torch.tensor([1, 1, 0]))
        >>> cache.keys.flatten().tolist()
        [1.0, 1.0, 0.0]
        """
        if self.keys is not None:
            self.keys = self.keys[rows]  # (new_batch, heads, seen, d_head)
            self.values = self.values[rows]


def require_dropout(name: str, p: object) -> float:
    """Return ``p`` if it is a dropout probability in [0, 1), else a TypeError or ValueError.

    ``nn.Dropout`` accepts 1, which zeroes everything (and 0/0 in its
    scaling, 1 / (1 - p)): a model built so would learn nothing.

    >>> require_dropout("dropout", 0.1)
    0.1
    """
    if not 0 <= require_number(name, p) < 1:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
    return float(p)


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
    While decoding, ``cache=KVCache()`` keeps the keys and values of earlier
    steps (see :meth:`keys_and_values`); the mask then spans every cached key.
    ``bias`` is added to every head's scores before the mask and the softmax:
    a float tensor broadcastable to ``(batch, num_heads, L_q, L_k)`` (e.g.
    ``(num_heads, L_q, L_k)`` or ``(1, L_q, L_k)``), or a callable that maps
    the heads' queries ``(batch, num_heads, L_q, d_head)`` to such a tensor,
    for a bias that depends on the query (the ViT paper's relative position
    code, :class:`lessons_lib.positions.RelativePositionBias2D`).

    ``dropout`` (default 0: none) drops attention weights in training mode
    only, each with probability ``dropout``, scaling the rest by
    ``1 / (1 - dropout)``, between the softmax and the weighted sum of the
    values, as ``nn.MultiheadAttention(dropout=...)`` does. The Transformer
    paper does not mention this dropout (its section 5.4 drops sublayer
    outputs and embeddings); torch's layers and the paper's tensor2tensor code
    apply it. The weights returned are those after dropout, as torch returns
    them: in training mode their rows need not sum to 1.

    >>> mha = MultiHeadAttention(d_model=16, num_heads=4)
    >>> out, weights = mha(torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 16))
    """

    def __init__(
        self, d_model: int, num_heads: int, *, bias: bool = True, dropout: float = 0.0
    ) -> None:
        super().__init__()
        d_model = require_positive_int("d_model", d_model)
        num_heads = require_positive_int("num_heads", num_heads)
        dropout = require_dropout("dropout", dropout)
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
        self.dropout = nn.Dropout(dropout)  # on the attention weights, in training mode only

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
        *,
        cache: KVCache | None = None,
        bias: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_inputs(query, key, value, cache)
        if mask is not None:  # checked before the cache grows, so a bad mask leaves it as it was
            length_k = key.shape[1] if cache is None else cache.length_after(key.shape[1])
            mask = self.mask_for_heads(mask, (query.shape[0], query.shape[1], length_k))
        queries = self.split_heads(self.w_q(query))  # (batch, heads, L_q, d_head)
        keys, values = self.keys_and_values(key, value, cache)  # (batch, heads, L_k, d_head)
        if bias is not None:
            bias = self._bias_for_heads(bias, queries, keys.shape[2])  # (.., heads, L_q, L_k)
        heads, weights = attend(  # (batch, heads, L_q, d_head), (batch, heads, L_q, L_k)
            queries, keys, values, mask=mask, bias=bias, dropout=self.dropout
        )
        return self.w_o(self.merge_heads(heads)), weights

    def keys_and_values(
        self, key: torch.Tensor, value: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Project ``key`` and ``value`` into heads, reusing and filling ``cache`` if given.

        Without a cache: ``split_heads(key W_K)``, ``split_heads(value W_V)``.
        With a growing cache (self-attention while decoding), the new keys and
        values are appended to the ones of earlier steps, which never change.
        With a fixed cache (cross-attention), the encoder's keys and values are
        projected on the first call and reused at every later step.
        """
        if cache is not None and cache.fixed and cache.keys is not None:
            return cache.keys, cache.values  # the memory's, projected on the first step
        keys = self.split_heads(self.w_k(key))  # (batch, heads, new, d_head)
        values = self.split_heads(self.w_v(value))  # (batch, heads, new, d_head)
        if cache is None:
            return keys, values
        if cache.keys is not None:
            keys = torch.cat([cache.keys, keys], dim=2)  # (batch, heads, seen + new, d_head)
            values = torch.cat([cache.values, values], dim=2)
        cache.keys, cache.values = keys, values
        return keys, values

    def _bias_for_heads(
        self,
        bias: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
        queries: torch.Tensor,
        length_k: int,
    ) -> torch.Tensor:
        """The additive bias as a tensor, checked to broadcast to ``(batch, heads, L_q, L_k)``."""
        if callable(bias) and not isinstance(bias, torch.Tensor):
            bias = bias(queries)  # (batch, heads, L_q, L_k), from the heads' queries
        bias = require_dtype_of("bias", require_float("bias", bias), self)
        batch, heads, length_q, _ = queries.shape
        try:
            shape = torch.broadcast_shapes(bias.shape, (batch, heads, length_q, length_k))
        except RuntimeError:
            shape = None
        if shape != (batch, heads, length_q, length_k):
            raise ValueError(
                f"bias must broadcast to (batch, num_heads, L_q, L_k) = "
                f"{(batch, heads, length_q, length_k)}, got shape {tuple(bias.shape)}"
            )
        return bias

    @staticmethod
    def mask_for_heads(
        mask: torch.Tensor, scores_shape: tuple[int, int, int] | None = None
    ) -> torch.Tensor:
        """Give a ``(batch, L_q, L_k)``-broadcastable mask a head axis of size 1.

        With ``scores_shape`` ``(batch, L_q, L_k)`` (as :meth:`forward` passes it,
        its one check of the mask), the mask must also be a bool tensor that
        broadcasts to that shape without enlarging it.
        """
        if isinstance(mask, torch.Tensor) and mask.dim() > 3:
            raise ValueError(
                "mask must broadcast to (batch, L_q, L_k) and is shared by all heads, "
                f"got {mask.dim()} dimensions with shape {tuple(mask.shape)}"
            )
        if scores_shape is not None:
            mask = require_bool_mask("mask", mask, scores_shape)
        while mask.dim() < 3:
            mask = mask.unsqueeze(0)  # (1, ..., L_k)
        return mask.unsqueeze(1)  # (batch, 1, L_q, L_k)

    def _check_inputs(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        cache: KVCache | None = None,
    ) -> None:
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            require_rank(name, require_float(name, tensor), 3, "(batch, seq, d_model)")
            require_dtype_of(name, tensor, self)
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
        if cache is None:
            return
        if not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
        expected = (key.shape[0], self.num_heads, self.d_head)  # (batch, heads, d_head)
        held = None if cache.keys is None else cache.keys.shape  # (batch, heads, seen, d_head)
        if held is not None and (held[0], held[1], held[3]) != expected:
            raise ValueError(
                f"the cache holds keys of shape {tuple(cache.keys.shape)} (batch, heads, seen, "
                f"d_head) but this call needs (batch, heads, d_head) = {expected}: "
                "use one cache per layer and per batch of sequences"
            )


def _check_copy_into_torch(ours: MultiHeadAttention) -> None:
    if not isinstance(ours, MultiHeadAttention):
        raise TypeError(f"ours must be a MultiHeadAttention, got {type(ours).__name__}")


@validated(_check_copy_into_torch)
def copy_into_torch(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """A ``torch.nn.MultiheadAttention(batch_first=True)`` holding exactly our weights.

    torch stacks W_Q, W_K, W_V into one ``in_proj_weight`` ``(3 d_model,
    d_model)``; we keep three ``nn.Linear``. Used by chapter 04 and the
    reference tests.

    >>> ours = MultiHeadAttention(8, 2)
    >>> theirs = copy_into_torch(ours)
    >>> theirs.in_proj_weight.shape
    torch.Size([24, 8])
    """
    theirs = nn.MultiheadAttention(
        ours.d_model,
        ours.num_heads,
        bias=ours.w_q.bias is not None,
        dropout=ours.dropout.p,
        batch_first=True,
    )
    theirs.to(ours.w_q.weight.dtype)
    projections = (ours.w_q, ours.w_k, ours.w_v)
    with torch.no_grad():  # ours -> theirs; ours is left as it is
        theirs.in_proj_weight.copy_(torch.cat([linear.weight for linear in projections]))
        theirs.out_proj.weight.copy_(ours.w_o.weight)
        if theirs.in_proj_bias is not None:
            theirs.in_proj_bias.copy_(torch.cat([linear.bias for linear in projections]))
            theirs.out_proj.bias.copy_(ours.w_o.bias)
    return theirs.eval()


def copy_from_torch(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """Load a ``torch.nn.MultiheadAttention``'s weights into ours (the reverse direction).

    Copies in place and also works when ``theirs`` was made by
    :func:`copy_into_torch`, as a round trip.
    """
    if not isinstance(ours, MultiHeadAttention):
        raise TypeError(f"ours must be a MultiHeadAttention, got {type(ours).__name__}")
    if not isinstance(theirs, nn.MultiheadAttention):
        raise TypeError(f"theirs must be an nn.MultiheadAttention, got {type(theirs).__name__}")
    if theirs.in_proj_weight is None:
        raise ValueError("theirs keeps separate q/k/v weights (kdim or vdim != embed_dim)")
    if (theirs.embed_dim, theirs.num_heads) != (ours.d_model, ours.num_heads):
        raise ValueError(
            f"theirs has (embed_dim, num_heads) = {(theirs.embed_dim, theirs.num_heads)} but "
            f"ours has (d_model, num_heads) = {(ours.d_model, ours.num_heads)}"
        )
    if (theirs.in_proj_bias is None) != (ours.w_q.bias is None):
        raise ValueError(
            f"one layer has biases and the other not (theirs: {theirs.in_proj_bias is not None}, "
            f"ours: {ours.w_q.bias is not None})"
        )
    projections = (ours.w_q, ours.w_k, ours.w_v)
    with torch.no_grad():
        for linear, weight in zip(projections, theirs.in_proj_weight.chunk(3)):
            linear.weight.copy_(weight)  # (d_model, d_model) each
        if theirs.in_proj_bias is not None:
            for linear, bias in zip(projections, theirs.in_proj_bias.chunk(3)):
                linear.bias.copy_(bias)
        ours.w_o.weight.copy_(theirs.out_proj.weight)
        if theirs.out_proj.bias is not None:
            ours.w_o.bias.copy_(theirs.out_proj.bias)
