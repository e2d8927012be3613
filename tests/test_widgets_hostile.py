"""Every registered explorer on awkward inputs: gradients, bfloat16, NaN and inf, JSON keys.

Each explorer in ``lessons_lib.widgets.EXPLORERS`` is built from its example
arguments (``ARGUMENTS`` in ``test_widgets.py``), changed in one way:

- every float tensor requires grad (a model's weights already do);
- every float tensor, float list and model is bfloat16 (and, again, float16);
- one float argument holds one NaN and one inf.

The explorer must then build and draw (with gradients: the very same
picture), or refuse at once with a ValueError or TypeError of its own (raised
in ``lessons_lib``, not inside matplotlib or torch) whose message names the
argument and what is wrong: NaN and inf may be refused, and a model may be
refused a dtype it cannot run in. Float lists become tensors for the first two
changes, as a caller may pass them. Also here: results whose sizes went
through JSON (string keys), and counts and sizes out of range.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import lessons_lib
from lessons_lib.widgets import (
    EXPLORERS,
    Explorer,
    control_options,
    masking_explorer,
    patching_explorer,
    position_explorer,
    scaling_explorer,
    softmax_explorer,
    stretched_codes_explorer,
    vit_cnn_explorer,
)
from tests.test_widgets import ARGUMENTS, SOURCE, TOKENS, pixels, settings, transformer

pytestmark = pytest.mark.widgets
PACKAGE = Path(lessons_lib.__file__).parent
NO_FLOAT_INPUT = {"scaling_explorer", "add_norm_explorer"}  # settings only: nothing to change
MODEL_EXPLORERS = {
    "decoding_explorer",
    "transformer_attention_explorer",
    "date_attention_explorer",
    "vit_attention_explorer",
}


# --- changing the example arguments -----------------------------------------------------


def is_float_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(type(v) is float for v in value)


def changed(value: object, tensor: Callable, module: Callable, floats: Callable) -> object:
    """``value`` with every float tensor, model and float list inside it changed."""
    if isinstance(value, torch.nn.Module):
        return module(copy.deepcopy(value))
    if isinstance(value, torch.Tensor):
        return tensor(value.detach().clone()) if value.is_floating_point() else value
    if is_float_list(value):
        return floats(value)
    if isinstance(value, dict):
        return {key: changed(item, tensor, module, floats) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [changed(item, tensor, module, floats) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def with_grad(value: object) -> object:
    return changed(
        value,
        tensor=lambda t: t.requires_grad_(True),
        module=lambda m: m.requires_grad_(True),
        floats=lambda v: torch.tensor(v, requires_grad=True),
    )


def in_dtype(dtype: torch.dtype) -> Callable[[object], object]:
    return lambda value: changed(
        value,
        tensor=lambda t: t.to(dtype),
        module=lambda m: m.to(dtype),
        floats=lambda v: torch.tensor(v, dtype=dtype),
    )


def holds_floats(value: object) -> bool:
    """Whether ``value`` holds a float tensor, a float list or a model with float weights."""
    found = []
    changed(
        value,
        tensor=found.append,
        module=lambda m: found.extend(p for p in m.parameters() if p.is_floating_point()),
        floats=found.append,
    )
    return bool(found)


def spoiled(value: object) -> object:
    """``value`` with one NaN and one inf written into its first float part."""
    done = False

    def once(change: Callable) -> Callable:
        def apply(item):
            nonlocal done
            if done:
                return item
            done = True
            return change(item)

        return apply

    def into_tensor(tensor: torch.Tensor) -> torch.Tensor:
        flat = tensor.view(-1)  # the same storage
        flat[0], flat[-1] = float("nan"), float("inf")
        return tensor

    def into_module(module: torch.nn.Module) -> torch.nn.Module:
        # The last float parameter: the output layer or the head, which every output uses.
        weights = [p for p in module.parameters() if p.is_floating_point()]
        with torch.no_grad():
            into_tensor(weights[-1])
        return module

    return changed(
        value,
        tensor=once(into_tensor),
        module=once(into_module),
        floats=once(lambda v: [float("nan"), *v[1:-1], float("inf")]),
    )


def named_arguments(name: str) -> dict[str, object]:
    """The example arguments of explorer ``name``, by parameter name."""
    args, kwargs = ARGUMENTS[name]()
    return dict(inspect.signature(EXPLORERS[name]).bind(*args, **kwargs).arguments)


def call(name: str, arguments: dict[str, object]) -> Explorer:
    return EXPLORERS[name](**arguments)


def nonfinite_cases() -> Iterator[object]:
    for name in ARGUMENTS:
        for argument, value in named_arguments(name).items():
            if holds_floats(value):
                yield pytest.param(name, argument, id=f"{name}-{argument}")


FLOAT_NAMES = [name for name in ARGUMENTS if name not in NO_FLOAT_INPUT]


# --- what an outcome must be ----------------------------------------------------------


def close(explorer: Explorer) -> None:
    for widget in (*explorer.controls.values(), explorer.image, explorer):
        widget.close()


def drawn_frames(explorer: Explorer) -> list[np.ndarray]:
    """The first and the last setting of the controls, drawn (a blank frame fails)."""
    every = settings(explorer)
    frames = [pixels(explorer.render_png(**values)) for values in (every[0], every[-1])]
    for frame in frames:
        assert frame.std() > 0, "a blank picture"
    return frames


def assert_refused_by_the_package(error: Exception, *words: str) -> None:
    """``error`` was raised by lessons_lib's own code, and its message holds every word."""
    innermost = traceback.extract_tb(error.__traceback__)[-1]
    assert Path(innermost.filename).resolve().is_relative_to(PACKAGE.resolve()), (
        f"raised inside {innermost.filename}, not by lessons_lib: {error}"
    )
    message = str(error).lower()
    for word in words:
        assert word.lower() in message, f"the message does not name {word!r}: {error}"


