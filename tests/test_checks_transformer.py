"""Chapter 06's checkers: the crash of F.cross_entropy on (batch, length, vocab) logits is
named, other crashes are not, and the feed-forward block read before the first add & norm
is told apart from the right layer."""

import torch
import torch.nn.functional as F

from lessons_lib.checks import CheckResult, check_encoder_layer, check_teacher_forcing_loss
from lessons_lib.checks.transformer import TEACHER_FORCING_LOSS

CLASS_AXIS = "the class axis not moved for F.cross_entropy"
FIRST_LOSS = f"with {TEACHER_FORCING_LOSS.cases()[0].label}"


def behind_bos(targets, bos):
    return torch.cat([torch.full((targets.shape[0], 1), bos), targets[:, :-1]], dim=1)


def test_logits_with_the_classes_last_are_named_and_the_fix_given():
    def loss(model, sources, targets, bos):
        logits = model(sources, behind_bos(targets, bos))  # (batch, length, vocab)
        return F.cross_entropy(logits, targets)

    result = check_teacher_forcing_loss(loss)  # the reader's RuntimeError does not escape
    assert isinstance(result, CheckResult) and not result.passed
    assert result.message.startswith(f"{CLASS_AXIS}: ")
    assert "logits.transpose(1, 2)" in result.message and "reshape(-1, vocab)" in result.message


def test_the_fixes_the_hint_names_pass():
    def transposed(model, sources, targets, bos):
        logits = model(sources, behind_bos(targets, bos))
        return F.cross_entropy(logits.transpose(1, 2), targets)

    def flattened(model, sources, targets, bos):
        logits = model(sources, behind_bos(targets, bos))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    assert check_teacher_forcing_loss(transposed).passed
    assert check_teacher_forcing_loss(flattened).passed


def test_another_crash_is_reported_with_its_line_not_named_after_the_class_axis():
    def typo(model, sources, targets, bos):
        return F.cross_entropy(logit, targets)  # noqa: F821 (the reader's typo)

    message = check_teacher_forcing_loss(typo).message
    assert message.startswith(f"{FIRST_LOSS}: your function raised NameError")
    assert CLASS_AXIS not in message


def test_a_length_mismatch_is_not_named_after_the_class_axis():
    # The classes are in dimension 1 here; the decoder input is one token short, so
    # F.cross_entropy complains about the target's size too, but not about the classes.
    def short(model, sources, targets, bos):
        logits = model(sources, behind_bos(targets, bos)[:, :-1])  # (batch, length - 1, vocab)
        return F.cross_entropy(logits.transpose(1, 2), targets)

    message = check_teacher_forcing_loss(short).message
    assert message.startswith(f"{FIRST_LOSS}: your function raised RuntimeError: Expected target")
    assert CLASS_AXIS not in message


def test_the_feed_forward_block_read_before_the_first_norm_is_named():
    def on_the_sum(layer, x):
        summed = x + layer.self_attention(x, x, x)[0]
        return layer.norm2.norm(layer.norm1.norm(summed) + layer.feed_forward(summed))

    def right(layer, x):
        h = layer.norm1.norm(x + layer.self_attention(x, x, x)[0])
        return layer.norm2.norm(h + layer.feed_forward(h))

    message = check_encoder_layer(on_the_sum).message
    assert message.startswith("feed-forward before the add & norm (on x + attention): ")
    assert check_encoder_layer(right).passed
