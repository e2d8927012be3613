"""The encoder-decoder Transformer, assembled from the chapters' parts.

    encoder layer:  x = AddNorm(x, SelfAttention(x))
                    x = AddNorm(x, FeedForward(x))
    decoder layer:  y = AddNorm(y, MaskedSelfAttention(y))
                    y = AddNorm(y, CrossAttention(queries=y, keys=values=memory))
                    y = AddNorm(y, FeedForward(y))

``memory`` is the encoder's output: the decoder's queries read the encoder's
keys and values. Post-norm (the norm after each sum) follows the paper and the
notes; ``norm_first=True`` gives pre-norm, ``x + Sublayer(LayerNorm(x))``, as
GPT-2 and the ViT paper use. Read top to bottom: one residual step, the two
layers, the whole model with its embeddings and final ``Linear`` (its
``decode`` takes the key/value cache of chapter 07), and the one-layer model
of chapter 04 whose only job is a cross-attention alignment, and the stack of
encoder layers that chapter 05 trains with and without warm-up.

Layer: models (imports torch and the modules below it only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from lessons_lib._validate import (
    require_dtype_of,
    require_float,
    require_positive_int,
    require_rank,
    require_tensor,
    validated,
)
from lessons_lib.attention import KVCache, MultiHeadAttention, copy_from_torch, require_dropout
from lessons_lib.masking import causal_mask
from lessons_lib.positions import sinusoidal_positions
from lessons_lib.residual import AddNorm, FeedForward, LayerNorm

Sublayer = Callable[[torch.Tensor], torch.Tensor]


def residual_step(
    x: torch.Tensor,
    sublayer: Sublayer,
    add_norm: AddNorm,
    dropout: nn.Module,
    *,
    norm_first: bool,
) -> torch.Tensor:
    """One sublayer with its residual connection and layer norm.

    post-norm (paper, notes, default):  LayerNorm(x + Dropout(Sublayer(x)))
    pre-norm (norm_first=True):         x + Dropout(Sublayer(LayerNorm(x)))

    The dropout is the paper's (Vaswani et al. 2017, section 5.4): "to the
    output of each sub-layer, before it is added to the sub-layer input and
    normalized"; it acts in training mode only.
    """
    if norm_first:
        return x + dropout(sublayer(add_norm.norm(x)))
    return add_norm(x, dropout(sublayer(x)))


def _check_states(name: str, x: object, layer: nn.Module) -> torch.Tensor:
    tensor = require_dtype_of(name, require_float(name, x), layer)
    require_rank(name, tensor, 3, "(batch, seq, d_model)")
    if tensor.shape[-1] != layer.d_model:
        raise ValueError(
            f"{name} must end in d_model={layer.d_model}, got shape {tuple(tensor.shape)}"
        )
    return tensor


class _LayerParts(nn.Module):
    """What encoder and decoder layers share: self-attention, feed-forward, two add & norms.

    ``dropout`` (in [0, 1), default 0) is used three ways, as in
    ``nn.TransformerEncoderLayer``: on each sublayer's output before the
    residual sum (the paper's, section 5.4), on the attention weights (see
    :class:`MultiHeadAttention`) and on the feed-forward block's hidden units.
    The random numbers are drawn in torch's order, so that under one seed a
    layer in training mode equals torch's, dropped units included.
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.norm_first = norm_first
        require_dropout("dropout", dropout)
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = AddNorm(d_model)
        self.norm2 = AddNorm(d_model)
        self.dropout = nn.Dropout(dropout)


