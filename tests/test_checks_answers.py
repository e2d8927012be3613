"""A table of answers a learner might write, and the verdict each checker must give.

Right answers are written here independently of the package, then given in other forms
(float64 and numpy pass; float16 and bfloat16 fail where they lose more than float32's
tolerance, and are told so); wrong answers are the usual slips, each named by the checker.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lessons_lib.checks as checks
from lessons_lib.checks import EXERCISES

# --- right answers, written as a learner would ------------------------------------------


def softmax_rows(logits):
    exps = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
    return exps / exps.sum(dim=-1, keepdim=True)


def attention_weights(queries, keys):
    return torch.softmax(queries @ keys.T / queries.shape[-1] ** 0.5, dim=-1)


def attention_head(inputs, w_q, w_k, w_v):
    return attention_weights(inputs @ w_q, inputs @ w_k) @ (inputs @ w_v)


def causal(n):
    rows, cols = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return cols <= rows


def masked_weights(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def split_heads(x, num_heads):
    batch, seq, d_model = x.shape
    return x.view(batch, seq, num_heads, d_model // num_heads).transpose(1, 2)


def multi_head(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split):
    # `split` is the correct split the checker hands over: no answer to check_split_heads needed
    queries = split(decoder @ w_q, num_heads)
    keys = split(encoder @ w_k, num_heads)
    values = split(encoder @ w_v, num_heads)
    scores = queries @ keys.transpose(-2, -1) / queries.shape[-1] ** 0.5
    heads = torch.softmax(scores, dim=-1) @ values
    batch, _, length, _ = heads.shape
    return heads.transpose(1, 2).reshape(batch, length, -1) @ w_o


def layer_norm(x):
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + 1e-5)


def add_norm(x, sublayer_out):
    return layer_norm(x + sublayer_out)


def greedy(model, source, bos, steps):
    prefix = torch.full((source.shape[0], 1), bos)
    with torch.no_grad():
        for _ in range(steps):
            token = model(source, prefix)[:, -1].argmax(-1)
            prefix = torch.cat([prefix, token[:, None]], dim=1)
    return prefix[:, 1:]


def probabilities(logits, temperature, top_k):
    kth = logits.topk(top_k, dim=-1).values[..., -1:]
    return torch.softmax(logits.masked_fill(logits < kth, float("-inf")) / temperature, dim=-1)


def encoder_layer(layer, x):
    attended, _ = layer.self_attention(x, x, x)
    x = layer.norm1.norm(x + attended)
    return layer.norm2.norm(x + layer.feed_forward(x))


def parameter_count(d_model, d_ff):
    return 4 * d_model * d_model + 4 * d_model + 2 * d_model * d_ff + d_ff + d_model + 4 * d_model


def patchify(images, p):
    batch, channels, height, width = images.shape
    blocks = images.reshape(batch, channels, height // p, p, width // p, p)
    return blocks.permute(0, 2, 4, 1, 3, 5).reshape(batch, -1, channels * p * p)


def conv_embedding(images, weight, bias):
    return F.conv2d(images, weight, bias, stride=weight.shape[-1]).flatten(2).transpose(1, 2)


def codes_2d(row_codes, col_codes):
    h, w = row_codes.shape[0], col_codes.shape[0]
    rows = row_codes[:, None].expand(h, w, -1)
    cols = col_codes[None, :].expand(h, w, -1)
    return torch.cat([rows, cols], dim=-1).reshape(h * w, -1)


def cosine_similarity(codes):
    unit = codes / codes.norm(dim=-1, keepdim=True)
    return unit @ unit.T


def stretch_codes(codes, old_grid, new_grid):
    grid = codes.reshape(*old_grid, -1).permute(2, 0, 1)[None]  # (1, d, gh, gw)
    stretched = F.interpolate(grid, size=tuple(new_grid), mode="bilinear")  # (1, d, nh, nw)
    return stretched[0].permute(1, 2, 0).reshape(new_grid[0] * new_grid[1], -1)


def input_sequence(patches, class_token, codes):
    class_tokens = class_token.expand(patches.shape[0], 1, -1)
    return torch.cat([class_tokens, patches], dim=1) + codes


def read_out(encoded, weight, bias):
    return F.layer_norm(encoded[:, 0], (encoded.shape[-1],)) @ weight.T + bias


def rollout(maps):
    eye = torch.eye(maps.shape[-1], dtype=maps.dtype)
    result = eye
    for layer in maps:  # (heads, T, T), first layer first
        mixed = 0.5 * layer.mean(dim=0) + 0.5 * eye
        result = (mixed / mixed.sum(dim=-1, keepdim=True)) @ result
    return result


def teacher_forcing(model, sources, targets, bos):
    begin = torch.full_like(targets[:, :1], bos)
    logits = model(sources, torch.cat([begin, targets[:, :-1]], dim=1))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


RIGHT = {
    "check_attention_weights": attention_weights,
    "check_attention_head": attention_head,
    "check_softmax": softmax_rows,
    "check_temperature_softmax": lambda logits, t: softmax_rows(logits / t),
    "check_sharpen": lambda p, t: softmax_rows(torch.log(p) / t),
    "check_causal_mask": causal,
    "check_masked_weights": masked_weights,
    "check_split_heads": split_heads,
    "check_multi_head": multi_head,
    "check_layer_norm": layer_norm,
    "check_add_norm": add_norm,
    "check_greedy_decode": greedy,
    "check_next_token_probabilities": probabilities,
    "check_encoder_layer": encoder_layer,
    "check_parameter_count": parameter_count,
    "check_teacher_forcing_loss": teacher_forcing,
    "check_patchify": patchify,
    "check_conv_embedding": conv_embedding,
    "check_codes_2d": codes_2d,
    "check_cosine_similarity": cosine_similarity,
    "check_stretch_codes": stretch_codes,
    "check_input_sequence": input_sequence,
    "check_read_out": read_out,
    "check_rollout": rollout,
}

# --- the same answers in other forms ------------------------------------------------------


def in_float64(function):
    """Computes in float64: float tensors and models converted first."""

    def converted(*args):
        args = [
            arg.double()
            if isinstance(arg, torch.Tensor) and arg.is_floating_point()
            else arg.double()
            if isinstance(arg, torch.nn.Module)
            else arg
            for arg in args
        ]
        return function(*args)

    return converted


def in_float16(function):
    """Computes in float16 where every step after the inputs' cast is exact (permutations,
    masks, sums of two)."""

    def converted(*args):
        args = [arg.half() if isinstance(arg, torch.Tensor) else arg for arg in args]
        return function(*args)

    return converted


def returned_as(dtype):
    def wrap(function):
        return lambda *args: torch.as_tensor(function(*args)).to(dtype)

    return wrap


def returned_as_numpy(function):
    return lambda *args: torch.as_tensor(function(*args)).detach().numpy()


EXACT_IN_FLOAT16 = {
    "check_split_heads",
    "check_patchify",
    "check_codes_2d",
    "check_input_sequence",
}
FLOAT_ANSWERS = sorted(set(RIGHT) - {"check_causal_mask", "check_parameter_count"})


def right_answer_rows():
    rows = []
    for name, right in RIGHT.items():
        rows.append(pytest.param(name, right, id=f"{name}-float32"))
        rows.append(pytest.param(name, returned_as_numpy(right), id=f"{name}-numpy"))
    for name in FLOAT_ANSWERS:
        rows.append(pytest.param(name, in_float64(RIGHT[name]), id=f"{name}-float64"))
    return rows


@pytest.mark.parametrize(("name", "answer"), right_answer_rows())
def test_a_right_answer_passes_in_any_form(name, answer):
    result = getattr(checks, name)(answer)
    assert result.passed, result.message
    assert result.message == EXERCISES[name].success


# Answers whose every value survives the cast within float32's tolerance: whole token ids,
# and a rollout's values, all below 1, which float16 keeps to 1e-4 (bfloat16 does not).
SURVIVES = {
    torch.float16: {"check_greedy_decode", "check_rollout"},
    torch.bfloat16: {"check_greedy_decode"},
}


def half_precision_rows():
    rows = []
    for name in FLOAT_ANSWERS:
        for dtype in (torch.float16, torch.bfloat16):
            answer = returned_as(dtype)(RIGHT[name])
            rows.append(pytest.param(name, answer, dtype, id=f"{name}-to-{dtype}"))
        if name in EXACT_IN_FLOAT16:  # inputs cast to float16 already lose their digits
            answer = in_float16(RIGHT[name])
            rows.append(pytest.param(name, answer, torch.float16, id=f"{name}-in-float16"))
    return rows


@pytest.mark.parametrize(("name", "answer", "dtype"), half_precision_rows())
def test_a_right_answer_in_half_precision_is_told_it_lost_precision(name, answer, dtype):
    result = getattr(checks, name)(answer)
    if name in SURVIVES[dtype]:
        assert result.passed, result.message
        return
    dtype_name = str(dtype).removeprefix("torch.")
    assert not result.passed
    assert f": your answer came back in {dtype_name}, which keeps only about" in result.message
    assert result.message.endswith("compute and return it in float32, the inputs' dtype")


# --- answers that change their inputs or the model -------------------------------------------


def noise_into(args):
    """Add noise, in place, to every float tensor and every model parameter in ``args``."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for arg in args:
            tensors = arg.parameters() if isinstance(arg, torch.nn.Module) else [arg]
            for tensor in tensors:
                if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
                    tensor.add_(torch.randn(tensor.shape, generator=generator))


