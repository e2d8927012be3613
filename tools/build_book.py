"""`jupyter-book build`, with the notebooks executed in parallel.

Jupyter Book 1 runs Sphinx on one process, so it executes the chapters one
after another. Sphinx itself can read documents in parallel (``-j``), and
myst-nb executes a notebook while reading it, so handing Jupyter Book's
builder a job count runs up to ``BOOK_JOBS`` chapters at once (default: the
number of CPU cores). Every other argument goes to ``jupyter-book build``.

Sphinx reads serially if any extension does not declare itself parallel-safe.
``sphinx_multitoc_numbering`` (loaded by sphinx-external-toc) does not, though
it only renumbers sections after all documents are read, in the main process,
and keeps no per-document state; we declare it safe here.

    python tools/build_book.py . --all -W -n --keep-going
"""

from __future__ import annotations

import functools
import os
import sys

import jupyter_book.sphinx
import sphinx_multitoc_numbering
from jupyter_book.cli.main import main


def _parallel_safe(setup):
    @functools.wraps(setup)
    def wrapped(app):
        metadata = setup(app) or {}
        return {**metadata, "parallel_read_safe": True, "parallel_write_safe": True}

    return wrapped


if __name__ == "__main__":
    sphinx_multitoc_numbering.setup = _parallel_safe(sphinx_multitoc_numbering.setup)
    jobs = int(os.environ.get("BOOK_JOBS", os.cpu_count() or 1))
    build = jupyter_book.sphinx.build_sphinx
    jupyter_book.sphinx.build_sphinx = functools.partial(build, jobs=jobs)
    main(["build", *sys.argv[1:]])
