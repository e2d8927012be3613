"""Claims of chapter 01 (queries, keys and values) about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "01_qkv"

ROUNDING = 1e-5  # float32 rounding, with room for a few operations

CLAIMS = [
    Claim(
        "The largest difference [between p_i M_7 and p_(i+7)] is float32 rounding: one matrix "
        "moves every code by the same offset.",
        lambda g: g["offset_gap"] < ROUNDING,
    ),
    Claim(
        "The difference [without positions] is float32 rounding: attention did not notice the "
        "shuffle at all.",
        lambda g: g["gap_without_positions"] < ROUNDING,
    ),
    Claim(
        "Now the largest difference [with positions] is far above rounding.",
        lambda g: g["gap_with_positions"] > 0.05,
    ),
    Claim(
        "Key 1 is orthogonal to the query, yet it still gets a small, nonzero weight.",
        lambda g: 0 < g["key1_weight"] < 0.25,
    ),
    Claim(
        "The loop and the matrix form give the same outputs, up to float32 rounding.",
        lambda g: g["loop_gap"] < ROUNDING,
    ),
    Claim(
        "The largest difference [from PyTorch's attention] is below 10^-5.",
        lambda g: g["torch_gap"] < 1e-5,
    ),
]