WITH_TENSORS = sorted(
    name
    for name in RIGHT
    if any(
        isinstance(arg, (torch.Tensor, torch.nn.Module)) for arg in EXERCISES[name].cases()[0].args
    )
)


@pytest.mark.parametrize("name", WITH_TENSORS)
def test_changing_the_inputs_after_answering_still_passes_with_a_note(name):
    def answer_then_scribble(*args):
        answer = RIGHT[name](*args).detach().clone()
        noise_into(args)
        return answer

    result = getattr(checks, name)(answer_then_scribble)
    assert result.passed, result.message
    assert "in place; the checker gave it a copy." in result.message


@pytest.mark.parametrize("name", WITH_TENSORS)
def test_changing_the_inputs_before_answering_cannot_fool_the_checker(name):
    def scribble_then_answer(*args):
        noise_into(args)
        return RIGHT[name](*args)

    result = getattr(checks, name)(scribble_then_answer)
    assert not result.passed
    assert "in place; the checker gave it a copy." in result.message
    assert getattr(checks, name)(RIGHT[name]).passed  # the checker's own inputs are intact


def test_a_decoder_that_rewires_the_model_cannot_fool_the_checker():
    def always_three(model, source, bos, steps):
        with torch.no_grad():
            model.output.weight.zero_()
            model.output.bias.zero_()
            model.output.bias[3] = 1.0  # now the model always says 3
        return greedy(model, source, bos, steps)

    result = checks.check_greedy_decode(always_three)
    assert not result.passed
    assert result.message.startswith("with a source (3, 6), bos = 8 and 7 steps: the values differ")
    assert "changed `model` in place" in result.message


