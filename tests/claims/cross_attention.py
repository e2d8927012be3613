"""Claims of chapter 04, cross-attention: the check against torch and the alignment model."""

import math

from tests.claims import Claim

NOTEBOOK = "04_cross_attention"

CLAIMS = [
    Claim(
        "Every difference from nn.MultiheadAttention is at the level of float32 rounding "
        "(the largest is {largest_gap_vs_torch}).",
        lambda g: g["largest_gap_vs_torch"] < 1e-6,
    ),
    Claim(
        "Before training the model got {untrained_accuracy} of the validation digits right "
        "(it should do no better than a blind guess, one digit in ten).",
        lambda g: 0.05 < g["untrained_accuracy"] < 0.2,
    ),
    Claim(
        "The loss fell from {first_loss}, close to ln 11 ≈ 2.40 (a uniform guess among the 11 "
        "tokens), to {last_loss} in {steps} steps.",
        lambda g: (
            abs(g["first_loss"] - math.log(11)) < 0.25
            and g["last_loss"] < 0.01
            and g["steps"] == 150
        ),
    ),
    Claim(
        "The validation accuracy reached {validation_accuracy}, and the test accuracy, measured "
        "once, is {test_accuracy} of the digits (the chapter shows a model that has learned).",
        lambda g: g["validation_accuracy"] >= 0.99 and g["test_accuracy"] >= 0.99,
    ),
    Claim(
        "Every output position reads its mirror position most, and each head puts, on average, "
        "{mirror_weight_low} or more of its weight there (both heads read L - 1 - t).",
        lambda g: g["reads_mirror"] is True and g["mirror_weight_low"] > 0.5,
    ),
    Claim(
        "Untrained, the largest mean weight was {untrained_largest_weight}, near the 1/8 = "
        "0.125 of a uniform reading (it reads the source almost uniformly).",
        lambda g: 0.125 <= g["untrained_largest_weight"] < 0.2,
    ),
]