class EncoderLayer(_LayerParts):
    """Self-attention, then the feed-forward block, each wrapped in add & norm.

        x = LayerNorm(x + Dropout(SelfAttention(x, x, x, mask)))
        x = LayerNorm(x + Dropout(FeedForward(x)))

    Post-norm by default, as in the paper and the notes; ``norm_first=True``
    gives pre-norm (as the ViT paper uses). x ``(batch, seq, d_model)``, mask
    bool broadcastable to ``(batch, seq, seq)``, True = may attend ->
    ``(batch, seq, d_model)``; with ``need_weights=True``, also the attention
    weights ``(batch, heads, seq, seq)``. ``activation`` ("relu", the default,
    or "gelu") is the feed-forward block's. Matches
    ``nn.TransformerEncoderLayer(batch_first=True)`` with the same activation
    (see :func:`copy_torch_weights`).

    >>> layer = EncoderLayer(d_model=32, num_heads=4, d_ff=64)
    >>> layer(torch.randn(2, 7, 32)).shape
    torch.Size([2, 7, 32])
    """

    def _check_forward(self, x: torch.Tensor) -> None:
        _check_states("x", x, self)  # the mask and the bias: checked by self_attention

    @validated(_check_forward)
    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        bias: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        seen: dict[str, torch.Tensor] = {}

        def self_attend(h: torch.Tensor) -> torch.Tensor:  # bias: see MultiHeadAttention
            out, seen["self"] = self.self_attention(h, h, h, mask, bias=bias)  # (b, heads, L, L)
            return out

        x = residual_step(x, self_attend, self.norm1, self.dropout, norm_first=self.norm_first)
        x = residual_step(
            x, self.feed_forward, self.norm2, self.dropout, norm_first=self.norm_first
        )
        return (x, seen["self"]) if need_weights else x


@dataclass
class LayerCache:
    """A decoder layer's key/value caches: one grows (self-attention), one is fixed (cross)."""

    self_attention: KVCache = field(default_factory=KVCache)
    cross_attention: KVCache = field(default_factory=lambda: KVCache(fixed=True))


class DecoderLayer(_LayerParts):
    """Masked self-attention, cross-attention to the encoder, feed-forward; each with add & norm.

        y = LayerNorm(y + SelfAttention(y, y, y, target_mask))
        y = LayerNorm(y + CrossAttention(y, memory, memory, memory_mask))
        y = LayerNorm(y + FeedForward(y))

    With ``cross_attention=False`` the middle sublayer is gone: masked
    self-attention and the feed-forward block only, the layer of a
    decoder-only model (:class:`lessons_lib.gpt.GPT`), called without memory.
    It has no ``cross_attention`` and no ``norm2``: ``norm1`` and ``norm3``
    keep the names of their places in the full layer. Given ``causal_mask``
    it equals ``nn.TransformerEncoderLayer`` run with the causal mask.

    y ``(batch, L_tgt, d_model)``, memory (the encoder output) ``(batch,
    L_src, d_model)``. ``target_mask`` (usually ``causal_mask(L_tgt)``, which
    :class:`Transformer` passes) broadcasts to ``(batch, L_tgt, L_tgt)``;
    ``memory_mask`` to ``(batch, L_tgt, L_src)``; True = may attend.
    With ``need_weights=True`` it also returns ``{"self": ..., "cross": ...}``,
    the weights ``(batch, heads, L_tgt, L_tgt | L_src)`` (``"self"`` alone
    without cross-attention). With a
    :class:`LayerCache`, ``y`` holds only the new positions: the cache supplies
    the keys and values of the earlier ones (and of the memory). Matches
    ``nn.TransformerDecoderLayer(batch_first=True)`` with ReLU.

    >>> from lessons_lib.masking import causal_mask
    >>> layer = DecoderLayer(d_model=32, num_heads=4, d_ff=64)
    >>> layer(torch.randn(2, 5, 32), torch.randn(2, 7, 32), causal_mask(5)).shape
    torch.Size([2, 5, 32])
    >>> alone = DecoderLayer(d_model=32, num_heads=4, d_ff=64, cross_attention=False)
    >>> alone(torch.randn(2, 5, 32), target_mask=causal_mask(5)).shape
    torch.Size([2, 5, 32])
    """

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
        cross_attention: bool = True,
    ) -> None:
        super().__init__(
            d_model,
            num_heads=num_heads,
            d_ff=d_ff,
            dropout=dropout,
            norm_first=norm_first,
            activation=activation,
        )
        if cross_attention:
            self.cross_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        else:  # decoder-only: no cross-attention, and no add & norm around it
            self.cross_attention = None
            del self.norm2
        self.norm3 = AddNorm(d_model)

    def _check_forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor | None,
        memory_mask: torch.Tensor | None,
        cache: LayerCache | None,
    ) -> None:
        y = _check_states("y", y, self)  # the masks: checked by the attention layers using them
        if self.cross_attention is None and (memory is not None or memory_mask is not None):
            raise ValueError(
                "this DecoderLayer was built with cross_attention=False: it reads no encoder "
                "memory, so call it without memory and memory_mask"
            )
        if self.cross_attention is not None:
            if memory is None:
                raise ValueError(
                    "memory (the encoder's output, (batch, L_src, d_model)) is missing: this "
                    "DecoderLayer has cross-attention; build it with cross_attention=False "
                    "for a decoder-only model"
                )
            memory = _check_states("memory", memory, self)
            if memory.shape[0] != y.shape[0]:
                raise ValueError(f"y has batch {y.shape[0]} but memory has batch {memory.shape[0]}")
        if cache is not None and not isinstance(cache, LayerCache):
            raise TypeError(f"cache must be a LayerCache, got {type(cache).__name__}")

    @validated(_check_forward)
    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor | None = None,
        target_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        cache: LayerCache | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self_cache = None if cache is None else cache.self_attention  # grows by L_tgt
        cross_cache = None if cache is None else cache.cross_attention  # memory's, fixed
        seen: dict[str, torch.Tensor] = {}

        def self_attend(h: torch.Tensor) -> torch.Tensor:
            out, seen["self"] = self.self_attention(h, h, h, target_mask, cache=self_cache)
            return out

        def cross_attend(h: torch.Tensor) -> torch.Tensor:
            out, seen["cross"] = self.cross_attention(
                h, memory, memory, memory_mask, cache=cross_cache
            )
            return out

        y = residual_step(y, self_attend, self.norm1, self.dropout, norm_first=self.norm_first)
        if self.cross_attention is not None:  # a decoder-only layer (GPT) has none
            y = residual_step(y, cross_attend, self.norm2, self.dropout, norm_first=self.norm_first)
        y = residual_step(
            y, self.feed_forward, self.norm3, self.dropout, norm_first=self.norm_first
        )
        return (y, seen) if need_weights else y