# --- wrong answers and the verdicts they get ---------------------------------------------------


def subtract(statistic):
    def shifted(logits):
        exps = torch.exp(logits - statistic(logits))
        return exps / exps.sum(dim=-1, keepdim=True)

    return shifted


def eps_outside(x):
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / (x.std(dim=-1, unbiased=False, keepdim=True) + 1e-5)


def multi_head_from_decoder(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split):
    return multi_head(decoder, decoder, w_q, w_k, w_v, w_o, num_heads, split)


def multi_head_own_split(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split):
    return multi_head(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads)


def multi_head_unscaled(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split):
    queries = split(decoder @ w_q, num_heads)
    keys = split(encoder @ w_k, num_heads)
    values = split(encoder @ w_v, num_heads)
    heads = torch.softmax(queries @ keys.transpose(-2, -1), dim=-1) @ values
    batch, _, length, _ = heads.shape
    return heads.transpose(1, 2).reshape(batch, length, -1) @ w_o


def top_k_inclusive(logits, temperature, top_k):
    kth = logits.topk(top_k, dim=-1).values[..., -1:]
    return torch.softmax(logits.masked_fill(logits <= kth, float("-inf")) / temperature, dim=-1)


def top_k_plus_one(logits, temperature, top_k):
    return probabilities(logits, temperature, top_k + 1)


