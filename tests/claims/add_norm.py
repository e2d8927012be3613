"""Claims of chapter 05, add & norm: gradients per layer, and warm-up with post- and pre-norm."""

from tests.claims import Claim

NOTEBOOK = "05_add_norm"

OTHERS = ("post_warm", "pre", "pre_warm")  # the three settings that learn
SQRT_2 = 2**0.5  # the norm's growth per block if the variance doubles
TWO_ORDERS = (10**1.5, 10**2.5)  # "about two orders of magnitude"
A_THIRD = (0.25, 0.42)  # "about a third"


def _close(a: float, b: float, tolerance: float = 1e-6) -> bool:
    """Two glued values that the text derives from one another agree (up to rounding)."""
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


CLAIMS = [
    Claim(
        "Under PyTorch's default, the bottom block of the plain stack gets {default_plain_ratio} "
        "of the top block's gradient (it vanishes).",
        lambda g: g["default_plain_ratio"] < 1e-3,
    ),
    Claim(
        "Each block passes back about 1/{shrink_per_block} of it ... a little smaller than "
        "sqrt(18) ≈ 4.2 (the 'factor of about 4' of question 3).",
        lambda g: 3 < g["shrink_per_block"] < 18**0.5,
    ),
    Claim(
        "With the variance-preserving initialisation the same plain stack keeps its gradient: "
        "bottom over top is {kaiming_plain_ratio}.",
        lambda g: 0.3 < g["kaiming_plain_ratio"] < 3,
    ),
    Claim(
        "With residuals the ratio is {default_residual_ratio} under the default and "
        "{kaiming_residual_ratio} under the other (the gradient arrives about as strong); "
        "'bottom over top is still {kaiming_residual_ratio}' (near 1).",
        lambda g: all(
            0.3 < g[name] < 3 for name in ("default_residual_ratio", "kaiming_residual_ratio")
        ),
    ),
    Claim(
        "With the variance-preserving initialisation and residuals, the top block's gradient is "
        "{kaiming_residual_top}, {kaiming_top_residual_over_plain} times that of the same block "
        "without residuals ({kaiming_plain_top}).",
        lambda g: (
            g["kaiming_residual_top"] > 1 > g["kaiming_plain_top"]
            and _close(
                g["kaiming_top_residual_over_plain"],
                g["kaiming_residual_top"] / g["kaiming_plain_top"],
            )
        ),
    ),
    Claim(
        "The variance roughly doubles at every block ... the measured ratio is a factor of "
        "{kaiming_growth_per_block} per block (over the 15 blocks below the top), against "
        "sqrt(2) ≈ 1.41 ('close to sqrt 2' in the summary).",
        lambda g: (
            abs(g["kaiming_growth_per_block"] - SQRT_2) < 0.1
            and _close(
                g["kaiming_growth_per_block"], g["kaiming_top_residual_over_plain"] ** (1 / 15)
            )
        ),
    ),
    Claim(
        "Figure caption: under the variance-preserving initialisation the stack with residuals "
        "lies about two orders of magnitude above the stack without (at the top and the bottom "
        "block alike).",
        lambda g: all(
            TWO_ORDERS[0] < g[name] < TWO_ORDERS[1]
            for name in ("kaiming_top_residual_over_plain", "kaiming_bottom_residual_over_plain")
        ),
    ),
    Claim(
        "In the 24-layer stack the post-norm gradients grow towards the output: the top layer "
        "gets {init_post_top_over_bottom} times the bottom layer's.",
        lambda g: g["init_post_top_over_bottom"] > 1,
    ),
    Claim(
        "... and {init_top_post_over_pre} times the pre-norm top layer's (at the bottom, "
        "post-norm's is {init_bottom_post_over_pre} times pre-norm's). So post-norm stands out "
        "by its size near the output (the summary quotes {init_top_post_over_pre}).",
        lambda g: (
            g["init_top_post_over_pre"] > 1.5
            and 1 < g["init_bottom_post_over_pre"] < g["init_top_post_over_pre"]
        ),
    ),
    Claim(
        "Pre-norm's gradients fall instead, and by more than post-norm's rise: its top layer gets "
        "{init_pre_top_over_bottom} of its bottom layer's, a fall of {init_pre_fall} (the figure "
        "caption: by about a third).",
        lambda g: (
            _close(g["init_pre_fall"], 1 - g["init_pre_top_over_bottom"])
            and A_THIRD[0] < g["init_pre_fall"] < A_THIRD[1]
            and g["init_pre_fall"] > g["init_post_top_over_bottom"] - 1
        ),
    ),
    Claim(
        "In the 4-layer stack the difference is milder: post-norm's gradients are "
        "{init_shallow_low} to {init_shallow_high} times pre-norm's, layer by layer.",
        lambda g: 1 < g["init_shallow_low"] <= g["init_shallow_high"] < g["init_top_post_over_pre"],
    ),
    Claim(
        "Post-norm without warm-up stays near a uniform guess among the 10 digits (ln 10 ≈ 2.30): "
        "its final losses lie between {post_min} and {post_max}.",
        lambda g: 1.5 < g["post_min"] <= g["post_max"] < 2.6,
    ),
    Claim(
        "With a warm-up the same model learns; pre-norm learns with or without warm-up.",
        lambda g: all(g[f"{key}_max"] < 0.6 for key in OTHERS),
    ),
    Claim(
        "The gap between post-norm without warm-up and the other three settings is far wider "
        "than the spread over the seeds.",
        lambda g: (
            g["post_min"] - max(g[f"{key}_max"] for key in OTHERS)
            > 2 * max(g[f"{key}_max"] - g[f"{key}_min"] for key in ("post", *OTHERS))
        ),
    ),
    Claim(
        "The two pre-norm ranges overlap, so this run cannot tell whether warm-up helps "
        "pre-norm at all.",
        lambda g: g["pre_min"] <= g["pre_warm_max"] and g["pre_warm_min"] <= g["pre_max"],
    ),
    Claim(
        "3 seeds, a rate of 2e-2 warmed up over the first 25 of 80 steps (the settings the "
        "text names, and exercise 3's).",
        lambda g: (
            g["warmup_seeds"] == 3
            and g["warmup_lr"] == 0.02
            and g["warmup_steps"] == 25
            and g["train_steps"] == 80
        ),
    ),
]
