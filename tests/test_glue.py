"""glue writes the record MyST-NB's glue writes, and prints the value outside the build."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from IPython.core.formatters import DisplayFormatter

import lessons_lib.glue
from lessons_lib.glue import glue
from lessons_lib.plotting import NARROW_FIGURE_MIME


@pytest.mark.parametrize("value", [0.25, 3, True, "text", [1, 2]])
def test_the_record_is_myst_nbs_own(monkeypatch, value):
    import myst_nb.ext.glue

    calls = []

    def record(*args, **kwargs):
        calls.append((args, kwargs))

    monkeypatch.setattr("IPython.display.display", record)
    monkeypatch.setattr(myst_nb.ext.glue, "ipy_display", record)
    glue("name", value)
    myst_nb.ext.glue.glue("name", value, display=False)
    assert len(calls) == 2
    assert calls[0] == calls[1]


def test_tensors_and_numpy_scalars_become_plain_numbers(monkeypatch, capsys):
    # Without a shell IPython's display prints the record; only glue's own line counts here.
    monkeypatch.setattr("IPython.display.display", lambda *args, **kwargs: None)
    monkeypatch.delenv("LESSONS_STATIC_WIDGETS", raising=False)
    assert glue("accuracy", torch.tensor(0.5)) == 0.5
    assert glue("count", np.int64(7)) == 7 and type(glue("count", np.int64(7))) is int
    assert capsys.readouterr().out == "accuracy = 0.5\ncount = 7\ncount = 7\n"
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    glue("quiet", 1.0)
    assert capsys.readouterr().out == ""  # the book shows the value in the sentence instead


def test_bad_names_and_values():
    with pytest.raises(ValueError, match="name must be a Python-identifier-like string"):
        glue("not a name", 1)
    with pytest.raises(TypeError, match=r"glue stores numbers.*got Linear"):
        glue("model", torch.nn.Linear(1, 1))


def test_importing_glue_while_building_changes_nothing_in_the_shell(monkeypatch):
    """The stacked figures are the build's explicit request (lessons_lib.book_kernel)."""
    shell = SimpleNamespace(display_formatter=DisplayFormatter())
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    before = dict(shell.display_formatter.formatters)
    importlib.reload(lessons_lib.glue)  # every chapter's setup cell imports it
    assert NARROW_FIGURE_MIME not in shell.display_formatter.formatters
    assert shell.display_formatter.formatters == before
