"""What every explorer does first with its tensors and models (``lessons_lib.widgets.tensors``).

How each explorer uses these is tested once for all in ``test_widgets_hostile.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import numpy as np
import pytest
import torch

from lessons_lib.transformer import Transformer
from lessons_lib.widgets.tensors import (
    drawable,
    require_finite,
    require_finite_model,
    require_source,
)

pytestmark = pytest.mark.widgets


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_drawable_is_a_detached_float32_copy_of_the_values(dtype):
    values = torch.tensor([[0.5, -2.0], [3.25, 8.0]], dtype=dtype, requires_grad=True)
    drawn = drawable("scores", values)
    assert drawn.dtype == torch.float32 and not drawn.requires_grad
    assert drawn.tolist() == [[0.5, -2.0], [3.25, 8.0]]  # exact in every one of these dtypes
    assert isinstance(drawn.numpy(), np.ndarray)  # what matplotlib reads


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros(3), r"scores must be a torch.Tensor, got ndarray"),
        (torch.zeros(3, dtype=torch.long), r"scores must be a floating-point tensor .*torch.int64"),
    ],
)
def test_drawable_refuses_what_is_no_float_tensor(value, message):
    with pytest.raises(TypeError, match=message):
        drawable("scores", value)


def test_require_finite_counts_each_kind_and_names_the_first_index():
    values = torch.zeros(3, 4)
    values[1, 2], values[2, 0], values[2, 3] = float("nan"), float("inf"), float("-inf")
    with pytest.raises(ValueError) as caught:
        require_finite("codes", values)
    assert str(caught.value) == (
        "codes must hold finite numbers, got 1 NaN and 1 +inf and 1 -inf "
        "(the first at index (1, 2))"
    )
    finite = torch.randn(2, 2)
    assert require_finite("codes", finite) is finite


def test_require_finite_may_allow_minus_inf_as_a_masked_score():
    scores = torch.tensor([[0.0, float("-inf")], [1.0, 2.0]])
    assert require_finite("scores", scores, allow_neginf=True) is scores
    scores[1, 1] = float("inf")
    with pytest.raises(ValueError, match=r"or -inf, a masked score\), got 1 \+inf .*\(1, 1\)"):
        require_finite("scores", scores, allow_neginf=True)


def test_require_finite_model_names_the_weight_that_is_not_finite():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    assert require_finite_model("model", model) is model
    with torch.no_grad():
        model[1].weight[0, 2] = float("nan")
    with pytest.raises(
        ValueError, match=r"model's weights must be finite, but 1.weight holds 1 NaN"
    ):
        require_finite_model("model", model)
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got str"):
        require_finite_model("model", "model")


def test_require_source_accepts_one_sequence_of_the_models_tokens():
    model = Transformer(5, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=4)
    source = torch.tensor([0, 4, 2])
    assert require_source(model, source) is source
    cases = [
        (torch.tensor([[0, 1]]), ValueError, r"one sequence \(length,\) of 1..4 .*\(1, 2\)"),
        (torch.tensor([0, 1, 2, 3, 4]), ValueError, r"of 1..4 tokens .*got shape \(5,\)"),
        (torch.tensor([0, 5]), ValueError, r"tokens must lie in 0..4 .*from 0 to 5"),
        (torch.tensor([True]), TypeError, r"token ids .*got dtype torch.bool"),
    ]
    for bad, error, message in cases:
        with pytest.raises(error, match=message):
            require_source(model, bad)
    with pytest.raises(TypeError, match=r"model must be a Transformer, got Linear"):
        require_source(torch.nn.Linear(2, 2), source)
