"""Numbers in the prose, computed by the build: a ``glue`` that also works in Colab.

A sentence that quotes a run's result writes ``{glue:text}`name:.1%``` in its
Markdown cell instead of a typed number. The code cell before it calls
:func:`glue`, which stores the value with MyST-NB, so the rendered book
prints the value that this build computed, and the sentence cannot drift from
the outputs. ``tests/test_claims.py`` checks each claim made about such values
against the executed notebooks.

Colab and plain Jupyter have no MyST-NB to render the Markdown, so there the
call prints ``name = value`` under the cell: the reader sees the number the
sentence refers to.

Layer: presentation (imports MyST-NB when present).
"""

from __future__ import annotations

import numbers

from lessons_lib._env import building_book


def _plain(value: object) -> object:
    """A tensor or numpy scalar as a plain Python number, so the stored text parses back."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        value = item()
    if isinstance(value, bool) or isinstance(value, (str, tuple, list, dict)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(
        f"glue stores numbers, booleans, strings and lists of them, got {type(value).__name__}"
    )


def glue(name: str, value: object) -> object:
    """Store ``value`` under ``name`` for the chapter's text; return the plain value.

    >>> glue("steps", 300)  # outside the book build, it also prints the value
    steps = 300
    300
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python-identifier-like string, got {name!r}")
    value = _plain(value)
    try:
        from myst_nb import glue as store
    except ImportError:  # Colab: no MyST-NB
        store = None
    if store is not None:
        store(name, value, display=False)
    if not building_book():
        print(f"{name} = {value!r}")
    return value
