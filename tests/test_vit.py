"""The small ViT: shapes, parameter counts, what position codes change, and training."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.data import ImageSet, MarkPositionTask
from lessons_lib.experiments import compare_position_codes, trace_shapes
from lessons_lib.metrics import classification_accuracy, parameter_count
from lessons_lib.patching import patchify, unpatchify
from lessons_lib.positions import sinusoidal_positions
from lessons_lib.training import seeded_vit
from lessons_lib.transformer import copy_torch_weights
from lessons_lib.vit import DIGITS_VIT, POSITION_KINDS, ViT

SMALL = dict(image_size=8, patch_size=2, d_model=16, depth=2, num_heads=2)


def shuffle_patches(images, order, p=2):
    patches = patchify(images, p)[:, order]  # (batch, N, C*p*p), patches reordered
    return unpatchify(patches, p, images.shape[2], images.shape[3], images.shape[1])


@pytest.mark.parametrize("kind", POSITION_KINDS)
@pytest.mark.parametrize("method", ["linear", "conv"])
def test_shapes(kind, method):
    model = seeded_vit(0, positions=kind, patch_method=method, num_classes=7, **SMALL)
    images = torch.rand(3, 1, 8, 8)
    assert model(images).shape == (3, 7)
    assert model.embed(images).shape == (3, 17, 16)
    logits, maps = model(images, need_weights=True)
    assert torch.equal(logits, model(images))
    assert maps.shape == (2, 3, 2, 17, 17)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 3, 2, 17), atol=1e-5)
    codes = model.codes()
    assert (codes is None) == (kind == "none")
    if codes is not None:
        assert codes.shape == (17, 16) and model.patch_codes().shape == (16, 16)


def test_parameter_counts_differ_by_the_position_codes_only():
    counts = {
        kind: parameter_count(seeded_vit(0, positions=kind, **SMALL)) for kind in POSITION_KINDS
    }
    d, n = 16, 16
    assert counts["1d"] - counts["none"] == (n + 1) * d
    assert counts["2d"] - counts["none"] == (4 + 4) * d // 2 + d  # rows, columns, class token
    assert counts["sinusoidal"] == counts["none"]  # fixed codes are not parameters


def test_embed_puts_the_class_token_first_and_adds_its_code():
    model = seeded_vit(0, positions="sinusoidal", **SMALL)
    images = torch.rand(2, 1, 8, 8)
    tokens = model.embed(images)
    codes = sinusoidal_positions(17, 16)
    assert torch.allclose(tokens[:, 0], model.class_token[0, 0] + codes[0], atol=1e-6)
    assert torch.allclose(tokens[:, 1:], model.patch_embedding(images) + codes[1:], atol=1e-6)
    two_d = seeded_vit(0, positions="2d", **SMALL)
    assert torch.equal(two_d.codes()[0], two_d.class_position[0])
    assert torch.equal(two_d.patch_codes(), two_d.position_codes())


@given(seed=st.integers(0, 500))
def test_without_codes_the_patches_are_an_unordered_set(seed):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(4, 1, 8, 8, generator=generator)
    order = torch.randperm(16, generator=generator)
    blind = seeded_vit(seed, positions="none", **SMALL)
    assert torch.allclose(blind(shuffle_patches(images, order)), blind(images), atol=1e-5)


@pytest.mark.parametrize("kind", ["1d", "2d", "sinusoidal"])
def test_with_codes_shuffling_the_patches_changes_the_output(kind):
    model = seeded_vit(0, positions=kind, **SMALL)
    with torch.no_grad():  # make the codes large, so that they matter clearly
        for parameter in model.parameters():
            parameter.mul_(3.0)
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    order = torch.arange(16).flip(0)
    assert not torch.allclose(model(shuffle_patches(images, order)), model(images), atol=1e-4)


def test_linear_and_conv_vits_agree_with_copied_weights():
    linear = seeded_vit(0, positions="2d", patch_method="linear", **SMALL)
    conv = seeded_vit(1, positions="2d", patch_method="conv", **SMALL)
    state = {
        name: value for name, value in linear.state_dict().items() if "patch_embedding" not in name
    }
    conv.load_state_dict(state, strict=False)
    conv.patch_embedding.copy_from(linear.patch_embedding)
    images = torch.rand(5, 1, 8, 8)
    assert torch.allclose(conv(images), linear(images), atol=1e-5)


def test_trace_shapes_follows_the_forward_pass():
    model = seeded_vit(0, positions="1d", **SMALL)
    parts = {
        "patch embeddings": model.patch_embedding,
        "encoder layer 1": model.layers[0],
        "encoder layer 2": model.layers[1],
        "head: logits": model.head,
    }
    steps = trace_shapes(lambda: model(torch.rand(3, 1, 8, 8)), parts)
    assert [name for name, _ in steps] == list(parts)  # in the order the forward pass runs
    shapes = dict(steps)
    assert shapes["patch embeddings"] == (3, 16, 16)
    assert shapes["encoder layer 1"] == (3, 17, 16)  # the class token joined the 16 patches
    assert shapes["head: logits"] == (3, 10)
    assert not model.patch_embedding._forward_hooks  # the hooks are removed


def test_seeded_vit_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = seeded_vit(5, positions="1d", **SMALL)
    assert torch.equal(torch.rand(1), before)
    second = seeded_vit(5, positions="1d", **SMALL)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_accuracy_counts_correct_labels():
    class Constant(torch.nn.Module):
        def forward(self, images):
            return torch.tensor([[0.0, 1.0]]).expand(images.shape[0], 2)

    data = ImageSet(torch.zeros(4, 1, 2, 2), torch.tensor([1, 1, 0, 1]), ("a", "b"))
    assert classification_accuracy(Constant(), data, batch_size=3) == 0.75


def test_training_learns_the_mark_task_only_with_positions():
    task = MarkPositionTask()
    train = task.sample(2000, torch.Generator().manual_seed(0))
    test = task.sample(256, torch.Generator().manual_seed(1))
    scores, models = compare_position_codes(
        train,
        test,
        kinds=("none", "1d"),
        seeds=(0,),
        steps=100,
        progress=False,
        num_classes=4,
        **dict(SMALL, d_model=32),
    )
    assert set(models) == {"none", "1d"}
    assert scores["none"][0] < 0.45  # chance is 0.25: an unordered set cannot tell quadrants
    assert scores["1d"][0] > 0.9


def test_bad_input():
    with pytest.raises(ValueError, match=r"positions must be one of .*got '3d'"):
        ViT(positions="3d")
    with pytest.raises(
        ValueError, match=r"image height \(8\) must be divisible by patch_size \(3\)"
    ):
        ViT(image_size=8, patch_size=3)
    with pytest.raises(ValueError, match=r"d_model=16 must be divisible by num_heads=3"):
        ViT(d_model=16, num_heads=3)
    with pytest.raises(ValueError, match=r"d must be even, got d=15"):
        ViT(d_model=15, num_heads=1, positions="2d")
    with pytest.raises(TypeError, match=r"depth must be an int"):
        ViT(depth=2.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_torch_encoder_layers_with_copied_weights(seed):
    """Run the same ViT with torch's own pre-norm encoder layers in place of ours."""
    torch.manual_seed(seed)
    model = ViT(**DIGITS_VIT)
    theirs = [
        torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, norm_first=True)
        for _ in model.layers
    ]
    for ours, layer in zip(model.layers, theirs):
        copy_torch_weights(ours, layer)
        layer.eval()
    images = torch.rand(6, 1, 8, 8)
    tokens = model.embed(images)
    for layer in theirs:
        tokens = layer(tokens)
    summary = torch.nn.functional.layer_norm(
        tokens[:, 0], (32,), model.norm.weight, model.norm.bias
    )
    with torch.no_grad():
        assert torch.allclose(model(images), model.head(summary), atol=1e-5)