# --- gradients, bfloat16, NaN and inf ----------------------------------------------------


def test_every_explorer_is_changed_or_declared_without_float_input():
    for name in ARGUMENTS:
        floats = any(holds_floats(value) for value in named_arguments(name).values())
        assert floats == (name not in NO_FLOAT_INPUT), name


@pytest.mark.parametrize("name", FLOAT_NAMES)
def test_tensors_that_require_grad_draw_the_same_picture(name):
    plain = call(name, named_arguments(name))
    expected = drawn_frames(plain)
    close(plain)
    arguments = {key: with_grad(value) for key, value in named_arguments(name).items()}
    explorer = call(name, arguments)
    for frame, reference in zip(drawn_frames(explorer), expected):
        np.testing.assert_array_equal(frame, reference)
    close(explorer)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("name", FLOAT_NAMES)
def test_half_precision_inputs_are_drawn_in_float32(name, dtype):
    arguments = {key: in_dtype(dtype)(value) for key, value in named_arguments(name).items()}
    try:
        explorer = call(name, arguments)
    except (TypeError, ValueError) as error:
        # Only a model may be refused (it runs in its own dtype, which a torch build may
        # lack on the CPU); every tensor an explorer draws is converted to float32.
        assert name in MODEL_EXPLORERS, f"{name} refused {dtype}: {error}"
        assert_refused_by_the_package(error, str(dtype).removeprefix("torch."))
        return
    drawn_frames(explorer)
    close(explorer)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN reaching matplotlib's transforms
@pytest.mark.parametrize(("name", "argument"), list(nonfinite_cases()))
def test_nan_and_inf_are_drawn_or_refused_naming_the_argument(name, argument):
    arguments = named_arguments(name)
    arguments[argument] = spoiled(arguments[argument])
    try:
        explorer = call(name, arguments)
    except ValueError as error:
        assert_refused_by_the_package(error, argument)
        assert re.search(r"nan|inf|finite", str(error), re.IGNORECASE), str(error)
        return
    drawn_frames(explorer)
    close(explorer)


# --- results that went through JSON ------------------------------------------------------


