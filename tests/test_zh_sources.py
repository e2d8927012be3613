"""The Chinese edition's sources (tools/zh_book.py ``write_sources``): a Chinese notebook is
written again exactly when something it is made from changed, and left alone otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyter_cache")  # the build's own environment; the ipywidgets 7 one has none
import nbformat
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import zh_book  # noqa: E402

CHAPTER = ROOT / "book" / "01_qkv.ipynb"


def test_a_notebooks_inputs_change_with_its_text_and_its_run(tmp_path):
    page = tmp_path / CHAPTER.name  # same name, so the same catalog
    shutil.copyfile(CHAPTER, page)
    cache = tmp_path / "cache"
    first = zh_book.notebook_inputs(page, cache)
    assert zh_book.notebook_inputs(page, cache) == first  # nothing changed

    notebook = nbformat.read(page, as_version=4)
    markdown = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    markdown.source += "\n\nOne more sentence."
    nbformat.write(notebook, page)
    edited = zh_book.notebook_inputs(page, cache)
    assert edited != first  # a Markdown edit: the cache's run is the same, the text is not

    get_cache(str(cache)).cache_notebook_file(page, check_validity=False)  # a run of it
    assert zh_book.notebook_inputs(page, cache) != edited


def test_a_chinese_notebook_is_written_again_only_when_its_inputs_changed(tmp_path, monkeypatch):
    made = []
    inputs = {"hash": "one"}

    def translated_notebook(page, cache_folder):
        made.append(page.name)
        return {"cells": [], "metadata": {"made": len(made)}}, ["an English message"]

    monkeypatch.setattr(zh_book.translations, "pages", lambda: [CHAPTER])
    monkeypatch.setattr(zh_book, "translated_notebook", translated_notebook)
    monkeypatch.setattr(zh_book, "notebook_inputs", lambda page, cache, shared: inputs["hash"])
    target = tmp_path / "book" / CHAPTER.name

    def written() -> int:
        return json.loads(target.read_text(encoding="utf-8"))["metadata"]["made"]

    assert zh_book.write_sources(tmp_path)[CHAPTER.stem] == ["an English message"]
    assert made == [CHAPTER.name] and written() == 1
    # Unchanged inputs: left as it is, and its untranslated messages still reported.
    assert zh_book.write_sources(tmp_path)[CHAPTER.stem] == ["an English message"]
    assert made == [CHAPTER.name] and written() == 1
    inputs["hash"] = "two"  # e.g. its catalog or the chapter's run changed
    zh_book.write_sources(tmp_path)
    assert len(made) == 2 and written() == 2
    target.unlink()  # a source that is gone is written again, whatever the record says
    zh_book.write_sources(tmp_path)
    assert len(made) == 3 and written() == 3


def test_the_checkers_messages_are_all_of_them_and_read_without_torch():
    everything = zh_book.translations.package_messages()  # the live cells' labels too
    ours = {message for message, where in everything if where.startswith("lessons_lib/checks/")}
    assert ours and zh_book.checker_messages() == frozenset(ours)
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); import zh_book; "
        "found = zh_book.checker_messages(); print(len(found) > 0, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"]  # no lessons_lib, no torch: 2 s saved
