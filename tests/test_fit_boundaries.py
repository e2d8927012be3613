"""The training loop's stopping rule and the scores it stops on, at their boundaries.

``fit`` stops at the first evaluation whose score *reaches* the target (``>=``). The book's
own runs hit the target exactly (495 of 500 validation sequences right is 0.99 to the last
bit), so a loop that waited for ``>`` would train on past the point the text says it
stopped. Each score here is known by construction: a scripted ``evaluate``, or a model that
is right on exactly the examples chosen.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.data import ImageSet
from lessons_lib.metrics import classification_accuracy, token_accuracy
from lessons_lib.training import fit, summary


def small_model() -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Linear(1, 1)


def squared_output(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return (model(batch) ** 2).mean()


def endless() -> itertools.repeat:
    return itertools.repeat(torch.ones(4, 1))


def scripted(scores):
    """An ``evaluate`` that answers ``scores`` in turn and records the model's mode each time."""
    answers = iter(scores)
    modes: list[bool] = []

    def evaluate(model: nn.Module) -> float:
        modes.append(model.training)
        return next(answers)

    evaluate.modes = modes
    return evaluate


def run(scores, steps=100, eval_every=10, target=None):
    return fit(
        small_model(),
        squared_output,
        endless(),
        steps=steps,
        evaluate=scripted(scores),
        eval_every=eval_every,
        target=target,
        progress=False,
    )


# --- a score exactly at the target -------------------------------------------------------------

EXACT = [
    pytest.param(495 / 500, 0.99, id="495 of 500 vs 0.99"),
    pytest.param(990 / 1000, 0.99, id="990 of 1000 vs 0.99"),
    pytest.param(19 / 20, 0.95, id="19 of 20 vs 0.95"),
    pytest.param(1.0, 1.0, id="a perfect score vs 1"),
    pytest.param(0.0, 0.0, id="0 vs 0"),
]


@pytest.mark.parametrize(("score", "target"), EXACT)
def test_a_score_exactly_at_the_target_stops_training(score, target):
    assert score == target  # the premise: these fractions are the target to the last bit
    history = run([target - 0.25, score, target - 0.25], target=target)
    assert history.eval_steps == [10, 20]
    assert history.steps == list(range(1, 21))  # no step after the evaluation that reached it
    assert history.scores == [target - 0.25, target]
    assert history.seconds_to_target is not None
    assert summary(history, "run", target).endswith(f"(target {target} reached)")


@pytest.mark.parametrize(("score", "target"), EXACT[:3])
def test_a_score_one_example_below_the_target_does_not_stop(score, target):
    below = score - 1 / 1000
    history = run([below] * 10, target=target)
    assert history.eval_steps == list(range(10, 101, 10))
    assert history.steps[-1] == 100
    assert history.seconds_to_target is None
    assert summary(history, "run", target).endswith(f"(target {target} not reached)")


def test_the_float32_accuracy_of_495_of_500_stops_training_too():
    right = torch.arange(500) < 495  # 495 of 500 right
    history = run([float(right.float().mean())], target=0.99)
    assert history.eval_steps == [10]
    assert history.seconds_to_target is not None


def test_a_model_right_on_exactly_495_of_500_images_stops_at_the_first_evaluation():
    data, model = images_right_on(500, wrong=range(5))
    history = fit(
        model,
        lambda model, batch: model.bias.pow(2).sum(),
        endless(),
        steps=30,
        evaluate=lambda model: classification_accuracy(model, data, batch_size=128),
        eval_every=10,
        target=0.99,
        progress=False,
    )
    assert history.scores == [0.99]
    assert history.eval_steps == [10]


def test_the_target_reached_only_at_the_last_step_still_counts():
    history = run([0.1, 0.2, 0.99], steps=25, eval_every=10, target=0.99)
    assert history.eval_steps == [10, 20, 25]
    assert history.steps[-1] == 25
    assert history.seconds_to_target is not None


def test_the_target_reached_at_the_first_evaluation_stops_there():
    history = run([1.0], steps=100, eval_every=7, target=0.5)
    assert history.eval_steps == [7]
    assert history.steps == list(range(1, 8))


def test_without_a_target_a_perfect_score_trains_on():
    history = run([1.0] * 10)
    assert history.steps[-1] == 100
    assert history.seconds_to_target is None


# --- when evaluations happen: the first and last step of the range --------------------------------


