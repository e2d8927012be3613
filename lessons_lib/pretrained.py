"""The trained models that ship with the package: chapter 06's date model and chapter 11's ViT.

A chapter trains its own short run, to teach training; the models a reader tries with their
own input (in the page, or in the kernel's live cell) are trained to their full recipe by
``tools/make_weights.py`` (``make weights``), from fixed seeds, and ship here as package
data, ``lessons_lib/weights/``:

- ``NAME.pt``: the model's ``state_dict`` (float32), loaded with ``weights_only=True``;
- ``NAME.json``: how it was made (:func:`weights_record`): the command, seed, torch and
  Python versions, date and seconds, the model's constructor arguments (``model``), the
  recipe, the log of every evaluation (``log``: ``eval_steps`` and ``validation`` scores),
  the kept step, its validation score, and the test score, measured once after training.

``NAMES`` lists them: ``"date_model"`` (a :class:`~lessons_lib.transformer.Transformer`
that writes a date as ``YYYY-MM-DD``, over the vocabulary of
:class:`~lessons_lib.data.DateTask`) and ``"digit_vit"`` (a :class:`~lessons_lib.vit.ViT`
for the 8x8 digits, :data:`~lessons_lib.vit.DIGITS_VIT`). The files are read with
``importlib.resources``, so they load from an installed package too (Colab).

Layer: experiments (imports the data and the models).
"""

from __future__ import annotations

import functools
import io
import json
from importlib import resources
from typing import Any

import torch

from lessons_lib.data import DateTask
from lessons_lib.transformer import Transformer
from lessons_lib.vit import ViT

NAMES = ("date_model", "digit_vit")


def _require_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {NAMES}, got {type(name).__name__}")
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    return name


def _weights_file(file_name: str) -> bytes:
    """The bytes of ``lessons_lib/weights/<file_name>``, with a clear error when it is missing."""
    resource = resources.files("lessons_lib").joinpath("weights", file_name)
    if not resource.is_file():
        raise FileNotFoundError(
            f"lessons_lib/weights/{file_name} is missing from the installed package; "
            "make it with `make weights` (tools/make_weights.py)"
        )
    return resource.read_bytes()


@functools.cache
def _record_text(name: str) -> str:
    return _weights_file(f"{name}.json").decode("utf-8")


def weights_record(name: str) -> dict[str, Any]:
    """The record of how the shipped model ``name`` was made: ``lessons_lib/weights/NAME.json``.

    ``name`` is one of :data:`NAMES`. Keys: ``name``, ``command``, ``seed`` (and ``seeds``,
    what each derived seed draws), ``torch``, ``python``, ``date``, ``seconds``, ``model``
    (the constructor's arguments), ``recipe``, ``log`` (``eval_steps``, ``validation``:
    the validation score at each, ``train_loss``), ``kept_step``, ``validation`` (its
    score), ``validation_size``, ``test`` (scored once, after training) and ``test_size``.
    A new dict at every call: changing it changes no later answer.

    >>> record = weights_record("digit_vit")
    >>> best = record["log"]["validation"].index(record["validation"])  # the first best score
    >>> record["log"]["eval_steps"][best] == record["kept_step"]
    True
    """
    return json.loads(_record_text(_require_name(name)))


def _state_dict(name: str) -> dict[str, torch.Tensor]:
    """The shipped ``state_dict`` of ``name``, read without running any pickled code."""
    return torch.load(io.BytesIO(_weights_file(f"{name}.pt")), weights_only=True)


def load_date_model() -> Transformer:
    """Chapter 06's date model, trained to its full recipe: a ``Transformer`` in eval mode.

    Built from ``weights_record("date_model")["model"]`` (one layer on each side,
    ``d_model`` 32, 4 heads), over the vocabulary of ``DateTask()``: token ``i + 2`` is
    ``DateTask().characters[i]``, 0 pads, 1 begins the answer. It reads a date written in
    one of :data:`~lessons_lib.data.DATE_FORMATS`, ``(batch, 30)`` token ids with a padding
    mask, and writes it as ``YYYY-MM-DD`` (:func:`~lessons_lib.decoding.greedy_decode`, 10
    tokens). Each call returns a new model.

    >>> from lessons_lib.decoding import greedy_decode
    >>> task, model = DateTask(), load_date_model()
    >>> sources, lengths = task.encode(["Nov 27, 2026"])  # (1, 30), (1,)
    >>> answer = greedy_decode(model, sources, task.bos, 10, source_mask=sources[:, None] != 0)
    >>> task.decode(answer[0])  # (10,) token ids
    '2026-11-27'
    """
    record = weights_record("date_model")
    task = DateTask()
    shipped = record["task"]["characters"]
    if shipped != task.characters or record["model"]["vocab_size"] != task.vocab_size:
        raise ValueError(
            f"the shipped date model reads the characters {shipped!r}, but DateTask() now has "
            f"{task.characters!r}: re-make the weights with `make weights`"
        )
    model = Transformer(**record["model"])
    model.load_state_dict(_state_dict("date_model"))
    return model.eval()


def load_digit_vit() -> ViT:
    """Chapter 11's ViT for the 8x8 digits, trained to its best validation accuracy, in eval mode.

    Built from ``weights_record("digit_vit")["model"]`` (the arguments of
    :data:`~lessons_lib.vit.DIGITS_VIT`: 2x2 patches, a 4x4 grid, ``d_model`` 32, 2 layers,
    4 heads, 1-D position codes). forward(images ``(batch, 1, 8, 8)`` in [0, 1]) -> logits
    ``(batch, 10)``, one per digit. Each call returns a new model.

    >>> from lessons_lib.data import load_digits_split
    >>> _, _, test = load_digits_split()
    >>> load_digit_vit()(test.images[:4]).shape
    torch.Size([4, 10])
    """
    model = ViT(**weights_record("digit_vit")["model"])
    model.load_state_dict(_state_dict("digit_vit"))
    return model.eval()
