"""Claims of chapter 10 (the whole ViT) about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "10_vit"


def gap(g, size):
    return g[f"cnn_{size}_mean"] - g[f"vit_{size}_mean"]


CLAIMS = [
    Claim(
        "The class scores agree to float32 rounding: our encoder layers compute what PyTorch's do.",
        lambda g: g["torch_gap"] < 1e-5,
    ),
    Claim(
        "Training stopped ... at a validation accuracy of at least 95% (the target).",
        lambda g: g["validation_at_stop"] >= 0.95,
    ),
    Claim(
        "A ViT ... trained until its validation accuracy reached 95%, scores ... on the test "
        "digits (the summary presents this as learning the digits).",
        lambda g: g["test_accuracy"] > 0.9,
    ),
    Claim(
        "A small CNN of similar size to the ViT (parameter counts within 10%).",
        lambda g: abs(g["cnn_parameters"] - g["vit_parameters"]) < 0.1 * g["vit_parameters"],
    ),
    Claim(
        "With 50 training digits ... the CNN is ahead on both seeds (its lower seed above the "
        "ViT's higher one).",
        lambda g: g["n_seeds"] == 2 and g["cnn_50_low"] > g["vit_50_high"],
    ),
    Claim(
        "With 50 training digits the CNN's mean, as quoted, is well above the ViT's "
        "(more than 10 points), the gap the later sizes are compared with.",
        lambda g: gap(g, 50) > 0.1,
    ),
    Claim(
        "With 200 digits and with all of them the gap is much smaller than at 50 digits "
        "(less than half).",
        lambda g: abs(gap(g, 200)) < gap(g, 50) / 2 and abs(gap(g, "all")) < gap(g, 50) / 2,
    ),
    Claim(
        "with all 1,258 training digits",
        lambda g: g["n_train"] == 1258,
    ),
]
