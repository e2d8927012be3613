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

Importing this module changes nothing else in the kernel: the stacked copies of figures
for phones are the build's own request (:mod:`lessons_lib.book_kernel`).

Layer: presentation (imports IPython).
"""

from __future__ import annotations

import numbers

from lessons_lib._env import building_book


def _plain(value: object) -> object:
    """A tensor or numpy scalar as a plain Python number, so the stored text parses back."""
    detach = getattr(value, "detach", None)
    if callable(detach):  # a tensor that carries a gradient: keep the number only
        value = detach()
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


GLUE_PREFIX = "application/papermill.record/"  # where MyST-NB looks for glued values


def glue(name: str, value: object) -> object:
    """Store ``value`` under ``name`` for the chapter's text; return the plain value.

    Writes the same display record as ``myst_nb.glue(name, value, display=False)``
    (the value's text form under a prefixed mimetype, named in the output's
    metadata), without importing MyST-NB, whose import costs seconds.

    In plain Python, with no notebook to take the record, IPython's ``display``
    prints it (the first line below); in a notebook the record is invisible.
    Outside the book's build, ``glue`` then prints ``name = value``:

    >>> glue("steps", 300)
    {'application/papermill.record/text/plain': '300'}
    steps = 300
    300
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python-identifier-like string, got {name!r}")
    value = _plain(value)
    from IPython.display import display  # the kernel has IPython loaded already

    record = {"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}}
    display({GLUE_PREFIX + "text/plain": repr(value)}, raw=True, metadata=record)
    if not building_book():
        print(f"{name} = {value!r}")
    return value
