"""Bad input to the package: a clear error or the right answer (issue 11, item 4).

Never a raw torch error, a NaN from finite input, or a hang. Each case either
asserts the value that comes back or the message of the error, which names
what was expected, what came, and the fix.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib import decoding
from lessons_lib.attention import MultiHeadAttention, copy_into_torch, scaled_dot_product_attention
from lessons_lib.data import ImageSet, ReversalTask
from lessons_lib.masking import causal_mask, padding_mask
from lessons_lib.metrics import classification_accuracy
from lessons_lib.patching import PatchEmbedding, patch_grid
from lessons_lib.positions import sinusoidal_offset_matrix
from lessons_lib.residual import FeedForward
from lessons_lib.softmax import softmax
from lessons_lib.training import ToyRecipe, train_reversal_model
from lessons_lib.transformer import DecoderLayer, EncoderLayer, Transformer, copy_torch_weights
from lessons_lib.vit import ViT

# --- dtypes: what torch.from_numpy gives (float64), and float16 ---------------------------


def _layers_and_inputs(dtype: torch.dtype) -> list[tuple[str, torch.nn.Module, tuple, str]]:
    """(label, layer, inputs in ``dtype``, the name the error must use) for every layer."""
    states = torch.randn(2, 5, 16).to(dtype)  # (batch, seq, d_model)
    images = torch.rand(2, 1, 8, 8).to(dtype)  # (batch, channels, H, W)
    return [
        ("MultiHeadAttention", MultiHeadAttention(16, 4), (states, states, states), "query"),
        ("FeedForward", FeedForward(16, 32), (states,), "x"),
        ("EncoderLayer", EncoderLayer(16, num_heads=4, d_ff=32), (states,), "x"),
        ("DecoderLayer", DecoderLayer(16, num_heads=4, d_ff=32), (states, states), "y"),
        ("PatchEmbedding", PatchEmbedding(2, 1, 16), (images,), "images"),
        ("PatchEmbedding", PatchEmbedding(2, 1, 16, method="conv"), (images,), "images"),
        ("ViT", ViT(), (images,), "images"),
    ]


@pytest.mark.parametrize(
    ("dtype", "fix"), [(torch.float64, "double()"), (torch.float16, "half()")], ids=str
)
@pytest.mark.parametrize("index", range(7))
def test_an_input_of_another_dtype_names_the_mismatch_and_both_fixes(dtype, fix, index):
    label, layer, inputs, name = _layers_and_inputs(dtype)[index]
    message = (
        rf"{name} has dtype {dtype} but this {label}'s weights are torch.float32; "
        rf"call {name}\.float\(\) to convert the input, or \.{fix[:-2]}\(\) on the {label}"
    )
    with pytest.raises(TypeError, match=message):
        layer(*inputs)


@pytest.mark.parametrize("index", range(7))
def test_either_fix_works(index):
    label, layer, inputs, _ = _layers_and_inputs(torch.float64)[index]
    as_float = layer(*(tensor.float() for tensor in inputs))  # the input converted
    as_double = layer.double()(*inputs)  # or the layer converted
    as_float = as_float[0] if isinstance(as_float, tuple) else as_float
    as_double = as_double[0] if isinstance(as_double, tuple) else as_double
    assert as_float.dtype == torch.float32 and as_double.dtype == torch.float64
    assert torch.allclose(as_float.double(), as_double, atol=1e-4), label


def test_from_numpy_gives_float64_and_the_error_says_how_to_convert():
    pixels = np.random.default_rng(0).random((3, 1, 8, 8))  # float64, as numpy makes it
    with pytest.raises(TypeError, match=r"images has dtype torch.float64 .* images\.float\(\)"):
        ViT()(torch.from_numpy(pixels))
    logits = ViT()(torch.from_numpy(pixels).float())
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()


def test_autocast_may_mix_dtypes_on_purpose():
    layer = EncoderLayer(16, num_heads=4, d_ff=32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.randn(2, 5, 16))
    assert out.shape == (2, 5, 16) and torch.isfinite(out).all()


def test_integer_states_are_refused_by_name():
    with pytest.raises(
        TypeError, match=r"x must be a floating-point tensor .* got dtype torch.int64"
    ):
        EncoderLayer(16, num_heads=4, d_ff=32)(torch.zeros(2, 5, 16, dtype=torch.long))


# --- zero length --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0,), (3, 0), (2, 4, 0)])
def test_softmax_of_an_empty_row_is_empty_as_in_torch(shape):
    x = torch.zeros(shape)
    assert softmax(x).shape == torch.softmax(x, dim=-1).shape == shape


def test_softmax_over_an_empty_axis_other_than_the_last():
    x = torch.zeros(0, 3)
    assert softmax(x, dim=0).shape == (0, 3)
    assert softmax(x, dim=1).shape == (0, 3)


def test_zero_keys_give_a_zero_mix_as_in_torch():
    q, k, v = torch.randn(3, 4), torch.randn(0, 4), torch.randn(0, 2)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert weights.shape == (3, 0)
    assert torch.equal(out, torch.zeros(3, 2)) and torch.equal(out, expected)


def test_multi_head_attention_with_zero_keys_matches_torch():
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2)
    theirs = copy_into_torch(ours)
    query, empty = torch.randn(2, 3, 8), torch.randn(2, 0, 8)
    out, weights = ours(query, empty, empty)
    their_out, _ = theirs(query, empty, empty)
    assert weights.shape == (2, 2, 3, 0)
    assert torch.allclose(out, their_out, atol=1e-6)
    assert torch.allclose(out, ours.w_o.bias.expand(2, 3, 8))  # read nothing: only W_O's bias


def test_a_decoder_layer_with_an_empty_memory_matches_torch():
    torch.manual_seed(0)
    ours = DecoderLayer(16, num_heads=4, d_ff=32).eval()
    theirs = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()
    copy_torch_weights(ours, theirs)
    y, memory = torch.randn(2, 3, 16), torch.randn(2, 0, 16)
    with torch.no_grad():
        assert torch.allclose(ours(y, memory), theirs(y, memory), atol=1e-5)


def test_d_k_zero_gives_uniform_weights_as_in_torch():
    q, k, v = torch.randn(3, 0), torch.randn(5, 0), torch.randn(5, 2)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(weights, torch.full((3, 5), 0.2))  # every score is an empty sum, 0
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out, v.mean(dim=0).expand(3, 2), atol=1e-6)


def test_an_empty_source_or_target_says_so():
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    tokens = torch.randint(0, 10, (2, 5))
    empty = torch.zeros(2, 0, dtype=torch.long)
    with pytest.raises(ValueError, match=r"source has no tokens \(shape \(2, 0\)\)"):
        model(empty, tokens)
    with pytest.raises(ValueError, match=r"target_in has no tokens \(shape \(2, 0\)\)"):
        model(tokens, empty)
    with pytest.raises(ValueError, match=r"source has no tokens"):
        decoding.greedy_decode(model, empty, bos=10)


def test_a_target_of_length_zero_does_not_talk_about_causal_masks_n():
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with pytest.raises(ValueError) as raised:
        model(torch.randint(0, 10, (2, 5)), torch.zeros(2, 0, dtype=torch.long))
    assert "n must be" not in str(raised.value)


def test_logits_need_at_least_one_token():
    with pytest.raises(ValueError, match=r"at least one token .* got shape \(2, 0\)"):
        decoding.next_token_probabilities(torch.zeros(2, 0))


def test_empty_image_sets_are_refused_clearly():
    empty = ImageSet(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long), ("a",))
    with pytest.raises(ValueError, match="holds no images"):
        next(empty.batches(4, torch.Generator()))
    with pytest.raises(ValueError, match="holds no images"):
        classification_accuracy(ViT(), empty)


# --- temperature: any positive value gives finite probabilities ----------------------------

EXTREME_TEMPERATURES = [1e-300, 1e-45, 1e-40, 1e-10, 1e-3, 1.0, 1e3, 1e30, 1e300, float("inf")]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
@pytest.mark.parametrize("temperature", EXTREME_TEMPERATURES)
def test_softmax_is_finite_at_any_positive_temperature(temperature, dtype):
    logits = torch.tensor([[1.0, 3.0, 2.0, -4.0], [0.0, 0.0, 0.0, 0.0]], dtype=dtype)
    probabilities = softmax(logits, temperature=temperature)
    assert torch.isfinite(probabilities).all(), probabilities
    assert torch.allclose(
        probabilities.sum(-1).double(), torch.ones(2, dtype=torch.float64), atol=1e-3
    )
    if temperature <= 1e-10:  # the limit T -> 0: all the weight on the largest logit
        assert probabilities[0].tolist() == [0.0, 1.0, 0.0, 0.0]
    if temperature >= 1e30:  # the limit T -> inf: uniform
        assert torch.allclose(probabilities.double(), torch.full((2, 4), 0.25, dtype=torch.float64))


@pytest.mark.parametrize("temperature", EXTREME_TEMPERATURES)
def test_masked_logits_stay_at_zero_at_any_temperature(temperature):
    logits = torch.tensor([1.0, float("-inf"), 2.0])
    probabilities = softmax(logits, temperature=temperature)
    assert torch.isfinite(probabilities).all() and probabilities[1] == 0.0
    assert torch.isclose(probabilities.sum(), torch.tensor(1.0))


@given(
    st.lists(st.floats(-1e30, 1e30, allow_nan=False), min_size=1, max_size=8),
    st.floats(1e-300, 1e300, allow_nan=False),
)
def test_finite_logits_and_a_positive_temperature_never_give_nan(values, temperature):
    probabilities = softmax(torch.tensor(values, dtype=torch.float32), temperature=temperature)
    assert torch.isfinite(probabilities).all()
    assert abs(float(probabilities.sum()) - 1.0) < 1e-5


def test_the_gradient_still_divides_by_the_temperature():
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 5, dtype=torch.float64)
    (softmax(x, temperature=2.0) * upstream).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (torch.softmax(x / 2.0, dim=-1) * upstream).sum().backward()
    assert torch.allclose(ours, x.grad, atol=1e-12)


@pytest.mark.parametrize("temperature", [1e-40, 1e-10, 1e30])
def test_next_token_probabilities_and_sampling_are_finite_at_extreme_temperatures(temperature):
    logits = torch.tensor([[2.0, 5.0, 1.0], [9.0, -3.0, 0.0]])
    probabilities = decoding.next_token_probabilities(logits, temperature=temperature, top_k=2)
    assert torch.isfinite(probabilities).all()
    assert probabilities[0, 2] == 0 and probabilities[1, 1] == 0  # cut by top_k=2
    choose = decoding.sampling_choice(temperature, generator=torch.Generator().manual_seed(0))
    tokens = choose(logits)
    if temperature < 1:  # so cold that sampling is greedy
        assert tokens.tolist() == [1, 0]
    assert ((tokens >= 0) & (tokens < 3)).all()


@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, float("nan")])
def test_a_temperature_that_is_not_positive_is_refused(temperature):
    logits = torch.tensor([[1.0, 2.0]])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax(logits, temperature=temperature)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        decoding.next_token_probabilities(logits, temperature=temperature)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        decoding.sampling_choice(temperature)(logits)
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        decoding.sample_decode(model, torch.randint(0, 10, (1, 4)), bos=10, temperature=temperature)


def test_numpy_temperatures_are_numbers():
    logits = torch.tensor([1.0, 2.0])
    expected = torch.softmax(logits / 0.5, dim=-1)
    for temperature in (np.float64(0.5), np.float32(0.5)):
        assert torch.allclose(softmax(logits, temperature=temperature), expected)
    with pytest.raises(TypeError, match="temperature must be a number, got str"):
        softmax(logits, temperature="0.5")


# --- no hangs: every loop that draws until a condition holds is bounded -------------------


def test_a_reversal_task_with_no_training_sequences_fails_fast_instead_of_hanging():
    task = ReversalTask(n_digits=1)  # every digit sum is 0, a multiple of 7: all held out
    with pytest.raises(ValueError, match=r"found only 0 training sequences in 100 draws"):
        task.sample(5, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"found only 0 training sequences"):
        next(task.batches(5, torch.Generator().manual_seed(0)))
    sources, targets = task.sample(5, torch.Generator().manual_seed(0), held_out=True)
    assert torch.equal(sources, torch.zeros(5, 8, dtype=torch.long))
    assert torch.equal(targets, sources)


# --- image sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [4, 16])
def test_an_image_of_the_wrong_size_names_both_sizes(size):
    with pytest.raises(
        ValueError, match=rf"images are {size}x{size} but this ViT was built for image_size=8"
    ):
        ViT(image_size=8, patch_size=2)(torch.rand(2, 1, size, size))


def test_a_non_square_image_is_refused_too():
    with pytest.raises(ValueError, match=r"images are 8x6 but this ViT was built for image_size=8"):
        ViT()(torch.rand(2, 1, 8, 6))


@pytest.mark.parametrize("image_size", [0, -4])
def test_an_image_size_that_is_not_positive_is_refused(image_size):
    with pytest.raises(ValueError, match=rf"image_size must be > 0, got {image_size}"):
        ViT(image_size=image_size, patch_size=2)


def test_an_image_with_no_rows_is_refused():
    with pytest.raises(ValueError, match=r"image height must be > 0, got 0"):
        patch_grid(0, 8, 2)
    with pytest.raises(ValueError, match=r"image height must be > 0, got 0"):
        PatchEmbedding(2, 1, 16)(torch.zeros(1, 1, 0, 8))


def test_images_without_a_channel_axis_are_refused_by_name():
    with pytest.raises(ValueError, match=r"images must have 4 dimensions"):
        ViT()(torch.rand(2, 8, 8))


# --- numpy integers count as ints -----------------------------------------------------


def test_numpy_integers_build_the_same_models():
    n = np.int64
    torch.manual_seed(0)
    ours = MultiHeadAttention(n(8), n(2))
    torch.manual_seed(0)
    plain = MultiHeadAttention(8, 2)
    assert ours.d_model == 8 and type(ours.d_model) is int
    assert torch.equal(ours.w_q.weight, plain.w_q.weight)
    vit = ViT(image_size=n(8), patch_size=n(2), d_model=n(16), num_layers=n(1), num_heads=n(2))
    assert vit(torch.rand(1, 1, 8, 8)).shape == (1, 10)
    model = Transformer(n(11), d_model=n(16), num_heads=n(2), num_layers=n(1), d_ff=n(32))
    assert model(torch.randint(0, 10, (1, 4)), torch.randint(0, 10, (1, 4))).shape == (1, 4, 11)
    assert ReversalTask(length=n(4)).sample(n(3), torch.Generator())[0].shape == (3, 4)


def test_numpy_integers_in_masks_and_codes():
    assert torch.equal(causal_mask(np.int64(3)), causal_mask(3))
    expected = padding_mask([2, 3], 3)
    assert torch.equal(padding_mask([np.int64(2), np.int64(3)], np.int64(3)), expected)
    assert torch.equal(padding_mask(np.array([2, 3]), 3), expected)
    assert torch.equal(sinusoidal_offset_matrix(np.int64(2), 8), sinusoidal_offset_matrix(2, 8))
    assert patch_grid(np.int64(8), np.int64(8), np.int64(2)) == (4, 4)


def test_bools_and_floats_are_still_not_ints():
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        causal_mask(True)
    with pytest.raises(TypeError, match="n must be an int, got float"):
        causal_mask(3.0)
    with pytest.raises(TypeError, match="lengths must be a list of ints or a LongTensor"):
        padding_mask([2.0, 3], 3)
    with pytest.raises(TypeError, match="offset must be an int, got float"):
        sinusoidal_offset_matrix(1.0, 8)


def test_a_numpy_bos_is_a_token_id_not_out_of_range():
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    source = torch.randint(0, 10, (2, 5), generator=torch.Generator().manual_seed(0))
    expected = decoding.greedy_decode(model, source, bos=10)
    assert torch.equal(decoding.greedy_decode(model, source, bos=np.int64(10)), expected)
    assert torch.equal(decoding.greedy_decode(model, source, bos=10, steps=np.int64(5)), expected)
    with pytest.raises(ValueError, match=r"bos must be a token id in 0..10, got 11"):
        decoding.greedy_decode(model, source, bos=np.int64(11))
    with pytest.raises(TypeError, match=r"bos must be an int, got float"):
        decoding.greedy_decode(model, source, bos=10.0)
    logits = torch.tensor([3.0, 1.0, 2.0])
    assert torch.equal(
        decoding.next_token_probabilities(logits, top_k=np.int64(2)),
        decoding.next_token_probabilities(logits, top_k=2),
    )


# --- training leaves the caller's random state alone --------------------------------


def test_train_reversal_model_leaves_the_global_rng_alone():
    recipe = ToyRecipe(d_model=16, num_heads=2, d_ff=32, batch_size=8, max_steps=2, eval_size=8)
    before = torch.random.get_rng_state()
    first = train_reversal_model(ReversalTask(length=4), recipe, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = train_reversal_model(ReversalTask(length=4), recipe, progress=False)
    assert first[1].losses == second[1].losses  # seeded by the recipe, not by the global state


# --- copying weights into torch's layer leaves ours as it was -----------------------------


def test_copy_into_torch_copies_ours_and_leaves_ours_unchanged():
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2)
    with torch.no_grad():
        for parameter in ours.parameters():
            parameter.add_(1.0)  # nothing like torch's initialisation (its biases start at 0)
    before = {name: value.clone() for name, value in ours.state_dict().items()}
    theirs = copy_into_torch(ours)
    for name, value in ours.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(theirs.out_proj.bias, ours.w_o.bias)
    x = torch.randn(2, 3, 8)
    assert torch.allclose(ours(x, x, x)[0], theirs(x, x, x)[0], atol=1e-5)


# --- explorers refuse bad arguments clearly, and draw every grid line ----------------------


def _explorer_cases():
    from lessons_lib.widgets import EXPLORERS as E

    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    source = torch.tensor([3, 1, 4, 1])
    names = [str(i) for i in range(11)]
    return [
        (lambda: E["softmax_explorer"]([], []), ValueError, r"at least one logit .* got 0 logits"),
        (
            lambda: E["softmax_explorer"]([1.0], ["a"], edit_values=()),
            ValueError,
            r"one value to set it to, got 1 logits and edit_values=\(\)",
        ),
        (
            lambda: E["softmax_explorer"]([1.0, 2.0], ["a", "b"], edit_index=1.0),
            TypeError,
            r"edit_index must be an int, got float",
        ),
        (lambda: E["scaling_explorer"](d_ks=()), ValueError, r"d_ks must list at least one d_k"),
        (lambda: E["scaling_explorer"](d_ks=(0, 4)), ValueError, r"every d_k must be > 0, got 0"),
        (
            lambda: E["patching_explorer"](np.zeros((2, 1, 8, 8)), ["a", "b"]),
            TypeError,
            r"images must be a torch.Tensor, got ndarray",
        ),
        (
            lambda: E["patching_explorer"](torch.zeros(0, 1, 8, 8), []),
            ValueError,
            r"k >= 1, with one name each, got shape \(0, 1, 8, 8\) and 0 names",
        ),
        (
            lambda: E["patching_explorer"](torch.zeros(1, 1, 8, 8), ["a"], patch_sizes=()),
            ValueError,
            r"patch_sizes must list at least one patch size",
        ),
        (
            lambda: E["masking_explorer"](torch.zeros(6, 6), list("abcdef"), lengths=()),
            ValueError,
            r"lengths must list at least one sequence length",
        ),
        (
            lambda: E["cross_attention_explorer"](torch.rand(3, 4), list("abcd"), list("xyz")),
            ValueError,
            r"weights must have 3 dimensions \(heads, L_q, L_k\), got 2",
        ),
        (
            lambda: E["cross_attention_explorer"](torch.rand(2, 0, 0), [], []),
            ValueError,
            r"weights need a head, a query and a key, got shape \(2, 0, 0\)",
        ),
        (
            lambda: E["qkv_explorer"](list("abc"), torch.randn(4, 8), torch.eye(8), torch.eye(8)),
            ValueError,
            r"one token name per input row .* got 3 names, inputs \(4, 8\)",
        ),
        (
            lambda: E["qkv_explorer"](list("ab"), torch.randn(2, 8), torch.eye(4), torch.eye(4)),
            ValueError,
            r"inputs have d_model=8 but w_q and w_k have 4 rows",
        ),
        (lambda: E["position_explorer"]({}, 2, 2), ValueError, r"at least one table of codes"),
        (
            lambda: E["decoding_explorer"](model, source, 11),
            ValueError,
            r"bos in 0..10, got 11 names and bos=11",
        ),
        (
            lambda: E["decoding_explorer"](model, source, 10, token_names=["a"]),
            ValueError,
            r"one token name per vocabulary entry \(11\) .* got 1 names",
        ),
        (
            lambda: E["transformer_attention_explorer"](model, source, 10, ["a"]),
            ValueError,
            r"one token name per vocabulary entry \(11\), got 1",
        ),
        (
            lambda: E["transformer_attention_explorer"](ViT(), source, 10, names),
            TypeError,
            r"model must be a Transformer, got ViT",
        ),
        (
            lambda: E["vit_attention_explorer"](ViT(), torch.rand(0, 1, 8, 8), []),
            ValueError,
            r"k >= 1, with one name each, got shape \(0, 1, 8, 8\)",
        ),
        (
            lambda: E["vit_attention_explorer"](ViT(), torch.rand(2, 1, 16, 16), ["a", "b"]),
            ValueError,
            r"images are 16x16 but this ViT was built for image_size=8",
        ),
    ]


@pytest.mark.parametrize("index", range(20))
def test_explorers_refuse_bad_arguments_clearly(index):
    import matplotlib.pyplot as plt

    call, error, message = _explorer_cases()[index]
    try:
        with pytest.raises(error, match=message):
            call()
    finally:
        plt.close("all")


def test_the_explorer_cases_cover_every_case_listed():
    assert len(_explorer_cases()) == 20


@pytest.mark.parametrize("patch_size", [1, 2, 4, 8, 16, 32])
def test_the_patching_explorer_draws_every_grid_line_at_any_patch_size(patch_size):
    import matplotlib.pyplot as plt

    from lessons_lib.widgets import EXPLORERS

    sizes = (1, 2, 4, 8, 16, 32)
    explorer = EXPLORERS["patching_explorer"](torch.rand(1, 1, 32, 32), ["a"], patch_sizes=sizes)
    try:
        explorer.update(image_index=0, patch_size=patch_size)
        grid_ax = explorer.figure.axes[0]
        visible = [line for line in grid_ax.lines if line.get_visible()]
        rows = sorted(line.get_ydata()[0] for line in visible if line.get_xdata()[0] == 0)
        cols = sorted(line.get_xdata()[0] for line in visible if line.get_ydata()[0] == 0)
        edges = [k * patch_size - 0.5 for k in range(1, 32 // patch_size)]  # inner edges only
        assert rows == edges and cols == edges  # 31 of each at patch size 1
    finally:
        plt.close("all")


# --- issue 20: out-of-range arguments are refused, not turned into nonsense ---------------

import datetime  # noqa: E402
import functools  # noqa: E402
import random  # noqa: E402

from lessons_lib.data import (  # noqa: E402
    DateTask,
    MarkPositionTask,
    iso_date,
    load_digits_split,
    shift_right,
)
from lessons_lib.experiments import add_norm as add_norm_experiments  # noqa: E402
from lessons_lib.experiments import cross_attention as cross_attention_experiments  # noqa: E402
from lessons_lib.experiments import position_codes as position_codes_experiments  # noqa: E402
from lessons_lib.experiments import softmax as softmax_experiments  # noqa: E402
from lessons_lib.experiments import transformer as transformer_experiments  # noqa: E402
from lessons_lib.experiments import vit_scale as vit_scale_experiments  # noqa: E402
from lessons_lib.metrics import exact_match_accuracy, token_accuracy  # noqa: E402
from lessons_lib.patching import linear_weight_from_conv  # noqa: E402
from lessons_lib.positions import (  # noqa: E402
    PositionCodes1D,
    PositionCodes2D,
    RelativePositionBias2D,
    interpolate_row_col,
)
from lessons_lib.transformer import TinyCrossAttentionModel  # noqa: E402
from lessons_lib.vit import attention_rollout, stretch_positions  # noqa: E402

TWO_IMAGES = ImageSet(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]), ("a", "b"))


@pytest.mark.parametrize("batch_size", [-1, 0])
def test_classification_accuracy_refuses_a_batch_size_below_one(batch_size):
    with pytest.raises(ValueError, match=rf"batch_size must be > 0, got {batch_size}"):
        classification_accuracy(ViT(num_classes=2), TWO_IMAGES, batch_size=batch_size)
    with pytest.raises(TypeError, match=r"batch_size must be an int, got float"):
        classification_accuracy(ViT(num_classes=2), TWO_IMAGES, batch_size=2.0)


def test_classification_accuracy_names_a_model_or_data_of_the_wrong_kind():
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got str"):
        classification_accuracy("vit", TWO_IMAGES)
    with pytest.raises(TypeError, match=r"data must be an ImageSet, got tuple"):
        classification_accuracy(ViT(num_classes=2), (TWO_IMAGES.images, TWO_IMAGES.labels))


def test_gradient_norms_at_init_needs_at_least_one_seed():
    with pytest.raises(TypeError, match=r"seeds must be a non-empty list of ints, got \[\]"):
        add_norm_experiments.gradient_norms_at_init(2, norm_first=False, seeds=[])
    with pytest.raises(TypeError, match=r"seed must be an int, got float"):
        add_norm_experiments.gradient_norms_at_init(2, norm_first=False, seeds=[0.5])
    with pytest.raises(ValueError, match=r"batch_size must be > 0, got 0"):
        add_norm_experiments.gradient_norms_at_init(2, norm_first=False, seeds=[0], batch_size=0)
    norms = add_norm_experiments.gradient_norms_at_init(
        2, norm_first=False, seeds=range(1), batch_size=8
    )
    assert norms.shape == (2,) and torch.isfinite(norms).all() and (norms > 0).all()


def test_attention_rollout_of_no_layers_is_refused_instead_of_none():
    with pytest.raises(ValueError, match=r"maps hold no layers \(shape \(0, 2, 3, 3\)\)"):
        attention_rollout(torch.zeros(0, 2, 3, 3))
    with pytest.raises(TypeError, match=r"residual_weight must be a number, got str"):
        attention_rollout(torch.full((1, 1, 3, 3), 1 / 3), residual_weight="0.5")
    one_layer = torch.full((1, 1, 3, 3), 1 / 3)  # (depth, heads, T, T): one layer is enough
    assert torch.allclose(attention_rollout(one_layer).sum(-1), torch.ones(3))


@pytest.mark.parametrize(("field", "value", "token"), [("pad", 2, 0), ("bos", 0, 1), ("pad", 1, 0)])
def test_date_task_pad_and_bos_must_be_the_ids_of_their_tokens(field, value, token):
    with pytest.raises(
        ValueError, match=rf"{field} must be {token}, the id of '<{field}>'.*got {value}"
    ):
        DateTask(**{field: value})


def test_why_pad_2_was_wrong_it_is_the_space_and_cut_every_date_at_its_first_space():
    task = DateTask()
    assert task.token_names[2] == " "  # so a pad of 2 ended "27 November 2026" after "27"
    tokens, _ = task.encode(["27 November 2026"])
    assert task.decode(tokens[0]) == "27 November 2026"


def test_date_task_target_length_must_hold_an_iso_date():
    with pytest.raises(ValueError, match=r"target_length must be at least 10, .* got 5"):
        DateTask(target_length=5)
    with pytest.raises(TypeError, match=r"split_seed must be an int, got str"):
        DateTask(split_seed="0")
    with pytest.raises(TypeError, match=r"test_fraction must be a number, got str"):
        DateTask(test_fraction="0.1")


def test_every_sampler_needs_a_generator_so_that_none_touches_the_global_rng():
    message = r"generator must be a torch.Generator, e.g. torch.Generator\(\).manual_seed\(0\)"
    calls = [
        lambda: ReversalTask().sample(2, None),
        lambda: ReversalTask().batches(2, 0),
        lambda: DateTask().sample(2, None),
        lambda: DateTask().batches(2, None),
        lambda: TWO_IMAGES.batches(2, None),
        lambda: MarkPositionTask().sample(2, None),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=message):
            call()


def test_image_sets_check_their_tensors_and_labels():
    images = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"labels run from 0 to 5, but there are 2 class_names"):
        ImageSet(images, torch.tensor([0, 5]), ("a", "b"))
    with pytest.raises(ValueError, match=r"labels run from -1 to 0"):
        ImageSet(images, torch.tensor([-1, 0]), ("a", "b"))
    with pytest.raises(TypeError, match=r"labels must be class ids \(torch.long\), got dtype"):
        ImageSet(images, torch.tensor([0.0, 1.0]), ("a", "b"))
    with pytest.raises(TypeError, match=r"images must be a floating-point tensor"):
        ImageSet(images.long(), torch.tensor([0, 1]), ("a", "b"))
    with pytest.raises(TypeError, match=r"images must be a torch.Tensor, got ndarray"):
        ImageSet(np.zeros((2, 1, 4, 4)), torch.tensor([0, 1]), ("a", "b"))
    with pytest.raises(TypeError, match=r"class_names must be a tuple of names, got 'ab'"):
        ImageSet(images, torch.tensor([0, 1]), "ab")


def test_small_data_helpers_refuse_what_does_not_fit():
    with pytest.raises(ValueError, match=r"targets must have 2 dimensions \(batch, length\)"):
        shift_right(torch.tensor([1, 2, 3]), bos=10)
    with pytest.raises(TypeError, match=r"bos must be an int, got float"):
        shift_right(torch.tensor([[1, 2]]), bos=1.5)
    with pytest.raises(TypeError, match=r"targets must hold token ids \(torch.long\)"):
        shift_right(torch.tensor([[1.0, 2.0]]), bos=1)
    with pytest.raises(TypeError, match=r"date must be a datetime.date, got str"):
        iso_date("2026-11-27")
    assert iso_date(datetime.date(2026, 11, 27)) == "2026-11-27"
    with pytest.raises(TypeError, match=r"seed must be an int, got str"):
        load_digits_split(seed="0")
    with pytest.raises(TypeError, match=r"test_fraction must be a number, got str"):
        load_digits_split(test_fraction="0.2")
    with pytest.raises(TypeError, match=r"noise must be a number, got str"):
        MarkPositionTask(noise="0.1")


def test_accuracies_of_no_sequences_or_mismatched_ones_are_refused_instead_of_nan():
    alignment = TinyCrossAttentionModel(11, length=4)
    empty = torch.zeros(0, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"sources holds no sequences \(shape \(0, 4\)\)"):
        token_accuracy(alignment, empty, empty)
    with pytest.raises(ValueError, match=r"sources \(2, 4\) and targets \(3, 4\) must hold"):
        token_accuracy(
            alignment, torch.zeros(2, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long)
        )
    with pytest.raises(
        ValueError, match=r"the model writes \(2, 4\) tokens .* targets are \(2, 3\)"
    ):
        token_accuracy(
            alignment, torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)
        )
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with pytest.raises(ValueError, match=r"sources holds no sequences"):
        exact_match_accuracy(model, empty, empty, bos=10)
    with pytest.raises(TypeError, match=r"sources must be a torch.Tensor, got list"):
        exact_match_accuracy(model, [[1, 2]], torch.zeros(1, 2, dtype=torch.long), bos=10)


def test_choosers_refuse_logits_without_a_batch_or_a_vocabulary():
    with pytest.raises(
        ValueError, match=r"probabilities must have a vocabulary dimension .* \(0,\)"
    ):
        decoding.one_hot_choice(torch.zeros(0))
    with pytest.raises(ValueError, match=r"logits must have 2 dimensions \(batch, vocab\)"):
        decoding.greedy_choice(torch.zeros(5))
    with pytest.raises(TypeError, match=r"logits must be a torch.Tensor, got list"):
        decoding.greedy_choice([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"logits must have 2 dimensions \(batch, vocab\)"):
        decoding.sampling_choice(generator=torch.Generator())(torch.zeros(5))
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None, got 'g'"):
        decoding.sampling_choice(generator="g")
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with pytest.raises(TypeError, match=r"choose must map logits"):
        decoding.generate(model, torch.zeros(1, 3, dtype=torch.long), 10, choose="greedy")


def test_position_codes_refuse_a_bad_init_std_and_tables_of_two_widths():
    for build in (
        lambda std: PositionCodes1D(4, 8, init_std=std),
        lambda std: PositionCodes2D(2, 2, 8, init_std=std),
        lambda std: RelativePositionBias2D(2, 2, 4, init_std=std),
        lambda std: ViT(positions="1d", code_init_std=std),
    ):
        for std in (-0.1, float("nan"), float("inf")):
            with pytest.raises(ValueError, match=r"init_std must be a finite number >= 0"):
                build(std)
        with pytest.raises(TypeError, match=r"init_std must be a number, got str"):
            build("0.02")
    with pytest.raises(
        ValueError, match=r"row_codes are \(grid_h, 4\) but col_codes are \(grid_w, 6\)"
    ):
        interpolate_row_col(torch.ones(2, 4), torch.ones(2, 6), (3, 3))


def test_patch_helpers_refuse_a_non_square_kernel_and_a_foreign_embedding():
    with pytest.raises(ValueError, match=r"square p x p kernel, .* got 2x3"):
        linear_weight_from_conv(torch.zeros(4, 1, 2, 3))
    with pytest.raises(TypeError, match=r"other must be a PatchEmbedding, got Linear"):
        PatchEmbedding(2, 1, 4).copy_from(torch.nn.Linear(4, 4))


def test_stretch_positions_checks_the_size_and_keeps_the_device_and_dtype():
    with pytest.raises(TypeError, match=r"image_size must be an int, got float"):
        stretch_positions(ViT(), 16.0)
    with pytest.raises(ValueError, match=r"image_size must be > 0, got 0"):
        stretch_positions(ViT(), 0)
    small = ViT(positions="2d").double()
    large = stretch_positions(small, 16)
    assert {p.dtype for p in large.parameters()} == {torch.float64}
    assert large(torch.zeros(1, 1, 16, 16, dtype=torch.float64)).shape == (1, 10)


def test_experiments_check_their_arguments_before_any_run():
    with pytest.raises(TypeError, match=r"kinds must be a non-empty tuple of position kinds"):
        position_codes_experiments.compare_position_codes(TWO_IMAGES, TWO_IMAGES, kinds=())
    with pytest.raises(ValueError, match=r"kinds must come from .* got \['3d'\]"):
        position_codes_experiments.compare_position_codes(
            TWO_IMAGES, TWO_IMAGES, kinds=("1d", "3d")
        )
    with pytest.raises(TypeError, match=r"seeds must be a non-empty list of ints, got \(\)"):
        position_codes_experiments.compare_position_codes(TWO_IMAGES, TWO_IMAGES, seeds=())
    with pytest.raises(TypeError, match=r"validation must be an ImageSet or None, got tuple"):
        position_codes_experiments.compare_position_codes(TWO_IMAGES, TWO_IMAGES, validation=(1, 2))
    with pytest.raises(TypeError, match=r"best_steps must be a dict or None, got list"):
        position_codes_experiments.compare_position_codes(
            TWO_IMAGES, TWO_IMAGES, validation=TWO_IMAGES, best_steps=[]
        )
    with pytest.raises(
        ValueError, match=r"best_steps needs a validation split: .*got validation=None"
    ):
        position_codes_experiments.compare_position_codes(TWO_IMAGES, TWO_IMAGES, best_steps={})
    with pytest.raises(
        ValueError, match=r"every size must lie in 1..2 \(the training images\), got 5"
    ):
        vit_scale_experiments.compare_vit_and_cnn(TWO_IMAGES, TWO_IMAGES, TWO_IMAGES, sizes=(1, 5))
    with pytest.raises(TypeError, match=r"seeds must be a non-empty list of ints, got \[\]"):
        vit_scale_experiments.compare_vit_and_cnn(
            TWO_IMAGES, TWO_IMAGES, TWO_IMAGES, sizes=(1,), seeds=[]
        )
    with pytest.raises(
        ValueError, match=r"every run needs at least one loss, got an empty run for 'a'"
    ):
        add_norm_experiments.final_losses({"a": [[1.0], []]})
    with pytest.raises(ValueError, match=r"models must map at least one of the kinds"):
        vit_scale_experiments.evaluate_stretched({}, TWO_IMAGES)
    with pytest.raises(TypeError, match=r"seed must be an int, got str"):
        vit_scale_experiments.training_subset(TWO_IMAGES, 1, seed="0")
    with pytest.raises(TypeError, match=r"data must be an ImageSet, got Tensor"):
        vit_scale_experiments.upsample_images(TWO_IMAGES.images, 2)
    with pytest.raises(TypeError, match=r"batch must be a DateBatch"):
        transformer_experiments.date_cross_attention(
            Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32), TWO_IMAGES, bos=1
        )
    with pytest.raises(TypeError, match=r"seed must be an int, got float"):
        softmax_experiments.scaling_experiment([4], seed=0.5)


# --- issue 20: no helper changes the global random state ---------------------------------


def _rng_state() -> tuple:
    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


@functools.cache
def _helper_calls() -> dict[str, object]:
    """name -> call for the package's helpers; models are built here, before any state is read."""
    vits = {kind: ViT(positions=kind) for kind in ("none", "1d", "2d", "sinusoidal")}
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=30)
    source = torch.randint(0, 10, (2, 5))
    maps = torch.rand(2, 1, 4, 3, 3)  # (depth, batch, heads, T, T)
    task = DateTask()
    date_model = Transformer(
        task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=30
    )
    batch = task.sample(2, torch.Generator().manual_seed(0))
    digits = ImageSet(torch.rand(6, 1, 8, 8), torch.arange(6) % 2, ("a", "b"))
    tiny_recipe = add_norm_experiments.WarmupRecipe(d_model=8, num_heads=1, num_layers=1, steps=1)
    return dict(
        [
            ("classification_accuracy", lambda: classification_accuracy(vits["1d"], TWO_IMAGES)),
            (
                "gradient_norms_at_init",
                lambda: add_norm_experiments.gradient_norms_at_init(
                    1, False, seeds=[0], batch_size=4
                ),
            ),
            ("attention_rollout", lambda: attention_rollout(maps)),
            ("DateTask", lambda: DateTask(split_seed=3).sample(2, torch.Generator())),
            *[
                (
                    f"stretch_positions {kind} {method}",
                    lambda k=kind, m=method: stretch_positions(vits[k], 16, m),
                )
                for kind in vits
                for method in ("1d", "2d")
            ],
            ("ReversalTask.sample", lambda: ReversalTask().sample(4, torch.Generator())),
            ("MarkPositionTask.sample", lambda: MarkPositionTask().sample(2, torch.Generator())),
            ("load_digits_split", lambda: load_digits_split()),
            ("ImageSet.batches", lambda: next(TWO_IMAGES.batches(2, torch.Generator()))),
            ("greedy_decode", lambda: decoding.greedy_decode(model, source, bos=10)),
            (
                "sample_decode without a generator",
                lambda: decoding.sample_decode(model, source, bos=10),
            ),
            (
                "sample_decode with top_p",
                lambda: decoding.sample_decode(model, source, bos=10, top_p=0.9),
            ),
            ("beam_search", lambda: decoding.beam_search(model, source, bos=10, beam_size=3)),
            ("exact_match_accuracy", lambda: exact_match_accuracy(model, source, source, bos=10)),
            (
                "date_cross_attention",
                lambda: transformer_experiments.date_cross_attention(date_model, batch, task.bos),
            ),
            ("training_subset", lambda: vit_scale_experiments.training_subset(digits, 3, seed=0)),
            ("upsample_images", lambda: vit_scale_experiments.upsample_images(TWO_IMAGES, 2)),
            (
                "evaluate_stretched",
                lambda: vit_scale_experiments.evaluate_stretched(vits, TWO_IMAGES),
            ),
            ("scaling_experiment", lambda: softmax_experiments.scaling_experiment([4], n_trials=8)),
            ("gradient_norms_per_layer", lambda: add_norm_experiments.gradient_norms_per_layer(2)),
            (
                "time_gru_and_attention",
                lambda: cross_attention_experiments.time_gru_and_attention(
                    [4], d_model=8, batch=1, repeats=1
                ),
            ),
            (
                "warmup_experiment",
                lambda: add_norm_experiments.warmup_experiment(
                    seeds=[0], recipe=tiny_recipe, progress=False
                ),
            ),
            (
                "compare_position_codes",
                lambda: position_codes_experiments.compare_position_codes(
                    digits,
                    digits,
                    kinds=("1d",),
                    seeds=(0,),
                    steps=1,
                    batch_size=2,
                    progress=False,
                    image_size=8,
                    patch_size=4,
                    d_model=8,
                    num_layers=1,
                    num_heads=1,
                    num_classes=2,
                ),
            ),
            (
                "compare_position_codes to its best on validation",
                lambda: position_codes_experiments.compare_position_codes(
                    digits,
                    digits,
                    kinds=("2d",),
                    seeds=(0,),
                    steps=2,
                    batch_size=2,
                    progress=False,
                    validation=digits,
                    eval_every=1,
                    patience=1,
                    best_steps={},
                    image_size=8,
                    patch_size=4,
                    d_model=8,
                    num_layers=1,
                    num_heads=1,
                    num_classes=2,
                ),
            ),
        ]
    )