class Transformer(nn.Module):
    """The encoder-decoder Transformer: embeddings + positions, N layers each side, a final Linear.

        memory = Encoder(source_embedding(source) + PE)
        hidden = Decoder(target_embedding(target_in) + PE, memory)   (causal mask)
        logits = hidden W + b                                        (the final Linear)

    source ``(batch, L_src)`` and target_in ``(batch, L_tgt)`` are token ids
    (long); ``target_in`` is the target shifted right behind a begin token
    (:func:`lessons_lib.data.shift_right`). Returns logits ``(batch, L_tgt,
    vocab_size)``: position t scores the token that comes *after* target_in[:, t].
    ``source_mask`` (optional, e.g. ``padding_mask(lengths, L_src)``)
    broadcasts to ``(batch, 1 | L, L_src)``; True = real token.

    Choices: positions are the fixed sinusoidal codes of the paper; the
    embeddings start as N(0, 1) and so are not multiplied by sqrt(d_model)
    (the paper scales them because it shares them with the final Linear; we
    do not share). Post-norm by default; with ``norm_first=True`` the
    encoder's and decoder's outputs get a final LayerNorm, as pre-norm needs.
    ``dropout`` (in [0, 1), default 0) acts in training mode on the sums of
    the embeddings and the position codes (the paper, section 5.4) and in
    every layer (see :class:`EncoderLayer`).

    >>> model = Transformer(vocab_size=11, d_model=32, num_heads=4, num_layers=2, d_ff=64)
    >>> model(torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 8))).shape
    torch.Size([3, 8, 11])
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 2,
        d_ff: int = 128,
        max_len: int = 128,
        dropout: float = 0.0,
        norm_first: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = require_positive_int("vocab_size", vocab_size)
        self.d_model = require_positive_int("d_model", d_model)
        require_positive_int("num_layers", num_layers)
        self.max_len = require_positive_int("max_len", max_len)
        require_dropout("dropout", dropout)
        self.source_embedding = nn.Embedding(vocab_size, d_model)
        self.target_embedding = nn.Embedding(vocab_size, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        layer_args = dict(num_heads=num_heads, d_ff=d_ff, dropout=dropout, norm_first=norm_first)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(d_model, **layer_args) for _ in range(num_layers)
        )
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(d_model, **layer_args) for _ in range(num_layers)
        )
        self.encoder_norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.output = nn.Linear(d_model, vocab_size)  # the final Linear: scores per token
        self.dropout = nn.Dropout(dropout)

    def _check_tokens(self, name: str, tokens: object) -> torch.Tensor:
        return check_token_ids(name, tokens, self.vocab_size)

    def embed(self, embedding: nn.Embedding, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token embedding + position code, for positions ``start .. start + seq - 1``.

        tokens ``(batch, seq)`` -> ``(batch, seq, d_model)``.
        """
        seq = tokens.shape[1]
        if start + seq > self.max_len:
            raise ValueError(
                f"position {start + seq - 1} is past max_len={self.max_len}; "
                "build the model with a larger max_len"
            )
        codes = self.positions[start : start + seq]  # (seq, d_model)
        return self.dropout(embedding(tokens) + codes)  # (batch, seq, d_model)

    def encode(
        self,
        source: torch.Tensor,
        source_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """source ``(batch, L_src)`` -> memory ``(batch, L_src, d_model)``.

        ``need_weights=True`` also returns each layer's self-attention weights
        ``(batch, heads, L_src, L_src)``.
        """
        source = self._check_tokens("source", source)
        if source.shape[1] == 0:
            raise ValueError(
                f"source has no tokens (shape {tuple(source.shape)}): the encoder needs at "
                "least one, so that the decoder's cross-attention has something to read"
            )
        x = self.embed(self.source_embedding, source)  # (batch, L_src, d_model)
        weights = []
        for layer in self.encoder_layers:
            x, layer_weights = layer(x, source_mask, need_weights=True)
            weights.append(layer_weights)
        memory = self.encoder_norm(x)
        return (memory, weights) if need_weights else memory

    def new_cache(self) -> list[LayerCache]:
        """Empty key/value caches, one per decoder layer, for :meth:`decode` (chapter 07)."""
        return [LayerCache() for _ in self.decoder_layers]

    def decode(
        self,
        target_in: torch.Tensor,
        memory: torch.Tensor,
        source_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        cache: list[LayerCache] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        """target_in ``(batch, L_tgt)``, memory -> logits ``(batch, L_tgt, vocab_size)``.

        The causal mask keeps position t from seeing target_in[:, t+1:]. With
        ``cache`` (from :meth:`new_cache`), ``target_in`` holds only the new
        tokens: the cache supplies the keys and values of the earlier ones, and
        their positions continue where the cache ends. ``need_weights=True``
        also returns each layer's ``{"self": ..., "cross": ...}`` weights.
        """
        target_in = self._check_tokens("target_in", target_in)
        if target_in.shape[1] == 0:
            raise ValueError(
                f"target_in has no tokens (shape {tuple(target_in.shape)}): the decoder needs "
                "at least one, e.g. the begin token that shift_right puts first"
            )
        if cache is not None:
            self._check_cache(cache)
        start = 0 if cache is None else cache[0].self_attention.length  # tokens already seen
        y = self.embed(self.target_embedding, target_in, start)  # (batch, L_new, d_model)
        seen = start + target_in.shape[1]
        mask = causal_mask(seen)[start:].to(y.device)  # (L_new, seen): no peeking ahead
        layer_caches = cache if cache is not None else [None] * len(self.decoder_layers)
        weights = []
        for layer, layer_cache in zip(self.decoder_layers, layer_caches):
            y, layer_weights = layer(
                y, memory, mask, source_mask, need_weights=True, cache=layer_cache
            )
            weights.append(layer_weights)
        logits = self.output(self.decoder_norm(y))  # (batch, L_new, vocab_size)
        return (logits, weights) if need_weights else logits

    def _check_cache(self, cache: object) -> None:
        """A cache from :meth:`new_cache`: one :class:`LayerCache` per decoder layer."""
        check_layer_caches(cache, len(self.decoder_layers))

    def forward(
        self,
        source: torch.Tensor,
        target_in: torch.Tensor,
        source_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.decode(target_in, self.encode(source, source_mask), source_mask)


def check_token_ids(name: str, tokens: object, vocab_size: int) -> torch.Tensor:
    """Return ``tokens`` if it is a ``(batch, seq)`` tensor of ids in ``0..vocab_size-1``.

    The ids' values are not read on the ``meta`` device (it has shapes only)
    nor while ``torch.compile`` or ``torch.onnx.export(dynamo=True)`` traces
    the model: a check that reads values would break the graph there.
    """
    tokens = require_tensor(name, tokens)
    if tokens.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold token ids (torch.long), got dtype {tokens.dtype}")
    require_rank(name, tokens, 2, "(batch, seq)")
    values_known = (  # meta: shapes only; tracing: no values to branch on
        tokens.numel() and tokens.device.type != "meta" and not torch.compiler.is_compiling()
    )
    if values_known and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(
            f"{name} holds ids from {int(tokens.min())} to {int(tokens.max())}, "
            f"outside 0..vocab_size-1 = 0..{vocab_size - 1}"
        )
    return tokens


def check_layer_caches(cache: object, num_layers: int) -> None:
    """Raise unless ``cache`` is a list of ``num_layers`` :class:`LayerCache` of one length."""
    if not isinstance(cache, (list, tuple)):
        raise TypeError(
            f"cache must be a list of LayerCache from new_cache(), got {type(cache).__name__}"
        )
    if len(cache) != num_layers:
        raise ValueError(
            f"cache has {len(cache)} layers but the model has {num_layers}; "
            "make it with this model's new_cache()"
        )
    for layer_cache in cache:
        if not isinstance(layer_cache, LayerCache):
            raise TypeError(
                f"cache must hold one LayerCache per layer, got {type(layer_cache).__name__}"
            )
    lengths = {layer_cache.self_attention.length for layer_cache in cache}
    if len(lengths) > 1:
        raise ValueError(
            f"the cache's layers hold different numbers of tokens {sorted(lengths)}; "
            "they must all have seen the same tokens"
        )


def copy_torch_weights(ours: EncoderLayer | DecoderLayer, theirs: nn.Module) -> None:
    """Copy an ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` into ours.

    torch keeps W_Q, W_K, W_V stacked in one ``in_proj_weight`` ``(3 d_model,
    d_model)``; we keep three ``nn.Linear``. The feed-forward and norm
    weights map one to one. A decoder-only ``DecoderLayer(cross_attention=False)``
    takes an ``nn.TransformerEncoderLayer``'s weights (its ``norm1`` and
    ``norm2`` become our ``norm1`` and ``norm3``): torch has no decoder-only
    layer, and an encoder layer run with the causal mask is one. Used by the
    reference tests and the chapters.
    """
    decoder_only = isinstance(ours, DecoderLayer) and ours.cross_attention is None
    if isinstance(ours, DecoderLayer) and not decoder_only:
        expected = nn.TransformerDecoderLayer
    elif isinstance(ours, EncoderLayer) or decoder_only:
        expected = nn.TransformerEncoderLayer
    else:
        raise TypeError(
            f"ours must be an EncoderLayer or a DecoderLayer, got {type(ours).__name__}"
        )
    if not isinstance(theirs, expected):
        raise TypeError(
            f"theirs must be an nn.{expected.__name__} for ours, a {type(ours).__name__}, "
            f"got {type(theirs).__name__}"
        )
    ours_sizes = (
        ours.d_model,
        ours.self_attention.num_heads,
        ours.feed_forward.linear1.out_features,
    )
    theirs_sizes = (
        theirs.self_attn.embed_dim,
        theirs.self_attn.num_heads,
        theirs.linear1.out_features,
    )
    if ours_sizes != theirs_sizes:
        raise ValueError(
            f"theirs has (d_model, num_heads, d_ff) = {theirs_sizes} but ours has {ours_sizes}"
        )
    their_norm_first = bool(getattr(theirs, "norm_first", False))  # torch < 1.10: post-norm
    if their_norm_first != ours.norm_first:
        raise ValueError(
            f"theirs has norm_first={their_norm_first} but ours has norm_first={ours.norm_first}"
        )
    pairs = [(ours.self_attention, theirs.self_attn)]
    if isinstance(ours, DecoderLayer) and not decoder_only:
        pairs.append((ours.cross_attention, theirs.multihead_attn))
    if decoder_only:
        norms = [ours.norm1, ours.norm3]  # theirs: norm1, norm2
    elif isinstance(ours, DecoderLayer):
        norms = [ours.norm1, ours.norm2, ours.norm3]
    else:
        norms = [ours.norm1, ours.norm2]
    for attention, torch_attention in pairs:
        copy_from_torch(attention, torch_attention)
    with torch.no_grad():
        ours.feed_forward.linear1.load_state_dict(theirs.linear1.state_dict())
        ours.feed_forward.linear2.load_state_dict(theirs.linear2.state_dict())
        for index, add_norm in enumerate(norms, start=1):
            add_norm.norm.load_state_dict(getattr(theirs, f"norm{index}").state_dict())


class TinyCrossAttentionModel(nn.Module):
    """The smallest model whose cross-attention must learn an alignment (chapter 04).

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
    ``w``, so on digit reversal they must become the anti-diagonal: output t
    reads source ``L - 1 - t``. (:class:`Transformer` also feeds the decoder
    its previous outputs; this one leaves them out so that the alignment is
    all there is to learn.)

    >>> model = TinyCrossAttentionModel(vocab_size=11, length=8)
    >>> logits, weights = model(torch.randint(0, 10, (4, 8)))  # (4, 8, 11), (4, 2, 8, 8)
    """

    def __init__(
        self, vocab_size: int, *, length: int, d_model: int = 32, num_heads: int = 2
    ) -> None:
        super().__init__()
        self.vocab_size = require_positive_int("vocab_size", vocab_size)
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
        if sources.shape[1] == 0:
            raise ValueError(
                f"sources have no tokens (shape {tuple(sources.shape)}): cross-attention "
                "needs at least one to read"
            )
        values_known = sources.numel() and sources.device.type != "meta"  # meta: shapes only
        if values_known and (sources.min() < 0 or sources.max() >= self.vocab_size):
            raise ValueError(
                f"sources hold ids from {int(sources.min())} to {int(sources.max())}, "
                f"outside 0..vocab_size-1 = 0..{self.vocab_size - 1}"
            )
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


class EncoderStack(nn.Module):
    """Encoder layers that write one token per position: the model of chapter 05's warm-up runs.

        h_0    = embedding(tokens) + PE                  (batch, length, d_model)
        h_l    = EncoderLayer_l(h_{l-1}),  l = 1 .. N    post-norm, or pre-norm (norm_first)
        logits = Linear(LayerNorm(h_N))                  the final LayerNorm in pre-norm only

    tokens ``(batch, length)`` -> logits ``(batch, length, vocab_size)``. The
    layers are :class:`EncoderLayer` with ``d_ff = 2 d_model``, so post-norm and
    pre-norm differ only by where each layer normalises.

    >>> EncoderStack(11, length=6, num_layers=2)(torch.zeros(3, 6, dtype=torch.long)).shape
    torch.Size([3, 6, 11])
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        length: int,
        d_model: int = 32,
        num_heads: int = 2,
        num_layers: int = 4,
        norm_first: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = require_positive_int("vocab_size", vocab_size)
        self.length = require_positive_int("length", length)
        require_positive_int("d_model", d_model)
        require_positive_int("num_layers", num_layers)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.register_buffer("positions", sinusoidal_positions(length, d_model), persistent=False)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads=num_heads, d_ff=2 * d_model, norm_first=norm_first)
            for _ in range(num_layers)
        )
        self.final_norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.output = nn.Linear(d_model, vocab_size)

    def _check_forward(self, tokens: torch.Tensor) -> None:
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
            raise TypeError(f"tokens must be a LongTensor of token ids, got {tokens!r:.60}")
        require_rank("tokens", tokens, 2, "(batch, length)")
        if tokens.shape[1] != self.length:
            raise ValueError(
                f"tokens have {tokens.shape[1]} positions but this model was built "
                f"for length={self.length}"
            )

    @validated(_check_forward)
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embedding(tokens) + self.positions  # (batch, length, d_model)
        for layer in self.layers:
            h = layer(h)  # (batch, length, d_model)
        return self.output(self.final_norm(h))  # (batch, length, vocab_size)
