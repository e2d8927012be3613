"""Every model and tensor-taking function works on its input's device (issue 24, point 4).

A reader on a GPU runtime moves a model to CUDA and passes CUDA tensors; anything lessons_lib
builds inside with a plain ``torch.arange(...)`` or ``torch.eye(...)`` then sits on the CPU and
the call fails ("Expected all tensors to be on the same device"). The ``meta`` device stands in
for a GPU here: it fails the same way when a CPU tensor is mixed in, and needs no GPU. Where a
GPU is present, the same calls run on CUDA too.
"""

from __future__ import annotations

import pytest
import torch

from lessons_lib.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from lessons_lib.cnn import SmallCNN
from lessons_lib.decoding import generate
from lessons_lib.masking import causal_mask, padding_mask
from lessons_lib.positions import rotary
from lessons_lib.residual import FeedForward, LayerNorm, layer_norm
from lessons_lib.transformer import Transformer
from lessons_lib.vit import DIGITS_VIT, POSITION_KINDS, ViT, attention_rollout

DEVICES = ["meta", *(["cuda"] if torch.cuda.is_available() else [])]


def on(device: str, *tensors: torch.Tensor) -> list[torch.Tensor]:
    return [tensor.to(device) for tensor in tensors]


@pytest.mark.parametrize("device", DEVICES)
def test_the_transformer_runs_where_its_inputs_are(device):
    model = Transformer(20, d_model=16, num_heads=2, num_layers=2, d_ff=32).to(device)
    sources, targets = on(device, torch.randint(0, 20, (2, 5)), torch.randint(0, 20, (2, 4)))
    mask = padding_mask(torch.tensor([5, 3], device=device), max_len=5)  # (2, 1, 5)
    logits = model(sources, targets, source_mask=mask)
    logits = logits[0] if isinstance(logits, tuple) else logits
    assert logits.device.type == device and logits.shape == (2, 4, 20)
    assert mask.device.type == device


@pytest.mark.parametrize("device", DEVICES)
def test_decoding_with_the_cache_runs_where_the_model_is(device):
    model = Transformer(12, d_model=16, num_heads=2, num_layers=1, d_ff=32).to(device)
    source = torch.randint(0, 11, (2, 6)).to(device)
    if device == "meta":  # choosing a token reads values; meta has none, so choose by shape
        trace = generate(model, source, bos=11, choose=lambda logits: logits.argmax(-1), steps=3)
    else:
        trace = generate(model, source, bos=11, steps=3)
    assert trace.tokens.device.type == device and trace.tokens.shape == (2, 3)


@pytest.mark.parametrize("kind", POSITION_KINDS)
@pytest.mark.parametrize("device", DEVICES)
def test_every_vit_runs_where_its_images_are(kind, device):
    model = ViT(**{**DIGITS_VIT, "positions": kind}).to(device)
    images = torch.zeros(2, 1, 8, 8, device=device)
    logits, maps = model(images, need_weights=True)
    assert logits.device.type == maps.device.type == device
    assert attention_rollout(maps[:, 0]).device.type == device  # one image's maps


@pytest.mark.parametrize("device", DEVICES)
def test_the_smaller_parts_run_where_their_inputs_are(device):
    x = torch.randn(2, 4, 8, device=device)
    attention = MultiHeadAttention(8, 2).to(device)
    assert attention(x, x, x, mask=causal_mask(4).to(device))[0].device.type == device
    cache = KVCache()
    assert attention(x[:, :1], x[:, :1], x[:, :1], cache=cache)[0].device.type == device
    out, weights = scaled_dot_product_attention(x, x, x, mask=causal_mask(4).to(device))
    assert out.device.type == weights.device.type == device
    assert layer_norm(x).device.type == device
    assert LayerNorm(8).to(device)(x).device.type == device
    assert FeedForward(8, 16).to(device)(x).device.type == device
    assert rotary(x).device.type == device
    assert SmallCNN().to(device)(torch.zeros(2, 1, 8, 8, device=device)).device.type == device
