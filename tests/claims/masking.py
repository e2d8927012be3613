"""Claims of chapter 03 (masking) about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "03_masking"

CLAIMS = [
    Claim(
        "In the weights, the upper triangle is exactly 0.",
        lambda g: g["future_weight_max"] == 0.0,
    ),
    Claim(
        "For an ordinary row -1e9 and -inf agree to the last bit.",
        lambda g: g["huge_equals_inf"] is True,
    ),
    Claim(
        "With -1e9 [a fully masked] query spreads its weight uniformly; with -inf, torch.softmax "
        "gives NaN; the package's softmax returns zeros for such a row.",
        lambda g: (
            g["huge_row_uniform"] is True
            and g["torch_row_nan"] is True
            and g["our_row_zero"] is True
        ),
    ),
    Claim(
        "Ours gives zeros [weights and output of a fully masked row], never NaN.",
        lambda g: g["our_masked_row_zero"] is True,
    ),
    Claim(
        "-1e9 does not fit in float16 (its largest magnitude is 65504).",
        lambda g: g["huge_fits_float16"] is False,
    ),
    Claim(
        "[With the pinned PyTorch,] the functional form returns zeros for a fully masked row "
        "and nn.MultiheadAttention gives NaN.",
        lambda g: g["functional_row_zero"] is True and g["layer_row_nan"] is True,
    ),
    Claim(
        "Attention gives padded keys exactly zero weight in every sentence of the batch.",
        lambda g: g["padding_weight_max"] == 0.0,
    ),
    Claim(
        "With the mask, positions 0, 1 and 2 do not change at all; only position 3 and the later "
        "ones change. Without the mask, every position changes.",
        lambda g: (
            g["masked_change_before_3"] == 0.0
            and g["masked_change_from_3_min"] > 0
            and g["unmasked_change_min"] > 0
        ),
    ),
    Claim(
        "Every difference [from PyTorch's attention] is float32 rounding.",
        lambda g: g["torch_gap"] < 1e-5,
    ),
]