def test_vit_cnn_sizes_read_back_from_json_are_drawn_in_ascending_numeric_order():
    scores = {
        "ViT": {50: [0.2, 0.3], 200: [0.5, 0.6], 1000: [0.8, 0.9]},
        "CNN": {50: [0.4, 0.5], 200: [0.6, 0.7], 1000: [0.85, 0.95]},
    }
    again = json.loads(json.dumps(scores))  # keys are now "50", "200", "1000"
    assert sorted(again["ViT"]) == ["1000", "200", "50"]  # what a string sort would draw
    explorer = vit_cnn_explorer(again)
    options = control_options(explorer.controls["size"])
    assert [value for _, value in options] == [50, 200, 1000]
    assert [label for label, _ in options] == ["50", "200", "1000"]
    ax = explorer.figure.axes[0]
    means = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(means) == 2
    for line, model in zip(means, ("ViT", "CNN")):
        assert list(line.get_xdata()) == [50, 200, 1000]
        expected = [sum(scores[model][size]) / 2 for size in (50, 200, 1000)]
        assert list(line.get_ydata()) == pytest.approx(expected)
        assert np.all(np.diff(line.get_ydata()) > 0)  # accuracy rises with the data
    explorer.update(models="both", spread="seeds", size=200)
    assert ax.title.get_text().startswith("200 training images\nViT: 0.50, 0.60")
    # The static form's slider steps through the sizes in the same order.
    html = explorer.static_html()
    labels = re.search(r'data-labels="([^"]*)"', html).group(1).replace("&quot;", '"')
    assert json.loads(labels) == ["50", "200", "1000"]
    close(explorer)


def test_vit_cnn_json_round_trip_draws_the_same_picture_as_the_original():
    scores = {"ViT": {100: [0.3], 20: [0.1], 3: [0.05]}, "CNN": {3: [0.2], 20: [0.4], 100: [0.7]}}
    original = vit_cnn_explorer(scores)
    again = vit_cnn_explorer(json.loads(json.dumps(scores)))
    for values in settings(original)[::5]:  # 12 settings: every model, spread and size
        assert np.array_equal(
            pixels(original.render_png(**values)), pixels(again.render_png(**values))
        ), values
    close(original)
    close(again)


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"ViT": {"fifty": [0.5]}, "CNN": {"fifty": [0.5]}}, r"sizes, .* got the key 'fifty'"),
        ({"ViT": {0: [0.5]}, "CNN": {0: [0.5]}}, r"whole numbers >= 1 .* got the key 0"),
        ({"ViT": {-5: [0.5]}, "CNN": {-5: [0.5]}}, r"got the key -5"),
        ({"ViT": {"50": [0.5], 50: [0.6]}, "CNN": {50: [0.5]}}, r"names the size 50 twice"),
        (
            {"ViT": {50: [1.5]}, "CNN": {50: [0.5]}},
            r"scores\['ViT'\]\[50\] .* in 0..1 .*got \[1.5\]",
        ),
        ({"ViT": {50: [-0.1]}, "CNN": {50: [0.5]}}, r"in 0..1 .*got \[-0.1\]"),
        ({"ViT": {50: []}, "CNN": {50: [0.5]}}, r"one or more accuracies in 0..1 .*got \[\]"),
        ({"ViT": {50: [0.5]}, "CNN": {100: [0.5]}}, r"got ViT sizes \[50\] and CNN sizes \[100\]"),
        ({"ViT": {}, "CNN": {}}, r"scores\['ViT'\] must map each training-set size"),
    ],
)
def test_vit_cnn_explorer_refuses_sizes_and_accuracies_out_of_range(scores, message):
    with pytest.raises(ValueError, match=message):
        vit_cnn_explorer(scores)


# --- counts and sizes out of range --------------------------------------------------------


