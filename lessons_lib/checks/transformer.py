"""Exercises of the chapter "Putting it together" (``book/*_transformer.ipynb``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.data import shift_right
from lessons_lib.training import teacher_forcing_loss
from lessons_lib.transformer import EncoderLayer, Transformer


def _layer(d_model: int, num_heads: int, d_ff: int, seed: int) -> EncoderLayer:
    """A random post-norm layer whose two norms have different gains and biases."""
    with torch.random.fork_rng(devices=[]):  # the CPU generator, restored; CUDA's untouched
        torch.default_generator.manual_seed(seed)
        layer = EncoderLayer(d_model, num_heads=num_heads, d_ff=d_ff).eval()
        with torch.no_grad():
            for add_norm in (layer.norm1, layer.norm2):
                add_norm.norm.weight.normal_()
                add_norm.norm.bias.normal_()
    return layer


def _encoder_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(4)
    cases = []
    for d_model, num_heads, d_ff, batch, seq in ((16, 4, 32, 2, 5), (8, 2, 16, 1, 3)):
        x = torch.randn(batch, seq, d_model, generator=generator)  # (batch, seq, d_model)
        label = f"a layer with d_model = {d_model} and x ({batch}, {seq}, {d_model})"
        cases.append(Case((_layer(d_model, num_heads, d_ff, seed=d_model), x), label))
    return cases


def _encoder_layer(layer: EncoderLayer, x: torch.Tensor) -> torch.Tensor:
    out = layer(x)
    return out[0] if isinstance(out, tuple) else out  # (batch, seq, d_model)


def _attend(layer: EncoderLayer, x: torch.Tensor) -> torch.Tensor:
    return layer.self_attention(x, x, x)[0]


def _encoder_variant(
    layer: EncoderLayer,
    x: torch.Tensor,
    norm_first: bool = False,
    attention_residual: bool = True,
    ff_residual: bool = True,
    same_norm: bool = False,
    ff_reads: Literal["norm1", "sum", "attention"] = "norm1",
) -> torch.Tensor:
    """The layer's sublayers wired in one of the usual wrong ways.

    ``ff_reads`` is what the feed-forward block is given: the first add & norm's output
    (right), the sum x + attention(x) before norm1, or the attention's output.
    """
    norm1 = layer.norm1.norm
    norm2 = norm1 if same_norm else layer.norm2.norm
    if norm_first:
        x = x + _attend(layer, norm1(x))
        return x + layer.feed_forward(norm2(x))
    if ff_reads != "norm1":  # the feed-forward block applied before the first add & norm
        attended = _attend(layer, x)
        fed = x + attended if ff_reads == "sum" else attended
        return norm2(norm1(x + attended) + layer.feed_forward(fed))
    x = norm1((x if attention_residual else 0) + _attend(layer, x))
    return norm2((x if ff_residual else 0) + layer.feed_forward(x))


ENCODER_MISTAKES = [
    Mistake(
        "pre-norm instead of post-norm",
        "this book's layer normalises *after* adding: norm1(x + attention(x)), as in the paper",
        lambda layer, x: _encoder_variant(layer, x, norm_first=True),
    ),
    Mistake(
        "no residual around attention",
        "add the input back: norm1(x + attention(x)), not norm1(attention(x))",
        lambda layer, x: _encoder_variant(layer, x, attention_residual=False),
    ),
    Mistake(
        "no residual around the feed-forward block",
        "the feed-forward sublayer has its own residual: norm2(x + feed_forward(x))",
        lambda layer, x: _encoder_variant(layer, x, ff_residual=False),
    ),
    Mistake(
        "feed-forward before the add & norm (on x + attention)",
        "the feed-forward block comes after the first add & norm and reads its output, "
        "h = norm1(x + attention(x)); you gave it x + attention(x) before norm1. Then "
        "norm2(h + feed_forward(h))",
        lambda layer, x: _encoder_variant(layer, x, ff_reads="sum"),
    ),
    Mistake(
        "feed-forward before the add & norm (on the attention output)",
        "the feed-forward block comes after the first add & norm and reads its output, "
        "h = norm1(x + attention(x)); you gave it attention(x) itself. Then "
        "norm2(h + feed_forward(h))",
        lambda layer, x: _encoder_variant(layer, x, ff_reads="attention"),
    ),
    Mistake(
        "one norm used twice",
        "each sublayer has its own layer norm with its own gain and bias: use norm2 after the "
        "feed-forward block",
        lambda layer, x: _encoder_variant(layer, x, same_norm=True),
    ),
]

ENCODER_LAYER = Exercise(
    name="check_encoder_layer",
    parameters=("layer", "x"),
    cases=_encoder_cases,
    solution=_encoder_layer,
    mistakes=ENCODER_MISTAKES,
    success="your layer matches.",
)


def check_encoder_layer(
    function: Callable[[EncoderLayer, torch.Tensor], torch.Tensor],
) -> CheckResult:
    """Check ``function(layer, x (batch, seq, d_model))`` against ``layer(x)`` (post-norm)."""
    return ENCODER_LAYER.check(function)


def encoder_layer_parameters(d_model: int, d_ff: int) -> int:
    """Parameters of one encoder layer: attention, feed-forward, two layer norms.

    4 (d² + d) + (d d_ff + d_ff + d_ff d + d) + 2 · 2d

    >>> encoder_layer_parameters(24, 80)
    6440
    """
    attention = 4 * (d_model * d_model + d_model)  # W_Q, W_K, W_V, W_O and their biases
    feed_forward = d_model * d_ff + d_ff + d_ff * d_model + d_model
    norms = 2 * (2 * d_model)  # a gain and a bias per feature, twice
    return attention + feed_forward + norms


def _count_cases() -> list[Case]:
    return [
        Case((d_model, d_ff), f"d_model = {d_model}, d_ff = {d_ff}")
        for d_model, d_ff in ((24, 80), (16, 64), (512, 2048))
    ]


PARAMETER_MISTAKES = [
    Mistake(
        "forgot the biases",
        "every nn.Linear has a bias: d_out more parameters each",
        lambda d, f: 4 * d * d + 2 * d * f + 4 * d,
    ),
    Mistake(
        "forgot the layer norms",
        "each of the two layer norms has a gain and a bias of d_model numbers",
        lambda d, f: encoder_layer_parameters(d, f) - 4 * d,
    ),
    Mistake(
        "counted one attention matrix instead of four",
        "attention has four projections, W_Q, W_K, W_V and W_O, each d_model x d_model + bias",
        lambda d, f: encoder_layer_parameters(d, f) - 3 * (d * d + d),
    ),
    Mistake(
        "counted one layer norm",
        "there are two layer norms, one after each sublayer, each with 2 x d_model numbers",
        lambda d, f: encoder_layer_parameters(d, f) - 2 * d,
    ),
]

PARAMETER_COUNT = Exercise(
    name="check_parameter_count",
    parameters=("d_model", "d_ff"),
    cases=_count_cases,
    solution=encoder_layer_parameters,
    mistakes=PARAMETER_MISTAKES,
    success="6,440 parameters for d_model = 24, d_ff = 80, and right for other sizes too.",
    kind="count",
)


def check_parameter_count(function: Callable[[int, int], int]) -> CheckResult:
    """Check ``function(d_model, d_ff) -> int``, the parameters of one encoder layer.

    Counts are compared exactly, for three sizes.
    """
    return PARAMETER_COUNT.check(function)


# --- Exercise 2: the teacher-forcing loss ----------------------------------------------


def small_transformer(vocab: int, seed: int) -> Transformer:
    """A small random Transformer, the same for a seed, for the checkers of chapters 06 and 07.

    Its final Linear is scaled up so that slips show clearly and its choices vary from
    step to step (an untrained model at the usual scale repeats one or two tokens).
    """
    with torch.random.fork_rng(devices=[]):  # the CPU generator, restored; CUDA's untouched
        torch.default_generator.manual_seed(seed)
        model = Transformer(vocab, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=16)
    with torch.no_grad():
        model.output.weight.mul_(4)
    return model.eval()


def _loss_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(6)
    cases = []
    # (vocab, bos, batch, source length, target length): bos is another id each time, and
    # the target length differs from the source's and from the vocabulary size.
    for vocab, bos, batch, source_length, length in ((9, 8, 3, 6, 5), (7, 0, 2, 4, 6)):
        sources = torch.randint(0, vocab, (batch, source_length), generator=generator)
        targets = torch.randint(0, vocab, (batch, length), generator=generator)
        label = f"sources ({batch}, {source_length}), targets ({batch}, {length}) and bos = {bos}"
        cases.append(Case((small_transformer(vocab, seed=vocab), sources, targets, bos), label))
    return cases


def _teacher_forcing_loss(
    model: Transformer, sources: torch.Tensor, targets: torch.Tensor, bos: int
) -> torch.Tensor:
    return teacher_forcing_loss(model, (sources, targets), bos)


def _token_losses(logits: torch.Tensor, targets: torch.Tensor, reduction: str) -> torch.Tensor:
    return F.cross_entropy(logits.transpose(1, 2), targets, reduction=reduction)


LOSS_MISTAKES = [
    Mistake(
        "the decoder reads the answer",
        "give the decoder the target shifted right behind bos, shift_right(targets, bos): "
        "the position that predicts targets[:, t] may see only the tokens before it, or the "
        "model learns to copy its input instead of the task",
        lambda m, s, t, b: _token_losses(m(s, t), t, "mean"),
    ),
    Mistake(
        "scored against the decoder's input",
        "compare the logits with targets, not with the shifted input: position t predicts the "
        "token that comes after the one it reads",
        lambda m, s, t, b: _token_losses(m(s, shift_right(t, b)), shift_right(t, b), "mean"),
    ),
    Mistake(
        "no begin token",
        "start the decoder's input with bos, shift_right(targets, bos), so that the first "
        "target token is predicted too, from bos alone",
        lambda m, s, t, b: _token_losses(m(s, t[:, :-1]), t[:, 1:], "mean"),
    ),
    Mistake(
        "softmax before the cross-entropy",
        "F.cross_entropy takes the raw logits and applies log-softmax itself: pass the logits",
        lambda m, s, t, b: F.cross_entropy(m(s, shift_right(t, b)).softmax(-1).transpose(1, 2), t),
    ),
    Mistake(
        "the class axis not moved for F.cross_entropy",
        "F.cross_entropy reads dimension 1 as the classes, so logits (batch, length, vocab) "
        "with targets (batch, length) fail with 'Expected target size'; pass "
        "logits.transpose(1, 2), of shape (batch, vocab, length), or flatten both: "
        "F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))",
        lambda m, s, t, b: F.cross_entropy(m(s, shift_right(t, b)), t),  # raises, as theirs
    ),
    Mistake(
        "summed instead of averaged",
        "average over every target token (F.cross_entropy's default, reduction='mean'), so "
        "that the loss does not grow with the batch size and the length",
        lambda m, s, t, b: _token_losses(m(s, shift_right(t, b)), t, "sum"),
    ),
]

TEACHER_FORCING_LOSS = Exercise(
    name="check_teacher_forcing_loss",
    parameters=("model", "sources", "targets", "bos"),
    cases=_loss_cases,
    solution=_teacher_forcing_loss,
    mistakes=LOSS_MISTAKES,
    success="your loss matches teacher_forcing_loss: the decoder reads the shifted target.",
)


def check_teacher_forcing_loss(
    function: Callable[[Transformer, torch.Tensor, torch.Tensor, int], torch.Tensor],
) -> CheckResult:
    """Check ``function(model, sources, targets, bos) -> loss``, the teacher-forcing loss.

    ``sources`` ``(batch, L_src)`` and ``targets`` ``(batch, L)`` are token ids; the
    answer is the mean cross-entropy of every target token, a 0-d tensor.
    """
    return TEACHER_FORCING_LOSS.check(function)
