"""`jupyter-book build`, with the notebooks executed in parallel and, by default, only when needed.

    python tools/build_book.py . [--execute cache|force] [jupyter-book build options]

Parallel chapters. Jupyter Book 1 runs Sphinx on one process, so it executes the
chapters one after another. Sphinx itself can read documents in parallel (``-j``), and
myst-nb executes a notebook while reading it, so handing Jupyter Book's builder a job
count runs up to ``BOOK_JOBS`` chapters at once (default: the number of CPU cores).
Sphinx reads serially if any extension does not declare itself parallel-safe.
``sphinx_multitoc_numbering`` (loaded by sphinx-external-toc) does not, though it only
renumbers sections after all documents are read, in the main process, and keeps no
per-document state; we declare it safe here.

Balanced workers. Sphinx splits the pages into one slice per job (01-07 to one worker,
08-10 and the Markdown pages to the other), so one worker idles while the other still
executes. ``_slowest_first`` hands out one page at a time instead: the chapters first, the
later (heavier) ones before the earlier ones, then the Markdown pages, so that both workers
stay busy until the end: on 2 cores this took a clean build from 61 s to 53 s.

Re-running only what changed (``--execute cache``, what ``make book`` uses). Sphinx
re-reads only the pages whose source changed, and myst-nb takes a notebook's outputs
from the execution cache (jupyter-cache, in ``_build/.jupyter_cache``) when its code
cells are the same as when it last ran, so an edited markdown cell re-executes nothing
and an edited code cell re-executes that chapter alone. Neither notices a change to
``lessons_lib``, so this script keeps a hash of everything that a chapter's outputs depend
on besides the chapter itself (``EXECUTION_INPUTS``: lessons_lib's files, the pinned
environment, the build's environment variables). When it changes, the cache is emptied
and every page is read again, so every chapter runs again. A change to what turns the
pages into HTML (``SITE_INPUTS``: the extension, the vendored assets, this script)
re-reads every page too, from the cache, without executing anything.

``--execute force`` (the strict build of ``make test``, with ``--all``) executes every
notebook afresh and neither reads nor fills the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

import jupyter_book.sphinx
import sphinx.builders
import sphinx_multitoc_numbering
from jupyter_book.cli.main import main
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"
STATE = BUILD / ".book-inputs.json"
EXECUTION_INPUTS = [
    "lessons_lib",
    "pyproject.toml",
    "requirements.txt",
    "tools/ipython_build_profile/profile_default/ipython_kernel_config.py",
]
EXECUTION_ENVIRONMENT = ["LESSONS_STATIC_WIDGETS", "PYTHONHASHSEED", "OMP_NUM_THREADS", "IPYTHONDIR"]
SITE_INPUTS = [
    "_ext",
    "tools/build_book.py",
    "tools/vendor/package-lock.json",
    "tools/vendor/render-math.js",
]


def _parallel_safe(setup):
    @functools.wraps(setup)
    def wrapped(app):
        metadata = setup(app) or {}
        return {**metadata, "parallel_read_safe": True, "parallel_write_safe": True}

    return wrapped


def _slowest_first(docnames: list[str], nproc: int, maxbatch: int = 10) -> list[list[str]]:
    """Sphinx's ``make_chunks``, one page per chunk, so that the slowest pages start first.

    Wanted order: the chapters, the last one first, then the Markdown pages. Sphinx (7.4's
    ``ParallelTasks``) starts the first ``nproc`` chunks at once and then, as a worker
    comes free, the chunk added *last* among those waiting. So the list is the first
    ``nproc`` pages in order and the rest reversed.
    """
    notebooks = sorted(
        (name for name in docnames if (ROOT / f"{name}.ipynb").is_file()), reverse=True
    )
    wanted = [*notebooks, *(name for name in docnames if name not in notebooks)]
    return [[name] for name in [*wanted[:nproc], *reversed(wanted[nproc:])]]


def files_under(paths: Iterable[str]) -> list[Path]:
    found = []
    for name in paths:
        path = ROOT / name
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        found += [
            file
            for file in candidates
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc"
        ]
    return found


def digest(paths: Iterable[str], environment: Iterable[str] = ()) -> str:
    """One hash of these files' names and contents (and of these environment variables)."""
    hasher = hashlib.sha256()
    for file in files_under(paths):
        hasher.update(file.relative_to(ROOT).as_posix().encode() + b"\0")
        hasher.update(file.read_bytes() + b"\0")
    for name in environment:
        hasher.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return hasher.hexdigest()


def current_inputs() -> dict[str, str]:
    return {
        "execution": digest(EXECUTION_INPUTS, EXECUTION_ENVIRONMENT),
        "site": digest(SITE_INPUTS),
    }


def plan_cached_build(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """Empty the cache and/or read every page again, as the changed inputs require."""
    now = current_inputs()
    before = json.loads(STATE.read_text()) if STATE.is_file() else {}
    if before.get("execution") != now["execution"]:
        shutil.rmtree(CACHE, ignore_errors=True)
        print("build_book: lessons_lib or the environment changed: every chapter runs again")
    if before != now and "--all" not in arguments:
        arguments = [*arguments, "--all"]
    return arguments, now


def build(arguments: list[str]) -> int:
    execute = "cache"
    if "--execute" in arguments:
        at = arguments.index("--execute")
        execute = arguments[at + 1]
        arguments = arguments[:at] + arguments[at + 2 :]
    if execute not in ("cache", "force"):
        raise SystemExit(f"--execute takes cache or force, not {execute!r}")
    overrides = {"nb_execution_mode": execute}
    inputs = None
    if execute == "cache":
        arguments, inputs = plan_cached_build(arguments)
        overrides["nb_execution_cache_path"] = str(CACHE)
        # Created here, once: parallel readers that each create it race on its tables.
        get_cache(str(CACHE)).list_cache_records()

    sphinx_multitoc_numbering.setup = _parallel_safe(sphinx_multitoc_numbering.setup)
    sphinx.builders.make_chunks = _slowest_first
    jobs = int(os.environ.get("BOOK_JOBS", os.cpu_count() or 1))
    original = jupyter_book.sphinx.build_sphinx

    def build_sphinx(*args, confoverrides=None, **kwargs):
        merged = {**(confoverrides or {}), **overrides}
        return original(*args, confoverrides=merged, jobs=jobs, **kwargs)

    jupyter_book.sphinx.build_sphinx = build_sphinx
    try:
        main(["build", *arguments], standalone_mode=False)
    except SystemExit as stop:  # jupyter-book exits non-zero when the build failed
        if stop.code:
            STATE.unlink(missing_ok=True)  # so that the next build reads every page again
            return int(stop.code) if isinstance(stop.code, int) else 1
    except BaseException:
        STATE.unlink(missing_ok=True)
        raise
    if inputs is not None:
        STATE.parent.mkdir(parents=True, exist_ok=True)
        STATE.write_text(json.dumps(inputs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(build(sys.argv[1:]))