def out_of_range_cases() -> list[tuple[Callable[[], object], type[Exception], str]]:
    """(call, error, message): each message names what was expected and what came."""
    from lessons_lib.widgets.cross_attention import source_reads
    from lessons_lib.widgets.softmax import scaling_frame

    scores, images = torch.randn(6, 6), torch.rand(2, 1, 8, 8)
    codes = {"a": torch.randn(16, 8)}
    model = transformer(1)  # vocabulary 11, max_len 16
    return [
        (lambda: masking_explorer(scores, TOKENS, lengths=(0, 6)), ValueError, r"> 0, got 0"),
        (
            lambda: masking_explorer(scores, TOKENS, lengths=(4, 8)),
            ValueError,
            r"at least 8 tokens and a 8x8 score matrix, got 6 tokens and scores of shape \(6, 6\)",
        ),
        (lambda: masking_explorer(scores, TOKENS, lengths=(2.5,)), TypeError, r"int, got float"),
        (lambda: masking_explorer(torch.randn(6), TOKENS), ValueError, r"2 dimensions .* \(6,\)"),
        (lambda: scaling_explorer(n_keys=0), ValueError, r"n_keys must be > 0, got 0"),
        (lambda: scaling_explorer(n_keys=65), ValueError, r"n_keys must lie in 1..64 .*got 65"),
        (lambda: scaling_explorer(d_ks=(8192,)), ValueError, r"d_k must lie in 1..4096, got 8192"),
        (
            lambda: scaling_frame(4, True, n_keys=3000),
            ValueError,
            r"at most n_samples \(2000\).* got n_keys=3000",
        ),
        (lambda: position_explorer(codes, -4, -4), ValueError, r"grid_h must be > 0, got -4"),
        (lambda: position_explorer(codes, 3, 3), ValueError, r"3x3 grid has 9 .* got 16 codes"),
        (lambda: stretched_codes_explorer(codes, 4, 0), ValueError, r"grid_w must be > 0, got 0"),
        (
            lambda: softmax_explorer([1.0, 2.0], ["a", "b"], edit_index=2),
            ValueError,
            r"edit_index must lie in 0..1, got 2",
        ),
        (
            lambda: softmax_explorer([1.0, 2.0], ["a", "b"], edit_values=(1, float("inf"))),
            ValueError,
            r"edit_values must be finite numbers, got \(1, inf\)",
        ),
        (
            lambda: softmax_explorer(torch.ones(2, 2), ["a", "b"]),
            ValueError,
            r"logits must have 1 dimensions \(n,\), got 2",
        ),
        (
            lambda: EXPLORERS["decoding_explorer"](model, torch.tensor([3, 11]), 10),
            ValueError,
            r"tokens must lie in 0..10 .*got tokens from 3 to 11",
        ),
        (
            lambda: EXPLORERS["decoding_explorer"](model, torch.tensor([], dtype=torch.long), 10),
            ValueError,
            r"of 1..16 tokens .*got shape \(0,\)",
        ),
        (
            lambda: EXPLORERS["decoding_explorer"](model, torch.zeros(17, dtype=torch.long), 10),
            ValueError,
            r"of 1..16 tokens .*got shape \(17,\)",
        ),
        (
            lambda: EXPLORERS["decoding_explorer"](model, SOURCE.float(), 10),
            TypeError,
            r"source must hold token ids .*got dtype torch.float32",
        ),
        (
            lambda: EXPLORERS["transformer_attention_explorer"](model, SOURCE, 11, list("x" * 11)),
            ValueError,
            r"bos must be a token id in 0..10, got 11",
        ),
        (
            lambda: EXPLORERS["transformer_attention_explorer"](
                model, torch.tensor([-1, 2]), 10, list("x" * 11)
            ),
            ValueError,
            r"tokens must lie in 0..10 .*got tokens from -1 to 2",
        ),
        (lambda: patching_explorer(images, "ab", patch_sizes=(0,)), ValueError, r"> 0, got 0"),
        (
            lambda: patching_explorer(images, "ab", patch_sizes=(3,)),
            ValueError,
            r"image height \(8\) must be divisible by patch_size \(3\)",
        ),
        (lambda: patching_explorer(images, "ab", dpi=0), ValueError, r"dpi must be > 0, got 0"),
        (
            lambda: source_reads(torch.rand(2, 3, 4), position=0, head=2),
            ValueError,
            r"head must lie in 0..1, or -1 for the mean, got 2",
        ),
        (
            lambda: source_reads(torch.rand(2, 3, 4), position=3, head=0),
            ValueError,
            r"position must lie in 0..2, got 3",
        ),
    ]


