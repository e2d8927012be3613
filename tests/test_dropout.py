"""Dropout as in Vaswani et al. 2017, section 5.4, plus torch's dropout of the attention weights.

In training mode our layers equal torch's own, dropped units included, given the same weights
and the same seed: they draw their random numbers in torch's order (attention weights, the
attention's output, the feed-forward's hidden units, its output). torch's batch_first
``nn.MultiheadAttention`` returns a transposed, non-contiguous output (it computes in
(seq, batch, d_model) order), and ``nn.Dropout`` draws its mask in memory order; so for
batch > 1 the masks of the sublayer outputs pair random numbers with other elements. The exact
comparison therefore runs on one sequence at a time, and batches are checked statistically:
the share of dropped units, and the 1 / (1 - p) scale of the kept ones.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lessons_lib.attention import MultiHeadAttention, copy_into_torch, require_dropout
from lessons_lib.gpt import GPT
from lessons_lib.masking import causal_mask
from lessons_lib.residual import FeedForward
from lessons_lib.transformer import DecoderLayer, EncoderLayer, Transformer, copy_torch_weights

DTYPES = [torch.float32, torch.float64]
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}


def torch_pair(kind, norm_first, p, dtype, seed):
    """Our layer in training mode and torch's, with the same weights (norms made to matter)."""
    torch.manual_seed(seed)
    if kind == "encoder":
        theirs = nn.TransformerEncoderLayer(
            16, 4, 32, dropout=p, batch_first=True, norm_first=norm_first
        )
        ours = EncoderLayer(16, num_heads=4, d_ff=32, dropout=p, norm_first=norm_first)
    else:
        theirs = nn.TransformerDecoderLayer(
            16, 4, 32, dropout=p, batch_first=True, norm_first=norm_first
        )
        ours = DecoderLayer(16, num_heads=4, d_ff=32, dropout=p, norm_first=norm_first)
    with torch.no_grad():
        for name, parameter in theirs.named_parameters():
            if name.startswith("norm"):
                parameter.normal_()
    theirs.to(dtype).train()
    ours.to(dtype).train()
    copy_torch_weights(ours, theirs)
    return ours, theirs


def run_both(ours, theirs, kind, x, memory, seed):
    torch.manual_seed(seed)
    if kind == "encoder":
        ours_out = ours(x, causal_mask(x.shape[1]))
    else:
        ours_out = ours(x, memory, causal_mask(x.shape[1]))
    torch.manual_seed(seed)
    if kind == "encoder":
        theirs_out = theirs(x, src_mask=~causal_mask(x.shape[1]))
    else:
        theirs_out = theirs(x, memory, tgt_mask=~causal_mask(x.shape[1]))
    return ours_out, theirs_out


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("seed", range(3))
def test_in_training_mode_our_layers_drop_exactly_what_torch_drops(kind, norm_first, dtype, seed):
    ours, theirs = torch_pair(kind, norm_first, 0.3, dtype, seed)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 6, 16, generator=generator, dtype=dtype)
    memory = torch.randn(1, 8, 16, generator=generator, dtype=dtype)
    ours_out, theirs_out = run_both(ours, theirs, kind, x, memory, seed=100 + seed)
    torch.testing.assert_close(ours_out, theirs_out, atol=TOLERANCE[dtype], rtol=0)
    # dropout acted: another seed drops other units, and eval mode gives a third answer
    other, _ = run_both(ours, theirs, kind, x, memory, seed=200 + seed)
    assert not torch.allclose(ours_out, other)
    ours.eval()
    eval_out = ours(x, causal_mask(6)) if kind == "encoder" else ours(x, memory, causal_mask(6))
    assert not torch.allclose(ours_out, eval_out)


def test_torch_draws_the_attention_output_mask_in_seq_batch_order():
    """Why the exact comparison above runs on batch 1: torch's output is a transposed view."""
    attention = nn.MultiheadAttention(16, 4, batch_first=True)
    x = torch.randn(3, 5, 16)
    out, _ = attention(x, x, x, need_weights=False)
    assert not out.is_contiguous() and out.transpose(0, 1).is_contiguous()
    ours, _ = MultiHeadAttention(16, 4)(x, x, x)
    assert ours.is_contiguous()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dropped_attention_weights_equal_torchs_and_are_returned_after_dropout(dtype):
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4, dropout=0.25).to(dtype).train()
    theirs = copy_into_torch(ours).train()
    assert theirs.dropout == 0.25
    x = torch.randn(3, 6, 16, dtype=dtype)
    mask = causal_mask(6)
    torch.manual_seed(7)
    out, weights = ours(x, x, x, mask)
    torch.manual_seed(7)
    their_out, their_weights = theirs(
        x, x, x, attn_mask=~mask, need_weights=True, average_attn_weights=False
    )
    torch.testing.assert_close(out, their_out, atol=TOLERANCE[dtype], rtol=0)
    torch.testing.assert_close(weights, their_weights, atol=TOLERANCE[dtype], rtol=0)
    # after dropout: a weight is 0 or its eval-mode value / (1 - p); rows need not sum to 1
    _, kept = ours.eval()(x, x, x, mask)
    dropped = weights == 0
    assert dropped[kept > 0].any()
    torch.testing.assert_close(
        weights[~dropped], kept[~dropped] / 0.75, atol=TOLERANCE[dtype], rtol=0
    )


