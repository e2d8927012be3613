"""Claims that the chapters' sentences make about glued run results, one module per chapter.

Each module sets ``NOTEBOOK`` (the chapter's file name without ``.ipynb``) and ``CLAIMS``,
a list of :class:`Claim`: the sentence it backs, and a check over the chapter's glued values
(name -> value). ``tests/test_claims.py`` runs every check against the executed notebooks
of the last book build, so a sentence that stops being true fails the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """A sentence of the book and the check over glued values that backs it."""

    sentence: str
    holds: Callable[[Mapping[str, object]], bool]
