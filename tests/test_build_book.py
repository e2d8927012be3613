"""tools/build_book.py: the chapters reach Sphinx's parallel readers slowest first."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("jupyter_book")  # the build's own environment; the ipywidgets 7 one has none

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402
from sphinx.util.parallel import ParallelTasks  # noqa: E402

PAGES = ["book/intro", "book/01_qkv", "book/02_softmax", "book/03_masking", "book/training"]


def test_sphinx_starts_the_chapters_last_one_first_then_the_markdown_pages(tmp_path):
    log = tmp_path / "started.txt"

    def read(chunk: list[str]) -> None:  # stands in for reading (and executing) one page
        with log.open("a") as file:
            file.write(f"{chunk[0]}\n")
        time.sleep(0.3)  # so that the next page starts only when one of these has finished

    tasks = ParallelTasks(2)
    for chunk in build_book._slowest_first(PAGES, 2):
        tasks.add_task(read, chunk)
    tasks.join()
    started = log.read_text().split()
    wanted = ["book/03_masking", "book/02_softmax", "book/01_qkv", "book/intro", "book/training"]
    assert sorted(started) == sorted(wanted)
    # The first two start together, in either order; each later one as a worker comes free.
    assert [page for page in started if page not in wanted[:2]] == wanted[2:]
