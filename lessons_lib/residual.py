"""Add & norm, and the feed-forward block: the parts around attention in every layer.

A Transformer layer wraps each sublayer (attention, then the feed-forward
block) the same way (Vaswani et al., 2017):

    output = LayerNorm(x + Sublayer(x))

The ``x +`` is the *residual connection* (He et al., 2016): the input is
carried past the sublayer unchanged and the sublayer only adds a correction,
so the gradient has a direct path back through every layer. *Layer norm*
(Ba et al., 2016) then rescales each token's vector to mean 0 and standard
deviation 1, followed by a learned gain and bias.

Post-norm or pre-norm? The paper and the notes put the norm *after* the sum
(post-norm, above); many current models (GPT-2 and later, the ViT paper) put
it *before* the sublayer, ``x + Sublayer(LayerNorm(x))`` (pre-norm). Our
:class:`AddNorm` is post-norm; ``EncoderLayer(norm_first=True)`` gives pre-norm.

Layer: modules (imports torch only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib._validate import (
    require_dtype_of,
    require_float,
    require_min_rank,
    require_number,
    require_positive_int,
    validated,
)


def _check_layer_norm(x: torch.Tensor, eps: float) -> None:
    x = require_float("x", x)
    require_min_rank("x", x, 1, "(..., d_model)")
    if not require_number("eps", eps) >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")


@validated(_check_layer_norm)
def layer_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each vector along the last dimension, with no gain or bias.

        layer_norm(x) = (x - mean(x)) / sqrt(var(x) + eps)

    The mean and the (biased, divide-by-n) variance are taken over the last
    dimension only, so every token is normalised on its own, whatever the batch.
    ``x`` ``(..., d_model)`` -> same shape and dtype.

    As ``F.layer_norm``, half-precision input (float16, bfloat16) is normalised
    in float32 and the result rounded back: in float16 a square overflows once a
    value lies 256 from its row's mean (256^2 > 65504). ``torch.var_mean`` takes
    both statistics in one pass (Welford's method), which gives a constant row
    its exact mean and so an output of 0; a plain sum rounds, and 1000 copies of
    10001.2345 in float32 would come out as 0.3 instead.

    >>> layer_norm(torch.tensor([[1.0, 2.0, 3.0]]))
    tensor([[-1.2247,  0.0000,  1.2247]])
    """
    if x.numel() == 0:
        return x.clone()  # no vectors, or vectors of length 0: nothing to normalise (as torch)
    wide = x.to(torch.promote_types(x.dtype, torch.float32))  # float16/bfloat16 -> float32
    variance, mean = torch.var_mean(wide, dim=-1, unbiased=False, keepdim=True)  # (..., 1) each
    centred = wide - mean  # (..., d_model): x - mu
    return (centred / torch.sqrt(variance + eps)).to(x.dtype)  # (..., d_model), x's dtype


class LayerNorm(nn.Module):
    """Layer norm with a learned gain and bias: ``gain * layer_norm(x) + bias``.

    ``weight`` (the gain, starts at 1) and ``bias`` (starts at 0) are
    ``(d_model,)``, named as in ``nn.LayerNorm``, which this matches, in
    half precision too (computed in float32, rounded once).

    >>> LayerNorm(8)(torch.randn(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.d_model = require_positive_int("d_model", d_model)
        if not require_number("eps", eps) >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # the gain
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = require_float("x", x)
        if x.dim() == 0 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must end in d_model={self.d_model}, got shape {tuple(x.shape)}")
        # As F.layer_norm: half-precision input is normalised, scaled and shifted in float32,
        # then rounded once (three roundings in float16 would add up to several units).
        wide = x.to(torch.promote_types(x.dtype, torch.float32))
        out = self.weight * layer_norm(wide, self.eps) + self.bias  # (..., d_model)
        return out.to(torch.promote_types(x.dtype, self.weight.dtype))


class AddNorm(nn.Module):
    """The residual connection followed by layer norm (post-norm, as in the paper and notes).

        AddNorm(x, sublayer_out) = LayerNorm(x + sublayer_out)

    x and sublayer_out ``(batch, seq, d_model)`` -> ``(batch, seq, d_model)``.
    ``norm`` is the :class:`LayerNorm`; pre-norm layers call it on its own.

    >>> add_norm = AddNorm(16)
    >>> x = torch.randn(2, 5, 16)
    >>> add_norm(x, torch.relu(x)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = LayerNorm(d_model, eps)

    def _check_forward(self, x: torch.Tensor, sublayer_out: torch.Tensor) -> None:
        x = require_float("x", x)
        sublayer_out = require_float("sublayer_out", sublayer_out)
        if x.shape != sublayer_out.shape:
            raise ValueError(
                f"x {tuple(x.shape)} and sublayer_out {tuple(sublayer_out.shape)} must have "
                "the same shape: the residual connection adds them element by element"
            )

    @validated(_check_forward)
    def forward(self, x: torch.Tensor, sublayer_out: torch.Tensor) -> torch.Tensor:
        return self.norm(x + sublayer_out)  # (batch, seq, d_model)


ACTIVATIONS = ("relu", "gelu")


class FeedForward(nn.Module):
    """The position-wise feed-forward block: two fully connected layers with a nonlinearity between.

        FFN(x) = act(x W_1 + b_1) W_2 + b_2,    act = ReLU (default) or GELU

    ``linear1`` is ``nn.Linear(d_model, d_ff)`` and ``linear2`` is
    ``nn.Linear(d_ff, d_model)`` (the paper uses d_ff = 4 * d_model). Applied
    to every position separately, with the same weights.
    x ``(batch, seq, d_model)`` -> ``(batch, seq, d_model)``.

    ``activation="relu"`` is the Transformer paper's (Vaswani et al., 2017) and
    torch's default in ``nn.TransformerEncoderLayer``; ``"gelu"``,
    ``GELU(x) = x * Phi(x)`` with ``Phi`` the standard normal CDF (the exact
    form, as ``nn.GELU``), is the one the ViT paper's MLP uses (Dosovitskiy et
    al., 2021, section 3.1).

    ``dropout`` (default 0: none) drops hidden units between the two layers
    in training mode, as ``nn.TransformerEncoderLayer`` does; the paper's own
    dropout on the block's output is the layer's (see ``residual_step`` in
    :mod:`lessons_lib.transformer`). It must lie in [0, 1).

    >>> FeedForward(16, 64)(torch.randn(2, 5, 16)).shape
    torch.Size([2, 5, 16])
    >>> FeedForward(16, 64, activation="gelu").activation
    'gelu'
    """

    def __init__(
        self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"
    ) -> None:
        super().__init__()
        d_model = require_positive_int("d_model", d_model)
        d_ff = require_positive_int("d_ff", d_ff)
        if not 0 <= require_number("dropout", dropout) < 1:  # 1 would zero every hidden unit
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.d_model = d_model
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def _check_forward(self, x: torch.Tensor) -> None:
        x = require_dtype_of("x", require_float("x", x), self)
        if x.dim() == 0 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must end in d_model={self.d_model}, got shape {tuple(x.shape)}")

    @validated(_check_forward)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.linear1(x)  # (batch, seq, d_ff)
        hidden = torch.relu(hidden) if self.activation == "relu" else F.gelu(hidden)
        return self.linear2(self.dropout(hidden))  # (batch, seq, d_model)
