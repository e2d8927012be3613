"""Claims of chapter 10 (the whole ViT) about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "10_vit"


SIZES = (50, 100, 200, 400, "all")


def resolved(g, size):
    """The paired gap CNN - ViT at this size, with its 95% interval wholly above 0."""
    return g[f"gap_{size}"] - g[f"gap_{size}_half"] > 0


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
        "The book reads these runs from a file ... one of its runs ... repeated live gives the "
        "same accuracy as the file.",
        lambda g: g["live_matches_file"] is True,
    ),
    Claim(
        "Ten seeds for each of five sizes and both models (issue 22: at least five seeds).",
        lambda g: g["sweep_seeds"] == 10,
    ),
    Claim(
        "Both models fit their training subsets almost completely (at least the glued share, "
        "which is above 95%).",
        lambda g: (
            g["min_train_fit"] > 0.95
            and all(
                g[f"{m}_{s}_train"] >= g["min_train_fit"] for m in ("vit", "cnn") for s in SIZES
            )
        ),
    ),
    Claim(
        "The CNN is ahead at every size, and for each size the 95% interval of the paired gap "
        "excludes 0.",
        lambda g: all(resolved(g, size) for size in SIZES),
    ),
    Claim(
        "The gap narrows as the training set grows: the intervals at 100 digits and with all "
        "digits do not overlap.",
        lambda g: g["gap_all"] + g["gap_all_half"] < g["gap_100"] - g["gap_100_half"],
    ),
    Claim(
        "The ViT gains the most from more data (its rise from 50 digits to all is larger than "
        "the CNN's).",
        lambda g: g["vit_all_mean"] - g["vit_50_mean"] > g["cnn_all_mean"] - g["cnn_50_mean"],
    ),
    Claim(
        "with all 1,258 training digits",
        lambda g: g["n_train"] == 1258,
    ),
]
