"""From the Transformer to GPT: the decoder alone, predicting the next token.

Drop the encoder and the cross-attention from the Transformer, and what is
left reads one sequence and scores, at every position, the token that comes
next (Radford et al. 2018, 2019):

    h_0    = token_embedding(tokens) + position_codes     (batch, seq, d_model)
    h_l    = DecoderLayer_l(h_{l-1}, causal mask),  l = 1..N
    logits = Linear(LayerNorm(h_N))                       (batch, seq, vocab)

Each layer is a :class:`lessons_lib.transformer.DecoderLayer` built with
``cross_attention=False``: masked self-attention, then the feed-forward
block. The causal mask lets position t read tokens 0..t only, so one pass
trains on every position of a text at once, and generation
(:func:`lessons_lib.decoding.generate_text`) feeds each output back as the
next input, with the key/value cache of chapter 07.

Layer: models (imports torch and the modules below it only).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lessons_lib._validate import require_positive_int, validated
from lessons_lib.attention import require_dropout
from lessons_lib.masking import causal_mask
from lessons_lib.positions import PositionCodes1D, sinusoidal_positions
from lessons_lib.residual import LayerNorm
from lessons_lib.transformer import (
    DecoderLayer,
    LayerCache,
    check_layer_caches,
    check_token_ids,
)

NORMS = ("pre", "post")
POSITIONS = ("learned", "sinusoidal")


class GPT(nn.Module):
    """A decoder-only Transformer: token embedding + positions, N decoder layers, a final Linear.

    tokens ``(batch, seq)`` (long ids) -> logits ``(batch, seq, vocab_size)``:
    position t scores the token that comes *after* tokens[:, t], having seen
    tokens[:, :t + 1] only.

    Choices, and where they come from:

    - ``norm="pre"`` (default) is GPT-2's arrangement (Radford et al. 2019,
      section 2.3): each layer computes ``x + Sublayer(LayerNorm(x))``, and a
      final LayerNorm follows the last layer. ``norm="post"`` is the original
      Transformer's and GPT-1's ``LayerNorm(x + Sublayer(x))``, with no final
      LayerNorm (each layer already ends with one).
    - ``positions="learned"`` (GPT-1 and GPT-2): one learnable code per
      position, :class:`lessons_lib.positions.PositionCodes1D`, starting as
      N(0, 0.02^2); ``"sinusoidal"``: the paper's fixed codes.
    - ``tie_weights=True`` makes the final Linear use the token embedding's
      matrix (GPT-2 does, as the Transformer paper, section 3.4); its bias stays
      its own. Then, as in the paper, the embedding starts as N(0, 1/d_model)
      and is multiplied by sqrt(d_model), so that both the embedded tokens
      and the logits start with a spread of about 1. Untied, it starts as
      N(0, 1) and is not scaled (as :class:`lessons_lib.transformer.Transformer`).
    - ``dropout`` (in [0, 1), default 0) acts in training mode on the sum of
      the embeddings and the position codes, and in every layer (see
      :class:`lessons_lib.transformer.DecoderLayer`).

    With ``cache`` (from :meth:`new_cache`), ``tokens`` holds only the new
    tokens: the cache supplies the keys and values of the earlier ones, and
    their positions continue where the cache ends. ``need_weights=True`` also
    returns each layer's self-attention weights ``(batch, heads, seq, seen)``.

    >>> model = GPT(50, d_model=32, num_heads=4, num_layers=2, d_ff=64, max_len=16)
    >>> model(torch.randint(0, 50, (3, 10))).shape
    torch.Size([3, 10, 50])
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int,
        num_heads: int,
        num_layers: int,
        d_ff: int,
        max_len: int,
        norm: str = "pre",
        positions: str = "learned",
        dropout: float = 0.0,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        self.vocab_size = require_positive_int("vocab_size", vocab_size)
        self.d_model = require_positive_int("d_model", d_model)
        require_positive_int("num_layers", num_layers)
        self.max_len = require_positive_int("max_len", max_len)
        require_dropout("dropout", dropout)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
        if not isinstance(tie_weights, bool):
            raise TypeError(f"tie_weights must be a bool, got {type(tie_weights).__name__}")
        self.norm, self.positions = norm, positions
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.embedding_scale = math.sqrt(d_model) if tie_weights else 1.0
        with torch.no_grad():
            self.token_embedding.weight.normal_(0.0, 1.0 / self.embedding_scale)
        if positions == "learned":
            self.position_codes = PositionCodes1D(max_len, d_model)
        else:
            codes = sinusoidal_positions(max_len, d_model)  # (max_len, d_model)
            self.register_buffer("sinusoidal_codes", codes, persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            DecoderLayer(
                d_model,
                num_heads=num_heads,
                d_ff=d_ff,
                dropout=dropout,
                norm_first=norm == "pre",
                cross_attention=False,
            )
            for _ in range(num_layers)
        )
        self.final_norm = LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.output = nn.Linear(d_model, vocab_size)  # the final Linear: scores per token
        if tie_weights:
            self.output.weight = self.token_embedding.weight  # one (vocab, d_model) matrix

    def position_table(self) -> torch.Tensor:
        """The code of every position, ``(max_len, d_model)``."""
        if self.positions == "learned":
            return self.position_codes()
        return self.sinusoidal_codes

    def embed(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token embedding + position code, for positions ``start .. start + seq - 1``.

        tokens ``(batch, seq)`` -> ``(batch, seq, d_model)``.
        """
        codes = self.position_table()[start : start + tokens.shape[1]]  # (seq, d_model)
        embedded = self.token_embedding(tokens) * self.embedding_scale  # (batch, seq, d_model)
        return self.dropout(embedded + codes)  # (batch, seq, d_model)

    def new_cache(self) -> list[LayerCache]:
        """Empty key/value caches, one per layer (only their self-attention part is used)."""
        return [LayerCache() for _ in self.layers]

    def _check_forward(self, tokens: torch.Tensor, cache: list[LayerCache] | None) -> None:
        tokens = check_token_ids("tokens", tokens, self.vocab_size)
        if tokens.shape[1] == 0:
            raise ValueError(
                f"tokens hold no positions (shape {tuple(tokens.shape)}): give at least one"
            )
        start = 0
        if cache is not None:
            check_layer_caches(cache, len(self.layers))
            start = cache[0].self_attention.length
        if start + tokens.shape[1] > self.max_len:
            raise ValueError(
                f"{start} cached + {tokens.shape[1]} new tokens is more than max_len="
                f"{self.max_len}; build the model with a larger max_len or feed fewer tokens"
            )

    @validated(_check_forward)
    def forward(
        self,
        tokens: torch.Tensor,
        *,
        need_weights: bool = False,
        cache: list[LayerCache] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        start = 0 if cache is None else cache[0].self_attention.length  # tokens already seen
        h = self.embed(tokens, start)  # (batch, new, d_model)
        seen = start + tokens.shape[1]
        mask = causal_mask(seen)[start:].to(h.device)  # (new, seen): no peeking ahead
        layer_caches = cache if cache is not None else [None] * len(self.layers)
        weights = []
        for layer, layer_cache in zip(self.layers, layer_caches):
            h, layer_weights = layer(h, target_mask=mask, need_weights=True, cache=layer_cache)
            weights.append(layer_weights["self"])  # (batch, heads, new, seen)
        logits = self.output(self.final_norm(h))  # (batch, new, vocab_size)
        return (logits, weights) if need_weights else logits
