"""Claims of chapter 07, autoregressive decoding, about the trained model's decodes."""

from tests.claims import Claim

NOTEBOOK = "07_autoregressive_decoding"

SAMPLED = ("exact_t1", "exact_t2", "exact_t4", "exact_t4_top2")

CLAIMS = [
    Claim(
        "As in the previous chapter, training stopped ... with {validation_accuracy} of the "
        "validation sequences right (the stopping target is 99%).",
        lambda g: g["validation_accuracy"] >= 0.99,
    ),
    Claim(
        "`greedy_decode` runs the same loop for a whole batch. It agrees with the hand-written "
        "loop.",
        lambda g: g["same_as_loop"] is True,
    ),
    Claim(
        "Greedy decoding reverses {exact_greedy} of the test sequences exactly (the test "
        "accuracy reported for this model).",
        lambda g: g["exact_greedy"] == g["test_accuracy"] >= 0.95,
    ),
    Claim(
        "The model is very sure of itself: at T = 1 its largest probability is {largest_p_t1}, "
        "so only a high temperature gives the other tokens a visible chance (at T = 4 the "
        "largest is {largest_p_t4}).",
        lambda g: g["largest_p_t1"] > 0.95 and g["largest_p_t4"] < 0.7,
    ),
    Claim(
        "For a task with one right answer, greedy decoding is the best choice.",
        lambda g: all(g["exact_greedy"] >= g[name] for name in SAMPLED),
    ),
    Claim(
        "The hotter the sampling, the more sequences get a wrong digit somewhere.",
        lambda g: g["exact_greedy"] > g["exact_t1"] > g["exact_t2"] > g["exact_t4"],
    ),
    Claim(
        "Top-2 limits the damage ({exact_t4_top2} at T = 4).",
        lambda g: g["exact_t4_top2"] > g["exact_t4"] + 0.1,
    ),
    Claim(
        "Top-1 gives back greedy decoding exactly.",
        lambda g: g["top1_same_as_greedy"] is True,
    ),
    Claim(
        "At T = 4 the draws start to go wrong (the explorer's text).",
        lambda g: g["exact_t4"] < 0.5,
    ),
    Claim(
        "The weight lies on the anti-diagonal: on average {on_target} of a step's "
        "cross-attention falls on the one source position it copies, against {uniform_share} "
        "if the weight were spread evenly.",
        lambda g: g["on_target"] > 0.5 and g["on_target"] > 3 * g["uniform_share"],
    ),
    Claim(
        "Both versions (with and without the cache) give exactly the same tokens.",
        lambda g: g["same_tokens"] is True,
    ),
    Claim(
        "For our 8 tokens the count gives {plain_work} against {cached_work}, a factor of "
        "9/2 = 4.5.",
        lambda g: g["plain_work"] == 8 * 9 // 2 and g["cached_work"] == 8,
    ),
]

CLAIMS += [
    Claim(
        "Greedy decoding takes a first (p = {toy_first_a}) and ends with aa (p = "
        "{toy_greedy_p}), but the most probable sequence is ba (p = {toy_beam_p}); a beam of 2 "
        "finds it.",
        lambda g: (
            g["toy_greedy_is_aa"] is True
            and g["toy_beam_is_best"] is True
            and g["toy_first_a"] > 0.5
            and g["toy_beam_p"] > g["toy_greedy_p"]
        ),
    ),
    Claim(
        "The short date model hesitates more: it writes about nine dates in ten right; we "
        "decode the first 300 of the 1,000 test dates.",
        lambda g: 0.85 <= g["beam1_exact"] <= 0.95 and g["beam_n_dates"] == 300,
    ),
    Claim(
        "At step {split_step} the two part ways: greedy decoding takes the "
        "most probable character ({split_greedy_log_p}); the beam keeps a less probable one "
        "({split_beam_log_p}), and its whole sequence wins: {split_beam_total} against "
        "{split_greedy_total}.",
        lambda g: (
            1 <= g["split_step"] <= 10
            and g["split_greedy_log_p"] > g["split_beam_log_p"]
            and g["split_beam_total"] > g["split_greedy_total"]
        ),
    ),
    Claim(
        "Beam 1 gives greedy decoding's sequences exactly.",
        lambda g: g["beam1_is_greedy"] is True,
    ),
    Claim(
        "A wider beam chose another sequence for {beam_changed} dates, each time a more "
        "probable one, and the mean log-probability rose from {beam1_mean_log_p} (beam 1) to "
        "{beam2_mean_log_p} (beam 2); beams of 4 and 8 added at most a thousandth.",
        lambda g: (
            g["beam_changed"] >= 1
            and g["beam_changed_more_probable"] is True
            and g["beam2_mean_log_p"] > g["beam1_mean_log_p"]
            and all(
                0 <= g[f"beam{size}_mean_log_p"] - g["beam2_mean_log_p"] <= 0.001 for size in (4, 8)
            )
        ),
    ),
    Claim(
        "No date's sequence became less probable with a wider beam here.",
        lambda g: g["beam_less_probable"] == 0,
    ),
    Claim(
        "Exact match follows, by little: {beam1_exact} at beam 1 and {beam8_exact} at beam 8. Of "
        "the {beam_changed} changed dates, {beam_gained} became right and {beam_lost} became "
        "wrong. ... With so few dates changed, these numbers cannot say whether beam search "
        "helps this model on dates in general.",
        lambda g: (
            g["beam_gained"] + g["beam_lost"] <= g["beam_changed"] <= 0.05 * g["beam_n_dates"]
            and abs(
                (g["beam8_exact"] - g["beam1_exact"]) * g["beam_n_dates"]
                - (g["beam_gained"] - g["beam_lost"])
            )
            < 1e-3
            and 0 <= g["beam8_exact"] - g["beam1_exact"] <= 0.02
        ),
    ),
]