NOT_YET, CORRECT = False, True
FIRST_GREEDY = "with a source (3, 6), bos = 8 and 7 steps"
FIRST_LAYER = "with a layer with d_model = 16 and x (2, 5, 16)"

ANSWERS = [
    # (checker, answer, verdict, the start of the message)
    (
        "check_causal_mask",
        lambda n: torch.ones(5, 5, dtype=torch.bool).tril(),
        NOT_YET,
        "size hard-coded:",
    ),
    (
        "check_causal_mask",
        lambda n: torch.ones(n, n).tril(),
        NOT_YET,
        "with n = 5: the pattern is right, but expected a bool tensor",
    ),
    (
        "check_causal_mask",
        lambda n: torch.ones(n, n, dtype=torch.bool).triu(),
        NOT_YET,
        "upper triangle:",
    ),
    ("check_causal_mask", lambda n: np.tril(np.ones((n, n), dtype=bool)), CORRECT, "query i"),
    (
        "check_softmax",
        lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True),
        NOT_YET,
        "no max-subtraction (overflow):",
    ),
    (
        "check_softmax",
        subtract(lambda x: x.min(-1, keepdim=True).values),
        NOT_YET,
        "subtracted the minimum, not the maximum:",
    ),
    (
        "check_softmax",
        subtract(lambda x: x.mean(-1, keepdim=True)),
        NOT_YET,
        "subtracted the mean, not the maximum:",
    ),
    (
        "check_softmax",
        lambda x: softmax_rows(x) / 0.0,
        NOT_YET,
        "with logits (5, 5) with one row near 1000: your answer holds NaN or inf",
    ),
    ("check_softmax", lambda x: torch.softmax(x, dim=-1), CORRECT, "stable"),
    (
        "check_temperature_softmax",
        lambda x, t: softmax_rows(x / t) if t < 1 else x,
        NOT_YET,
        "with logits (4, 6) and T = 2.0: the values differ from the reference by up to",
    ),
    ("check_temperature_softmax", lambda x, t: x / t, NOT_YET, "no softmax:"),
    ("check_attention_weights", lambda q, k: q @ k.T / q.shape[-1] ** 0.5, NOT_YET, "no softmax:"),
    ("check_attention_weights", lambda q, k: q @ k.T, NOT_YET, "no softmax and no scaling:"),
    (
        "check_masked_weights",
        lambda s, m: torch.softmax(s.masked_fill(~m, -1e9), dim=-1),
        CORRECT,
        "masked keys",
    ),  # the notes' "huge negative number" is right here
    (
        "check_masked_weights",
        lambda s, m: torch.softmax(s, -1) * m,
        NOT_YET,
        "mask applied after softmax:",
    ),
    ("check_masked_weights", lambda s, m: s.masked_fill(~m, float("-inf")), NOT_YET, "no softmax:"),
    ("check_multi_head", multi_head_from_decoder, NOT_YET, "keys and values from the decoder:"),
    ("check_multi_head", multi_head_unscaled, NOT_YET, "no scaling:"),
    ("check_multi_head", multi_head_own_split, CORRECT, "split, attend"),  # own split works too
    (
        "check_split_heads",
        lambda x, h: split_heads(x, 3),
        NOT_YET,
        "with x (1, 3, 8) and 2 heads: your function raised RuntimeError: shape '[1, 3, 3, 2]'",
    ),
    ("check_layer_norm", eps_outside, NOT_YET, "eps outside the square root:"),
    ("check_layer_norm", lambda x: F.layer_norm(x, x.shape[-1:]), CORRECT, "your layer norm"),
    (
        "check_next_token_probabilities",
        lambda x, t, k: torch.softmax(x / t, -1),
        NOT_YET,
        "no top-k:",
    ),
    ("check_next_token_probabilities", top_k_inclusive, NOT_YET, "top-k off by one (kept k - 1):"),
    ("check_next_token_probabilities", top_k_plus_one, NOT_YET, "top-k off by one (kept k + 1):"),
    (
        "check_parameter_count",
        lambda d, f: parameter_count(d, f) + 0.4,
        NOT_YET,
        "expected 6,440 for d_model = 24, d_ff = 80, got 6,440.4",
    ),
    (
        "check_parameter_count",
        lambda d, f: 6440,
        NOT_YET,
        "expected 3,280 for d_model = 16, d_ff = 64, got 6,440",
    ),
    ("check_parameter_count", lambda d, f: np.int64(parameter_count(d, f)), CORRECT, "6,440"),
    ("check_parameter_count", lambda d, f: torch.tensor(parameter_count(d, f)), CORRECT, "6,440"),
    ("check_parameter_count", lambda d, f: float(parameter_count(d, f)), CORRECT, "6,440"),
    (
        "check_parameter_count",
        lambda d, f: torch.tensor([parameter_count(d, f)]),
        NOT_YET,
        "with d_model = 24, d_ff = 80: expected a single number, got a tensor of shape (1,)",
    ),
    (
        "check_parameter_count",
        lambda d, f: True,
        NOT_YET,
        "with d_model = 24, d_ff = 80: expected a number, got bool",
    ),
    (
        "check_patchify",
        lambda x, p: patchify(x, 4),
        NOT_YET,
        "with images of shape (1, 2, 6, 4) and p = 2: your function raised RuntimeError: shape",
    ),
    (
        "check_greedy_decode",
        lambda m, s, b, n: greedy(m, s, 8, n),
        NOT_YET,
        "with a source (2, 4), bos = 0 and 5 steps: your function raised ValueError: target_in",
    ),
    ("check_greedy_decode", lambda m, s, b, n: greedy(m, s, b, n).int(), CORRECT, "your decoder"),
    (
        "check_greedy_decode",
        lambda m, s, b, n: greedy(m, s, b, n).tolist(),
        NOT_YET,
        f"{FIRST_GREEDY}: expected a torch.Tensor, got list",
    ),
    ("check_encoder_layer", lambda layer, x: layer(x), CORRECT, "your layer matches."),
    (
        "check_encoder_layer",
        lambda layer, x: layer.self_attention(x, x, x),
        NOT_YET,
        f"{FIRST_LAYER}: expected a torch.Tensor, got tuple",
    ),
    (
        "check_stretch_codes",
        lambda c, old, new: F.interpolate(c.T[None], size=new[0] * new[1], mode="linear")[0].T,
        NOT_YET,
        "stretched as one line, not on the grid:",
    ),
    (
        "check_stretch_codes",
        lambda c, old, new: stretch_codes(c, list(old), list(new)),
        CORRECT,
        "your codes are stretched on the grid",
    ),
    (
        "check_codes_2d",
        lambda rows, cols: torch.cat(
            [cols[None, :].expand(len(rows), -1, -1), rows[:, None].expand(-1, len(cols), -1)], -1
        ).reshape(len(rows) * len(cols), -1),
        NOT_YET,
        "the row and column halves swapped: this book's convention puts the row half first",
    ),
]


