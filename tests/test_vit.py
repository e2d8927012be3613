"""The small ViT: shapes, parameter counts, what position codes change, and training."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.data import ImageSet, MarkPositionTask
from lessons_lib.experiments.position_codes import compare_position_codes
from lessons_lib.experiments.transformer import trace_shapes
from lessons_lib.metrics import classification_accuracy, parameter_count
from lessons_lib.patching import patchify, unpatchify
from lessons_lib.positions import (
    interpolate_codes_1d,
    interpolate_codes_2d,
    sinusoidal_positions,
)
from lessons_lib.training import seeded_vit
from lessons_lib.transformer import copy_torch_weights
from lessons_lib.vit import DIGITS_VIT, POSITION_KINDS, ViT, stretch_positions

SMALL = dict(image_size=8, patch_size=2, d_model=16, num_layers=2, num_heads=2)


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
    assert (codes is None) == (kind in ("none", "relative"))  # relative adds no input code
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


@pytest.mark.parametrize("kind", ["1d", "2d", "sinusoidal", "relative"])
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
        steps=150,  # the GELU MLP needs more than 100 steps here (ReLU learned it in 100)
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
    with pytest.raises(TypeError, match=r"num_layers must be an int"):
        ViT(num_layers=2.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_torch_encoder_layers_with_copied_weights(seed):
    """Run the same ViT with torch's own pre-norm encoder layers in place of ours."""
    torch.manual_seed(seed)
    model = ViT(**DIGITS_VIT)
    theirs = [
        torch.nn.TransformerEncoderLayer(
            32, 4, 64, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
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


# --- GELU in the MLP, and attention rollout ----------------------------------------------


def test_the_vit_mlp_uses_gelu_and_its_layers_match_torchs_gelu_layer():
    model = seeded_vit(0, **SMALL)
    assert all(layer.feed_forward.activation == "gelu" for layer in model.layers)
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(
        16, 2, 32, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).eval()
    ours = model.layers[0]
    copy_torch_weights(ours, theirs)
    tokens = torch.randn(3, 17, 16)
    assert torch.allclose(ours(tokens), theirs(tokens), atol=1e-5)
    relu = seeded_vit(0, activation="relu", **SMALL)
    assert not torch.allclose(relu(torch.rand(2, 1, 8, 8)), model(torch.rand(2, 1, 8, 8)))


def random_maps(depth, batch, heads, tokens, seed=0):
    scores = torch.randn(
        depth, batch, heads, tokens, tokens, generator=torch.Generator().manual_seed(seed)
    )
    return torch.softmax(scores * 2, dim=-1)  # (depth, batch, heads, T, T)


def test_rollout_of_hand_made_maps():
    from lessons_lib.vit import attention_rollout

    # One layer, one head, token 0 reads token 1 only: 0.5 * A + 0.5 * I.
    single = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # (depth 1, heads 1, 2, 2)
    assert torch.allclose(attention_rollout(single), torch.tensor([[0.5, 0.5], [0.0, 1.0]]))
    # Two layers: the product, the later layer on the left.
    first = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # every token reads token 0
    second = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # every token reads token 1
    maps = torch.stack([first, second])[:, None]  # (2, 1, 2, 2)
    mixed = [0.5 * layer + 0.5 * torch.eye(2) for layer in (first, second)]
    assert torch.allclose(attention_rollout(maps), mixed[1] @ mixed[0])
    assert not torch.allclose(attention_rollout(maps), mixed[0] @ mixed[1])
    # Heads are averaged; residual_weight 0 gives the plain product, 1 the identity.
    two_heads = torch.stack([first, second])[None]  # (1, 2, 2, 2)
    assert torch.allclose(attention_rollout(two_heads, residual_weight=0.0), (first + second) / 2)
    assert torch.equal(attention_rollout(maps, residual_weight=1.0), torch.eye(2))


@given(
    depth=st.integers(1, 4),
    heads=st.integers(1, 3),
    tokens=st.integers(2, 6),
    weight=st.floats(0.0, 1.0),
    seed=st.integers(0, 1000),
)
def test_rollout_rows_sum_to_one_and_identity_maps_give_identity(
    depth, heads, tokens, weight, seed
):
    from lessons_lib.vit import attention_rollout

    maps = random_maps(depth, 2, heads, tokens, seed)
    rollout = attention_rollout(maps, residual_weight=weight)  # (2, T, T)
    assert rollout.shape == (2, tokens, tokens)
    assert torch.allclose(rollout.sum(-1), torch.ones(2, tokens), atol=1e-5)
    assert bool((rollout >= 0).all())
    identity = torch.eye(tokens).expand(depth, 2, heads, tokens, tokens)
    assert torch.allclose(attention_rollout(identity, residual_weight=weight), torch.eye(tokens))


def test_rollout_of_a_trained_shape_model_and_bad_input():
    from lessons_lib.vit import attention_rollout

    model = seeded_vit(0, **SMALL)
    _, maps = model(torch.rand(3, 1, 8, 8), need_weights=True)  # (2, 3, 2, 17, 17)
    assert attention_rollout(maps).shape == (3, 17, 17)
    with pytest.raises(ValueError, match=r"maps must be \(depth, \.\.\., heads, T, T\)"):
        attention_rollout(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match=r"square T x T maps, got shape \(1, 1, 3, 4\)"):
        attention_rollout(torch.rand(1, 1, 3, 4))
    with pytest.raises(ValueError, match=r"residual_weight must lie in \[0, 1\], got 1.5"):
        attention_rollout(maps, residual_weight=1.5)
    with pytest.raises(TypeError):
        attention_rollout(torch.ones(1, 1, 2, 2, dtype=torch.long))


# --- the relative kind and codes stretched to larger images (chapter 10) ------------------


def test_relative_vit_biases_every_layer_with_its_own_table():
    model = seeded_vit(0, positions="relative", **SMALL)
    assert len(model.relative_biases) == SMALL["num_layers"]
    extra = parameter_count(model) - parameter_count(seeded_vit(0, positions="none", **SMALL))
    offsets, d_head = (2 * 4 - 1) * (2 * 4 - 1), 16 // 2  # 49 offsets, d_head 8
    assert extra == SMALL["num_layers"] * offsets * d_head
    images = torch.rand(3, 1, 8, 8)
    F.cross_entropy(model(images), torch.tensor([0, 1, 2])).backward()
    assert model.relative_biases[0].offset_codes.grad.abs().sum() > 0
    # the head reads only the class token's row of the last layer, whose bias is 0
    assert torch.equal(model.relative_biases[-1].offset_codes.grad, torch.zeros(49, 8))
    with torch.no_grad():  # zero offset embeddings: the same model as without positions
        for relative in model.relative_biases:
            relative.offset_codes.zero_()
    blind = seeded_vit(0, positions="none", **SMALL)
    blind.load_state_dict(model.state_dict(), strict=False)
    assert torch.allclose(model(images), blind(images), atol=1e-6)


@pytest.mark.parametrize(("kind", "method"), [("1d", "1d"), ("1d", "2d"), ("2d", "2d")])
def test_stretch_positions_interpolates_the_codes_and_keeps_the_weights(kind, method):
    small = seeded_vit(0, positions=kind, **SMALL)
    large = stretch_positions(small, image_size=16, method=method)
    assert (large.grid_h, large.grid_w, large.n_patches, large.image_size) == (8, 8, 64, 16)
    assert large.codes().shape == (65, 16)
    assert torch.equal(large.codes()[0], small.codes()[0])  # the class token's code is kept
    old = small.patch_codes().detach()
    if kind == "1d" and method == "1d":
        expected = interpolate_codes_1d(old, 64)
    else:
        expected = interpolate_codes_2d(old, (4, 4), (8, 8))
    assert torch.allclose(large.patch_codes(), expected, atol=1e-6)
    assert torch.equal(large.head.weight, small.head.weight)
    assert large(torch.rand(2, 1, 16, 16)).shape == (2, 10)
    assert small.codes().shape == (17, 16)  # the original is untouched
    with pytest.raises(
        ValueError, match="images are 16x16 but this ViT was built for image_size=8"
    ):
        small(torch.rand(2, 1, 16, 16))


def test_a_constant_image_stretched_keeps_the_2d_code_model_s_answer_region_by_region():
    """Upsampling an image and stretching 2-D codes in 2-D keeps a 2x2 grid's patches in place."""
    model = seeded_vit(0, positions="2d", **dict(SMALL, image_size=4))  # 2x2 grid
    large = stretch_positions(model, image_size=8)
    codes = large.patch_codes().detach().reshape(4, 4, 16)  # (row, col, d)
    small_codes = model.patch_codes().detach().reshape(2, 2, 16)
    assert torch.allclose(codes[0, 0], small_codes[0, 0]) and torch.allclose(
        codes[3, 3], small_codes[1, 1]
    )


def test_stretch_positions_other_kinds_and_bad_input():
    sinusoidal = stretch_positions(seeded_vit(0, positions="sinusoidal", **SMALL), 16)
    assert torch.equal(sinusoidal.codes(), sinusoidal_positions(65, 16))
    blind = seeded_vit(0, positions="none", **SMALL)
    images = torch.rand(2, 1, 8, 8)
    assert stretch_positions(blind, 16).codes() is None
    with pytest.raises(ValueError, match="method must be one of"):
        stretch_positions(blind, 16, method="3d")
    with pytest.raises(ValueError, match="absolute codes only"):
        stretch_positions(seeded_vit(0, positions="relative", **SMALL), 16)
    with pytest.raises(TypeError, match="model must be a ViT, got Linear"):
        stretch_positions(torch.nn.Linear(2, 2), 16)
    with pytest.raises(ValueError, match=r"divisible by patch_size \(2\)"):
        stretch_positions(blind, 15)
    assert blind(images).shape == (2, 10)


def test_attention_rollout_follows_its_input_onto_another_device():
    # The meta device stands in for a GPU: a CPU tensor built inside would fail to mix with it.
    from lessons_lib.vit import attention_rollout

    maps = torch.rand(2, 3, 5, 5, device="meta")  # (depth, heads, T, T)
    assert attention_rollout(maps).device.type == "meta"
