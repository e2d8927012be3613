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