@pytest.mark.parametrize(
    ("steps", "eval_every", "expected"),
    [
        (1, 1, [1]),
        (1, 50, [1]),  # one step: evaluated at the last step
        (7, 3, [3, 6, 7]),  # every 3rd step, and the last
        (9, 3, [3, 6, 9]),  # the last step is a multiple: evaluated once there
        (5, 5, [5]),
        (4, 5, [4]),  # eval_every beyond the run: the last step only
        (4, 1, [1, 2, 3, 4]),
    ],
)
def test_evaluations_fall_on_every_multiple_and_on_the_last_step(steps, eval_every, expected):
    evaluate = scripted(itertools.repeat(0.0))
    history = fit(
        small_model(),
        squared_output,
        endless(),
        steps=steps,
        evaluate=evaluate,
        eval_every=eval_every,
        progress=False,
    )
    assert history.eval_steps == expected
    assert history.steps == list(range(1, steps + 1))
    assert len(history.losses) == steps
    assert evaluate.modes == [False] * len(expected)  # evaluated in eval mode


def test_one_batch_is_enough_for_one_step_and_no_batch_is_an_error():
    history = fit(small_model(), squared_output, [torch.ones(2, 1)], steps=1, progress=False)
    assert history.steps == [1]
    with pytest.raises(ValueError, match="ran out after 0 batches"):
        fit(small_model(), squared_output, [], steps=1, progress=False)
    with pytest.raises(ValueError, match="ran out after 1 batches"):
        fit(small_model(), squared_output, [torch.ones(2, 1)], steps=2, progress=False)


# --- the scores fit stops on, at the ends of their ranges -----------------------------------------


class LookUp(nn.Module):
    """Answers ``answers[i]`` for the image whose pixels all hold ``i``; one trainable bias."""

    def __init__(self, answers: torch.Tensor, classes: int) -> None:
        super().__init__()
        self.register_buffer("logits", F.one_hot(answers, classes).float() * 10)
        self.bias = nn.Parameter(torch.zeros(classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        index = images[:, 0, 0, 0].long()  # (batch,)
        return self.logits[index] + 0 * self.bias


def images_right_on(n: int, wrong, classes: int = 3) -> tuple[ImageSet, LookUp]:
    """``n`` images, labels ``i % classes``, and a model wrong on exactly ``wrong``."""
    images = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 2, 2)
    labels = torch.arange(n) % classes
    answers = labels.clone()
    for index in wrong:
        answers[index] = (labels[index] + 1) % classes
    return ImageSet(images.clone(), labels, tuple("abc"[:classes])), LookUp(answers, classes)


@pytest.mark.parametrize(
    ("n", "batch_size"),
    [(1, 4), (4, 4), (5, 4), (8, 4), (9, 4), (1024, 1024), (1025, 1024)],
)
@pytest.mark.parametrize("where", ["first", "last"])
def test_classification_accuracy_counts_the_first_and_last_image_of_every_batch(
    n, batch_size, where
):
    wrong = [0] if where == "first" else [n - 1]
    data, model = images_right_on(n, wrong)
    assert classification_accuracy(model, data, batch_size=batch_size) == (n - 1) / n
    data, model = images_right_on(n, [])
    assert classification_accuracy(model, data, batch_size=batch_size) == 1.0


def test_classification_accuracy_of_one_image_and_of_none():
    data, model = images_right_on(1, [0])
    assert classification_accuracy(model, data) == 0.0
    empty = ImageSet(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.long), ("a",))
    with pytest.raises(ValueError, match="no images"):
        classification_accuracy(model, empty)


class TokenLookUp(nn.Module):
    """A chapter-04-style model: ``(logits, weights)``, right where ``answers`` say."""

    def __init__(self, answers: torch.Tensor, vocab: int) -> None:
        super().__init__()
        self.register_buffer("logits", F.one_hot(answers, vocab).float())
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, sources: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.logits + 0 * self.bias, torch.zeros(())


@pytest.mark.parametrize(("row", "col"), [(0, 0), (0, 7), (3, 0), (3, 7)])
def test_token_accuracy_counts_the_corner_tokens(row, col):
    targets = torch.arange(32).reshape(4, 8) % 5  # (batch, L)
    answers = targets.clone()
    answers[row, col] = (answers[row, col] + 1) % 5
    model = TokenLookUp(answers, 5)
    assert token_accuracy(model, targets, targets) == pytest.approx(31 / 32, abs=1e-7)
    assert token_accuracy(TokenLookUp(targets, 5), targets, targets) == 1.0
