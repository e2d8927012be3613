"""The Transformer's layers at their defaults: written to kill the mutants that
``tools/mutate.py transformer`` found surviving the module's own tests.

Expected values are known by construction: with the default dropout of 0 a layer gives the
same output in training mode as in eval mode.
"""

from __future__ import annotations

import torch

from lessons_lib.masking import causal_mask
from lessons_lib.transformer import DecoderLayer, EncoderLayer, Transformer


def states(length: int, seed: int) -> torch.Tensor:
    return torch.randn(2, length, 16, generator=torch.Generator().manual_seed(seed))


def test_an_encoder_layer_has_no_dropout_by_default():
    torch.manual_seed(0)
    layer = EncoderLayer(d_model=16, num_heads=2, d_ff=32)
    x = states(5, 1)
    trained_mode = layer.train()(x)
    assert torch.equal(trained_mode, layer.eval()(x))
    assert layer.dropout.p == 0.0 and layer.feed_forward.dropout.p == 0.0


def test_a_decoder_layer_has_no_dropout_by_default():
    torch.manual_seed(0)
    layer = DecoderLayer(d_model=16, num_heads=2, d_ff=32)
    y, memory = states(5, 1), states(7, 2)
    trained_mode = layer.train()(y, memory, causal_mask(5))
    assert torch.equal(trained_mode, layer.eval()(y, memory, causal_mask(5)))
    assert layer.dropout.p == 0.0 and layer.feed_forward.dropout.p == 0.0


def test_layers_are_post_norm_by_default():
    """As the paper and the notes: LayerNorm(x + Sublayer(x)), the norm after the sum."""
    y, memory = states(5, 1), states(7, 2)
    for make, inputs in (
        (EncoderLayer, (y,)),
        (DecoderLayer, (y, memory, causal_mask(5))),
    ):
        torch.manual_seed(0)
        default = make(d_model=16, num_heads=2, d_ff=32).eval()
        assert default.norm_first is False
        for norm_first, same in ((False, True), (True, False)):
            other = make(d_model=16, num_heads=2, d_ff=32, norm_first=norm_first).eval()
            other.load_state_dict(default.state_dict())
            assert torch.equal(default(*inputs), other(*inputs)) is same
        # post-norm ends in a LayerNorm with gain 1 and bias 0: every row has mean 0
        assert torch.allclose(default(*inputs).mean(-1), torch.zeros(2, 5), atol=1e-5)


def test_the_transformer_defaults_are_those_of_its_signature():
    """Transformer(vocab) alone: d_model 64, 4 heads, 2 layers each side, d_ff 128, max_len 128."""
    model = Transformer(11)
    assert (model.d_model, model.max_len) == (64, 128)
    assert model.positions.shape == (128, 64)
    assert len(model.encoder_layers) == len(model.decoder_layers) == 2
    for layer in (*model.encoder_layers, *model.decoder_layers):
        assert layer.self_attention.num_heads == 4
        assert layer.feed_forward.linear1.out_features == 128
        assert layer.norm_first is False and layer.dropout.p == 0.0


def test_the_fixed_position_codes_are_computed_not_saved():
    """The sinusoidal codes are a non-persistent buffer: a checkpoint holds learned weights only."""
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=10)
    assert "positions" in dict(model.named_buffers())
    assert "positions" not in model.state_dict()
    longer = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=20)
    longer.load_state_dict(model.state_dict())  # so max_len may change between the two
