"""Claims of chapter 04, cross-attention: a GRU against attention, timed; the check against
torch; the alignment model."""

import math

from tests.claims import Claim

NOTEBOOK = "04_cross_attention"

ROUNDING = 1e-5  # float32 rounding, with room for a few operations

CLAIMS = [
    Claim(
        "The loop and nn.GRU agree [to float32 rounding].",
        lambda g: g["gru_gap"] < ROUNDING,
    ),
    Claim(
        "At 64 tokens ...: {short_verdict} (the words agree with the two times glued beside them).",
        lambda g: (
            g["short_verdict"]
            == ("attention" if g["attention_ms_64"] < g["gru_ms_64"] else "the GRU")
            + " was the faster one"
        ),
    ),
    Claim(
        "From 16 to 1024 tokens ...: {growth_verdict} (the words agree with the two growths).",
        lambda g: g["growth_verdict"].startswith(
            "attention's" if g["attention_growth"] > g["gru_growth"] else "the GRU's"
        ),
    ),
    Claim(
        "At 1024 tokens {long_verdict} (the words and the factor agree with the ratio glued as "
        "gru_advantage_1024, attention's time over the GRU's).",
        lambda g: (
            g["long_verdict"]
            == (
                f"the GRU was {g['gru_advantage_1024']:.1f} times faster than attention"
                if g["gru_advantage_1024"] > 1
                else f"attention was {1 / g['gru_advantage_1024']:.1f} times faster than the GRU"
            )
        ),
    ),
    Claim(
        "Summary: on the machine that built this page it was {summary_short} than the GRU at 64 "
        "tokens and {summary_long} at 1024 (each word agrees with that run's times).",
        lambda g: (
            g["summary_short"]
            == ("faster" if g["short_verdict"].startswith("attention") else "slower")
            and g["summary_long"] == ("faster" if g["gru_advantage_1024"] < 1 else "slower")
        ),
    ),
    Claim(
        "There attention does [more] times the GRU's multiply-adds.",
        lambda g: abs(g["mac_ratio_1024"] - (4 * 32 + 2 * 1024) / (6 * 32)) < 1e-9,
    ),
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