HELPER_NAMES = list(_helper_calls())


@pytest.mark.parametrize("name", HELPER_NAMES)
def test_no_helper_changes_the_global_random_state(name):
    call = _helper_calls()[name]
    torch.manual_seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    before = _rng_state()
    call()
    after = _rng_state()
    assert torch.equal(after[0], before[0]), f"{name} changed torch's global RNG"
    assert np.array_equal(after[1], before[1]), f"{name} changed numpy's global RNG"
    assert after[2] == before[2], f"{name} changed Python's random module"


def test_the_random_state_check_can_fail():
    before = torch.random.get_rng_state()
    ViT(positions="1d")  # a model's constructor draws its weights: that is its job
    assert not torch.equal(torch.random.get_rng_state(), before)


def test_softmax_and_entropy_name_a_dim_out_of_range():
    from lessons_lib.softmax import entropy, naive_softmax

    for call in (
        lambda: softmax(torch.ones(2, 3), dim=2),
        lambda: naive_softmax(torch.ones(3), dim=1),
        lambda: entropy(torch.ones(3), dim=-2),
    ):
        with pytest.raises(ValueError, match=r"dim=-?\d is out of range for a tensor of shape"):
            call()
    with pytest.raises(TypeError, match=r"dim must be an int, got float"):
        softmax(torch.ones(3), dim=0.0)
    assert torch.equal(softmax(torch.tensor(2.0), dim=-1), torch.softmax(torch.tensor(2.0), -1))
    assert torch.equal(softmax(torch.ones(2, 3), dim=np.int64(0)), torch.full((2, 3), 0.5))