@pytest.mark.parametrize(
    ("name", "answer", "verdict", "message"),
    [pytest.param(*row, id=f"{row[0]}-{i}") for i, row in enumerate(ANSWERS)],
)
def test_the_table_of_answers_gets_its_verdict(name, answer, verdict, message):
    result = getattr(checks, name)(answer)
    assert result.passed is verdict, result.message
    assert result.message.startswith(message), result.message


def test_forgetting_the_softmax_is_not_called_the_wrong_axis():
    result = checks.check_attention_weights(lambda q, k: q @ k.T / q.shape[-1] ** 0.5)
    assert "axis" not in result.message
    assert result.message.startswith("no softmax:")


def test_the_reference_count_is_the_real_layers():
    from lessons_lib.checks.transformer import encoder_layer_parameters
    from lessons_lib.metrics import parameter_count as count_parameters
    from lessons_lib.transformer import EncoderLayer

    for d_model, d_ff in ((24, 80), (16, 64), (512, 2048)):
        real = count_parameters(EncoderLayer(d_model, num_heads=2, d_ff=d_ff))
        assert encoder_layer_parameters(d_model, d_ff) == real == parameter_count(d_model, d_ff)


FIRST_LOSS = "with sources (3, 6), targets (3, 5) and bos = 8"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (  # the chapter's attempt: the decoder reads the token it must predict
            lambda m, s, t, b: F.cross_entropy(m(s, t).transpose(1, 2), t),
            "the decoder reads the answer:",
        ),
        (  # the classes left in the last dimension: cross_entropy wants them second
            lambda m, s, t, b: F.cross_entropy(
                m(s, torch.cat([t[:, :1] * 0 + b, t[:, :-1]], 1)), t
            ),
            "the class axis not moved for F.cross_entropy:",
        ),
        (
            lambda m, s, t, b: teacher_forcing(m, s, t, b).item(),
            f"{FIRST_LOSS}: expected a torch.Tensor, got float",
        ),
    ],
)
def test_teacher_forcing_slips_get_their_verdicts(answer, message):
    result = checks.check_teacher_forcing_loss(answer)
    assert not result.passed
    assert result.message.startswith(message), result.message


