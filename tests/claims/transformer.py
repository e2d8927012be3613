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

# Section 6: the date model (a reduced run; `make bench` times the full one).
CLAIMS += [
    Claim(
        "After {date_steps} steps the model writes {date_test_accuracy} of the "
        "{date_test_size} test dates exactly right (validation: {date_validation_accuracy}), "
        "and no format falls below {date_worst_format_accuracy}.",
        lambda g: (
            g["date_test_accuracy"] >= 0.8
            and g["date_validation_accuracy"] >= 0.8
            and g["date_worst_format_accuracy"] <= g["date_test_accuracy"] <= 1
        ),
    ),
    Claim(
        "The year's, month's and day's output characters put {year_share}, {month_share} and "
        "{day_share} of their attention on the same field of the source (a uniform reader: "
        "{year_uniform_share}, {month_uniform_share}, {day_uniform_share}): at least "
        "{smallest_lift} times the uniform share.",
        lambda g: (
            g["smallest_lift"] > 1.5
            and all(
                g[f"{field}_share"] >= g["smallest_lift"] * g[f"{field}_uniform_share"] - 1e-6
                for field in ("year", "month", "day")
            )
        ),
    ),
    Claim(
        "Every head takes part: the weakest head on its weakest field still puts "
        "{weakest_head_share} there, more than the uniform reader gives any field.",
        lambda g: (
            g["weakest_head_share"]
            > max(g[f"{field}_uniform_share"] for field in ("year", "month", "day"))
        ),
    ),
]
CLAIMS.append(
    Claim(
        "The month is the weakest field ... written as a number, the month's output characters put "
        "{month_number_share} of their weight on it; written as a word or an abbreviation, "
        "{month_word_share}.",
        lambda g: (
            g["month_word_share"] < g["month_number_share"]
            and g["month_share"] < min(g["year_share"], g["day_share"])
        ),
    )
)
