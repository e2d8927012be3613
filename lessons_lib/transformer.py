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
layers, then the whole model with its embeddings and final ``Linear``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib._validate import require_positive_int, require_rank, require_tensor
from lessons_lib.attention import MultiHeadAttention
from lessons_lib.data import ReversalTask, shift_right
from lessons_lib.masking import causal_mask
from lessons_lib.positions import sinusoidal_positions
from lessons_lib.residual import AddNorm, FeedForward, LayerNorm
from lessons_lib.train import History, fit

Sublayer = Callable[[torch.Tensor], torch.Tensor]


def residual_step(
    x: torch.Tensor, sublayer: Sublayer, add_norm: AddNorm, dropout: nn.Module, norm_first: bool
) -> torch.Tensor:
    """One sublayer with its residual connection and layer norm.

    post-norm (paper, notes, default):  LayerNorm(x + Dropout(Sublayer(x)))
    pre-norm (norm_first=True):         x + Dropout(Sublayer(LayerNorm(x)))
    """
    if norm_first:
        return x + dropout(sublayer(add_norm.norm(x)))
    return add_norm(x, dropout(sublayer(x)))


def _check_states(name: str, x: object, d_model: int) -> torch.Tensor:
    tensor = require_tensor(name, x)
    require_rank(name, tensor, 3, "(batch, seq, d_model)")
    if tensor.shape[-1] != d_model:
        raise ValueError(f"{name} must end in d_model={d_model}, got shape {tuple(tensor.shape)}")
    return tensor


