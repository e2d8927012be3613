"""What an explorer does first with the tensors and models it is given.

An explorer only reads and draws its inputs, so it takes them as a caller
has them: a tensor that requires grad is detached, one on a GPU is copied to
the CPU, and every float dtype (bfloat16 and float16 included, which numpy
and matplotlib cannot read) is computed and drawn in float32. Values that
cannot be drawn in a meaningful way (NaN, inf) are refused at once, with a
message that names the argument, what it holds and where; so is a model with
a NaN or inf weight, and a source sequence the model cannot read.

Layer: presentation (matplotlib, ipywidgets).

    >>> drawable("scores", torch.ones(2, requires_grad=True, dtype=torch.bfloat16)).dtype
    torch.float32
"""

from __future__ import annotations

import torch

from lessons_lib._validate import require_float, require_tensor
from lessons_lib.data import DateBatch, DateTask
from lessons_lib.transformer import Transformer


def drawable(name: str, value: object) -> torch.Tensor:
    """``value`` as a float32 CPU tensor that needs no grad; a TypeError if it is no float tensor.

    >>> drawable("weights", torch.tensor([0.5, 0.5], dtype=torch.float16)).dtype
    torch.float32
    """
    return require_float(name, value).detach().to("cpu", torch.float32)


def _count_non_finite(tensor: torch.Tensor, allow_neginf: bool) -> list[str]:
    """``["1 NaN", "2 +inf", ...]``: what ``tensor`` holds that is not a finite number."""
    kinds = {"NaN": tensor.isnan(), "+inf": tensor.isposinf()}
    if not allow_neginf:
        kinds["-inf"] = tensor.isneginf()
    return [f"{int(found.sum())} {kind}" for kind, found in kinds.items() if found.any()]


def require_finite(name: str, tensor: torch.Tensor, allow_neginf: bool = False) -> torch.Tensor:
    """Return ``tensor`` if every value is finite (or -inf, when allowed), else a ValueError.

    The message names the argument, how many NaN and inf values it holds and
    the index of the first.

    >>> require_finite("logits", torch.tensor([1.0, float("nan")]))
    Traceback (most recent call last):
    ...
    ValueError: logits must hold finite numbers, got 1 NaN (the first at index (1,))
    """
    found = _count_non_finite(tensor, allow_neginf)
    if not found:
        return tensor
    bad = tensor.isnan() | tensor.isposinf() | (tensor.isneginf() & (not allow_neginf))
    first = tuple(int(i) for i in bad.nonzero()[0])
    what = "finite numbers (or -inf, a masked score)" if allow_neginf else "finite numbers"
    raise ValueError(
        f"{name} must hold {what}, got {' and '.join(found)} (the first at index {first})"
    )


def require_finite_model(name: str, model: torch.nn.Module) -> torch.nn.Module:
    """Return ``model`` if all its weights and buffers are finite, else a ValueError naming one.

    A model with a NaN or inf weight gives NaN outputs, which no picture can show.

    >>> layer = torch.nn.Linear(2, 2)
    >>> require_finite_model("model", layer) is layer
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    for part, values in (*model.named_parameters(), *model.named_buffers()):
        if values.is_floating_point():
            found = _count_non_finite(values.detach(), allow_neginf=False)
            if found:
                raise ValueError(
                    f"{name}'s weights must be finite, but {part} holds {' and '.join(found)}; "
                    "a model with such weights computes NaN"
                )
    return model


def require_source(model: torch.nn.Module, source: object) -> torch.Tensor:
    """Raise unless ``model`` is a finite Transformer and ``source`` one sequence of its tokens.

    source: an integer tensor ``(length,)``, 1 <= length <= the model's ``max_len``,
    every token in 0..vocab_size - 1.
    """
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    require_finite_model("model", model)
    source = require_tensor("source", source)
    if source.is_floating_point() or source.is_complex() or source.dtype == torch.bool:
        raise TypeError(f"source must hold token ids (an integer tensor), got dtype {source.dtype}")
    if source.dim() != 1 or not 1 <= source.shape[0] <= model.max_len:
        raise ValueError(
            f"source must be one sequence (length,) of 1..{model.max_len} tokens (the model's "
            f"max_len), got shape {tuple(source.shape)}"
        )
    low, high = int(source.min()), int(source.max())
    if low < 0 or high >= model.vocab_size:
        raise ValueError(
            f"source tokens must lie in 0..{model.vocab_size - 1} (the model's vocabulary), "
            f"got tokens from {low} to {high}"
        )
    return source


def require_date_model(model: object, task: object, batch: object) -> None:
    """Check the arguments of the date explorers: a finite Transformer, a DateTask, a DateBatch.

    >>> require_date_model(Transformer(48, d_model=8, num_heads=2, num_layers=1, d_ff=8),
    ...                    DateTask(), "dates")
    Traceback (most recent call last):
    TypeError: batch must be a DateBatch, got str
    """
    for name, value, kind in (
        ("model", model, Transformer),
        ("task", task, DateTask),
        ("batch", batch, DateBatch),
    ):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    require_finite_model("model", model)
