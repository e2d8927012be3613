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
    Claim(
        "The four RoPE scores differ by float32 rounding; the added codes' by far more.",
        lambda g: g["rope_spread"] < 1e-4 and g["added_spread"] > 0.1,
    ),
    Claim(
        "Every diagonal of the RoPE matrix holds a single value, and the rotation left the "
        "query's length unchanged.",
        lambda g: g["rope_diagonal_spread"] < 1e-4 and g["rope_length_change"] < ROUNDING,
    ),
]
