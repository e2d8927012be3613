"""Keyword-only sizes and flags (issue 21): a model constructor takes its sizes by name, a
bool flag is never positional, and one name (``num_layers``) means one thing everywhere."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import torch

import lessons_lib
from lessons_lib.cnn import SmallCNN
from lessons_lib.gpt import GPT
from lessons_lib.transformer import DecoderLayer, EncoderLayer, TinyCrossAttentionModel, Transformer
from lessons_lib.vit import ViT

MODELS = [Transformer, GPT, ViT, SmallCNN, EncoderLayer, DecoderLayer, TinyCrossAttentionModel]
FLAG_MODULES = ["attention", "transformer", "gpt", "vit", "decoding", "residual", "positions"]
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def public_callables(module):
    """(qualified name, function) for every public function and method defined in ``module``."""
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(value):
            yield name, value
        elif inspect.isclass(value):
            for attribute, member in vars(value).items():
                public = not attribute.startswith("_") or attribute == "__init__"
                if public and inspect.isfunction(member):
                    yield f"{name}.{attribute}", member


def positional_flags(function) -> list[str]:
    """The bool-annotated parameters of ``function`` that a call may pass by place."""
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind in POSITIONAL and p.annotation in (bool, "bool")
    ]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_model_takes_only_its_first_argument_by_place(model):
    parameters = list(inspect.signature(model.__init__).parameters.values())[1:]  # not self
    by_place = [p.name for p in parameters if p.kind in POSITIONAL]
    assert len(by_place) <= 1, f"{model.__name__} takes {by_place} by place"


def test_a_size_passed_by_place_is_refused():
    with pytest.raises(TypeError, match="positional"):
        Transformer(11, 16, 2, 1, 32)
    with pytest.raises(TypeError, match="positional"):
        ViT(8, 2)
    with pytest.raises(TypeError, match="positional"):
        EncoderLayer(16, 4, 32)
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    memory = model.encode(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="positional"):
        model.decode(torch.zeros(1, 1, dtype=torch.long), memory, None, True)


@pytest.mark.parametrize("module_name", FLAG_MODULES)
def test_no_bool_flag_can_be_passed_by_place(module_name):
    module = importlib.import_module(f"lessons_lib.{module_name}")
    found = {name: positional_flags(function) for name, function in public_callables(module)}
    assert found, f"lessons_lib.{module_name} has no public functions to check"
    assert {name: flags for name, flags in found.items() if flags} == {}


def test_the_flag_finder_finds_a_positional_flag():
    def loose(x: int, scaled: bool = True) -> None: ...

    def strict(x: int, *, scaled: bool = True) -> None: ...

    assert positional_flags(loose) == ["scaled"] and positional_flags(strict) == []


def test_no_public_signature_says_depth():
    offenders = []
    for info in pkgutil.walk_packages(lessons_lib.__path__, "lessons_lib."):
        module = importlib.import_module(info.name)
        for name, function in public_callables(module):
            if "depth" in inspect.signature(function).parameters:
                offenders.append(f"{info.name}.{name}")
    assert offenders == []
    assert ViT(num_layers=3).layers.__len__() == 3