def test_the_teacher_forcing_reference_is_the_training_loss():
    from lessons_lib.checks.transformer import TEACHER_FORCING_LOSS
    from lessons_lib.training import teacher_forcing_loss

    for case in TEACHER_FORCING_LOSS.cases():
        model, sources, targets, bos = case.args
        expected = teacher_forcing_loss(model, (sources, targets), bos)
        assert torch.allclose(teacher_forcing(model, sources, targets, bos), expected)
        assert targets.shape[1] not in (sources.shape[1], model.vocab_size)  # slips show


@pytest.mark.parametrize("align_corners", [False, True])
def test_stretch_codes_takes_align_corners_false_and_names_true(align_corners):
    def stretch(codes, old_grid, new_grid):
        grid = codes.reshape(*old_grid, -1).permute(2, 0, 1)[None]  # (1, d, gh, gw)
        stretched = F.interpolate(
            grid, size=tuple(new_grid), mode="bilinear", align_corners=align_corners
        )  # (1, d, nh, nw)
        return stretched[0].permute(1, 2, 0).reshape(new_grid[0] * new_grid[1], -1)

    result = checks.check_stretch_codes(stretch)
    if align_corners:  # the other convention: named, with what each one lines up
        assert not result.passed
        assert result.message.startswith("align_corners=True: "), result.message
        assert "corner cells" in result.message and "outer edges" in result.message
    else:  # PyTorch's default and this book's convention
        assert result.passed, result.message
