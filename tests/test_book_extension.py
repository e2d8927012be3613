"""The book's Sphinx extension (_ext/lessons_book.py), step 6: stacked figures on a phone."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")  # the extension is Sphinx's; the ipywidgets 7 test env has none

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
import lessons_book  # noqa: E402

from lessons_lib.plotting import NARROW_FIGURE_MIME  # noqa: E402

WIDE = b"\x89PNG wide figure"
STACKED = b"\x89PNG stacked figure"
OTHER = b"\x89PNG a figure of one panel"


def executed_notebook(folder: Path) -> None:
    """An executed notebook as myst-nb keeps it: one row figure with a copy, one without."""
    outputs = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {
                "text/plain": "<Figure>",
                "image/png": base64.b64encode(WIDE).decode(),
                NARROW_FIGURE_MIME: base64.b64encode(STACKED).decode(),
            },
        },
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": base64.b64encode(OTHER).decode()},
        },
    ]
    notebook = {"cells": [{"cell_type": "code", "source": "", "outputs": outputs}]}
    (folder / "book").mkdir(parents=True)
    (folder / "book" / "chapter.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


def test_a_figure_with_a_stacked_copy_becomes_a_picture(tmp_path):
    executed_notebook(tmp_path / "jupyter_execute")
    notebook = tmp_path / "jupyter_execute" / "book" / "chapter.ipynb"
    copies = lessons_book.narrow_copies([json.loads(notebook.read_text(encoding="utf-8"))])
    wide, other = (hashlib.sha256(png).hexdigest() for png in (WIDE, OTHER))
    assert copies == {wide: STACKED}

    outdir = tmp_path / "html"
    page = outdir / "book" / "chapter.html"
    text = (
        f'<img alt="a row" src="../_images/{wide}.png" />\n'
        f'<img alt="one panel" src="../_images/{other}.png" />'
    )
    pages = {page: text}
    lessons_book.stack_figures_on_phones(outdir, pages, copies)

    name = hashlib.sha256(STACKED).hexdigest()[:20] + ".png"
    assert (outdir / "_images" / "narrow" / name).read_bytes() == STACKED
    source = f'<source media="(max-width: 640px)" srcset="../_images/narrow/{name}">'
    assert pages[page] == (
        f'<picture>{source}<img alt="a row" src="../_images/{wide}.png" /></picture>\n'
        f'<img alt="one panel" src="../_images/{other}.png" />'
    )
    # A page that has been through this step already is left as it is.
    again = dict(pages)
    lessons_book.stack_figures_on_phones(outdir, again, copies)
    assert again == pages


def test_the_extension_reads_the_output_type_the_kernel_writes():
    # The extension keeps its own copy of the name, so that Sphinx's process never imports
    # lessons_lib (and with it torch); the two must agree or no figure would stack.
    assert lessons_book.NARROW_FIGURE_MIME == NARROW_FIGURE_MIME


def test_reading_the_stacked_copies_does_not_import_torch():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / '_ext')!r}); import lessons_book; "
        "lessons_book.narrow_copies([]); "
        "print('torch' in sys.modules, 'lessons_lib' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["False", "False"]
