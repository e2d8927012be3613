"""Results of runs too long for a chapter: small JSON files committed with the package.

A chapter may execute for at most 20 s on two cores. Where an experiment needs more (many
seeds, training to convergence), a script under ``bench/`` runs it and writes its numbers
with :func:`save_result` into ``lessons_lib/results/NAME.json``, beside the seeds, the torch
and Python versions, the date and the command that made it. The chapter reads the file with
:func:`load_result`, says that it does, and glues the numbers; a test re-runs a slice of
the script and checks that it agrees with the file.

The files ship inside the package, so a chapter opened in Colab reads the same numbers.
"""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def _require_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str such as 'vit_vs_cnn', got {type(name).__name__}")
    if not name or not all(char.isalnum() or char == "_" for char in name):
        raise ValueError(
            f"name must be letters, digits and underscores (a file name without .json), "
            f"got {name!r}"
        )
    return name


def available() -> list[str]:
    """The names of the committed result files, sorted."""
    return sorted(path.stem for path in RESULTS.glob("*.json"))


def save_result(
    name: str,
    data: Mapping[str, Any],
    *,
    seeds: Sequence[int],
    command: str,
    settings: Mapping[str, Any] | None = None,
    seconds: float | None = None,
    folder: Path | None = None,
) -> Path:
    """Write ``data`` and how it was made to ``RESULTS / f"{name}.json"``; return the path.

    ``seeds`` are the seeds the runs used, ``command`` the command line that re-makes the
    file, ``settings`` the run's fixed choices (steps, learning rate, ...). ``folder``
    (default :data:`RESULTS`) is for tests, which must not overwrite a committed file.
    """
    name = _require_name(name)
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a mapping (a dict of results), got {type(data).__name__}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    if not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds):
        raise TypeError(f"seeds must be ints, got {list(seeds)!r}")
    if not isinstance(command, str) or not command.strip():
        raise ValueError(f"command must say how to re-make the file, got {command!r}")
    record = {
        "name": name,
        "command": command,
        "seeds": list(seeds),
        "settings": dict(settings or {}),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "seconds": None if seconds is None else round(float(seconds), 1),
        "data": dict(data),
    }
    text = json.dumps(record, indent=1, sort_keys=False, allow_nan=False) + "\n"
    path = (RESULTS if folder is None else Path(folder)) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_result(name: str, folder: Path | None = None) -> dict[str, Any]:
    """The record :func:`save_result` wrote for ``name``: a dict with ``data``, ``seeds``,
    ``settings``, ``torch``, ``python``, ``date``, ``command`` and ``seconds``.

    >>> "vit_vs_cnn" in available()
    True
    """
    name = _require_name(name)
    path = (RESULTS if folder is None else Path(folder)) / f"{name}.json"
    if not path.is_file():
        raise ValueError(
            f"no committed result {name!r} in {path.parent}; the results are {available()}"
        )
    return _renamed(json.loads(path.read_text(encoding="utf-8")))


# Setting names a committed record may still use, and what the package calls them now: a
# record made before a rename still loads under today's names, without being re-made.
RENAMED = {"depth": "num_layers"}  # ViT(num_layers=...) became ViT(num_layers=...)


def _renamed(value: Any) -> Any:
    """``value`` with every dict key in :data:`RENAMED` replaced by its new name, at any depth.

    >>> _renamed({"vit": {"depth": 2, "d_model": 32}})
    {'vit': {'num_layers': 2, 'd_model': 32}}
    """
    if isinstance(value, dict):
        return {RENAMED.get(key, key): _renamed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    return value
