"""Claims of chapter 11 (the whole ViT) about its glued run results."""

from tests.claims import Claim

NOTEBOOK = "11_vit"


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
        "We train from scratch on {n_train} digits: all 1,258 training digits.",
        lambda g: g["n_train"] == 1258,
    ),
]