def record_dropouts(layer: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of every nn.Dropout call inside ``layer``, in the order of the calls."""
    calls = []
    for module in layer.modules():
        if isinstance(module, nn.Dropout):
            module.register_forward_hook(lambda _, args, out: calls.append((args[0], out)))
    return calls


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("cross_attention", [True, False])
def test_a_batch_drops_a_share_p_of_each_sublayer_output_and_scales_the_rest(
    norm_first, cross_attention
):
    p = 0.2
    torch.manual_seed(0)
    layer = DecoderLayer(
        64,
        num_heads=4,
        d_ff=128,
        dropout=p,
        norm_first=norm_first,
        cross_attention=cross_attention,
    ).train()
    calls = record_dropouts(layer)
    y, memory = torch.randn(8, 20, 64), torch.randn(8, 9, 64)
    layer(y, memory if cross_attention else None, causal_mask(20))
    # each attention: its weights and its output; the feed-forward: hidden units and output
    n_sublayers = 3 if cross_attention else 2
    assert len(calls) == 2 * n_sublayers
    outputs = [out for inp, out in calls if inp.shape == y.shape]  # the sublayer outputs
    assert len(outputs) == n_sublayers
    for inp, out in calls:
        dropped = out == 0
        nonzero = inp != 0
        share = dropped[nonzero].float().mean().item()
        n = int(nonzero.sum())
        assert abs(share - p) < 5 * (p * (1 - p) / n) ** 0.5 + 1e-3, (tuple(inp.shape), share)
        torch.testing.assert_close(out[~dropped], inp[~dropped] / (1 - p))


def test_the_embeddings_plus_positions_are_dropped_too():
    torch.manual_seed(0)
    model = Transformer(11, d_model=32, num_heads=4, num_layers=1, d_ff=64, dropout=0.5).train()
    calls = record_dropouts(model)
    model(torch.randint(0, 11, (4, 9)), torch.randint(0, 11, (4, 7)))
    first = calls[0]  # the source embedding + positions, before the first encoder layer
    assert first[0].shape == (4, 9, 32)
    assert 0.3 < (first[1] == 0).float().mean().item() < 0.7
    gpt = GPT(11, d_model=32, num_heads=4, num_layers=1, d_ff=64, max_len=9, dropout=0.5)
    calls = record_dropouts(gpt.train())
    tokens = torch.randint(0, 11, (4, 9))
    gpt(tokens)
    torch.testing.assert_close(calls[0][0], gpt.token_embedding(tokens) + gpt.position_codes())


def same_weights(make, p):
    torch.manual_seed(0)
    without = make(0.0).eval()
    with_dropout = make(p).eval()
    with_dropout.load_state_dict(without.state_dict())
    return without, with_dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_in_eval_mode_dropout_changes_nothing(p):
    x, memory, tokens = torch.randn(2, 5, 16), torch.randn(2, 6, 16), torch.randint(0, 11, (2, 5))
    cases = [
        (lambda q: MultiHeadAttention(16, 4, dropout=q), lambda m: m(x, x, x)[0]),
        (lambda q: FeedForward(16, 32, q), lambda m: m(x)),
        (lambda q: EncoderLayer(16, num_heads=4, d_ff=32, dropout=q), lambda m: m(x)),
        (
            lambda q: DecoderLayer(16, num_heads=4, d_ff=32, dropout=q, norm_first=True),
            lambda m: m(x, memory, causal_mask(5)),
        ),
        (
            lambda q: DecoderLayer(16, num_heads=4, d_ff=32, dropout=q, cross_attention=False),
            lambda m: m(x, target_mask=causal_mask(5)),
        ),
        (
            lambda q: Transformer(11, d_model=16, num_heads=4, num_layers=2, d_ff=32, dropout=q),
            lambda m: m(tokens, tokens),
        ),
        (
            lambda q: GPT(11, d_model=16, num_heads=4, num_layers=2, d_ff=32, max_len=5, dropout=q),
            lambda m: m(tokens),
        ),
    ]
    for make, call in cases:
        without, with_dropout = same_weights(make, p)
        assert torch.equal(call(without), call(with_dropout))
        assert not torch.equal(call(without), call(with_dropout.train()))  # it does act


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_outside_zero_to_one_is_refused_everywhere(bad):
    makers = [
        lambda: MultiHeadAttention(16, 4, dropout=bad),
        lambda: FeedForward(16, 32, bad),
        lambda: EncoderLayer(16, num_heads=4, d_ff=32, dropout=bad),
        lambda: DecoderLayer(16, num_heads=4, d_ff=32, dropout=bad, cross_attention=False),
        lambda: Transformer(11, dropout=bad),
        lambda: GPT(11, d_model=16, num_heads=4, num_layers=1, d_ff=32, max_len=8, dropout=bad),
    ]
    for make in makers:
        with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\), got"):
            make()


def test_dropout_must_be_a_number():
    with pytest.raises(TypeError, match="dropout must be a number, got bool"):
        require_dropout("dropout", True)
    with pytest.raises(TypeError, match="dropout must be a number, got str"):
        MultiHeadAttention(16, 4, dropout="0.1")
    assert require_dropout("dropout", 0) == 0.0