@pytest.mark.parametrize("index", range(len(out_of_range_cases())))
def test_counts_and_sizes_out_of_range_are_refused_naming_expected_and_got(index):
    call_it, error, message = out_of_range_cases()[index]
    with pytest.raises(error, match=message) as caught:
        call_it()
    assert_refused_by_the_package(caught.value)


# --- values that cannot be drawn as they are ------------------------------------------------


def test_masked_scores_of_minus_inf_are_drawn_black_with_the_colour_scale_of_the_rest():
    scores = torch.randn(6, 6, generator=torch.Generator().manual_seed(1))
    scores[torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)] = float("-inf")
    explorer = masking_explorer(scores, TOKENS)
    explorer.update(length=6, causal=False, row=2)  # no mask of its own: the -inf do it
    score_image, weight_image = explorer.figure.axes[0].images[0], explorer.figure.axes[1].images[0]
    limit = float(scores[scores.isfinite()].abs().max())
    assert score_image.get_clim() == pytest.approx((-limit, limit))
    weights = np.asarray(weight_image.get_array())
    assert np.allclose(weights.sum(axis=1), 1) and np.all(np.triu(weights, k=1) == 0)
    shown = np.asarray(score_image.get_array())
    assert np.all(shown[np.triu_indices(6, k=1)] < -limit)  # drawn in the "under" colour
    frame = pixels(explorer.render_png(length=6, causal=False, row=2))
    assert frame.std() > 0
    close(explorer)


def test_nan_and_inf_pixels_are_left_blank():
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    images[0, 0, 1, 2], images[0, 0, 5, 6] = float("nan"), float("inf")
    explorer = patching_explorer(images, ["a", "b"], patch_sizes=(2, 4))
    picture = explorer.figure.axes[0].images[0].get_array()
    assert picture.mask[1, 2] and picture.mask[5, 6] and picture.mask.sum() == 2
    assert drawn_frames(explorer)
    close(explorer)
    colour = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    colour[0, 1, 3, 4] = float("nan")  # one channel of one pixel
    explorer = patching_explorer(colour, ["photo"], patch_sizes=(4,))
    picture = np.asarray(explorer.figure.axes[0].images[0].get_array())  # (8, 8, 3)
    assert picture[3, 4].tolist() == [1.0, 1.0, 1.0]  # white: blank on the page
    known = np.ones((8, 8), dtype=bool)
    known[3, 4] = False
    assert np.allclose(picture[known], colour[0].permute(1, 2, 0).numpy()[known])
    close(explorer)


def test_heatmaps_scale_colours_by_finite_values_and_bars_skip_non_finite_heights():
    from lessons_lib.plotting import bars, heatmap, set_bar_heights
    from lessons_lib.widgets.rendering import figure_png, new_figure

    figure = new_figure(4, 2)
    heat_ax, bar_ax = figure.subplots(1, 2)
    matrix = torch.tensor([[1.0, float("nan")], [float("inf"), -3.0]], dtype=torch.bfloat16)
    image = heatmap(heat_ax, matrix, annotate=True)
    assert image.get_clim() == (-3.0, 1.0)
    assert image.get_array().mask.tolist() == [[False, True], [True, False]]
    group = bars(bar_ax, [0.5, float("nan"), float("inf")], ["a", "b", "c"], ylim=None)
    assert [bar.get_height() for bar in group] == [0.5, 0.0, 0.0]
    set_bar_heights(group, torch.tensor([float("-inf"), 0.25, 1.0], requires_grad=True))
    assert [bar.get_height() for bar in group] == [0.0, 0.25, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" from matplotlib's transforms
        assert pixels(figure_png(figure)).std() > 0
