"""glue writes the record MyST-NB's glue writes, and prints the value outside the build."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_lib.glue import glue


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
    monkeypatch.delenv("LESSONS_STATIC_WIDGETS", raising=False)
    assert glue("accuracy", torch.tensor(0.5)) == 0.5
    assert glue("count", np.int64(7)) == 7 and type(glue("count", np.int64(7))) is int
    assert "accuracy = 0.5" in capsys.readouterr().out
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    glue("quiet", 1.0)
    assert capsys.readouterr().out == ""  # the book shows the value in the sentence instead


def test_bad_names_and_values():
    with pytest.raises(ValueError, match="name must be a Python-identifier-like string"):
        glue("not a name", 1)
    with pytest.raises(TypeError, match=r"glue stores numbers.*got Linear"):
        glue("model", torch.nn.Linear(1, 1))
