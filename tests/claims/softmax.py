"""Claims of chapter 02 (softmax) about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "02_softmax"

CLAIMS = [
    Claim(
        "The 0 gets a weight far below the smallest positive float32, so it is stored as 0.",
        lambda g: g["weight_of_zero_logit"] == 0.0,
    ),
    Claim(
        "The measured variance is within {variance_error} of d_k at every size [Var(q·k) ≈ d_k].",
        lambda g: g["variance_error"] < 0.15,
    ),
    Claim(
        "With the scaling, the entropy and the gradient hardly move as d_k grows.",
        lambda g: (
            g["entropy_scaled_max"] - g["entropy_scaled_min"] < 0.3
            and g["grad_scaled_spread"] < 1.5
        ),
    ),
    Claim(
        "Without it, the entropy falls towards 0 (all the weight on one key).",
        lambda g: g["entropy_unscaled_1024"] < 0.2,
    ),
    Claim(
        "The gradient shrinks by orders of magnitude.",
        lambda g: g["grad_shrink_1024"] > 100,
    ),
    Claim(
        "The largest difference from torch.softmax is float32 rounding.",
        lambda g: g["torch_gap"] < 1e-5,
    ),
]
