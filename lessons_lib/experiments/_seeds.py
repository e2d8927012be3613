"""The seeds that the chapters' experiments take: a non-empty list of ints.

Layer: experiments (a helper of the chapters' modules).
"""

from __future__ import annotations

from lessons_lib._validate import require_int


def require_seeds(seeds: object) -> list[int]:
    """A non-empty list (or tuple, or range) of int seeds."""
    if not isinstance(seeds, (list, tuple, range)) or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    return [require_int("seed", seed) for seed in seeds]