class _LayerParts(nn.Module):
    """What encoder and decoder layers share: self-attention, feed-forward, two add & norms."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.norm_first = norm_first
        self.self_attention = MultiHeadAttention(d_model, num_heads)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
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
    ``(batch, seq, d_model)``. ``attention_weights`` keeps the detached
    weights ``(batch, heads, seq, seq)`` of the latest forward, for plots.
    Matches ``nn.TransformerEncoderLayer(batch_first=True)`` with ReLU (see
    :func:`copy_torch_weights`).

    >>> layer = EncoderLayer(d_model=32, num_heads=4, d_ff=64)
    >>> layer(torch.randn(2, 7, 32)).shape
    torch.Size([2, 7, 32])
    """

    attention_weights: torch.Tensor | None = None  # set by every forward

    def _attend(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out, weights = self.self_attention(x, x, x, mask)
        self.attention_weights = weights.detach()  # (batch, heads, seq, seq)
        return out

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = _check_states("x", x, self.d_model)
        x = residual_step(
            x, lambda h: self._attend(h, mask), self.norm1, self.dropout, self.norm_first
        )
        return residual_step(x, self.feed_forward, self.norm2, self.dropout, self.norm_first)


class DecoderLayer(_LayerParts):
    """Masked self-attention, cross-attention to the encoder, feed-forward; each with add & norm.

        y = LayerNorm(y + SelfAttention(y, y, y, target_mask))
        y = LayerNorm(y + CrossAttention(y, memory, memory, memory_mask))
        y = LayerNorm(y + FeedForward(y))

    y ``(batch, L_tgt, d_model)``, memory (the encoder output) ``(batch,
    L_src, d_model)``. ``target_mask`` (usually ``causal_mask(L_tgt)``, which
    :class:`Transformer` passes) broadcasts to ``(batch, L_tgt, L_tgt)``;
    ``memory_mask`` to ``(batch, L_tgt, L_src)``; True = may attend.
    ``self_attention_weights`` and ``cross_attention_weights`` keep the latest
    detached weights ``(batch, heads, L_tgt, L_tgt | L_src)``. Matches
    ``nn.TransformerDecoderLayer(batch_first=True)`` with ReLU.

    >>> layer = DecoderLayer(d_model=32, num_heads=4, d_ff=64)
    >>> layer(torch.randn(2, 5, 32), torch.randn(2, 7, 32), causal_mask(5)).shape
    torch.Size([2, 5, 32])
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
    ) -> None:
        super().__init__(d_model, num_heads, d_ff, dropout, norm_first)
        self.cross_attention = MultiHeadAttention(d_model, num_heads)
        self.norm3 = AddNorm(d_model)
        self.self_attention_weights: torch.Tensor | None = None
        self.cross_attention_weights: torch.Tensor | None = None

    def run_sublayers(
        self, y: torch.Tensor, self_attend: Sublayer, cross_attend: Sublayer
    ) -> torch.Tensor:
        """The three residual steps, given the two attention sublayers as functions.

        ``forward`` passes ordinary attention; key/value-cached decoding
        (:mod:`lessons_lib.decoding`) passes attention over its cache, so both
        share this one arrangement of norms and residuals.
        """
        y = residual_step(y, self_attend, self.norm1, self.dropout, self.norm_first)
        y = residual_step(y, cross_attend, self.norm2, self.dropout, self.norm_first)
        return residual_step(y, self.feed_forward, self.norm3, self.dropout, self.norm_first)

    def _self_attend(self, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out, weights = self.self_attention(y, y, y, mask)
        self.self_attention_weights = weights.detach()  # (batch, heads, L_tgt, L_tgt)
        return out

    def _cross_attend(
        self, y: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        out, weights = self.cross_attention(y, memory, memory, mask)
        self.cross_attention_weights = weights.detach()  # (batch, heads, L_tgt, L_src)
        return out

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        target_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        y = _check_states("y", y, self.d_model)
        memory = _check_states("memory", memory, self.d_model)
        if memory.shape[0] != y.shape[0]:
            raise ValueError(f"y has batch {y.shape[0]} but memory has batch {memory.shape[0]}")
        return self.run_sublayers(
            y,
            lambda h: self._self_attend(h, target_mask),
            lambda h: self._cross_attend(h, memory, memory_mask),
        )


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

    >>> model = Transformer(vocab_size=11, d_model=32, num_heads=4, num_layers=2, d_ff=64)
    >>> model(torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 8))).shape
    torch.Size([3, 8, 11])
    """

    def __init__(
        self,
        vocab_size: int,
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
        self.source_embedding = nn.Embedding(vocab_size, d_model)
        self.target_embedding = nn.Embedding(vocab_size, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        layer_args = (d_model, num_heads, d_ff, dropout, norm_first)
        self.encoder_layers = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(num_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(num_layers))
        self.encoder_norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.output = nn.Linear(d_model, vocab_size)  # the final Linear: scores per token
        self.dropout = nn.Dropout(dropout)

    def _check_tokens(self, name: str, tokens: object) -> torch.Tensor:
        tokens = require_tensor(name, tokens)
        if tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{name} must hold token ids (torch.long), got dtype {tokens.dtype}")
        require_rank(name, tokens, 2, "(batch, seq)")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(
                f"{name} holds ids from {int(tokens.min())} to {int(tokens.max())}, "
                f"outside 0..vocab_size-1 = 0..{self.vocab_size - 1}"
            )
        return tokens

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

    def encode(self, source: torch.Tensor, source_mask: torch.Tensor | None = None) -> torch.Tensor:
        """source ``(batch, L_src)`` -> memory ``(batch, L_src, d_model)``."""
        source = self._check_tokens("source", source)
        x = self.embed(self.source_embedding, source)  # (batch, L_src, d_model)
        for layer in self.encoder_layers:
            x = layer(x, source_mask)
        return self.encoder_norm(x)

    def decode(
        self,
        target_in: torch.Tensor,
        memory: torch.Tensor,
        source_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """target_in ``(batch, L_tgt)``, memory -> logits ``(batch, L_tgt, vocab_size)``.

        The causal mask keeps position t from seeing target_in[:, t+1:].
        """
        target_in = self._check_tokens("target_in", target_in)
        y = self.embed(self.target_embedding, target_in)  # (batch, L_tgt, d_model)
        mask = causal_mask(target_in.shape[1]).to(y.device)  # (L_tgt, L_tgt)
        for layer in self.decoder_layers:
            y = layer(y, memory, mask, source_mask)
        return self.output(self.decoder_norm(y))  # (batch, L_tgt, vocab_size)

    def forward(
        self,
        source: torch.Tensor,
        target_in: torch.Tensor,
        source_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.decode(target_in, self.encode(source, source_mask), source_mask)


def copy_torch_weights(ours: EncoderLayer | DecoderLayer, theirs: nn.Module) -> None:
    """Copy an ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` into ours.

    torch keeps W_Q, W_K, W_V stacked in one ``in_proj_weight`` ``(3 d_model,
    d_model)``; we keep three ``nn.Linear``. The feed-forward and norm
    weights map one to one. Used by the reference tests and the chapters.
    """
    pairs = [(ours.self_attention, theirs.self_attn)]
    if isinstance(ours, DecoderLayer):
        pairs.append((ours.cross_attention, theirs.multihead_attn))
    norms = [ours.norm1, ours.norm2] + ([ours.norm3] if isinstance(ours, DecoderLayer) else [])
    with torch.no_grad():
        for attention, torch_attention in pairs:
            weights = torch_attention.in_proj_weight.chunk(3)  # 3 x (d_model, d_model)
            biases = torch_attention.in_proj_bias.chunk(3)
            for linear, weight, bias in zip(
                (attention.w_q, attention.w_k, attention.w_v), weights, biases
            ):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
            attention.w_o.weight.copy_(torch_attention.out_proj.weight)
            attention.w_o.bias.copy_(torch_attention.out_proj.bias)
        ours.feed_forward.linear1.load_state_dict(theirs.linear1.state_dict())
        ours.feed_forward.linear2.load_state_dict(theirs.linear2.state_dict())
        for index, add_norm in enumerate(norms, start=1):
            add_norm.norm.load_state_dict(getattr(theirs, f"norm{index}").state_dict())


# --- the toy model of the book: reverse a sequence of digits ---------------------------


@dataclass(frozen=True)
class ToyRecipe:
    """Size and training settings of the book's toy Transformer (digit reversal).

    One layer on each side is enough for reversal: output position t only has
    to copy source position ``length - 1 - t``, one cross-attention lookup.
    """

    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 1
    d_ff: int = 128
    batch_size: int = 128
    lr: float = 3e-3
    max_steps: int = 1500
    eval_every: int = 10
    eval_size: int = 500
    target: float = 0.99
    seed: int = 0


def teacher_forcing_loss(model: Transformer, batch: tuple[torch.Tensor, torch.Tensor], bos: int):
    """Cross-entropy of every target token given the true previous ones (teacher forcing).

    The decoder reads ``shift_right(targets)`` and must predict ``targets``,
    all positions at once; the causal mask keeps it from peeking.
    """
    sources, targets = batch  # (batch, length) each
    logits = model(sources, shift_right(targets, bos))  # (batch, length, vocab)
    return F.cross_entropy(logits.reshape(-1, model.vocab_size), targets.reshape(-1))


def train_reversal_model(
    task: ReversalTask | None = None,
    recipe: ToyRecipe | None = None,
    progress: bool | None = None,
) -> tuple[Transformer, History, tuple[torch.Tensor, torch.Tensor]]:
    """Build and train the toy Transformer until held-out exact-sequence accuracy reaches target.

    Seeded by ``recipe.seed``: the same call gives the same model and history.
    Returns the model (in eval mode), the :class:`~lessons_lib.train.History`,
    and the held-out ``(sources, targets)`` it was scored on.

    >>> model, history, (sources, targets) = train_reversal_model()
    >>> history.final_score >= 0.99
    True
    """
    from lessons_lib.decoding import exact_match_accuracy  # decoding uses this module's model

    task = task or ReversalTask()
    recipe = recipe or ToyRecipe()
    torch.manual_seed(recipe.seed)
    model = Transformer(
        task.vocab_size,
        d_model=recipe.d_model,
        num_heads=recipe.num_heads,
        num_layers=recipe.num_layers,
        d_ff=recipe.d_ff,
        max_len=max(task.length, 16),
    )
    train_generator = torch.Generator().manual_seed(recipe.seed + 1)
    held_out = task.sample(
        recipe.eval_size, torch.Generator().manual_seed(recipe.seed + 2), held_out=True
    )

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield task.sample(recipe.batch_size, train_generator)

    history = fit(
        model,
        lambda model, batch: teacher_forcing_loss(model, batch, task.bos),
        batches(),
        steps=recipe.max_steps,
        lr=recipe.lr,
        evaluate=lambda model: exact_match_accuracy(model, *held_out, task.bos),
        eval_every=recipe.eval_every,
        target=recipe.target,
        progress=progress,
        description="training the toy Transformer",
    )
    return model, history, held_out
