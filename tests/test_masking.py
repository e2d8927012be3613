"""causal_mask and padding_mask: values, shapes, how they combine, bad input."""

import pytest
import torch

from lessons_lib import causal_mask, padding_mask


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(5)
    assert mask.dtype == torch.bool and mask.shape == (5, 5)
    rows, cols = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    assert torch.equal(mask, cols <= rows)


@pytest.mark.parametrize("lengths", [[3, 1, 4], torch.tensor([3, 1, 4])])
def test_padding_mask_marks_real_tokens(lengths):
    mask = padding_mask(lengths, max_len=4)
    assert mask.shape == (3, 1, 4)
    assert mask[:, 0].sum(-1).tolist() == [3, 1, 4]
    assert mask[0, 0].tolist() == [True, True, True, False]


def test_masks_combine_by_and():
    combined = causal_mask(4) & padding_mask([4, 2], max_len=4)
    assert combined.shape == (2, 4, 4)
    assert not combined[1, 3, 2:].any() and combined[1, 3, :2].all()


def test_bad_input():
    with pytest.raises(ValueError, match=r"n must be > 0, got 0"):
        causal_mask(0)
    with pytest.raises(TypeError, match=r"n must be an int, got float"):
        causal_mask(2.5)
    with pytest.raises(ValueError, match=r"0..max_len=3, got \[5\]"):
        padding_mask([5], max_len=3)
    with pytest.raises(TypeError, match=r"LongTensor or a list of ints"):
        padding_mask(torch.tensor([1.0, 2.0]), max_len=3)


# --- apply_mask, -inf against a huge negative number (chapter "Masking") -------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lessons_lib import scaled_dot_product_attention, softmax  # noqa: E402
from lessons_lib.masking import apply_mask  # noqa: E402


def test_apply_mask_fills_where_not_allowed():
    scores = torch.randn(2, 4, 4)
    masked = apply_mask(scores, causal_mask(4))
    assert torch.isneginf(masked[:, ~causal_mask(4)]).all()
    assert torch.equal(masked[:, causal_mask(4)], scores[:, causal_mask(4)])
    huge = apply_mask(scores, causal_mask(4), fill_value=-1e9)
    assert (huge[:, ~causal_mask(4)] == -1e9).all()


def test_huge_negative_number_agrees_with_minus_inf_until_a_row_is_fully_masked():
    scores = torch.randn(3, 3)
    mask = torch.tensor([[True, False, False], [True, True, False], [False, False, False]])
    with_inf = softmax(apply_mask(scores, mask))
    with_huge = softmax(apply_mask(scores, mask, fill_value=-1e9))
    assert torch.equal(with_inf[:2], with_huge[:2])
    assert torch.equal(with_inf[2], torch.zeros(3))  # nothing allowed: zeros
    assert torch.allclose(with_huge[2], torch.full((3,), 1 / 3))  # -1e9: uniform, a leak


def test_apply_mask_bad_input():
    with pytest.raises(TypeError, match=r"mask must be a bool tensor"):
        apply_mask(torch.zeros(3, 3), torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 2\) does not broadcast"):
        apply_mask(torch.zeros(3, 3), causal_mask(2))
    with pytest.raises(TypeError, match=r"scores must be a floating-point tensor"):
        apply_mask(torch.zeros(3, 3, dtype=torch.long), causal_mask(3))


@given(st.integers(2, 8), st.integers(0, 10_000))
def test_causality_changing_a_future_token_leaves_earlier_outputs_unchanged(seq, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(seq, 6, generator=generator, dtype=torch.float64)
    w_q, w_k, w_v = (
        torch.randn(6, 6, generator=generator, dtype=torch.float64) / 6**0.5 for _ in range(3)
    )
    changed_at = int(torch.randint(0, seq, (1,), generator=generator))
    changed = x.clone()
    changed[changed_at] = torch.randn(6, generator=generator, dtype=torch.float64)

    def outputs(inputs):
        return scaled_dot_product_attention(
            inputs @ w_q, inputs @ w_k, inputs @ w_v, mask=causal_mask(seq)
        )[0]

    before, after = outputs(x), outputs(changed)
    assert torch.equal(before[:changed_at], after[:changed_at])
    if changed_at > 0:  # without the mask the earlier outputs do change
        unmasked = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)[0]
        unmasked_changed = scaled_dot_product_attention(
            changed @ w_q, changed @ w_k, changed @ w_v
        )[0]
        assert not torch.equal(unmasked[:changed_at], unmasked_changed[:changed_at])


@given(st.lists(st.integers(0, 6), min_size=1, max_size=4), st.integers(0, 10_000))
def test_padded_keys_get_exactly_zero_weight_and_nothing_is_nan(lengths, seed):
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(len(lengths), 6, 4, generator=generator) for _ in range(3))
    mask = padding_mask(lengths, max_len=6) & causal_mask(6)  # (batch, 6, 6)
    out, weights = scaled_dot_product_attention(q * 1e4, k, v, mask=mask)  # logits up to ~1e4
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert (weights[~mask.expand_as(weights)] == 0).all()
    rows = weights.sum(-1)  # 1 where a row allows a key, 0 for a fully padded sequence
    allowed = mask.any(-1)
    assert torch.allclose(rows[allowed], torch.ones_like(rows[allowed]))
    assert (rows[~allowed] == 0).all()
