"""A short, seeded training loop with a progress bar, shared by every trained model.

The loop is the same for the toy Transformer and the small ViT: draw a batch,
compute the loss, step the optimiser, and now and then measure a score on
held-out data. It stops early once the score reaches ``target``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_positive_int


@dataclass
class History:
    """What happened during training, for plots and for the text."""

    steps: list[int] = field(default_factory=list)  # step of each recorded loss
    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)  # step of each evaluation
    scores: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole loop
    seconds_to_target: float | None = None  # wall time when the score first reached target

    @property
    def final_score(self) -> float | None:
        return self.scores[-1] if self.scores else None


def fit(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, object], torch.Tensor],
    batches: Iterator[object],
    steps: int,
    lr: float = 1e-3,
    evaluate: Callable[[nn.Module], float] | None = None,
    eval_every: int = 50,
    target: float | None = None,
    progress: bool | None = None,
    description: str = "training",
) -> History:
    """Train ``model`` for up to ``steps`` steps of Adam; return the :class:`History`.

    ``loss_fn(model, batch)`` returns a scalar loss; ``batches`` yields batches
    forever; ``evaluate(model)`` returns a score (e.g. held-out accuracy), run
    every ``eval_every`` steps with the model in eval mode. With ``target``
    set, training stops at the first evaluation whose score reaches it.
    ``progress=None`` shows a bar except while the rendered book is built,
    where a live bar cannot move, and prints a one-line :func:`summary`;
    ``progress=False`` is silent.

    >>> history = fit(model, loss_fn, batches, steps=500, evaluate=accuracy, target=0.99)
    """
    require_positive_int("steps", steps)
    require_positive_int("eval_every", eval_every)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    start = time.perf_counter()
    show_bar = not building_book() if progress is None else progress
    bar = tqdm(range(1, steps + 1), desc=description, disable=not show_bar, mininterval=0.5)
    for step in bar:
        model.train()
        loss = loss_fn(model, next(batches))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.steps.append(step)
        history.losses.append(float(loss.detach()))
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            model.eval()
            with torch.no_grad():
                score = float(evaluate(model))
            history.eval_steps.append(step)
            history.scores.append(score)
            bar.set_postfix(loss=f"{history.losses[-1]:.3f}", score=f"{score:.3f}")
            if target is not None and score >= target:
                history.seconds_to_target = time.perf_counter() - start
                break
    bar.close()
    model.eval()
    history.seconds = time.perf_counter() - start
    if progress is not False:
        print(summary(history, description, target))
    return history


def summary(history: History, description: str = "training", target: float | None = None) -> str:
    """One line on what a training run did: the same on every seeded run (no wall time)."""
    line = f"{description}: {history.steps[-1]} steps"
    if history.losses:
        line += f", final loss {history.losses[-1]:.4f}"
    if history.final_score is not None:
        line += f", score {history.final_score:.4f}"
    if target is not None:
        reached = history.seconds_to_target is not None
        line += f" (target {target} {'reached' if reached else 'not reached'})"
    return line
