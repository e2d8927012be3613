"""Claims of chapter 06, the whole Transformer, about its training run."""

import math

from tests.claims import Claim

NOTEBOOK = "06_transformer"

CLAIMS = [
    Claim(
        "Training stopped ... when {validation_accuracy} of the validation sequences came out "
        "exactly right (the stopping target is 99%).",
        lambda g: g["validation_accuracy"] >= 0.99,
    ),
    Claim(
        "The loss fell from {first_loss}, near ln 11 ≈ 2.40, the loss of a uniform guess "
        "among the 11 tokens, to {last_loss}.",
        lambda g: abs(g["first_loss"] - math.log(11)) < 0.25 and g["last_loss"] < g["first_loss"],
    ),
    Claim(
        "Stopped on a validation set, the toy model reverses {test_accuracy} of the test "
        "sequences exactly (the chapter presents this as a model that works).",
        lambda g: g["test_accuracy"] >= 0.95,
    ),
    Claim(
        "Only {wrong_sequences} of the {test_size} test sequences have a wrong digit.",
        lambda g: (
            g["wrong_sequences"] <= 0.05 * g["test_size"]
            and g["wrong_sequences"] == round((1 - g["test_accuracy"]) * g["test_size"])
        ),
    ),
    Claim(
        "No output position is right less often than {worst_position_accuracy} of the time.",
        lambda g: 1 - g["wrong_sequences"] / g["test_size"] <= g["worst_position_accuracy"] <= 1,
    ),
]
