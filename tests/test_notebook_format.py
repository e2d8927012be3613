"""Every chapter is a valid nbformat 4.5 notebook: each cell has an id, and ids are unique."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_chapter_is_valid_nbformat_with_cell_ids(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbformat warns (MissingIDFieldWarning) where ids lack
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    ids = [cell["id"] for cell in notebook.cells]
    assert len(ids) == len(set(ids)), f"{path.name}: cell ids repeat"
