"""Claims of chapter 11 (the whole ViT) about its glued run results."""

from lessons_lib.pretrained import weights_record
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
    Claim(
        "`make weights` trains the same ViT ... until its validation accuracy stops rising "
        "(patience {shipped_vit_patience}) and keeps the weights of its best point: step "
        "{shipped_vit_kept_step}, at {shipped_vit_validation} of the "
        "{shipped_vit_validation_size} validation digits.",
        lambda g: (
            g["shipped_vit_patience"] == weights_record("digit_vit")["recipe"]["patience"]
            and g["shipped_vit_validation"] == max(weights_record("digit_vit")["log"]["validation"])
            and g["shipped_vit_kept_step"] == weights_record("digit_vit")["kept_step"]
        ),
    ),
    Claim(
        "On the {shipped_vit_test_size} test digits it reaches {shipped_vit_test}, against "
        "{test_accuracy} for the short run: a gap of {shipped_vit_gap}, "
        "{shipped_vit_gap_digits} digits. One run of each, from one seed, cannot tell a gap "
        "that small from chance; ... with 180 validation digits ... one digit moves the "
        "validation accuracy by more than half a point.",
        lambda g: (
            abs(g["shipped_vit_test"] - weights_record("digit_vit")["test"]) < 1e-9
            # two standard errors of a difference of two accuracies near 95% on these digits
            and abs(g["shipped_vit_gap"])
            <= 2 * (2 * 0.05 * 0.95 / g["shipped_vit_test_size"]) ** 0.5
            and g["shipped_vit_gap_digits"]
            == round(abs(g["shipped_vit_gap"]) * g["shipped_vit_test_size"])
            and g["shipped_vit_validation_size"] == 180
            and 1 / g["shipped_vit_validation_size"] > 0.005
        ),
    ),
]
